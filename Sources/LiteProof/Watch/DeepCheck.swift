import Foundation

/// What one deep check of ``Watcher`` found: a trial restore of the latest position with
/// LiteProof's own code, SQLite's `quick_check` of the result, and (with a live database on this
/// machine) a compare of the restored state with the live one.
public struct DeepCheck: Codable, Sendable {
    /// The position restored.
    public var position: Position
    /// Seconds the restore and SQLite's check took (the compare aside).
    public var seconds: Double
    /// `ok`, or the first problems SQLite's `quick_check` reported.
    public var check: String
    /// The compare's verdict, as `compare` names it (nil without a live database here).
    public var compare: CompareReport.Verdict?
    /// `lagging`: commits the live database is ahead of the replica.
    public var commitsBehind: Int?
    /// `ahead`: commits the replica holds after the live state.
    public var commitsAhead: Int?
    /// One line that says what was found.
    public var detail: String

    /// The check passed: SQLite's check is clean and the live database does not differ.
    public var passed: Bool { check == "ok" && compare != .differs }
}

/// A canary the watcher wrote to the live database, and whether the replica holds it yet.
public struct CanaryTrip: Codable, Sendable {
    public var token: String
    /// When it was written, seconds since the epoch.
    public var writtenAt: Double
    /// Whether this round's replica holds it.
    public var seen: Bool
    /// Seconds since it was written, at the start of the round.
    public var ageSeconds: Double
}

/// What the watcher keeps between rounds for its deep checks, canaries and back-off (in memory:
/// a restarted watcher deep-checks at its first round).
struct DeepSchedule {
    /// When the last deep check ran (seconds since the epoch), and what it found.
    var lastDeepAt: Double?
    var lastDeep: DeepCheck?
    /// The findings of the last deep check, when it failed: carried into every round until the
    /// next deep check (run again as soon as the latest position moves).
    var carried: [Finding] = []
    /// The canary written and not seen in the replica yet.
    var canary: Canary?
    /// The position at which the pending canary was last looked for (looked for again only when
    /// the latest position moves).
    var lookedAt: Position?
    /// The files listed when the pending canary was written: the files that can hold it are the
    /// others (Litestream never rewrites a file).
    var knownAtCanary: Set<String> = []
    /// When the last canary was written.
    var lastCanaryAt: Double?
    /// Unreadable rounds in a row, and rounds still to skip before the next one.
    var unreadableInARow = 0
    var skip = 0
    /// The warning about a guessed latest time was given (it is given once, and again after it
    /// went away).
    var timeGuessWarned = false
}
