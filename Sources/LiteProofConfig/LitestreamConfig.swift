import Foundation
import LiteProof

/// Litestream's configuration file (`litestream.yml`), read as Litestream reads it, for the
/// replicas it names: the `dbs:` list, each database with 0.3's `replicas:` list or 0.5's one
/// `replica:`, and the top-level settings Litestream copies into every replica (credentials,
/// region, bucket, endpoint, …).
///
/// Reading follows Litestream 0.5 (`ParseConfig`): `$VAR` and `${VAR}` are expanded over the
/// whole file before it is parsed (Go's `os.Expand`, with `$PID` as this process's id) unless
/// `expandEnvironment` is false (`-no-expand-env`); database paths are made absolute (`~/`
/// is the home folder, `sqlite://` prefixes are dropped). Settings LiteProof does not need
/// (sync, snapshot, retention, compaction, logging, …) are accepted and ignored, as are keys
/// Litestream does not know (its YAML reader ignores them too).
///
/// The file is untrusted input: its size is bounded (``maxBytes``), its nesting and the work
/// of walking it (aliases included) are bounded before and while it is read
/// (``LitestreamConfigLimits``), and anything else than the shape above is a usage error naming
/// the file, the line and what was expected.
public struct LitestreamConfig: Sendable, Equatable {
    /// The largest configuration file read (Litestream's are a few KiB).
    public static let maxBytes = 1 << 20

    /// The file it was read from.
    public var file: String
    /// The databases, in the file's order.
    public var databases: [Database]
    /// What was read and not used (unknown keys, `dir:` entries), one sentence each, for stderr.
    public var notes: [String]

    public init(file: String, databases: [Database], notes: [String] = []) {
        self.file = file
        self.databases = databases
        self.notes = notes
    }

    /// One entry of `dbs:`.
    public struct Database: Sendable, Equatable {
        /// The live database, absolute (as Litestream expands `path:`).
        public var path: String
        /// Its replicas: 0.5's `replica:` is one; 0.3's `replicas:` may list several.
        public var replicas: [Replica]
        /// Where it is in the file, for messages: `dbs[0]`.
        public var position: String

        public init(path: String, replicas: [Replica], position: String) {
            self.path = path
            self.replicas = replicas
            self.position = position
        }
    }

    /// One replica of a database, with the fields Litestream names (top-level settings already
    /// applied where the replica leaves them empty, as Litestream's `SetDefaults` does).
    public struct Replica: Sendable, Equatable, CustomStringConvertible {
        public var name: String?
        public var type: String?
        public var url: String?
        public var path: String?
        public var bucket: String?
        public var region: String?
        public var endpoint: String?
        public var forcePathStyle: Bool?
        public var skipVerify: Bool
        public var accessKeyID: String?
        public var secretAccessKey: String?
        /// Where it is in the file, for messages: `dbs[0].replicas[1]`.
        public var position: String
        /// The configuration file it is in, for messages.
        public var file: String = ""

        public init(
            name: String? = nil, type: String? = nil, url: String? = nil, path: String? = nil, bucket: String? = nil, region: String? = nil,
            endpoint: String? = nil, forcePathStyle: Bool? = nil, skipVerify: Bool = false, accessKeyID: String? = nil,
            secretAccessKey: String? = nil, position: String = ""
        ) {
            self.name = name
            self.type = type
            self.url = url
            self.path = path
            self.bucket = bucket
            self.region = region
            self.endpoint = endpoint
            self.forcePathStyle = forcePathStyle
            self.skipVerify = skipVerify
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.position = position
        }

        /// The back end, as Litestream's `ReplicaType()` decides it: the URL's scheme, else
        /// `type:`, else `file`.
        public var kind: String {
            if let url, let scheme = LitestreamConfig.scheme(of: url) { return scheme == "webdavs" ? "webdav" : scheme }
            if let type, !type.isEmpty { return type }
            return "file"
        }

        /// The name `--replica` picks it by: `name:`, else its kind (Litestream 0.3's rule).
        public var displayName: String { name.flatMap { $0.isEmpty ? nil : $0 } ?? kind }

        /// Where it is and what it is, never its credentials.
        public var description: String {
            var s = "\(displayName) (\(position)"
            if let url { s += ", url \(url)" } else if let path { s += ", path \(path)" }
            return s + ")"
        }
    }

    /// The database whose expanded path equals `path` expanded the same way, as `litestream
    /// restore -config FILE PATH` finds it; with one database, `path` may be nil.
    public func database(_ path: String?) throws -> Database {
        guard let path else {
            guard databases.count == 1 else {
                throw LiteProofError(
                    .usage,
                    "\(file) lists \(databases.count) databases; name one by its path (one of: \(databases.map(\.path).joined(separator: ", ")))")
            }
            return databases[0]
        }
        let wanted = try Self.expandPath(path)
        guard let db = databases.first(where: { $0.path == wanted }) else {
            let known = databases.isEmpty ? "none" : databases.map(\.path).joined(separator: ", ")
            throw LiteProofError(.usage, "database not found in \(file): \(wanted) (its databases: \(known))")
        }
        return db
    }

    /// The scheme of a URL as Litestream's `IsURL` sees one (`word://`), lowercased.
    static func scheme(of url: String) -> String? {
        guard let r = url.range(of: "://") else { return nil }
        let scheme = url[..<r.lowerBound]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        return scheme.lowercased()
    }

    /// A path as Litestream's `expand` makes it: `sqlite://` / `sqlite3://` prefixes dropped,
    /// `~` and `~/…` under the home folder, then absolute and cleaned.
    public static func expandPath(_ raw: String) throws -> String {
        var s = raw
        for prefix in ["sqlite3://", "sqlite://"] where s.lowercased().hasPrefix(prefix) {
            s = String(s.dropFirst(prefix.count))
            if let q = s.firstIndex(of: "?") { s = String(s[..<q]) }
            break
        }
        if s == "~" || s.hasPrefix("~/") {
            s = NSHomeDirectory() + s.dropFirst(1)
        }
        guard !s.isEmpty else { throw LiteProofError(.usage, "an empty path") }
        return URL(fileURLWithPath: s).standardizedFileURL.path
    }
}
