import Foundation
import LiteProof
import Yams

extension LitestreamConfig {
    /// Reads the configuration file at `path` (see the type's summary). Every failure is a
    /// usage error that names the file: it cannot be read, is larger than ``maxBytes``, is not
    /// YAML, or is not shaped as Litestream's configuration.
    public static func load(
        _ path: String, environment: [String: String] = ProcessInfo.processInfo.environment, expandEnvironment: Bool = true
    ) throws -> LitestreamConfig {
        let text: String
        do {
            let f = try ReadOnlyFile(path)
            guard f.size <= Int64(maxBytes) else {
                throw LiteProofError(
                    .usage, "the configuration \(path) is \(f.size) bytes; LiteProof reads one of at most \(maxBytes) bytes (Litestream's are a few KiB)")
            }
            let bytes = try f.read(count: Int(f.size), at: 0)
            guard let decoded = String(validating: bytes, as: UTF8.self) else {
                throw LiteProofError(.usage, "the configuration \(path) is not UTF-8 text")
            }
            text = decoded
        } catch let e as LiteProofError where e.kind == .usage {
            throw e
        } catch {
            throw LiteProofError(.usage, "cannot read the configuration \(path): \(LiteProofError(wrapping: error).message)")
        }
        return try parse(text, file: path, environment: environment, expandEnvironment: expandEnvironment)
    }

    /// Reads configuration text (`file` names it in messages).
    public static func parse(
        _ text: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment, expandEnvironment: Bool = true
    ) throws -> LitestreamConfig {
        let expanded = expandEnvironment ? Self.expandEnvironment(text, environment: environment) : text
        guard expanded.utf8.count <= maxBytes * 4 else {
            throw LiteProofError(.usage, "\(file): more than \(maxBytes * 4) bytes once its variables are expanded")
        }
        try LitestreamConfigLimits.check(expanded, file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: expanded)
        } catch {
            throw LiteProofError(.usage, "\(file) is not YAML: \(Self.describe(error))")
        }
        var reader = ConfigReader(file: file)
        return try reader.config(root)
    }

    /// A Yams error in one line: the problem and where (line and column), without the text.
    static func describe(_ error: Error) -> String {
        if let e = error as? YamlError {
            switch e {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                return "\(problem) at line \(mark.line), column \(mark.column)"
            case .duplicatedKeysInMapping(let duplicates, let context):
                return "the key \(duplicates.joined(separator: ", ")) appears twice in one mapping, at line \(context.mark.line)"
            default:
                break
            }
        }
        return String(describing: error).split(separator: "\n").first.map(String.init) ?? "unreadable"
    }
}

/// Walks the composed document into ``LitestreamConfig``, counting every node it visits.
struct ConfigReader {
    let file: String
    var visited = 0
    var notes: [String] = []

    init(file: String) { self.file = file }

    mutating func config(_ root: Node?) throws -> LitestreamConfig {
        guard let root, case .mapping = root else {
            if root == nil || root?.null != nil { throw LiteProofError(.usage, "\(file) is empty: a Litestream configuration lists its databases under dbs:") }
            throw shape(root!, "the document", "a mapping with dbs:")
        }
        let top = try pairs(root, at: "the document")
        let defaults = try replica(top, at: "the top level", defaults: nil)
        guard let dbsNode = top["dbs"], dbsNode.null == nil else {
            throw LiteProofError(.usage, "\(file) has no dbs: list (the databases Litestream replicates)")
        }
        guard case .sequence(let seq) = dbsNode else { throw shape(dbsNode, "dbs", "a list of databases") }
        var databases: [LitestreamConfig.Database] = []
        for (i, entry) in seq.enumerated() {
            try count()
            let at = "dbs[\(i)]"
            let db = try pairs(entry, at: at)
            guard let pathNode = db["path"], let raw = try scalar(pathNode, at: at + ".path"), !raw.isEmpty else {
                if db["dir"] != nil {
                    notes.append("\(file): \(at) names a directory of databases (dir:), which LiteProof does not expand yet; skipped")
                    continue
                }
                throw LiteProofError(.usage, "\(file): \(at) has no path: (the database file Litestream replicates)")
            }
            let path: String
            do { path = try LitestreamConfig.expandPath(raw) } catch { throw LiteProofError(.usage, "\(file): \(at).path: cannot expand \(raw)") }
            var replicas: [LitestreamConfig.Replica] = []
            switch (db["replica"].flatMap { $0.null == nil ? $0 : nil }, db["replicas"].flatMap { $0.null == nil ? $0 : nil }) {
            case (.some, .some):
                throw LiteProofError(.usage, "\(file): \(at) has both replica: and replicas: (Litestream refuses that too)")
            case (.some(let one), nil):
                replicas = [try replica(try pairs(one, at: at + ".replica"), at: at + ".replica", defaults: defaults)]
            case (nil, .some(let list)):
                guard case .sequence(let items) = list else { throw shape(list, at + ".replicas", "a list of replicas") }
                for (j, item) in items.enumerated() {
                    try count()
                    let rat = at + ".replicas[\(j)]"
                    replicas.append(try replica(try pairs(item, at: rat), at: rat, defaults: defaults))
                }
            case (nil, nil):
                break
            }
            guard !replicas.isEmpty else {
                throw LiteProofError(.usage, "\(file): \(at) (\(path)) has no replica: or replicas: (Litestream refuses that too)")
            }
            databases.append(LitestreamConfig.Database(path: path, replicas: replicas, position: at))
        }
        return LitestreamConfig(file: file, databases: databases, notes: notes)
    }

