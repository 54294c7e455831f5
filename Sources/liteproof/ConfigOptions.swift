import ArgumentParser
import Foundation
import LiteProof
import LiteProofConfig

/// `--config FILE`: the replicas come from Litestream's own configuration file, as Litestream's
/// commands read it (`litestream restore -config FILE DB`, `-replica NAME`, `-no-expand-env`).
struct ConfigOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Litestream's configuration file (litestream.yml): its replicas are read instead of a location, the database named by its path, as `litestream restore -config FILE DB` does.",
            valueName: "file"))
    var config: String?

    @Flag(name: .customLong("no-expand-env"), help: "With --config: leave $VAR and ${VAR} as they are (Litestream's -no-expand-env).")
    var noExpandEnv = false

    @Option(
        name: .customLong("replica"),
        help: ArgumentHelp(
            "With --config: which of a 0.3 database's replicas, by its name: (else its type), as Litestream's -replica; default: the first.",
            valueName: "name"))
    var replicaName: String?

    func validate() throws {
        if config == nil && (noExpandEnv || replicaName != nil) { throw ValidationError("--no-expand-env and --replica go with --config FILE") }
    }

    /// The configuration, read and checked, its notes on stderr; nil without --config.
    func load() throws -> LitestreamConfig? {
        guard let config else { return nil }
        let loaded = try LitestreamConfig.load(config, expandEnvironment: !noExpandEnv)
        for note in loaded.notes { ConfigTarget.note(note) }
        if loaded.databases.isEmpty { throw LiteProofError(.usage, "\(config) lists no database under dbs:") }
        return loaded
    }

    /// The replica of the database at `path` (nil: the only one), as `litestream restore
    /// -config` picks it.
    func target(database path: String?) throws -> ConfigTarget {
        guard let loaded = try load() else { throw LiteProofError(.usage, "no --config FILE") }
        return try ConfigTarget.pick(in: try loaded.database(path), replica: replicaName)
    }

    /// Every database's replica (`--replica` or the first, as for one database), for `watch`.
    func targetPerDatabase(_ loaded: LitestreamConfig) throws -> [ConfigTarget] {
        try loaded.databases.map { try ConfigTarget.pick(in: $0, replica: replicaName) }
    }
}

/// One replica a configuration names, ready to open: where it is, the database it belongs to,
/// and the environment its reader gets (the configuration's credentials, where it has them).
struct ConfigTarget: Sendable, Equatable {
    /// The live database (`path:`), absolute.
    var database: String
    /// The replica's name as `--replica` takes it.
    var replicaName: String
    var location: ReplicaLocation
    /// The configuration's keys, as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for this replica's
    /// reader only (a key in the file wins over the environment, as in Litestream); never printed.
    var credentials: ConfiguredCredentials?

    /// The replica `name` (or the first) of `db`; with several and no name, a note says which.
    static func pick(in db: LitestreamConfig.Database, replica name: String?) throws -> ConfigTarget {
        let chosen: LitestreamConfig.Replica
        if let name {
            guard let r = db.replicas.first(where: { $0.displayName == name }) else {
                throw LiteProofError(
                    .usage, "\(db.path) has no replica named \(name) (its replicas: \(db.replicas.map(\.displayName).joined(separator: ", ")))")
            }
            chosen = r
        } else {
            chosen = db.replicas[0]
            if db.replicas.count > 1 {
                note(
                    "\(db.path) has \(db.replicas.count) replicas (\(db.replicas.map(\.displayName).joined(separator: ", "))); using the first, \(chosen.displayName) (--replica NAME picks another)"
                )
            }
        }
        return try make(db, chosen)
    }

    static func make(_ db: LitestreamConfig.Database, _ r: LitestreamConfig.Replica) throws -> ConfigTarget {
        switch try r.resolve(database: db.path) {
        case .file(let folder):
            return ConfigTarget(database: db.path, replicaName: r.displayName, location: .local(folder), credentials: nil)
        case .s3(let url, let credentials):
            return ConfigTarget(database: db.path, replicaName: r.displayName, location: .s3(url), credentials: credentials)
        case .gcs(let url):
            return ConfigTarget(database: db.path, replicaName: r.displayName, location: .gcs(url), credentials: nil)
        case .url(let url):
            return ConfigTarget(database: db.path, replicaName: r.displayName, location: ReplicaLocation(url), credentials: nil)
        }
    }

    /// Opens the replica (an S3 replica with the configuration's credentials, if any).
    func open() throws -> Replica {
        try location.open(environment: environment)
    }

    /// Every replica of the configuration as `verify --all --config` checks them: named by
    /// their database, and by the replica too where a database has several.
    /// A replica LiteProof cannot read (another back end) gets its own line with the reason.
    static func fleet(_ config: LitestreamConfig) -> [NamedFleet.Member] {
        config.databases.flatMap { db in
            db.replicas.map { r in
                let target = Result { try make(db, r) }
                let name = db.replicas.count > 1 ? "\(db.path) (\(r.displayName))" : db.path
                return NamedFleet.Member(name: name, shardKey: db.path, open: { try target.get().open() })
            }
        }
    }

    /// The process's environment, with the configuration's keys in place of any others.
    var environment: [String: String] { Self.environment(credentials) }

    /// The process's environment, with `credentials` (if any) in place of any others.
    static func environment(_ credentials: ConfiguredCredentials?) -> [String: String] {
        let env = ProcessInfo.processInfo.environment
        return credentials?.applied(to: env) ?? env
    }

    /// `liteproof: note: …` on stderr.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data("liteproof: note: \(text.escapedForText)\n".utf8))
    }
}

extension ConfigTarget {
    static func == (a: ConfigTarget, b: ConfigTarget) -> Bool {
        a.database == b.database && a.replicaName == b.replicaName && a.credentials == b.credentials && a.location.key == b.location.key
    }
}

extension ReplicaLocation {
    /// What tells two locations apart.
    fileprivate var key: String {
        switch self {
        case .local(let path): return "local:" + path
        case .s3(let url): return "s3:" + url
        case .sftp(let url): return "sftp:" + url
        case .gcs(let url): return "gcs:" + url
        case .webdav(let url): return "webdav:" + url
        }
    }
}
