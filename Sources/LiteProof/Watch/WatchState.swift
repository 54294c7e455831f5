import Foundation

/// What a watcher has verified of one replica, carried from round to round and, with a state
/// folder, across restarts: each file checked (as the storage listed it) with what its check
/// found, and the last verdict.
///
/// Written atomically (a temporary file beside it, fsynced, renamed into place). A state file
/// that cannot be trusted (truncated, corrupt, of another version or replica, or larger than the
/// replica's files can explain) is ignored with a warning: the watcher then checks every file
/// again. Nothing read from it sizes any work or allocation: the work follows the files listed.
public struct WatchState: Codable, Sendable, Equatable {
    /// The version of this layout; a state of any other version is ignored.
    public static let currentVersion = 1
    /// Findings kept per file (the first ones; the check's own words say the rest).
    static let findingsPerFile = 4
    /// Characters kept of a finding's message.
    static let messageLimit = 1_000

    /// One file the watcher checked, as the storage listed it then.
    public struct VerifiedFile: Codable, Sendable, Equatable {
        public var size: Int64
        /// The modification time the storage listed (seconds since the epoch).
        public var modified: Double?
        /// The object's ETag, where the storage lists one (not yet: S3 listings keep the time).
        public var etag: String?
        /// `ok` or `damaged`.
        public var verdict: Outcome
        /// What its check found (errors and warnings), at most ``WatchState/findingsPerFile``.
        public var findings: [Finding]

        /// Whether the storage now lists the file differently (a new size, time or ETag).
        func differs(from listed: StoredFile) -> Bool {
            size != listed.size || modified != listed.modified
        }

        /// Whether the storage lists the file with the same size and an earlier time: what
        /// Litestream's own time-setting after a write looks like (never a hand edit, which makes
        /// the time later). The bytes are checked again all the same.
        func timeSetBack(in listed: StoredFile) -> Bool {
            guard size == listed.size, let was = modified, let now = listed.modified else { return false }
            return now < was
        }
    }

    public var version = WatchState.currentVersion
    /// The replica watched, as the watcher names it; a state of another replica is ignored.
    public var replica: String
    /// Every file checked, by path relative to the replica root (files gone are dropped).
    public var files: [String: VerifiedFile] = [:]
    /// The verdict of the last round, nil before the first.
    public var verdict: Outcome?
    /// Rounds run so far.
    public var rounds = 0
    /// When the last round ended (seconds since the epoch).
    public var lastRoundAt: Double?
    /// 0.3: where each WAL index's stream stood after the last segment verified (by
    /// ``Watcher/carryKey(_:_:)``), so a new segment is checked alone; nil in states that carry none.
    public var carries: [String: IndexCarry]?

    /// Where one WAL index's stream stood after `through`, its last segment verified.
    public struct IndexCarry: Codable, Sendable, Equatable {
        /// The segment the carry is after (a path the state lists, with an `ok` verdict).
        public var through: String
        public var carry: WALCarry
    }

    public init(replica: String) { self.replica = replica }

    /// Records a file's check, keeping a bounded part of its findings.
    mutating func record(_ file: StoredFile, findings: [Finding]) {
        let kept = findings.prefix(Self.findingsPerFile).map { f -> Finding in
            var f = f
            if f.message.count > Self.messageLimit { f.message = String(f.message.prefix(Self.messageLimit)) + "…" }
            return f
        }
        files[file.path] = VerifiedFile(
            size: file.size, modified: file.modified, etag: nil,
            verdict: findings.contains { $0.severity == .error } ? .damaged : .ok, findings: kept)
    }

    /// Keeps (or, with nil, drops) the carry of one WAL index.
    mutating func setCarry(_ key: String, _ carry: IndexCarry?) {
        if carries == nil { carries = [:] }
        carries![key] = carry
        if carries!.isEmpty { carries = nil }
    }

    // MARK: - Reading and writing

    /// The state file of `replica` in `folder`: a name from a hash of the replica's name, so
    /// every replica watched has its own file and no name from outside becomes a path.
    public static func path(in folder: String, replica: String) -> String {
        var h = SHA256()
        h.update(Array(replica.utf8))
        let digest = h.finalize().prefix(12).map { String(format: "%02x", $0) }.joined()
        return folder + "/watch-" + digest + ".json"
    }

    /// The largest state file trusted for a replica of `files` files: a fixed allowance plus
    /// a bounded amount per file listed, so a huge file is refused before it is read.
    static func sizeLimit(files: Int) -> Int64 {
        1 << 20 + Int64(files) * Int64(512 + findingsPerFile * (messageLimit * 4 + 256))
    }

    /// Reads the state of `replica` from `path`: nil and no warning when there is none yet; nil
    /// and a warning when the file cannot be trusted (never a crash). Entries for files not in
    /// `listed` are dropped.
    public static func load(from path: String, replica: String, listed: [StoredFile]) -> (state: WatchState?, warning: String?) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            return errno == ENOENT ? (nil, nil) : (nil, "cannot read the state file \(path): \(String(cString: strerror(errno))); checking every file")
        }
        func ignored(_ why: String) -> (WatchState?, String?) { (nil, "state file \(path) ignored (\(why)); checking every file again") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return ignored("\(FS.kindName(st.st_mode)), not a regular file") }
        let limit = sizeLimit(files: listed.count)
        guard Int64(st.st_size) <= limit else { return ignored("\(st.st_size) bytes, more than the \(limit) a replica of \(listed.count) files needs") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch { return ignored("cannot read it: \(error.localizedDescription)") }
        guard Int64(data.count) <= limit else { return ignored("it grew past \(limit) bytes while read") }
        struct Versioned: Decodable { var version: Int }
        guard let v = try? JSONDecoder().decode(Versioned.self, from: data) else { return ignored("not a LiteProof watch state: truncated or corrupt") }
        guard v.version == currentVersion else { return ignored("version \(v.version); this LiteProof writes version \(currentVersion)") }
        guard var state = try? JSONDecoder().decode(WatchState.self, from: data) else { return ignored("truncated or corrupt") }
        guard state.replica == replica else { return ignored("it is the state of another replica") }
        let present = Dictionary(listed.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        state.files = state.files.filter { present[$0.key] != nil && $0.value.findings.count <= findingsPerFile }
        // A carry counts only after a segment still listed and verified sound, and only if it
        // holds together; never more of them than files.
        guard (state.carries?.count ?? 0) <= listed.count else { return ignored("more WAL carries than files") }
        state.carries = state.carries?.filter { state.files[$0.value.through]?.verdict == .ok && $0.value.carry.holdsTogether }
        // Counts from outside are bounded before any arithmetic is done with them.
        guard (0...(1 << 52)).contains(state.rounds) else { return ignored("an impossible round count, \(state.rounds)") }
        return (state, nil)
    }

    /// Writes the state to `path` atomically (a temporary file beside it, fsynced, then renamed
    /// over it): a reader or a restart sees the old state or the new one, never half of one.
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(self)
        try FS.writeOutput(data, to: path, force: true)
    }
}
