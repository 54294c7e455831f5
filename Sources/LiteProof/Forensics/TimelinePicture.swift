import Foundation

/// The SVG picture of a timeline.
struct TimelinePicture {
    static let blue = "#4a78b0"
    static let teal = "#3f9c93"
    static let purple = "#7b4fbf"
    static let red = "#d62728"
    static let darkRed = "#8b1414"
    static let grey = "#cfd5dc"
    static let green = "#2f9e44"
    static let amber = "#f08c00"
    static let ink = "#334e68"
    static let early = "#9aa5b1"

    let timeline: Timeline
    let width = 1340.0
    let labelWidth = 200.0
    let rightPad = 24.0
    var plotLeft: Double { labelWidth + 10 }
    var plotWidth: Double { width - plotLeft - rightPad }

    enum Axis { case time, sequence, txid }

    /// Where a file, point or gap lies along the axis (in axis units).
    struct Layout {
        var axis: Axis = .time
        var bars: [String: (Double, Double)] = [:]
        var points: [Double?] = []
        var gaps: [(Double, Double)?] = []
        var lo = 0.0
        var hi = 1.0
    }

    func layout() -> Layout {
        var l = Layout()
        let t = timeline
        let times = t.lanes.flatMap { $0.files.flatMap { [$0.seconds, $0.startSeconds] } }.compactMap { $0 }
        let timed = t.timesTrusted && (times.max() ?? 0) - (times.min() ?? 0) > 0.000_5
        if timed {
            l.axis = .time
            for lane in t.lanes {
                for f in lane.files {
                    guard let end = f.seconds else { continue }
                    l.bars[f.path] = (min(f.startSeconds ?? end, end), end)
                }
            }
            l.gaps = t.gaps.map { g in
                guard let a = g.startSeconds ?? g.endSeconds, let b = g.endSeconds ?? g.startSeconds else { return nil }
                return (a, b)
            }
            // A file with no earlier state to start from (the first of a lane) gets the lane's
            // typical width, ending at its time.
            for lane in t.lanes {
                let widths = lane.files.compactMap { f -> Double? in
                    guard f.kind != .snapshot, let s = l.bars[f.path], s.1 - s.0 > 0 else { return nil }
                    return s.1 - s.0
                }.sorted()
                guard !widths.isEmpty else { continue }
                let typical = widths[widths.count / 2]
                for f in lane.files where f.kind != .snapshot {
                    if let s = l.bars[f.path], s.1 - s.0 <= 0 { l.bars[f.path] = (s.1 - typical, s.1) }
                }
            }
        } else {
            switch t.format {
            case .ltx:
                l.axis = .txid
                for lane in t.lanes {
                    for f in lane.files {
                        let hi = Double(f.maxTXID ?? 0)
                        l.bars[f.path] = (f.kind == .snapshot ? hi : Double(f.minTXID ?? 1) - 1, hi)
                    }
                }
                l.gaps = t.gaps.map { g in (Double(g.fromTXID ?? 1) - 1, Double(g.toTXID ?? 1)) }
            case .v03:
                // 0.3 with untrusted times: one slot per WAL segment and per gap, in position order.
                l.axis = .sequence
                var slot = 0.0
                var gapSlots: [(Double, Double)?] = Array(repeating: nil, count: t.gaps.count)
                for lane in t.lanes {
                    let laneGaps = t.gaps.indices.filter { t.gaps[$0].lane == lane.id }
                    var placedGaps = Set<Int>()
                    let wal = lane.files.filter { $0.kind == .wal }
                    for f in wal {
                        for gi in laneGaps where !placedGaps.contains(gi) {
                            let g = t.gaps[gi]
                            if (g.index ?? 0) < (f.index ?? 0) || ((g.index ?? 0) == (f.index ?? 0) && (g.walEnd ?? 0) <= (f.walStart ?? 0)) {
                                gapSlots[gi] = (slot, slot + 1)
                                placedGaps.insert(gi)
                                slot += 1
                            }
                        }
                        l.bars[f.path] = (slot, slot + 1)
                        slot += 1
                    }
                    for gi in laneGaps where !placedGaps.contains(gi) {
                        gapSlots[gi] = (slot, slot + 1)
                        slot += 1
                    }
                    for f in lane.files where f.kind == .snapshot {
                        let next = wal.first { ($0.index ?? 0) >= (f.index ?? 0) }
                        let x = next.flatMap { l.bars[$0.path]?.0 } ?? slot
                        l.bars[f.path] = (x, x)
                    }
                    slot += 0.5
                }
                l.gaps = gapSlots
            }
        }
        // Bars that follow a gap start halfway through it, so both show.
        for (gi, g) in t.gaps.enumerated() {
            guard let span = l.gaps[gi], let b = g.before, let bar = l.bars[b], l.axis != .txid else { continue }
            if l.axis == .time {
                let mid = span.0 + (span.1 - span.0) / 2
                l.gaps[gi] = (span.0, mid)
                if bar.0 < mid { l.bars[b] = (mid, max(mid, bar.1)) }
            }
        }
        // Points.
        let barsByPath = Dictionary(t.lanes.flatMap { $0.files.map { ($0.path, $0) } }, uniquingKeysWith: { a, _ in a })
        l.points = t.points.map { p in
            guard let span = l.bars[p.file], let f = barsByPath[p.file] else { return nil }
            if l.axis == .txid { return Double(p.txid ?? 0) }
            if f.kind == .snapshot { return span.1 }
            switch t.format {
            case .ltx: return l.axis == .time ? (p.seconds ?? span.1) : span.1
            case .v03: break
            }
            // 0.3 commits: along the segment's span by WAL offset.
            guard let start = f.walStart, let end = f.walEnd, end > start, let off = p.offset else { return span.1 }
            let frac = min(1, max(0, Double(off - start) / Double(end - start)))
            return span.0 + frac * (span.1 - span.0)
        }
        let xs = l.bars.values.flatMap { [$0.0, $0.1] } + l.points.compactMap { $0 } + l.gaps.compactMap { $0 }.flatMap { [$0.0, $0.1] }
        l.lo = xs.min() ?? 0
        l.hi = xs.max() ?? 1
        if l.hi - l.lo < 1e-9 { l.hi = l.lo + 1 }
        let pad = (l.hi - l.lo) * 0.02
        l.lo -= pad
        l.hi += pad
        return l
    }

