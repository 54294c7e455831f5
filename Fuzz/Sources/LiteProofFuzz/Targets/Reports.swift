import Foundation
@testable import LiteProof

// Targets for documents LiteProof reads back: an evidence bundle's manifest, a digest file, and
// Litestream's log lines.

/// The manifest of an evidence bundle: packed into a bundle (.tar.zst) with the example 0.3
/// replica's files, then `Evidence.check` against that replica.
let manifestTarget = FuzzTarget(name: "manifest", summary: "an evidence bundle's manifest.json: Evidence.check") { bytes in
    let bundle = Scratch.root + "/bundle.tar.zst"
    try? FileManager.default.removeItem(atPath: bundle)
    do {
        let writer = try TarZstdWriter(path: bundle, level: 1)
        try writer.add(name: Evidence.manifestName, bytes: Array(bytes), mtime: 1_700_000_000)
        try writer.finish()
    } catch {
        preconditionFailure("cannot write the bundle: \(error)")
    }
    expectCleanError { _ = try Evidence.check(bundle: bundle, replica: Fixtures.replica03) }
}

/// The digest of the example 0.3 live database, computed once: the "replica" side of a comparison.
private nonisolated(unsafe) var replicaSide: (DatabaseDigest, FilePageSource)?

/// A digest file (`liteproof digest`): DatabaseDigest.read, then judged against a database as
/// `compare --digest` does (without the restore, which does not depend on the digest).
let digestTarget = FuzzTarget(name: "digest", summary: "a digest file: DatabaseDigest.read, Comparer.judge") { bytes in
    let path = Scratch.write(bytes, as: "live.digest")
    guard let digest = try? DatabaseDigest.read(from: path) else { return }
    if replicaSide == nil {
        let source = try! FilePageSource(path: Fixtures.live03)
        replicaSide = (try! DatabaseDigest.compute(source, name: "replica"), source)
    }
    let (replicaDigest, source) = replicaSide!
    expectCleanError {
        _ = try Comparer.judge(
            replicaDigest: replicaDigest, liveDigest: digest, position: .ltx(txid: 1), replicaSource: source, liveSource: nil, listLimit: 50)
    }
}

/// Litestream's log output (text, JSON, logfmt lines): LogReport.make.
let logsTarget = FuzzTarget(name: "logs", summary: "Litestream log lines: LogReport.make (scan, classify, judge)") { bytes in
    let path = Scratch.write(bytes, as: "litestream.log")
    expectCleanError { _ = try LogReport.make(path: path).renderText() }
}

/// The committed example replicas (Tests/Fixtures), made by real Litestream.
enum Fixtures {
    static let replica03 = repositoryRoot + "/Tests/Fixtures/example-0.3/replica"
    static let live03 = repositoryRoot + "/Tests/Fixtures/example-0.3/live.db"
    static let replica05 = repositoryRoot + "/Tests/Fixtures/example-0.5/replica"
    static let live05 = repositoryRoot + "/Tests/Fixtures/example-0.5/live.db"
}
