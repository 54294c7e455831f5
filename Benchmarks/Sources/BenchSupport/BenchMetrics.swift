import Benchmark

/// The metrics every suite records.
public enum BenchMetrics {
    /// Megabytes (10^6 bytes) per second of the iteration's wall clock: database bytes restored
    /// or hashed, replica bytes verified.
    public static let megabytesPerSecond = BenchmarkMetric.custom("throughput (MB/s)", polarity: .prefersLarger, useScalingFactor: false)

    public static let all: [BenchmarkMetric] = [
        .wallClock, .cpuUser, .cpuSystem, .cpuTotal,
        .mallocCountTotal, .peakMemoryResident, .throughput, megabytesPerSecond,
    ]
}

extension BenchSize {
    /// Iterations measured (after one warm-up): fewer for the slow sizes.
    public var iterations: Int {
        switch self {
        case .small: return 20
        case .medium: return 8
        case .large: return 3
        case .updateHeavy, .smallTx: return 5
        }
    }
}
