extension CompareReport {
    public func renderText() -> String {
        var lines: [String] = []
        switch verdict {
        case .identical: lines.append("IDENTICAL: the live database equals the replica at \(position)")
        case .lagging: lines.append("LAGGING: the replica is \(lag?.commitsBehind ?? 0) commit\(lag?.commitsBehind == 1 ? "" : "s") behind the live database")
        case .ahead:
            let n = ahead?.commitsAhead ?? 0
            let unit = position.format.pointUnit
            let later = ahead?.laterGeneration.map { " of its generation, then generation \($0)" } ?? ""
            lines.append(
                "AHEAD: the replica holds the live state at \(ahead.map { "\($0.position)" } ?? "?") and \(n) later \(unit)\(n == 1 ? "" : "s")\(later) (up to \(position))"
            )
        case .laggingUnproven:
            lines.append(
                "LAGGING-UNPROVEN: the live database has moved on past what its WAL remembers, so the replica's state cannot be matched (\(differingPageCount) page\(differingPageCount == 1 ? "" : "s") differ)"
            )
        case .differs:
            lines.append("DIFFERS: no state of the live database matches the replica (\(differingPageCount) page\(differingPageCount == 1 ? "" : "s") differ)")
        }
        if let lag { lines.append("  \(lag.description)") }
        if let ahead { lines.append("  \(ahead.description)") }
        if let unproven {
            lines.append("  evidence: \(unproven.evidence)")
            lines.append("  \(unproven.advice)")
        }
        lines.append("")
        lines.append("           pages × size      sha256                                                            checksum")
        for (name, s) in [("replica", replica), ("live", live)] {
            lines.append(
                "  \(name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(s.pageCount).leftPad(7)) × \(String(s.pageSize).padding(toLength: 6, withPad: " ", startingAt: 0))  \(s.sha256)  \(s.checksum)"
            )
        }
        if !differingPages.isEmpty {
            lines.append("")
            lines.append("differing pages:")
            for p in differingPages {
                lines.append("  page \(String(p.page).leftPad(7)): replica \(p.replicaOwner); live \(p.liveOwner)")
            }
        }
        if !tables.isEmpty {
            lines.append("")
            lines.append("tables and indexes that differ:")
            for t in tables {
                var s =
                    "  \(t.type) \(t.name): replica \(t.replicaRows.map(String.init) ?? "absent"), live \(t.liveRows.map(String.init) ?? (t.liveKnown ? "absent" : "unknown")) entries"
                if t.differingPages > 0 { s += ", \(t.differingPages) differing page\(t.differingPages == 1 ? "" : "s")" }
                lines.append(s)
                if !t.onlyInReplica.isEmpty { lines.append("    rowids only in the replica: \(t.onlyInReplica.map(String.init).joined(separator: ", "))") }
                if !t.onlyInLive.isEmpty { lines.append("    rowids only live: \(t.onlyInLive.map(String.init).joined(separator: ", "))") }
            }
        }
        if let c = canaries { lines.append(""); lines += c.renderLines() }
        for n in notes { lines.append("note: \(n)") }
        lines.append("time: \(Units.seconds(seconds))")
        return lines.map(\.escapedForText).joined(separator: "\n")
    }
}

extension CanaryReport {
    func renderLines() -> [String] {
        var lines: [String] = []
        if !replicaHasTable {
            lines.append("canaries: none in the replica (write one with `liteproof canary write DB`)")
        } else if let n = newestInReplica {
            lines.append("newest canary in the replica: \(n.token)\(n.label.map { " (\($0))" } ?? "") written \(n.createdAt), \(Units.seconds(n.age)) ago")
        }
        if let missing = missingFromReplica, (liveCount ?? 0) > 0 {
            if missing.isEmpty {
                lines.append("every live canary is in the replica")
            } else {
                lines.append(
                    "\(missing.count) live canar\(missing.count == 1 ? "y is" : "ies are") not in the replica yet; the oldest was written \(Units.seconds(lagSeconds ?? 0)) ago"
                )
                for m in missing.prefix(5) { lines.append("  \(m.token) written \(m.createdAt)") }
            }
        }
        return lines
    }
}
