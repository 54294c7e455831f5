import Benchmark
import BenchSupport
import Foundation
import LiteProof

/// `verify` of the ~256 MB replicas (and ~1 GB with `LITEPROOF_BENCH_LARGE=1`) of both formats:
/// `Verifier(replica:).run()` reads every file fully (LZ4 frames and checksums, WAL checksum
/// chains, LTX page blocks, indexes and CRC-64s) and checks the chain; no trial restore. The
/// throughput metric is replica bytes read per second. Files are in the page cache after warm-up.
let benchmarks: @Sendable () -> Void = {
    for version in BenchData.versions {
        for size in BenchData.sizes where size != .small {
            Benchmark(
                "verify \(version) \(size.label)",
                configuration: .init(
                    metrics: BenchMetrics.all,
                    warmupIterations: 1,
                    maxDuration: .seconds(30),
                    maxIterations: size.iterations)
            ) { (benchmark: Benchmark, replica: BenchReplica) in
                let started = nowNanoseconds()
                let report: VerifyReport
                do {
                    report = Verifier(replica: try Replica.open(replica.replicaPath)).run()
                } catch {
                    benchmark.error("cannot open \(replica.replicaPath): \(error)")
                    return
                }
                let elapsed = nowNanoseconds() - started
                benchmark.stopMeasurement()
                guard report.verdict == .ok else {
                    benchmark.error("verify found damage in \(replica.replicaPath): \(report.findings.prefix(3))")
                    return
                }
                benchmark.measurement(
                    BenchMetrics.megabytesPerSecond, megabytesPerSecond(bytes: report.bytesRead, nanoseconds: elapsed))
            } setup: {
                try BenchData.replica(version: version, size: size)
            }
        }
    }
}
