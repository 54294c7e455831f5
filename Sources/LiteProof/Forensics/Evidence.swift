import Foundation

/// An evidence bundle: a zstd-compressed tar with a manifest of every replica file (size and
/// SHA-256), the verify report, the compare report (with a live database), the restored
/// database, and the tool's version and the time — and the check that a replica still matches it.
public enum Evidence {
    public static let manifestName = "manifest.json"

    public struct FileEntry: Codable, Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var sha256: String
        public var modified: String?
    }

    public struct Manifest: Codable, Sendable {
        public var format = 1
        public var tool: String
        public var createdAt: String
        public var host: String
        public var replica: String
        public var replicaFormat: Replica.Format
        public var files: [FileEntry]
        public var verdict: String
        public var position: Position?
        /// The restored database in the bundle (nil when the replica could not be restored).
        public var restored: FileEntry?
        public var restoreError: String?
        public var live: String?
        public var compareVerdict: String?
        public var members: [String]
    }

    /// SHA-256 of a file's bytes, streaming.
    public static func sha256(_ file: ReadOnlyFile) throws -> String {
        var h = SHA256()
        try file.forEachChunk { chunk, _ in h.update(chunk) }
        return SHA256.hex(h.finalize())
    }

    static func manifestEntries(_ replica: Replica) throws -> [FileEntry] {
        let files = replica.storage.files().sorted { $0.path < $1.path }
        return try parallelMap(files) { f in
            FileEntry(path: f.path, size: f.size, sha256: try sha256(try replica.open(f.path)), modified: f.modified.map(formatTime))
        }
    }

    /// Writes a bundle for `replica` to `output` (which must not exist).
    public static func create(replica: Replica, live: String?, output: String, tool: String, progress: ProgressHandler? = nil) throws -> Manifest {
        guard !FS.exists(output) else { throw LiteProofError(.usage, "\(output) already exists; LiteProof never overwrites a file") }
        let files = try manifestEntries(replica)
        let verify = Verifier(replica: replica, progress: progress, restoreCheck: .quick, live: live).run()
        let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-evidence")
        defer { ScratchSpace.release(scratch) }
        var restoredEntry: FileEntry?
        var restoreError: String?
        var restoredPath: String?
        var position: Position?
        var compare: CompareReport?
        do {
            let plan = try RestorePlanner(replica: replica).plan()
            position = plan.position
            let path = try Restorer(replica: replica).restoreToScratch(plan, in: scratch)
            restoredPath = path
            let f = try ReadOnlyFile(path)
            restoredEntry = FileEntry(path: "restored.db", size: f.size, sha256: try sha256(f), modified: nil)
            // The bundled database is the one compared: one restore serves both.
            if let live { compare = try Comparer(replica: replica).compare(live: live, restored: path, plan: plan) }
        } catch {
            restoreError = "\(error)"
        }
        var members = [manifestName, "verify.json"]
        if compare != nil { members.append("compare.json") }
        if restoredEntry != nil { members.append("restored.db") }
        let manifest = Manifest(
            tool: tool, createdAt: formatTime(Date().timeIntervalSince1970), host: ProcessInfo.processInfo.hostName,
            replica: replica.root, replicaFormat: replica.format, files: files, verdict: verify.verdict.rawValue,
            position: position, restored: restoredEntry, restoreError: restoreError, live: live,
            compareVerdict: compare?.verdict.rawValue, members: members)
        let w = try TarZstdWriter(path: output)
        try w.add(name: manifestName, bytes: Array(JSONOutput.encode(manifest).utf8))
        try w.add(name: "verify.json", bytes: Array(JSONOutput.encode(verify).utf8))
        if let compare { try w.add(name: "compare.json", bytes: Array(JSONOutput.encode(compare).utf8)) }
        if let restoredPath { try w.add(name: "restored.db", file: try ReadOnlyFile(restoredPath), mtime: Date().timeIntervalSince1970) }
        try w.finish()
        return manifest
    }

    /// The outcome of checking a replica against a bundle.
    public struct CheckReport: Codable, Sendable {
        public var bundle: String
        public var replica: String
        public var createdAt: String
        public var matches: Bool
        public var added: [FileEntry]
        public var removed: [FileEntry]
        public var changed: [Change]
        public var unchanged: Int
        /// False when the bundle's own restored database no longer matches its manifest.
        public var bundleIntact: Bool
        public var bundleProblems: [String]

        public struct Change: Codable, Sendable {
            public var path: String
            public var before: FileEntry
            public var now: FileEntry
        }
    }

    /// Re-checks that `replica` still holds exactly the files the bundle recorded.
    public static func check(bundle: String, replica replicaLocation: String) throws -> CheckReport {
        let storage = try ArchiveStorage.open(bundle)
        guard storage.files().contains(where: { $0.path == manifestName }) else {
            throw LiteProofError(.usage, "\(bundle) is not a LiteProof evidence bundle (no \(manifestName))")
        }
        let mf = try storage.open(manifestName)
        let data = Data(try mf.read(count: Int(min(mf.size, 256 << 20)), at: 0))
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw LiteProofError(.usage, "\(bundle): the manifest cannot be read: \(error)")
        }
        var problems: [String] = []
        if let r = manifest.restored {
            if let f = try? storage.open("restored.db") {
                let sum = try sha256(f)
                if sum != r.sha256 || f.size != r.size { problems.append("restored.db in the bundle no longer matches its manifest (sha256 \(sum))") }
            } else {
                problems.append("restored.db is missing from the bundle")
            }
        }
        let replica = try Replica.open(replicaLocation)
        let now = try manifestEntries(replica)
        var before: [String: FileEntry] = [:]
        for f in manifest.files where before.updateValue(f, forKey: f.path) != nil {
            throw LiteProofError(.usage, "\(bundle): the manifest lists \(f.path) twice")
        }
        let after = Dictionary(uniqueKeysWithValues: now.map { ($0.path, $0) })
        let added = now.filter { before[$0.path] == nil }
        let removed = manifest.files.filter { after[$0.path] == nil }
        var changed: [CheckReport.Change] = []
        var same = 0
        for f in now {
            guard let b = before[f.path] else { continue }
            if b.sha256 != f.sha256 || b.size != f.size { changed.append(.init(path: f.path, before: b, now: f)) } else { same += 1 }
        }
        return CheckReport(
            bundle: bundle, replica: replicaLocation, createdAt: manifest.createdAt,
            matches: added.isEmpty && removed.isEmpty && changed.isEmpty, added: added, removed: removed,
            changed: changed, unchanged: same, bundleIntact: problems.isEmpty, bundleProblems: problems)
    }
}

extension Evidence.CheckReport {
    public func renderText() -> String {
        var lines = [
            matches
                ? "MATCHES: the replica holds exactly the \(unchanged) files recorded at \(createdAt)"
                : "CHANGED since \(createdAt): \(added.count) added, \(removed.count) removed, \(changed.count) changed, \(unchanged) unchanged"
        ]
        for f in added { lines.append("  added    \(f.path) (\(Units.bytes(f.size)))") }
        for f in removed { lines.append("  removed  \(f.path) (\(Units.bytes(f.size)))") }
        for c in changed {
            lines.append(
                "  changed  \(c.path): \(Units.bytes(c.before.size)) sha256 \(c.before.sha256.prefix(16))… → \(Units.bytes(c.now.size)) sha256 \(c.now.sha256.prefix(16))…"
            )
        }
        for p in bundleProblems { lines.append("bundle: \(p)") }
        return lines.map(\.escapedForText).joined(separator: "\n")
    }
}
