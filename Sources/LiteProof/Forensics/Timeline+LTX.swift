import Foundation

extension TimelineBuilder {
    mutating func buildLTX(_ layout: LTXLayout) {
        let replica = self.replica
        let headers: [LTXHeader?] = parallelMap(layout.files) { ref in
            try? replica.readLTXHeader(ref.path)
        }
        var seconds: [String: Double] = [:]
        for (ref, h) in zip(layout.files, headers) {
            if let h { seconds[ref.path] = Double(h.timestamp) / 1000 } else if let m = ref.modified { seconds[ref.path] = m }
        }
        let incremental = layout.files.filter { $0.level != LTXLayout.snapshotLevel }
        let snapshots = layout.files.filter { $0.level == LTXLayout.snapshotLevel }
        let firstIncremental = incremental.map(\.minTXID).min() ?? .max
        // Incremental coverage as disjoint sorted ranges.
        var covered: [(UInt64, UInt64)] = []
        for f in incremental.sorted(by: { ($0.minTXID, $0.maxTXID) < ($1.minTXID, $1.maxTXID) }) {
            if let last = covered.last, last.1 == .max || f.minTXID <= last.1 + 1 {
                covered[covered.count - 1].1 = max(last.1, f.maxTXID)
            } else {
                covered.append((f.minTXID, f.maxTXID))
            }
        }
        /// The first covered range ending at or after `t` (binary search: the work follows the files).
        func rangeIndex(atOrAfter t: UInt64) -> Int {
            var lo = 0
            var hi = covered.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if covered[mid].1 < t { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        func isCovered(_ t: UInt64) -> Bool {
            let i = rangeIndex(atOrAfter: t)
            return i < covered.count && covered[i].0 <= t
        }
        let endingAt = Dictionary(grouping: incremental, by: \.maxTXID)
        let candidates = Set(incremental.map(\.maxTXID)).union(snapshots.map(\.maxTXID)).sorted()
        let planner = RestorePlanner(replica: replica)
        func lane(_ level: Int) -> String { "L\(level)" }

        var prevEnd: UInt64 = 0
        var pendingGaps: [(UInt64, UInt64)] = []
        for t in candidates {
            var lo = prevEnd + 1  // candidates are unique and ascending: prevEnd < t ≤ .max
            // TXIDs below t that no incremental file holds form a prefix of [lo, t-1], ending
            // where the next covered range starts (one step per range, never per TXID).
            if lo < t, !isCovered(lo) {
                let i = rangeIndex(atOrAfter: lo)
                let y = i < covered.count ? min(t - 1, covered[i].0 - 1) : t - 1
                // Before the first incremental file, history simply starts later (retention).
                if lo > firstIncremental { pendingGaps.append((lo, y)) }
                lo = y + 1
            }
            let ending = endingAt[t] ?? []
            let rep = ending.min { a, b in
                let aSingle = a.level == 0 && a.minTXID == a.maxTXID, bSingle = b.level == 0 && b.minTXID == b.maxTXID
                if aSingle != bSingle { return aSingle }
                if a.minTXID != b.minTXID { return a.minTXID > b.minTXID }
                return a.level < b.level
            }
            let snap = snapshots.first { $0.maxTXID == t }
            guard let file = rep ?? snap else { continue }
            let kind: Timeline.PointKind = rep == nil ? .snapshot : (lo == t ? .txid : .range)
            var p = Timeline.Point(
                position: .ltx(txid: t), kind: kind, time: Self.time(seconds[file.path]), seconds: seconds[file.path],
                file: file.path, restorable: true, planned: true, lane: lane(file.level),
                detail: .ltx(fromTXID: lo, level: file.level, snapshot: rep != nil ? snap?.path : nil, coarse: lo < t))
            if lo < t {
                let holder = incremental.filter { $0.minTXID <= lo && $0.maxTXID >= t - 1 }.min { $0.maxTXID - $0.minTXID < $1.maxTXID - $1.minTXID }
                if rep == nil {
                    p.note =
                        "TXIDs \(lo.hex(width: 16))–\((t - 1).hex(width: 16)) are only in snapshot \(file.path) and \(holder.map { "compacted file \($0.path)" } ?? "no incremental file")"
                } else {
                    p.note =
                        "TXIDs \(lo.hex(width: 16))–\((t - 1).hex(width: 16)) are only inside \(holder.map { "compacted file \($0.path)" } ?? "compacted files") (their L0 files expired): a restore can stop only at \(t.hex(width: 16))"
                }
            }
            if rep == nil { p.note = [p.note, "only a snapshot ends at this TXID"].compactMap { $0 }.joined(separator: "; ") }
            do {
                let plan = try planner.plan(.txid(t))
                if let b = blocker(plan.files) {
                    p.restorable = false
                    p.planned = b.damage
                    p.reason = b.reason
                }
            } catch {
                p.restorable = false
                p.planned = false
                p.reason = TimelineBuilder.reason(error)
            }
            points.append(p)
            prevEnd = t
        }

        // Time of the state at a TXID: the newest point at or before it.
        let pointTimes = points.compactMap { p in p.seconds.map { (p.txid ?? 0, $0) } }
        func stateTime(atOrBefore t: UInt64) -> Double? { pointTimes.last { $0.0 <= t }?.1 }
        func stateTime(after t: UInt64) -> Double? { pointTimes.first { $0.0 > t }?.1 }
        /// Where a file's changes start: the state before its first TXID, else the state at it.
        func startTime(_ f: LTXFileRef) -> Double? {
            (f.minTXID > 1 ? stateTime(atOrBefore: f.minTXID - 1) : nil) ?? (f.minTXID > 0 ? stateTime(after: f.minTXID - 1) : pointTimes.first?.1)
        }

        for (a, b) in pendingGaps {
            let before = incremental.filter { $0.maxTXID < a }.max { $0.maxTXID < $1.maxTXID }
            let after = incremental.filter { $0.minTXID > b }.min { $0.minTXID < $1.minTXID }
            gaps.append(
                Timeline.Gap(
                    kind: .missingTXIDs, lane: "L0",
                    from: Position.ltx(txid: a).description, to: Position.ltx(txid: b).description,
                    description: a == b
                        ? "TXID \(a.hex(width: 16)) is in no LTX file of levels 0–8: no restore can stop there, and a restore past it needs a snapshot after it"
                        : "TXIDs \(a.hex(width: 16))–\(b.hex(width: 16)) (\(b - a + 1)) are in no LTX file of levels 0–8: no restore can stop there, and a restore past them needs a snapshot after them",
                    after: before?.path, before: after?.path,
                    startTime: Self.time(stateTime(atOrBefore: a - 1)), endTime: Self.time(stateTime(after: b)),
                    startSeconds: stateTime(atOrBefore: a - 1), endSeconds: stateTime(after: b), fromTXID: a, toTXID: b))
        }

        var levels = layout.levels.filter { $0 != LTXLayout.snapshotLevel }
        levels.append(contentsOf: layout.levels.filter { $0 == LTXLayout.snapshotLevel })
        if !levels.contains(0) { levels.insert(0, at: 0) }
        let heldBy = Dictionary(grouping: points, by: \.file)
        for level in levels {
            var bars: [Timeline.FileBar] = []
            for f in layout.files(atLevel: level) {
                let held = heldBy[f.path] ?? []
                let restorable = held.filter(\.restorable).count
                let own = seconds[f.path]
                let isSnapshot = level == LTXLayout.snapshotLevel
                var bar = Timeline.FileBar(
                    path: f.path, kind: .ltx, position: "\(f.minTXID.hex(width: 16))-\(f.maxTXID.hex(width: 16))",
                    time: Self.time(own), seconds: own,
                    startSeconds: isSnapshot ? own : startTime(f).map { min($0, own ?? $0) } ?? own,
                    status: .ok, points: held.count, restorablePoints: restorable, size: f.size,
                    level: level, minTXID: f.minTXID, maxTXID: f.maxTXID)
                if isSnapshot { bar.kind = .snapshot }
                if isDamaged(f.path) {
                    bar.status = .damaged
                    bar.note = errors[f.path]?.first.map { "\($0.code.rawValue): \($0.message)" }
                } else if !held.isEmpty && restorable == 0 {
                    bar.status = .unreachable
                    bar.note = held.first?.reason
                } else if restorable < held.count {
                    bar.status = .partial
                }
                bars.append(bar)
            }
            let times = bars.compactMap(\.seconds)
            lanes.append(
                Timeline.Lane(
                    id: lane(level), kind: "level", generation: nil, level: level,
                    firstTime: Self.time(times.min()), lastTime: Self.time(times.max()), files: bars))
        }
    }
}
