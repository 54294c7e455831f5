import Foundation

extension Comparer {
    /// What a comparison is made against.
    public enum LiveInput: Sendable {
        /// A live database, read consistently (never written).
        case database(String)
        /// A digest written by `liteproof digest`.
        case digest(DatabaseDigest)
    }

    /// `compare --wait`: compares, and while the replica is neither `identical` to the live state
    /// nor `ahead` of it, reads the replica again — `open` lists the storage anew; each round
    /// plans and restores again — until it is, or `seconds` have passed. A live database is read
    /// once, at the start (with table counts), and every later round compares with that state: the
    /// question is whether what was committed then has reached the replica, which a writer that
    /// goes on cannot postpone. `status` hears one line per round; a round that fails (a file
    /// caught half uploaded) is reported there and retried, and its error is thrown only when the
    /// time runs out on it.
    public static func waitForReplica(
        open: () throws -> Replica, live: LiveInput, seconds: Double, poll: Double = 2,
        configure: (inout Comparer) -> Void = { _ in }, status: ((String) -> Void)? = nil
    ) throws -> CompareReport {
        let started = Date()
        let deadline = started.addingTimeInterval(max(0, seconds))
        func comparer() throws -> Comparer {
            var c = Comparer(replica: try open())
            configure(&c)
            return c
        }
        var report: CompareReport
        let captured: DatabaseDigest
        switch live {
        case .database(let path):
            (report, captured) = try comparer().compareCapturing(live: path)
        case .digest(let d):
            report = try comparer().compare(digest: d)
            captured = d
        }
        var rounds = 1
        var lastError: Error?
        while lastError != nil || (report.verdict != .identical && report.verdict != .ahead) {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { break }
            if let e = lastError {
                status?("round \(rounds): cannot read the replica (\(e)); reading it again, \(Int(left.rounded(.up))) s left")
            } else {
                status?("round \(rounds): \(report.verdict.rawValue) at \(report.position); reading the replica again, \(Int(left.rounded(.up))) s left")
            }
            Thread.sleep(forTimeInterval: min(poll, left))
            rounds += 1
            do {
                report = try comparer().compare(digest: captured)
                lastError = nil
            } catch {
                lastError = error
            }
        }
        if let lastError { throw lastError }
        let waited = Date().timeIntervalSince(started)
        var note = "waited \(Units.seconds(waited)) (--wait \(Units.seconds(seconds))): \(rounds) read\(rounds == 1 ? "" : "s") of the replica"
        if case .database = live { note += "; the live database was read once, at the start, and each later read compared with that state" }
        report.notes.append(note)
        report.seconds = waited
        return report
    }
}
