import Foundation

/// The manifest `liteproof fetch` writes beside the files it downloads (``Replica/fetchManifestName``):
/// each object's key, size, ETag and LastModified. Offline runs take the LastModified times from it
/// as the files' trusted times (a later copy of the folder may have rewritten the file times).
///
/// The manifest is outside input like any file of the replica: it is read with a size cap, and an
/// entry that does not match the file beside it (another size, a path that leaves the folder or is
/// listed twice, an impossible time) is ignored with a warning; the file then keeps its own time.
public struct FetchManifest: Codable, Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        /// Relative to the replica root, with `/` separators.
        public var path: String
        public var key: String
        public var size: Int64
        public var etag: String
        /// RFC 3339, as S3 listed it.
        public var lastModified: String
        /// Seconds since the epoch.
        public var modified: Double

        public init(path: String, key: String, size: Int64, etag: String, lastModified: String, modified: Double) {
            self.path = path
            self.key = key
            self.size = size
            self.etag = etag
            self.lastModified = lastModified
            self.modified = modified
        }
    }

    /// The bucket URL the files came from.
    public var source: String
    /// When the fetch ran (RFC 3339).
    public var fetched: String
    public var files: [Entry]
    /// Set when only part of the replica was fetched (`fetch --position`): the position the files
    /// restore to. Absent for a whole copy.
    public var partialTo: String?

    public init(source: String, fetched: String, files: [Entry], partialTo: String? = nil) {
        self.source = source
        self.fetched = fetched
        self.files = files
        self.partialTo = partialTo
    }

    /// A larger manifest is not read (about 200 bytes an entry: some 300,000 files).
    public static let maxBytes = 64 << 20

    /// What an offline run takes from a manifest: the listing with trusted times where entries
    /// match, and warnings for the entries (or the manifest) it ignored.
    struct Applied {
        var files: [StoredFile]
        var findings: [Finding]
        /// How many files took their time from the manifest.
        var trusted: Int
        var source: String?
    }

    /// Reads the manifest through `storage` and applies it to `files` (the listing without the
    /// manifest itself). Never throws: a manifest that cannot be used is a warning.
    static func apply(storage: any ReplicaStorage, files: [StoredFile], manifestSize: Int64) -> Applied {
        let name = Replica.fetchManifestName
        var applied = Applied(files: files, findings: [], trusted: 0, source: nil)
        func ignoreAll(_ why: String) -> Applied {
            applied.findings.append(.warning(.manifestIgnored, file: name, "\(why); file times are used as they are"))
            return applied
        }
        guard manifestSize <= Int64(maxBytes) else {
            return ignoreAll("the fetch manifest is \(manifestSize) bytes, more than the \(maxBytes) read")
        }
        let manifest: FetchManifest
        do {
            let bytes = try storage.read(name, offset: 0, count: Int(manifestSize))
            manifest = try JSONDecoder().decode(FetchManifest.self, from: Data(bytes))
        } catch let e as DecodingError {
            return ignoreAll("the fetch manifest is not one LiteProof writes (\(describe(e)))")
        } catch {
            return ignoreAll("the fetch manifest cannot be read (\(error))")
        }
        applied.source = manifest.source
        var byPath: [String: Entry] = [:]
        var duplicated = Set<String>()
        var problems: [String] = []
        for e in manifest.files {
            if byPath[e.path] != nil { duplicated.insert(e.path) }
            byPath[e.path] = e
        }
        for p in duplicated.sorted() {
            problems.append("\(p) is listed more than once")
            byPath[p] = nil
        }
        let listed = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for (path, e) in byPath.sorted(by: { $0.key < $1.key }) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            if path.isEmpty || path.hasPrefix("/") || parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) || path.contains("\\") {
                problems.append("\(path.debugDescription) is not a plain relative path")
                byPath[path] = nil
            } else if !e.modified.isFinite || e.modified < 0 || e.modified > 253_402_300_799 {
                problems.append("\(path) has an impossible time (\(e.modified))")
                byPath[path] = nil
            } else if let f = listed[path], f.size != e.size {
                problems.append("\(path) is \(f.size) bytes, the manifest says \(e.size)")
                byPath[path] = nil
            }
        }
        if !problems.isEmpty {
            let shown = problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? "; and \(problems.count - 5) more" : "")
            applied.findings.append(
                .warning(
                    .manifestIgnored, file: name,
                    "\(problems.count) fetch manifest entr\(problems.count == 1 ? "y does" : "ies do") not match the files and \(problems.count == 1 ? "is" : "are") ignored (those files keep their own times): \(shown)"
                ))
        }
        for i in applied.files.indices {
            guard let e = byPath[applied.files[i].path] else { continue }
            applied.files[i].modified = e.modified
            applied.files[i].timeTrusted = true
            applied.trusted += 1
        }
        return applied
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case .dataCorrupted(let c): return c.debugDescription
        case .keyNotFound(let k, _): return "no \(k.stringValue)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            return "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
