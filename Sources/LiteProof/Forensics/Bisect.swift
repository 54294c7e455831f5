import Foundation

/// Finds the first restorable point where a query's result changes (from its result at the
/// earliest point, or from an expected value), by binary search over the replica's history,
/// applying it forward incrementally and stepping back with an undo log.
public struct Bisect {
    public struct Report: Codable, Sendable {
        public var query: String
        public var history: String
        public var points: Int
        public var probes: Int
        /// The result the search compared against (at the first point, or `--expect`).
        public var baseline: String
        public var found: Bool
        public var point: ReplayPoint?
        public var time: String?
        /// Result at the point before the change and at the change.
        public var before: String?
        public var after: String?
        public var previousPoint: ReplayPoint?
        public var seconds: Double
        /// Stretches of history that cannot be rebuilt (the search skips them).
        public var gaps: [ReplayGap] = []
        /// Set when the change lies in such a stretch: `point` is then the first state after it
        /// (a snapshot), and the commit that made the change cannot be named.
        public var changeInGap: String?
    }

    public let replica: Replica
    public var generation: String?
    public var progress: ((String) -> Void)?

    public init(replica: Replica, generation: String? = nil) {
        self.replica = replica
        self.generation = generation
    }

    public func run(sql: String, expect: String? = nil) throws -> Report {
        let started = Date()
        let r = try Replayer(replica: replica, generation: generation)
        var probes = 0
        func eval() throws -> String {
            probes += 1
            progress?("probe \(probes) at \(r.points[r.current].position)")
            do { return try r.evaluate(sql) } catch let e as LiteProofError {
                throw LiteProofError(.usage, "the query fails at \(r.points[r.current].position): \(e.message)")
            } catch let e as FormatError {
                throw LiteProofError(.usage, "the query fails at \(r.points[r.current].position): \(e.description)")
            }
        }
        let first = try eval()
        let baseline = expect ?? first
        var report = Report(
            query: sql, history: r.description, points: r.points.count, probes: 0, baseline: baseline,
            found: false, point: nil, time: nil, before: nil, after: nil, previousPoint: nil, seconds: 0)
        if first != baseline {
            report.found = true
            report.point = r.points[0]
            report.after = first
        } else {
            // Invariant: the state at `lo` matches the baseline (and is materialized); `hi` differs
            // (or is one past the end).
            var lo = 0, hi = r.points.count
            var beforeResult = first
            var hiResult: String?
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                try r.advance(to: mid, undoable: true)
                let result = try eval()
                if result == baseline {
                    r.commit()
                    lo = mid
                    beforeResult = result
                } else {
                    hi = mid
                    hiResult = result
                    try r.rewind()
                }
            }
            if hi < r.points.count {
                report.found = true
                report.point = r.points[hi]
                report.previousPoint = r.points[lo]
                report.before = beforeResult
                report.after = hiResult
            }
        }
        report.gaps = r.gaps
        if report.previousPoint != nil, let gap = report.point?.afterGap { report.changeInGap = gap }
        report.time = report.point?.time.map(formatTime)
        report.probes = probes
        report.seconds = Date().timeIntervalSince(started)
        return report
    }
}

extension Bisect.Report {
    public func renderText() -> String {
        var lines: [String] = []
        if found, let p = point, let gap = changeInGap, let prev = previousPoint {
            lines.append("CHANGED between \(prev.position) and \(p.position)\(time.map { " (\($0))" } ?? ""), where the history has a gap")
            lines.append("  the states in between cannot be rebuilt (\(gap)); \(p.position) is a snapshot, the first state after the gap")
            lines.append("  result before: \(before ?? baseline)")
            lines.append("  result after:  \(after ?? "")")
        } else if found, let p = point {
            lines.append("CHANGED at \(p.position)\(time.map { " (\($0))" } ?? "")")
            lines.append("  file holding the change: \(p.file)")
            if let prev = previousPoint {
                lines.append("  last point with the baseline result: \(prev.position)\(prev.time.map { " (\(formatTime($0)))" } ?? "")")
            }
            lines.append("  result before: \(before ?? baseline)")
            lines.append("  result after:  \(after ?? "")")
        } else {
            lines.append("NO CHANGE: the query gives the baseline result at every one of the \(points) points")
            lines.append("  result: \(baseline)")
        }
        for gap in gaps { lines.append("  not searched: \(gap.description)") }
        lines.append("searched \(points) points (\(history)) with \(probes) probes in \(Units.seconds(seconds))")
        return lines.map(\.escapedForText).joined(separator: "\n")
    }
}