    func svg() -> String {
        let t = timeline
        let l = layout()
        func x(_ v: Double) -> Double { plotLeft + (v - l.lo) / (l.hi - l.lo) * plotWidth }
        let v03: Bool
        switch t.format {
        case .v03: v03 = true
        case .ltx: v03 = false
        }
        let laneHeight = v03 ? 74.0 : 48.0
        let bandTop = 22.0
        let bandHeight = 40.0
        let lanesTop = bandTop + bandHeight + 8
        let lanesBottom = lanesTop + laneHeight * Double(t.lanes.count)
        let height = lanesBottom + 46
        var o = ""
        o +=
            "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\" aria-label=\"Timeline of the replica\" font-family=\"system-ui, 'DejaVu Sans', sans-serif\">\n"
        o += """
            <defs><pattern id="lp-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fde2e2"/><line x1="0" y1="0" x2="0" y2="6" stroke="\(Self.red)" stroke-width="2.2"/></pattern></defs>

            """
        // Axis grid and labels.
        let ticks = axisTicks(l)
        for (v, label) in ticks {
            let xv = x(v)
            o += "<line x1=\"\(f(xv))\" y1=\"\(f(bandTop - 4))\" x2=\"\(f(xv))\" y2=\"\(f(lanesBottom))\" stroke=\"#e9ecf0\" stroke-width=\"1\"/>\n"
            o += "<text x=\"\(f(xv))\" y=\"\(f(lanesBottom + 16))\" font-size=\"11\" fill=\"#52606d\" text-anchor=\"middle\">\(esc(label))</text>\n"
        }
        o += "<line x1=\"\(f(plotLeft))\" y1=\"\(f(lanesBottom))\" x2=\"\(f(plotLeft + plotWidth))\" y2=\"\(f(lanesBottom))\" stroke=\"#9aa5b1\"/>\n"
        o += "<text x=\"\(f(plotLeft))\" y=\"\(f(lanesBottom + 36))\" font-size=\"11.5\" fill=\"#52606d\">\(esc(axisCaption(l)))</text>\n"

        // Restorable band: stretches of points.
        o += "<text x=\"12\" y=\"\(f(bandTop + 17))\" font-size=\"12.5\" font-weight=\"600\" fill=\"\(Self.ink)\">restorable points</text>\n"
        o += "<text x=\"12\" y=\"\(f(bandTop + 31))\" font-size=\"10.5\" fill=\"#7b8794\">\(t.summary.restorablePoints) of \(t.summary.points) restore</text>\n"
        o += "<rect x=\"\(f(plotLeft))\" y=\"\(f(bandTop + 14))\" width=\"\(f(plotWidth))\" height=\"10\" rx=\"5\" fill=\"#eef0f3\"/>\n"
        // Points before the first restorable one are history not yet covered by a snapshot,
        // not damage: drawn in grey.
        let firstOK = t.points.firstIndex { $0.restorable } ?? t.points.count
        let laterFiles = Set(t.points[firstOK...].map(\.file))
        let earlyFiles = Set(t.points[..<firstOK].map(\.file)).subtracting(laterFiles)
        var index = 0
        for st in t.stretches {
            let idxs = index..<(index + st.count)
            index += st.count
            let xs = idxs.compactMap { l.points[$0] }
            guard let a = xs.min(), let b = xs.max() else { continue }
            let coarse = idxs.contains { t.points[$0].coarse == true }
            let color = !st.restorable ? (idxs.upperBound <= firstOK ? Self.early : Self.red) : (coarse ? Self.amber : Self.green)
            let x0 = x(a) - 2, w = max(4, x(b) - x(a) + 4)
            let tip =
                "\(st.first.position) … \(st.last.position): \(st.count) point\(st.count == 1 ? "" : "s"), "
                + (st.restorable ? "restorable" : "unrestorable: \(st.reason ?? "")")
            o += "<rect x=\"\(f(x0))\" y=\"\(f(bandTop + 14))\" width=\"\(f(w))\" height=\"10\" rx=\"5\" fill=\"\(color)\"><title>\(esc(tip))</title></rect>\n"
        }
        if let clean = t.summary.lastClean, let i = t.points.firstIndex(where: { $0.position == clean.position && $0.kind == clean.kind }), let px = l.points[i]
        {
            let xv = x(px)
            o +=
                "<path d=\"M\(f(xv)) \(f(bandTop + 12)) l-5 -8 h10 z\" fill=\"\(Self.green)\" stroke=\"#fff\" stroke-width=\"1\"><title>\(esc("last clean restore: \(clean.position) \(clean.time ?? "")"))</title></path>\n"
            let label = "last clean: \(short(clean.position))"
            let anchor = xv > plotLeft + plotWidth - 160 ? "end" : (xv < plotLeft + 80 ? "start" : "middle")
            o +=
                "<text x=\"\(f(xv))\" y=\"\(f(bandTop + 1))\" font-size=\"10.5\" fill=\"\(Self.green)\" font-weight=\"600\" text-anchor=\"\(anchor)\">\(esc(label))</text>\n"
        }

        // Lanes.
        for (li, lane) in t.lanes.enumerated() {
            let top = lanesTop + laneHeight * Double(li)
            o += "<g class=\"lane\" data-lane=\"\(esc(lane.id))\">\n"
            o += "<rect x=\"0\" y=\"\(f(top))\" width=\"\(f(width))\" height=\"\(f(laneHeight))\" fill=\"\(li % 2 == 0 ? "#f8f9fb" : "#ffffff")\"/>\n"
            o += "<line x1=\"0\" y1=\"\(f(top))\" x2=\"\(f(width))\" y2=\"\(f(top))\" stroke=\"#e4e7eb\"/>\n"
            let (title, sub) = laneLabel(lane)
            o +=
                "<text x=\"12\" y=\"\(f(top + laneHeight / 2 - 2))\" font-size=\"12.5\" font-weight=\"600\" fill=\"\(Self.ink)\">\(esc(title))<title>\(esc(lane.id))</title></text>\n"
            o += "<text x=\"12\" y=\"\(f(top + laneHeight / 2 + 12))\" font-size=\"10.5\" fill=\"#7b8794\">\(esc(sub))</text>\n"
            let snapRowY = v03 ? top + 17 : top + laneHeight / 2
            let barY = v03 ? top + 32 : top + laneHeight / 2 - 9
            let barH = v03 ? 20.0 : 18.0
            // Gaps in this lane (0.5: across the incremental lanes).
            for (gi, g) in t.gaps.enumerated() {
                let inLane = v03 ? g.lane == lane.id : lane.level != LTXLayout.snapshotLevel
                guard inLane, let span = l.gaps[gi] else { continue }
                let x0 = x(span.0), w = max(8, x(span.1) - x(span.0))
                o +=
                    "<rect class=\"gap\" x=\"\(f(x0))\" y=\"\(f(top + 4))\" width=\"\(f(w))\" height=\"\(f(laneHeight - 8))\" fill=\"url(#lp-hatch)\" stroke=\"\(Self.red)\" stroke-dasharray=\"4 2\" stroke-width=\"1.2\"><title>\(esc("gap: " + g.description))</title></rect>\n"
                if li == 0 || v03 || lane.level == 0 {
                    o +=
                        "<rect x=\"\(f(x0 + w / 2 - 15))\" y=\"\(f(top + 5))\" width=\"30\" height=\"12\" rx=\"2\" fill=\"#ffffff\" stroke=\"\(Self.red)\" stroke-width=\"0.8\"/>\n"
                    o +=
                        "<text x=\"\(f(x0 + w / 2))\" y=\"\(f(top + 13))\" font-size=\"10\" font-weight=\"700\" fill=\"\(Self.darkRed)\" text-anchor=\"middle\">GAP</text>\n"
                }
            }
            for bar in lane.files where bar.kind != .snapshot {
                guard let span = l.bars[bar.path] else { continue }
                var x0 = x(span.0), w = x(span.1) - x(span.0)
                if w < 4 { x0 -= (4 - w) / 2; w = 4 }
                x0 += 0.5
                w = max(3, w - 1)
                let base = (bar.level ?? 0) > 0 ? Self.teal : Self.blue
                var attrs: String
                switch bar.status {
                case .ok, .partial: attrs = "fill=\"\(base)\""
                case .damaged: attrs = "fill=\"\(Self.red)\" stroke=\"\(Self.darkRed)\" stroke-width=\"1.5\""
                case .unreachable: attrs = "fill=\"\(Self.grey)\" stroke=\"\(earlyFiles.contains(bar.path) ? Self.early : Self.red)\" stroke-dasharray=\"3 2\""
                }
                if bar.status == .partial { attrs += " stroke=\"\(Self.red)\" stroke-width=\"1.5\"" }
                o +=
                    "<rect class=\"bar \(bar.status.rawValue)\" data-file=\"\(esc(bar.path))\" x=\"\(f(x0))\" y=\"\(f(barY))\" width=\"\(f(w))\" height=\"\(f(barH))\" rx=\"3\" \(attrs)><title>\(esc(tooltip(bar)))</title></rect>\n"
                if bar.status == .damaged && w >= 12 {
                    o +=
                        "<text x=\"\(f(x0 + w / 2))\" y=\"\(f(barY + barH / 2 + 4))\" font-size=\"11\" font-weight=\"700\" fill=\"#fff\" text-anchor=\"middle\">✕</text>\n"
                }
                let label = barLabel(bar)
                if bar.status != .damaged, Double(label.count) * 6.2 + 6 < w {
                    o +=
                        "<text x=\"\(f(x0 + w / 2))\" y=\"\(f(barY + barH / 2 + 3.5))\" font-size=\"10\" fill=\"\(bar.status == .unreachable ? "#52606d" : "#fff")\" text-anchor=\"middle\">\(esc(label))</text>\n"
                }
            }
            // Snapshots as diamonds.
            for bar in lane.files where bar.kind == .snapshot {
                guard let span = l.bars[bar.path] else { continue }
                let cx = x(span.1), r = 7.0
                let fill = bar.status == .damaged ? Self.red : (bar.status == .unreachable ? Self.grey : Self.purple)
                let stroke = bar.status == .damaged ? Self.darkRed : "#ffffff"
                o +=
                    "<path class=\"snapshot \(bar.status.rawValue)\" data-file=\"\(esc(bar.path))\" d=\"M\(f(cx)) \(f(snapRowY - r)) L\(f(cx + r)) \(f(snapRowY)) L\(f(cx)) \(f(snapRowY + r)) L\(f(cx - r)) \(f(snapRowY)) Z\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"1.2\"><title>\(esc(tooltip(bar)))</title></path>\n"
                if !v03 {
                    o +=
                        "<text x=\"\(f(cx))\" y=\"\(f(snapRowY - r - 3))\" font-size=\"9.5\" fill=\"#52606d\" text-anchor=\"middle\">\(esc(short((bar.maxTXID ?? 0).hex(width: 16))))</text>\n"
                }
            }
            // Ticks: the points held by this lane's files.
            let tickTop = v03 ? barY + barH + 2 : barY + barH + 2
            var drawn = Set<String>()  // one tick per half pixel and colour: huge replicas stay light
            for (i, p) in t.points.enumerated() where p.lane == lane.id {
                guard let px = l.points[i] else { continue }
                let color = p.restorable ? Self.ink : (i < firstOK ? Self.early : Self.red)
                guard drawn.insert("\(Int(x(px) * 2))\(color)").inserted else { continue }
                o +=
                    "<line class=\"tick\(p.restorable ? "" : " unrestorable")\" x1=\"\(f(x(px)))\" y1=\"\(f(tickTop))\" x2=\"\(f(x(px)))\" y2=\"\(f(tickTop + 7))\" stroke=\"\(color)\" stroke-width=\"1.2\"><title>\(esc(p.position.description + (p.restorable ? " restorable" : " unrestorable: \(p.reason ?? "")")))</title></line>\n"
            }
            o += "</g>\n"
        }
        o += "<line x1=\"0\" y1=\"\(f(lanesBottom))\" x2=\"\(f(width))\" y2=\"\(f(lanesBottom))\" stroke=\"#e4e7eb\"/>\n"
        o += "<line x1=\"\(f(labelWidth))\" y1=\"\(f(bandTop - 4))\" x2=\"\(f(labelWidth))\" y2=\"\(f(lanesBottom))\" stroke=\"#d9dee4\"/>\n"
        o += "</svg>\n"
        return o
    }

