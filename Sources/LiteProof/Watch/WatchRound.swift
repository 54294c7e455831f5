import Foundation

/// What one round of ``Watcher`` found: the verdict of the replica as it is now, what the round
/// read, and how fresh the latest position is.
public struct WatchRound: Codable, Sendable {
    /// The replica, as the watcher names it.
    public var database: String
    /// 1 for the first round of this watcher (a restarted watcher counts on from its state).
    public var round: Int
    /// `ok` (no error finding and the latest position is planned), `damaged`, `undecided`, or
    /// `unreadable` (the storage could not list or produce a file: unreachable, never damage).
    public var verdict: Outcome
    /// The verdict combined with freshness: `failed` when the replica is sound but its latest
    /// position is older than `maxLag`; otherwise the verdict.
    public var health: Outcome
    /// When the round started (seconds since the epoch) and how long it took.
    public var time: Double
    public var seconds: Double
    /// Files the replica's layout lists now.
    public var filesListed: Int
    /// Files read and checked in this round (new or changed, and for 0.3 the rest of their
    /// WAL index), and their bytes.
    public var filesChecked: Int
    public var bytesRead: Int64
    /// Files verified in an earlier round that are gone (retention, compaction): no damage by
    /// themselves.
    public var filesGone: Int
    /// The latest restorable position, when a restore plan could be made.
    public var latest: PlanSummary?
    /// The time of the latest position (0.3: its file's time; 0.5: its LTX header's), seconds
    /// since the epoch, and its age when the round started.
    public var latestTime: Double?
    public var freshnessSeconds: Double?
    /// False when the latest position's time is a guess (0.3 file times that look lost: missing
    /// or all equal); ``freshnessSeconds`` is then nil, never a claim of freshness.
    public var latestTimeTrusted: Bool?
    /// When the latest position is planned but a file it needs is damaged: the first such finding.
    public var latestBrokenBy: Finding?
    /// Why the latest position cannot be decided, when it cannot.
    public var undecided: String?
    /// What the store could not produce (or could not list): the round is incomplete.
    public var storageFailures: [FailureReport]
    /// Every finding about the replica as it is now (carried from earlier rounds for files
    /// unchanged since), errors first.
    public var findings: [Finding]
    /// Things about the watcher itself (a state file ignored, a state write that failed).
    public var warnings: [String]
    /// The deep check run in this round (a trial restore with SQLite's check, and a compare with
    /// the live database), nil in rounds without one (see ``Watcher/restoreEvery``).
    public var deepCheck: DeepCheck?
    /// Seconds the deep check's trial restore and SQLite check took, in rounds with one.
    public var restoreCheckSeconds: Double?
    /// The canary round trip: what the watcher wrote to the live database and whether it is in
    /// the replica yet (nil without ``Watcher/canaryEvery``).
    public var canary: CanaryTrip?
    /// Seconds from writing a canary to the live database until the replica held it, in the
    /// round that first saw it: until the latest position's time (the position that holds it;
    /// an upper bound), or the round's start when that time is not trusted or is earlier.
    public var canaryRoundTripSeconds: Double?
    /// After an unreadable round, how many intervals the watcher waits before this replica's next
    /// round (1, 2, then 4: exponential, capped); nil after a readable round.
    public var backoffIntervals: Int?
    /// The paths read in this round, in order (not in the event line: they can be many).
    public var checkedPaths: [String] = []

    enum CodingKeys: String, CodingKey {
        case database, round, verdict, health, time, seconds, filesListed, filesChecked, bytesRead, filesGone, latest, latestTime,
            freshnessSeconds, latestTimeTrusted, latestBrokenBy, undecided, storageFailures, findings, warnings, deepCheck,
            restoreCheckSeconds, canary, canaryRoundTripSeconds, backoffIntervals
    }

    /// The first error finding, or why there is no verdict: the reason an event gives.
    public var reason: String {
        if let f = storageFailures.first { return "unreachable: \(f.error)" }
        if let undecided { return undecided }
        if let f = latestBrokenBy ?? findings.first(where: { $0.severity == .error }) { return f.description }
        if health != .ok, let f = findings.first(where: { $0.code == .canaryLate }) { return f.description }
        if health == .failed, let freshnessSeconds { return "the latest position is \(Int(freshnessSeconds)) s old" }
        if health == .undecided, latestTimeTrusted == false {
            return "freshness cannot be judged: the latest position's time is a guess (file times look lost)"
        }
        return latest.map { "latest position \($0.position)" } ?? "no latest position"
    }
}
