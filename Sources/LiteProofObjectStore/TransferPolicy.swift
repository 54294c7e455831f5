import Foundation
import LiteProof

/// How every request to an object store is bounded, whatever the server does: attempts, a total
/// deadline per object, a speed floor, an endpoint that has stopped answering, the size of a
/// listing. One policy for every back end's transfers; the defaults fit a real region (a remote
/// bucket over a slow link still passes), the environment tunes them (``from(environment:)``).
public struct TransferPolicy: Sendable, Equatable {
    /// Attempts per request (first try included).
    public var attempts = 5
    /// First retry delay in seconds; doubled each time, with jitter, up to 5 s.
    public var baseDelay = 0.2
    /// Seconds one object (or one listing page) may take in all, retries and their delays
    /// included. Past it the request fails, named, with what the last attempt got.
    public var deadline: TimeInterval = 1800
    /// The speed floor, in bytes per second: an attempt that receives fewer than
    /// `minSpeed × window` bytes in any `window` seconds (no answer at all included) is cancelled
    /// and counts as a failed transfer.
    public var minSpeed: Double = 16384
    public var window: TimeInterval = 30
    /// Failed transfers in a row (no complete answer: refused, dropped, stalled, too slow) after
    /// which the endpoint is given up for the rest of the run: every later request fails at once,
    /// named. Any complete answer resets the count.
    public var endpointFailures = 8
    /// Most keys one listing may hold (a server that lists without end is refused).
    public var maxKeys = 10_000_000
    /// Most bytes of one answer kept in memory: a listing page or an error body.
    public var maxAnswerBytes = 16 << 20
    /// Objects up to this size are downloaded into memory rather than a scratch file (2 MiB of
    /// them at most at once; see ``ObjectStorage/memoryObjectsUpTo``); 0 keeps every object in a file.
    public var memoryObjectBytes: Int64 = 64 << 10
    /// Requests in flight at once per storage (a replica, or the bucket prefix a fleet is
    /// checked under), whole objects and ranged parts together, up to ``maxConnections``. 16:
    /// small objects are bound by the round trip, not the bandwidth, on a real region's network.
    /// Through a 50 ms round trip a 0.3 update-heavy restore took 2.46 s with 8 and 2.21 s with 16
    /// (3.6 MB more memory); through 20 ms, 200 replicas of a fleet took 5.6–6.2 s with 8, 3.1–3.5 s
    /// with 16, 2.5–2.6 s with 32. At 0 ms on 2 cores shared with the server, neither gained.
    public var connections = 16
    /// The most ``connections`` may be: the connections each HTTP client keeps per host
    /// (``HTTPClients``), which every storage of the process shares.
    public static let maxConnections = 64

    public init() {}

    /// The environment variables that set the policy, with what each sets. Each also answers to
    /// its older name, `LITEPROOF_S3_…` (from when S3 was the only store); the new name wins.
    public static let variables: [(name: String, help: String)] = [
        ("LITEPROOF_STORE_ATTEMPTS", "attempts per request, first included (default 5)"),
        ("LITEPROOF_STORE_DEADLINE", "seconds one object may take in all, retries included (default 1800)"),
        ("LITEPROOF_STORE_MIN_SPEED", "the speed floor in bytes per second (default 16384)"),
        ("LITEPROOF_STORE_STALL", "seconds over which the speed floor is measured; also the longest wait for an answer (default 30)"),
        ("LITEPROOF_STORE_ENDPOINT_FAILURES", "failed transfers in a row after which the endpoint is given up (default 8)"),
        ("LITEPROOF_STORE_MAX_KEYS", "most keys one listing may hold (default 10000000)"),
        ("LITEPROOF_STORE_MEMORY_OBJECTS", "largest object, in bytes, downloaded into memory instead of a scratch file; 0 for none (default 65536)"),
        (
            "LITEPROOF_STORE_CONNECTIONS",
            "requests in flight at once per replica or fleet, 1 to 64 (default 16; more for a distant bucket, fewer for a store that limits them)"
        ),
    ]

    /// The default policy with the `LITEPROOF_STORE_*` variables of `environment` applied (or
    /// their older names, `LITEPROOF_S3_*`); a value that is not a positive number (for
    /// `MEMORY_OBJECTS`, a whole number from 0 up to 16 MiB) is a usage error naming the variable.
    public static func from(environment: [String: String]) throws -> TransferPolicy {
        var p = TransferPolicy()
        // The variable that sets `suffix` (the new name first) and its value, when set.
        func setting(_ suffix: String) -> (name: String, text: String)? {
            for name in ["LITEPROOF_STORE_" + suffix, "LITEPROOF_S3_" + suffix] {
                if let text = environment[name], !text.isEmpty { return (name, text) }
            }
            return nil
        }
        func number(_ suffix: String) throws -> Double? {
            guard let (name, text) = setting(suffix) else { return nil }
            guard let v = Double(text), v.isFinite, v > 0 else {
                throw LiteProofError(.usage, "\(name)=\(text): expected a positive number")
            }
            return v
        }
        /// A whole number from 1 up, and up to `most` when given.
        func count(_ suffix: String, upTo most: Int? = nil) throws -> Int? {
            guard let v = try number(suffix) else { return nil }
            guard v == v.rounded(), v <= 1e12 else {
                let (name, text) = setting(suffix)!
                throw LiteProofError(.usage, "\(name)=\(text): expected a whole number")
            }
            if let most, Int(v) > most {
                let (name, text) = setting(suffix)!
                throw LiteProofError(.usage, "\(name)=\(text): expected a whole number from 1 to \(most)")
            }
            return Int(v)
        }
        if let v = try count("ATTEMPTS") { p.attempts = v }
        if let v = try number("DEADLINE") { p.deadline = v }
        if let v = try number("MIN_SPEED") { p.minSpeed = v }
        if let v = try number("STALL") { p.window = v }
        if let v = try count("ENDPOINT_FAILURES") { p.endpointFailures = v }
        if let v = try count("MAX_KEYS") { p.maxKeys = v }
        if let (name, text) = setting("MEMORY_OBJECTS") {
            guard let v = Int64(text), v >= 0, v <= 16 << 20 else {
                throw LiteProofError(.usage, "\(name)=\(text): expected a whole number of bytes from 0 to \(16 << 20)")
            }
            p.memoryObjectBytes = v
        }
        if let v = try count("CONNECTIONS", upTo: maxConnections) { p.connections = v }
        return p
    }
}

/// Whether an endpoint still answers: failed transfers in a row, and once they reach the
/// policy's limit, the reason every later request fails at once.
package final class EndpointHealth: Sendable {
    /// Failed transfers in a row, and why the endpoint was given up (once it was).
    private let state = Locked((failuresInARow: 0, givenUp: String?.none))
    package let limit: Int

    package init(limit: Int) { self.limit = max(1, limit) }

    /// Non-nil once the endpoint was given up: why.
    package var deadReason: String? { state.current.givenUp }

    /// A complete answer (any status).
    package func answered() {
        state.withLock { s in if s.givenUp == nil { s.failuresInARow = 0 } }
    }

    /// A transfer that got no complete answer.
    package func failed(_ what: String) {
        let limit = self.limit
        state.withLock { s in
            s.failuresInARow += 1
            if s.givenUp == nil && s.failuresInARow >= limit {
                s.givenUp = "\(s.failuresInARow) transfers in a row failed, the last: \(what)"
            }
        }
    }
}