    func laneLabel(_ lane: Timeline.Lane) -> (String, String) {
        let n = lane.files.count
        switch timeline.format {
        case .v03:
            let snaps = lane.files.filter { $0.kind == .snapshot }.count
            let commits = lane.files.reduce(0) { $0 + ($1.kind == .wal ? $1.points : 0) }
            return ("gen " + (lane.generation ?? "").prefix(12) + "…", "\(snaps) snap · \(n - snaps) seg · \(commits) commits")
        case .ltx: break
        }
        let level = lane.level ?? 0
        switch level {
        case 0: return ("L0 · incremental", "\(n) file\(n == 1 ? "" : "s")")
        case LTXLayout.snapshotLevel: return ("L9 · snapshots", "\(n) snapshot\(n == 1 ? "" : "s")")
        default: return ("L\(level) · compacted", "\(n) file\(n == 1 ? "" : "s")")
        }
    }

    func barLabel(_ bar: Timeline.FileBar) -> String {
        switch timeline.format {
        case .v03: return "\(bar.points)"
        case .ltx: break
        }
        let a = short((bar.minTXID ?? 0).hex(width: 16)), b = short((bar.maxTXID ?? 0).hex(width: 16))
        return a == b ? String(a.dropFirst(2)) : "\(a.dropFirst(2))–\(b.dropFirst(2))"
    }

