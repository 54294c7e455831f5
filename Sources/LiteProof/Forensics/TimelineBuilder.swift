import Foundation

/// The state of one build.
struct TimelineBuilder {
    let replica: Replica
    let findings: [Finding]
    /// Error findings by file.
    let errors: [String: [Finding]]
    var lanes: [Timeline.Lane] = []
    var points: [Timeline.Point] = []
    var gaps: [Timeline.Gap] = []
    var timesTrusted = true

    init(replica: Replica, findings: [Finding]) {
        self.replica = replica
        self.findings = findings
        var errors: [String: [Finding]] = [:]
        for f in findings where f.severity == .error && !f.file.isEmpty {
            errors[f.file, default: []].append(f)
        }
        self.errors = errors
    }

    /// A file is damaged when a finding about its own bytes is an error; `chain.*` findings are
    /// about files missing around it (gaps), not about it.
    func isDamaged(_ path: String) -> Bool {
        (errors[path] ?? []).contains { !$0.code.rawValue.hasPrefix("chain.") }
    }

    /// Why a restore that reads `files` fails, if one of them has an error finding; and whether
    /// that is damage (rather than a gap before the file).
    func blocker(_ files: [String]) -> (reason: String, damage: Bool)? {
        for path in files {
            guard let list = errors[path], let first = list.first else { continue }
            if let d = list.first(where: { !$0.code.rawValue.hasPrefix("chain.") }) {
                return ("needs \(path), which is damaged (\(d.code.rawValue): \(d.message))", true)
            }
            return ("follows a gap: \(path) (\(first.code.rawValue)): \(first.message)", false)
        }
        return nil
    }

    static func time(_ seconds: Double?) -> String? { seconds.map(formatTime) }

    /// How many TXIDs the points cover, saturating at `Int.max` (a range can reach TXID 2^64−1).
    static func txidCount(_ points: [Timeline.Point]) -> Int {
        var total: UInt64 = 0
        for p in points {
            let to = p.txid ?? 0
            let from = min(p.fromTXID ?? to, to)
            let (span, o1) = (to - from).addingReportingOverflow(1)
            let (sum, o2) = total.addingReportingOverflow(span)
            if o1 || o2 || sum > UInt64(Int.max) { return Int.max }
            total = sum
        }
        return Int(total)
    }

    // MARK: Summary

    func finish() -> Timeline {
        var damaged: [Timeline.Damaged] = []
        let known = Set(lanes.flatMap { l in l.files.map { ($0.path) } })
        let laneOf = Dictionary(lanes.flatMap { l in l.files.map { ($0.path, l.id) } }, uniquingKeysWith: { a, _ in a })
        for (path, list) in errors.sorted(by: { $0.key < $1.key }) where known.contains(path) && isDamaged(path) {
            damaged.append(
                Timeline.Damaged(
                    file: path, lane: laneOf[path] ?? "", codes: Array(Set(list.map(\.code.rawValue))).sorted(), findings: list,
                    points: points.filter { $0.file == path }.count,
                    unrestorablePoints: points.filter { !$0.restorable && ($0.reason?.hasPrefix("needs \(path),") ?? false) }.count))
        }
        let restorable = points.filter(\.restorable)
        var firstBroken: Timeline.Point?
        if let firstOK = points.firstIndex(where: \.restorable) {
            firstBroken = points[firstOK...].first { !$0.restorable }
        }
        var latest: PlanSummary?
        var latestError: String?
        var latestRestores = false
        do {
            let plan = try RestorePlanner(replica: replica).plan()
            latest = PlanSummary(plan)
            if let b = blocker(plan.files) {
                latestError = "the plan to \(plan.position) \(b.reason)"
            } else {
                latestRestores = true
            }
        } catch {
            latestError = Self.reason(error)
        }
        let planned = points.filter(\.planned)
        let (commits, txids): (Int?, Int?)
        switch replica.format {
        case .v03: (commits, txids) = (points.filter { $0.kind == .commit }.count, nil)
        case .ltx: (commits, txids) = (nil, Self.txidCount(points))
        }
        let summary = Timeline.Summary(
            points: points.count, restorablePoints: restorable.count, unrestorablePoints: points.count - restorable.count,
            commits: commits, txids: txids,
            gaps: gaps.count, damaged: damaged.count,
            firstRestorable: planned.first.map(Timeline.PointRef.init), lastRestorable: planned.last.map(Timeline.PointRef.init),
            lastClean: restorable.last.map(Timeline.PointRef.init), firstBroken: firstBroken.map(Timeline.PointRef.init),
            newest: points.last.map(Timeline.PointRef.init), latest: latest, latestError: latestError, latestRestores: latestRestores,
            clean: firstBroken == nil && gaps.isEmpty && damaged.isEmpty && !restorable.isEmpty)
        let timeSource: String
        switch replica.format {
        case .v03:
            timeSource =
                (replica.timeSource.map { "file times from \($0) (whole seconds)" } ?? "file modification times")
                + ": Litestream 0.3 files carry no times, so a point's time is that of the file holding it"
                + (timesTrusted ? "" : " (here missing or all equal: a copy lost them, so files are ordered by position)")
        case .ltx: timeSource = "LTX header timestamps (milliseconds)"
        }
        return Timeline(
            replica: replica.root, format: replica.format, timeSource: timeSource, timesTrusted: timesTrusted,
            lanes: lanes, points: points, gaps: gaps, damaged: damaged, summary: summary, findings: findings)
    }

    /// Why a plan failed, in words: the finding's message where there is one.
    static func reason(_ error: Error) -> String {
        switch error {
        case let e as LiteProofError: return e.finding?.message ?? e.message
        case let e as FormatError: return e.message
        default: return "\(error)"
        }
    }
}
