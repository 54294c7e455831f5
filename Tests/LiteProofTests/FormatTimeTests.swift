import Foundation
import LiteProof
import Testing

/// ``formatTime(_:)`` writes what Foundation's `ISO8601DateFormatter` writes (internet date-time
/// with fractional seconds), without loading ICU's data.
@Suite struct FormatTimeTests {
    @Test func matchesFoundationsFormatter() {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var times: [Double] = [0, 1, 1.9999, 59.9996, 86_399.9999, 951_782_400, 1_765_077_504.8739, 1_765_077_504.9999, -1.5, 253_402_300_799.999]
        // A spread of times from 1970 to 2100 with microseconds, kept away from half-millisecond
        // ties (where two correct roundings of a binary fraction may differ).
        var g = SystemRandomNumberGenerator()
        while times.count < 2000 {
            let t = Double(Int64.random(in: 0..<4_102_444_800_000_000, using: &g)) / 1e6
            let frac = (t * 1000) - (t * 1000).rounded(.down)
            if abs(frac - 0.5) > 0.01 { times.append(t) }
        }
        for t in times {
            #expect(formatTime(t) == f.string(from: Date(timeIntervalSince1970: t)), "\(t)")
        }
    }
}