    /// One replica's fields (`fields` of a `replica:` entry, or the top level's defaults), with
    /// `defaults` filling what it leaves empty, as Litestream's `SetDefaults` does.
    mutating func replica(_ fields: [String: Node], at: String, defaults: LitestreamConfig.Replica?) throws -> LitestreamConfig.Replica {
        func text(_ key: String) throws -> String? {
            guard let n = fields[key], let s = try scalar(n, at: "\(at).\(key)"), !s.isEmpty else { return nil }
            return s
        }
        func flag(_ key: String) throws -> Bool? {
            guard let s = try text(key) else { return nil }
            switch s.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw LiteProofError(.usage, "\(file): \(at).\(key) is \(s); expected true or false")
            }
        }
        var r = LitestreamConfig.Replica(
            name: try text("name"), type: try text("type"), url: try text("url"), path: try text("path"), bucket: try text("bucket"),
            region: try text("region"), endpoint: try text("endpoint"), forcePathStyle: try flag("force-path-style"),
            skipVerify: try flag("skip-verify") ?? false, accessKeyID: try text("access-key-id"), secretAccessKey: try text("secret-access-key"),
            position: at)
        r.file = file
        if let d = defaults {
            r.accessKeyID = r.accessKeyID ?? d.accessKeyID
            r.secretAccessKey = r.secretAccessKey ?? d.secretAccessKey
            r.region = r.region ?? d.region
            r.bucket = r.bucket ?? d.bucket
            r.endpoint = r.endpoint ?? d.endpoint
            r.forcePathStyle = r.forcePathStyle ?? d.forcePathStyle
            r.skipVerify = r.skipVerify || d.skipVerify
        }
        return r
    }

    /// A mapping's entries by key (merge keys `<<` applied: keys already present win).
    mutating func pairs(_ node: Node, at: String) throws -> [String: Node] {
        try count()
        guard case .mapping(let mapping) = node else { throw shape(node, at, "a mapping (key: value lines)") }
        var out: [String: Node] = [:]
        var merged: [Node] = []
        for (k, v) in mapping {
            try count()
            guard case .scalar(let key) = k else { throw shape(k, at, "keys that are plain words") }
            if key.string == "<<" && key.style == .plain {
                if case .sequence(let s) = v { merged += s } else { merged.append(v) }
                continue
            }
            out[key.string] = v
        }
        for m in merged {
            for (k, v) in try pairs(m, at: at + " (<< merge)") where out[k] == nil { out[k] = v }
        }
        return out
    }

    /// A scalar's text (nil for null); anything else is an error at `at`.
    mutating func scalar(_ node: Node, at: String) throws -> String? {
        try count()
        guard case .scalar(let s) = node else { throw shape(node, at, "a single value") }
        return node.null != nil ? nil : s.string
    }

    /// One more node visited; an error past ``LitestreamConfigLimits/maxNodes``.
    mutating func count() throws {
        visited += 1
        if visited > LitestreamConfigLimits.maxNodes {
            throw LiteProofError(
                .usage,
                "\(file): more than \(LitestreamConfigLimits.maxNodes) values once its aliases are followed (an alias bomb?); a Litestream configuration has a few hundred"
            )
        }
    }

    func shape(_ node: Node, _ at: String, _ expected: String) -> LiteProofError {
        let found: String
        switch node {
        case .scalar(let s): found = node.null != nil ? "nothing" : "the value \"\(String(s.string.prefix(40)))\""
        case .mapping: found = "a mapping"
        case .sequence: found = "a list"
        case .alias: found = "an alias"
        }
        let line = node.mark.map { " (line \($0.line))" } ?? ""
        return LiteProofError(.usage, "\(file): \(at)\(line) is \(found); expected \(expected)")
    }
}
