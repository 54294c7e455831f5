import Foundation
import LiteProof

/// A live database in WAL mode with real `litestream replicate` running on it (stop it in a defer).
struct LiveReplication {
    let dir: String, db: String, replica: String
    let litestream: LitestreamProcess
    let writer: RigDB
}

/// `compacting: false`: 0.5 compaction and snapshots an hour apart (only level-0 files appear).
func startLiveReplication(_ v: LitestreamVersion, seedRows: Int = 1, compacting: Bool = true) throws -> LiveReplication {
    let dir = try rigTempDir("live-\(v.rawValue)")
    let db = dir + "/app.db", replica = dir + "/replica"
    let writer = try RigDB(db)
    try writer.exec("PRAGMA journal_mode=WAL")
    try writer.exec("CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT, qty INTEGER)")
    try writer.exec("BEGIN; " + (1...max(1, seedRows)).map { "INSERT INTO orders(item, qty) VALUES ('seed \($0)', 1);" }.joined() + " COMMIT;")
    let ls = try startLitestream(v, db: db, replica: replica, in: dir, compacting: compacting)
    return LiveReplication(dir: dir, db: db, replica: replica, litestream: ls, writer: writer)
}

/// Starts `litestream replicate` of `db` to a file replica at `replica` (config written in `dir`).
func startLitestream(_ v: LitestreamVersion, db: String, replica: String, in dir: String, compacting: Bool = true) throws -> LitestreamProcess {
    let config = dir + "/litestream.yml"
    let text =
        v == .v03
        ? RigScenarioBuilder.v03Config(db: db, replica: replica, checkpointing: false, snapshotInterval: nil)
        : RigScenarioBuilder.v05Config(db: db, replica: replica, compacting: compacting)
    try text.write(toFile: config, atomically: true, encoding: .utf8)
    return try LitestreamProcess(binary: try Litestream.binary(v), config: config, logPath: dir + "/litestream.log")
}

func waitUntil(_ what: String, timeout: TimeInterval, _ ok: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if (try? ok()) == true { return }
        usleep(100_000)
    }
    throw RigError(message: "timed out waiting for \(what)")
}
