import Foundation

extension Timeline {
    /// A run of consecutive points of one lane that restore (or do not) for the same reason.
    public struct Stretch: Sendable {
        public var lane: String
        public var first: Point
        public var last: Point
        public var count: Int
        public var restorable: Bool
        public var reason: String?
    }

    /// Points grouped into runs: the restorable and unrestorable stretches, in order.
    public var stretches: [Stretch] {
        var out: [Stretch] = []
        for p in points {
            if var s = out.last, s.lane == p.lane, s.restorable == p.restorable, s.reason == p.reason {
                s.last = p
                s.count += 1
                out[out.count - 1] = s
            } else {
                out.append(Stretch(lane: p.lane, first: p, last: p, count: 1, restorable: p.restorable, reason: p.reason))
            }
        }
        return out
    }

    /// The timeline as a person reads it: one line per file (per commit or TXID with `commits`),
    /// then the stretches, gaps, damaged files and the summary.
    public func renderText(commits: Bool = false) -> String {
        var lines: [String] = []
        let s = summary
        var head = "\(s.clean ? "CLEAN" : "BROKEN"): \(s.points) point\(s.points == 1 ? "" : "s"), \(s.restorablePoints) restore cleanly"
        head += ", \(s.gaps) gap\(s.gaps == 1 ? "" : "s"), \(s.damaged) damaged file\(s.damaged == 1 ? "" : "s")"
        lines.append(head)
        lines.append("replica: \(replica) (\(format.rawValue))")
        lines.append("times: \(timeSource)")
        let pointsByFile = Dictionary(grouping: points, by: \.file)
        let gapsByLane = Dictionary(grouping: gaps, by: \.lane)

        func status(_ bar: FileBar) -> String {
            switch bar.status {
            case .ok: return "ok"
            case .damaged: return "DAMAGED" + (bar.note.map { " (\($0))" } ?? "")
            case .partial: return "partly restorable (\(bar.restorablePoints) of \(bar.points))"
            case .unreachable: return bar.points == 0 ? "past a break" : "no point in it restores"
            }
        }
        func pointLine(_ p: Point, indent: String) -> String {
            let position = p.position.description
            var l = indent + position.padding(toLength: max(position.count, 18), withPad: " ", startingAt: 0)
            l += "  " + (p.time ?? "-")
            if p.kind == .range, let from = p.fromTXID { l += "  range from \(from.hex(width: 16))" }
            if p.kind == .snapshot { l += "  snapshot" }
            l += p.restorable ? "  restorable" : "  UNRESTORABLE: \(p.reason ?? "")"
            if let n = p.note { l += "  [\(n)]" }
            return l
        }

        for lane in lanes {
            lines.append("")
            switch format {
            case .v03:
                let span = [lane.firstTime, lane.lastTime].compactMap { $0 }.joined(separator: " … ")
                lines.append("\(lane.id)  \(span)")
                let laneGaps = gapsByLane[lane.id] ?? []
                let indexes = Array(Set(lane.files.compactMap(\.index) + laneGaps.compactMap(\.index))).sorted()
                for i in indexes {
                    for gap in laneGaps where gap.kind == .missingIndex && gap.index == i {
                        lines.append("  GAP  \(gap.description)")
                    }
                    for bar in lane.files where bar.index == i && bar.kind == .snapshot {
                        lines.append("  snapshot \(i.hex(width: 8))  \(bar.time ?? "-")  \(Units.bytes(bar.size))  \(status(bar))")
                    }
                    let segs = lane.files.filter { $0.index == i && $0.kind == .wal }
                    guard !segs.isEmpty else { continue }
                    let n = segs.reduce(0) { $0 + $1.points }
                    lines.append("  index \(i.hex(width: 8)): \(segs.count) segment\(segs.count == 1 ? "" : "s"), \(n) commit\(n == 1 ? "" : "s")")
                    for bar in segs {
                        for gap in laneGaps where gap.index == i && gap.kind != .missingIndex && gap.before == bar.path {
                            lines.append("    GAP  \(gap.description)")
                        }
                        let range = "@\(bar.walStart ?? 0)" + (bar.walEnd.map { "–\($0)" } ?? "–?")
                        lines.append(
                            "    \(range.padding(toLength: max(range.count, 16), withPad: " ", startingAt: 0))  \(bar.time ?? "-")  \(bar.points) commit\(bar.points == 1 ? "" : "s")  \(status(bar))"
                        )
                        if commits {
                            for p in pointsByFile[bar.path] ?? [] where p.kind == .commit {
                                lines.append(pointLine(p, indent: "      "))
                            }
                        }
                    }
                }
            case .ltx:
                let level = lane.level ?? 0
                lines.append(
                    "level \(level)\(level == LTXLayout.snapshotLevel ? " (snapshots)" : ""): \(lane.files.count) file\(lane.files.count == 1 ? "" : "s")")
                for bar in lane.files {
                    let txids = bar.minTXID == bar.maxTXID ? (bar.maxTXID ?? 0).hex(width: 16) : bar.position
                    lines.append("  \(txids.padding(toLength: 33, withPad: " ", startingAt: 0))  \(bar.time ?? "-")  \(status(bar))")
                }
            }
        }
        if case .ltx = format, commits {
            lines.append("")
            lines.append("TXID points:")
            for p in points { lines.append(pointLine(p, indent: "  ")) }
        }
        lines.append("")
        lines.append("stretches:")
        for st in stretches {
            let range = st.count == 1 ? st.first.position.description : "\(st.first.position) … \(st.last.position)"
            let what = st.restorable ? "restorable" : "UNRESTORABLE: \(st.reason ?? "")"
            lines.append("  \(range)  (\(st.count) point\(st.count == 1 ? "" : "s"))  \(what)")
        }
        if !gaps.isEmpty {
            lines.append("")
            lines.append("gaps:")
            for g in gaps { lines.append("  \(g.lane)  \(g.from) … \(g.to)  \(g.description)") }
        }
        if !damaged.isEmpty {
            lines.append("")
            lines.append("damaged files:")
            for d in damaged {
                lines.append(
                    "  \(d.file)  \(d.codes.joined(separator: ", "))  (\(d.points) point\(d.points == 1 ? "" : "s") in it, \(d.unrestorablePoints) unrestorable because of it)"
                )
                if let f = d.findings.first { lines.append("      \(f.message)") }
            }
        }
        lines.append("")
        lines.append("summary:")
        func ref(_ label: String, _ r: PointRef?) {
            guard let r else { lines.append("  \(label.padding(toLength: 22, withPad: " ", startingAt: 0))  none"); return }
            lines.append("  \(label.padding(toLength: 22, withPad: " ", startingAt: 0))  \(r.position)  \(r.time ?? "-")")
        }
        ref("first restorable", s.firstRestorable)
        ref("last restorable", s.lastRestorable)
        ref("last clean restore", s.lastClean)
        if let b = s.firstBroken {
            ref("history breaks at", b)
            if let reason = points.first(where: { $0.position == b.position })?.reason { lines.append("      \(reason)") }
        }
        ref("newest point", s.newest)
        if let latest = s.latest {
            lines.append("  litestream's latest     \(latest.position)\(latest.time.map { "  \($0)" } ?? "")\(s.latestRestores ? "" : "  FAILS")")
        }
        if let e = s.latestError {
            lines.append("      \(e)")
        }
        var counts = "  \(s.points) points (\(s.restorablePoints) restore cleanly"
        if let c = s.commits { counts += ", \(c) commits" }
        if let t = s.txids { counts += ", \(t) TXIDs" }
        counts += "), \(s.gaps) gap\(s.gaps == 1 ? "" : "s"), \(s.damaged) damaged file\(s.damaged == 1 ? "" : "s")"
        lines.append(counts)
        return lines.map(\.escapedForText).joined(separator: "\n")
    }
}
