import Benchmark
import BenchSupport
import Foundation
import LiteProof

/// Page hashing: `DatabaseDigest.compute` over a `FilePageSource` of the ~256 MB database (the
/// live database of the 0.5.17 medium replica): per page CRC-64 (LTX's page checksum), the
/// XOR database checksum and SHA-256 of the image. The file is in the page cache after warm-up.
let benchmarks: @Sendable () -> Void = {
    for size in BenchData.sizes where size != .small {
        Benchmark(
            "page hashing \(size.label)",
            configuration: .init(
                metrics: BenchMetrics.all,
                warmupIterations: 1,
                maxDuration: .seconds(30),
                maxIterations: size.iterations)
        ) { (benchmark: Benchmark, path: String) in
            let started = nowNanoseconds()
            let digest: DatabaseDigest
            do {
                digest = try DatabaseDigest.compute(try FilePageSource(path: path), name: "live.db")
            } catch {
                benchmark.error("cannot hash \(path): \(error)")
                return
            }
            let elapsed = nowNanoseconds() - started
            benchmark.stopMeasurement()
            blackHole(digest)
            benchmark.measurement(
                BenchMetrics.megabytesPerSecond,
                megabytesPerSecond(bytes: Int64(digest.pageCount) * Int64(digest.pageSize), nanoseconds: elapsed))
        } setup: {
            try BenchData.replica(version: "0.5.17", size: size).livePath
        }
    }
}
