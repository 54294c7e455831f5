import Benchmark
import BenchSupport
import Foundation
import LiteProof

/// Restore of real Litestream replicas (0.3.13 and 0.5.17; ~16 MB, ~256 MB and, with
/// `LITEPROOF_BENCH_LARGE=1`, ~1 GB databases) with LiteProof's own code: opening the replica,
/// planning, reading, decompressing and applying every file, writing the database and renaming it
/// into place. No fsync and no SQLite check (`RestoreOptions(sync: false, integrityCheck: .none)`):
/// this measures LiteProof, not the disk; `compare-litestream.sh` times the whole CLI.
/// Replica files are in the page cache after the warm-up iteration.
let benchmarks: @Sendable () -> Void = {
    for version in BenchData.versions {
        for size in BenchData.sizes {
            Benchmark(
                "restore \(version) \(size.label)",
                configuration: .init(
                    metrics: BenchMetrics.all,
                    warmupIterations: 1,
                    maxDuration: .seconds(size == .small ? 10 : 30),
                    maxIterations: size.iterations)
            ) { (benchmark: Benchmark, state: RestoreState) in
                let output = state.scratch + "/restored.db"
                let started = nowNanoseconds()
                do {
                    let replica = try Replica.open(state.replica.replicaPath)
                    let report = try Restorer(replica: replica).restore(
                        .latest(), to: output,
                        options: RestoreOptions(force: true, integrityCheck: .none, sync: false))
                    blackHole(report)
                } catch {
                    benchmark.error("restore of \(state.replica.replicaPath) failed: \(error)")
                    return
                }
                let elapsed = nowNanoseconds() - started
                benchmark.stopMeasurement()
                benchmark.measurement(
                    BenchMetrics.megabytesPerSecond,
                    megabytesPerSecond(bytes: state.databaseBytes, nanoseconds: elapsed))
                unlink(output)
            } setup: {
                let replica = try BenchData.replica(version: version, size: size)
                return RestoreState(
                    replica: replica, databaseBytes: replica.databaseBytes,
                    scratch: try BenchData.makeScratch("restore-\(version)-\(size.folderSuffix)"))
            } teardown: {
                BenchData.removeScratch(BenchData.dataDir + "/scratch/restore-\(version)-\(size.folderSuffix)-\(getpid())")
            }
        }
    }
}

struct RestoreState {
    var replica: BenchReplica
    var databaseBytes: Int64
    var scratch: String
}
