import Foundation

extension LogReport {
    static let headline: [Verdict: String] = [
        .restored: "RESTORED: the database came from the replica",
        .fresh: "FRESH: no backup existed; the database started empty",
        .replicatingOnly: "REPLICATING ONLY: no restore in this boot",
        .failed: "FAILED: the restore failed",
    ]

    /// The report as a person reads it: the verdict, the last boot's events, earlier boots in one
    /// line each, then the warnings.
    public func renderText() -> String {
        var lines: [String] = []
        let last = lastBoot
        var head = LogReport.headline[verdict]!
        if verdict == .failed && !reason.hasPrefix("the restore failed") { head = "FAILED: Litestream stopped with an error before replicating" }
        if verdict == .replicatingOnly && reason.hasPrefix("the database already existed") {
            head = "REPLICATING ONLY: the database already existed, so no restore ran"
        }
        lines.append(head)
        lines.append("why: \(reason)")
        lines.append(
            "input: \(input == "-" ? "standard input" : input) (\(linesRead) line\(linesRead == 1 ? "" : "s"), \(litestreamLines) from Litestream; \(formats.map(\.rawValue).joined(separator: ", ")))"
        )
        lines.append("")
        lines.append("boot \(last.number) of \(boots.count), the last: " + LogReport.summary(last))
        lines.append(contentsOf: LogReport.renderEvents(events.filter { $0.boot == last.number }))
        if boots.count > 1 {
            lines.append("")
            lines.append("earlier boots:")
            for b in boots.dropLast() {
                lines.append("  boot \(b.number): \(b.verdict.rawValue) — \(LogReport.summary(b))")
                lines.append("    \(b.reason)")
            }
        }
        if !warnings.isEmpty {
            lines.append("")
            lines.append("warnings:")
            for w in warnings { lines.append("  - \(w)") }
        }
        return lines.map(\.escapedForText).joined(separator: "\n")
    }

    /// Lines, time span, version, targets and what was written.
    static func summary(_ b: Boot) -> String {
        var parts = ["lines \(b.firstLine)–\(b.lastLine)"]
        if let s = b.started { parts.append(b.ended.map { $0 == s ? s : "\(s) … \($0)" } ?? s) }
        parts.append(b.version.map { "litestream \($0)" } ?? "no version line")
        if !b.replicatingTo.isEmpty { parts.append("to " + b.replicatingTo.joined(separator: ", ")) }
        var written: [String] = []
        func count(_ n: Int, _ what: String) { if n > 0 { written.append("\(n) \(what)\(n == 1 ? "" : "s")") } }
        count(b.snapshots, "snapshot")
        count(b.walSegments, "WAL segment")
        count(b.ltxFiles, "LTX file")
        count(b.compactions, "compaction")
        count(b.errors, "error")
        if !written.isEmpty { parts.append(written.joined(separator: ", ")) }
        if !b.stopped { parts.append("no shutdown logged") }
        return parts.joined(separator: "; ")
    }

    /// One line per event; runs of four or more writes of one kind show their first and last.
    static func renderEvents(_ events: [LogEvent]) -> [String] {
        let collapsible: Set<LogEvent.Kind> = [.walSegment, .ltxFile, .compaction, .snapshot, .restoreProgress]
        // A time as long as a line must not widen every other line: the column stops at 40.
        let timeWidth = min(events.map { ($0.time ?? "-").count }.max() ?? 1, 40)
        let kindWidth = events.map(\.kind.rawValue.count).max() ?? 1
        func line(_ e: LogEvent) -> String {
            let t = e.time ?? "-"
            let time = t.count >= timeWidth ? t : t + String(repeating: " ", count: timeWidth - t.count)
            let kind = e.kind.rawValue.padding(toLength: kindWidth, withPad: " ", startingAt: 0)
            var text = e.message
            for k in e.fieldOrder { text += " \(k)=\(quoteValue(e.fields[k] ?? ""))" }
            return "  \(String(format: "%5d", e.line))  \(time)  \(kind)  \(text)"
        }
        var out: [String] = []
        var i = 0
        while i < events.count {
            var j = i
            while j + 1 < events.count && events[j + 1].kind == events[i].kind && collapsible.contains(events[i].kind) { j += 1 }
            let run = j - i + 1
            if run >= 4 {
                out.append(line(events[i]))
                out.append(
                    "  \(String(repeating: " ", count: 5))  \(String(repeating: " ", count: timeWidth))  \(String(repeating: " ", count: kindWidth))  … \(run - 2) more \(events[i].kind.rawValue) lines …"
                )
                out.append(line(events[j]))
            } else {
                for k in i...j { out.append(line(events[k])) }
            }
            i = j + 1
        }
        return out
    }

    static func quoteValue(_ v: String) -> String {
        v.isEmpty || v.contains(" ") || v.contains("\"") ? "\"\(v.replacingOccurrences(of: "\"", with: "\\\""))\"" : v
    }
}