    func tooltip(_ bar: Timeline.FileBar) -> String {
        var s = "\(bar.path)\n\(bar.position)  \(bar.time ?? "no time")\n\(Units.bytes(bar.size))"
        if bar.kind == .wal { s += ", \(bar.points) commit\(bar.points == 1 ? "" : "s")" }
        s += "\nstatus: \(bar.status.rawValue)"
        if let n = bar.note { s += "\n\(n)" }
        return s
    }

    func axisCaption(_ l: Layout) -> String {
        switch l.axis {
        case .time:
            let day = ISO8601DateFormatter.string(
                from: Date(timeIntervalSince1970: l.lo + (l.hi - l.lo) / 2), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
            return "time (UTC, \(day)) — " + timeline.format.timeAxisSource
        case .sequence: return "files in position order (file times are missing or all equal)"
        case .txid: return "TXID"
        }
    }

    /// About 8 round ticks over the axis.
    func axisTicks(_ l: Layout) -> [(Double, String)] {
        let span = l.hi - l.lo
        switch l.axis {
        case .sequence:
            return []
        case .txid:
            let step = niceStep(span / 8, steps: [1, 2, 5])
            var v = (l.lo / step).rounded(.up) * step
            var out: [(Double, String)] = []
            while v <= l.hi { if v >= 0 { out.append((v, "0x" + String(UInt64(v), radix: 16))) }; v += step }
            return out
        case .time:
            let steps: [Double] = [
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                172800, 604800, 2592000,
            ]
            let want = span / 8
            let step = steps.first { $0 >= want } ?? (want / 86400).rounded(.up) * 86400
            var v = (l.lo / step).rounded(.up) * step
            var out: [(Double, String)] = []
            let f = DateFormatter()
            f.timeZone = TimeZone(identifier: "UTC")
            f.locale = Locale(identifier: "en_US_POSIX")
            f.dateFormat = step < 1 ? "HH:mm:ss.SSS" : (step < 60 ? "HH:mm:ss" : (step < 86400 ? "MMM d HH:mm" : "yyyy-MM-dd"))
            while v <= l.hi {
                out.append((v, f.string(from: Date(timeIntervalSince1970: v))))
                v += step
            }
            return out
        }
    }

    func niceStep(_ raw: Double, steps: [Double]) -> Double {
        guard raw > 0 else { return 1 }
        let mag = pow(10, floor(log10(raw)))
        for s in steps where s * mag >= raw { return max(1, s * mag) }
        return max(1, 10 * mag)
    }

    func f(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}
