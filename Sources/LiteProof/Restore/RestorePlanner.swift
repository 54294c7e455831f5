import Foundation

/// Chooses the files a restore applies, the way `litestream restore` chooses them.
///
/// Planning reads names, file times, (0.5) the 100-byte LTX headers and (0.3) the WAL of the
/// last index the plan applies, to name the exact position after its last commit; a missing file
/// that the plan needs is a thrown ``LiteProofError`` carrying a `chain.*` finding. The per-format
/// halves are in `RestorePlanner+V03.swift` and `RestorePlanner+LTX.swift`.
public struct RestorePlanner {
    public let replica: Replica
    /// 0.3: read the WAL of the last index the plan applies to name the exact position (after its
    /// last commit). A restore turns this off and names the position from its own reading of
    /// that WAL, so it is decompressed once; the plan then names the last segment's start.
    var exactV03Position = true

    public init(replica: Replica) { self.replica = replica }

    public func plan(_ target: RestoreTarget = .latest()) throws -> RestorePlan {
        PlansMade.shared.record(replica.root)
        switch replica.layout {
        case .v03: return try planV03(target)
        case .ltx(let layout): return try planLTX(target, layout: layout)
        }
    }

    /// A target past the replica's last point: exit 1 (the replica does not hold what was asked
    /// for), naming the last restorable point so the user can ask for that instead.
    func pastTheEnd(_ what: String, latest: RestoreTarget) -> LiteProofError {
        let last: String
        do {
            last = "the last restorable position is \(try RestorePlanner(replica: replica).plan(latest).position)"
        } catch {
            last = "and the latest position does not restore either (\((error as? LiteProofError)?.message ?? "\(error)"))"
        }
        return LiteProofError(.checkFailed, "\(what); \(last)")
    }

    func timesTrustworthy(_ times: [Double], count: Int) -> Bool {
        times.count == count && (count < 2 || Set(times).count > 1)
    }
}

/// Counts the plans made for replicas below watched folders, so a test can check that a command
/// plans each replica once. Nothing is counted (one lock, no allocation) unless a folder is watched.
final class PlansMade: Sendable {
    static let shared = PlansMade()
    private let state = Locked((watched: Set<String>(), counts: [String: Int]()))

    /// Starts counting the plans of replicas whose root starts with `prefix`.
    func watch(_ prefix: String) {
        state.withLock { _ = $0.watched.insert(prefix) }
    }

    /// Stops counting below `prefix`; returns the plans made per replica root since ``watch(_:)``.
    func stopWatching(_ prefix: String) -> [String: Int] {
        state.withLock { s in
            s.watched.remove(prefix)
            let mine = s.counts.filter { $0.key.hasPrefix(prefix) }
            for root in mine.keys { s.counts[root] = nil }
            return mine
        }
    }

    func record(_ root: String) {
        state.withLock { s in
            guard !s.watched.isEmpty, s.watched.contains(where: { root.hasPrefix($0) }) else { return }
            s.counts[root, default: 0] += 1
        }
    }
}

/// ISO-8601 UTC with milliseconds (`2026-12-07T03:18:24.874Z`), as `ISO8601DateFormatter` writes
/// it with fractional seconds (rounded to the nearest millisecond), without that formatter: it
/// loads ICU's calendar, locale and time-zone data, 6 MB of a restore's memory for one string.
public func formatTime(_ t: Double) -> String {
    guard t.isFinite, abs(t) < 1e15 else { return "\(t)" }
    let ms = (t * 1000).rounded()
    let seconds = (ms / 1000).rounded(.down)
    var clock = time_t(seconds)
    var utc = tm()
    guard gmtime_r(&clock, &utc) != nil else { return "\(t)" }
    func digits(_ v: Int32, _ n: Int) -> String {
        let s = String(v)
        return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
    }
    return digits(utc.tm_year + 1900, 4) + "-" + digits(utc.tm_mon + 1, 2) + "-" + digits(utc.tm_mday, 2) + "T" + digits(utc.tm_hour, 2) + ":"
        + digits(utc.tm_min, 2) + ":" + digits(utc.tm_sec, 2) + "." + digits(Int32(ms - seconds * 1000), 3) + "Z"
}
