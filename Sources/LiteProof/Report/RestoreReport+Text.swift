extension RestoreReport {
    public func renderText() -> String {
        var lines = ["restored \(output): \(pageCount) pages of \(pageSize) bytes (\(Units.bytes(bytesWritten)))"]
        lines.append("position: \(plan.position)\(plan.time.map { " at " + $0 } ?? "") from \(plan.files) files (\(Units.bytes(bytesRead)))")
        for r in plan.reasons { lines.append("  because \(r)") }
        switch integrityCheck {
        case .none: lines.append("integrity check: not run")
        default: lines.append("integrity check (\(integrityCheck.rawValue)): " + (integrityProblems.isEmpty ? "ok" : "FAILED"))
        }
        lines.append(
            "time: \(Units.seconds(seconds)) (plan \(Units.seconds(phases.plan)), apply \(Units.seconds(phases.apply)), sync \(Units.seconds(phases.sync)), check \(Units.seconds(phases.integrityCheck)))"
        )
        for w in warnings { lines.append("warning: \(w.message)") }
        return lines.map(\.escapedForText).joined(separator: "\n")
    }
}

/// A restore plan as shown by `restore --dry-run`: each file in order, its range, size and time.
public struct PlanView: Codable, Sendable {
    public struct Step: Codable, Sendable {
        public var kind: String
        public var path: String
        public var range: String
        public var size: Int64
        public var time: String?
    }

    public var position: Position
    public var generation: String?
    public var reasons: [String]
    public var warnings: [Finding]
    public var steps: [Step]
    public var totalBytes: Int64

    public init(_ plan: RestorePlan, replica: Replica) {
        position = plan.position
        generation = plan.generation
        reasons = plan.reasons
        warnings = plan.warnings
        totalBytes = plan.totalBytes
        switch plan {
        case .v03(let p):
            let f = p.snapshot
            steps = [Step(kind: "snapshot", path: f.path, range: "index \(f.index.hex(width: 8))", size: f.size, time: f.modified.map(formatTime))]
            for index in p.indexes {
                steps += index.segments.map { s in
                    Step(
                        kind: "wal", path: s.path,
                        range: "index \(index.index.hex(width: 8)) offset \(s.offset)" + (index.limit.map { " (up to \($0))" } ?? ""), size: s.size,
                        time: s.modified.map(formatTime))
                }
            }
        case .ltx(let p):
            steps = p.files.enumerated().map { i, r in
                let t = (p.header(at: i) ?? (try? replica.readLTXHeader(r.path))).map { formatTime(Double($0.timestamp) / 1000) }
                return Step(
                    kind: r.level == LTXLayout.snapshotLevel ? "snapshot" : "ltx L\(r.level)", path: r.path,
                    range: "TXID \(r.minTXID.hex(width: 16))-\(r.maxTXID.hex(width: 16))", size: r.size, time: t)
            }
        }
    }

    public func renderText() -> String {
        var lines = ["plan to \(position): \(steps.count) files, \(Units.bytes(totalBytes))"]
        for r in reasons { lines.append("  because \(r)") }
        for w in warnings { lines.append("  warning: \(w.message)") }
        for (n, s) in steps.enumerated() {
            lines.append(
                "\(String(n + 1).leftPad(4)). \(s.kind.padding(toLength: 9, withPad: " ", startingAt: 0)) \(s.path)  \(s.range)  \(Units.bytes(s.size))  \(s.time ?? "")"
            )
        }
        return lines.map(\.escapedForText).joined(separator: "\n")
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
