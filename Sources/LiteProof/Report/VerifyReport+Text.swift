extension VerifyReport {
    /// The report as a person reads it: verdict first, then each finding.
    public func renderText() -> String {
        var lines: [String] = []
        let verdictLine =
            verdict == .ok
            ? "OK: the replica is sound" + (warningCount > 0 ? " (\(warningCount) warning\(warningCount == 1 ? "" : "s"))" : "")
            : "DAMAGED: \(errorCount) error\(errorCount == 1 ? "" : "s")" + (warningCount > 0 ? ", \(warningCount) warning\(warningCount == 1 ? "" : "s")" : "")
        lines.append(verdictLine)
        lines.append("replica: \(replica) (\(format.rawValue))")
        if let timeSource { lines.append("file times: \(timeSource)") }
        lines.append("checked: \(filesChecked) files, \(Units.bytes(bytesRead)) in \(Units.seconds(seconds))")
        if let latest {
            if let broken = latestBrokenBy {
                lines.append("latest position: \(latest.position) — NOT restorable: it needs \(broken.file) (\(broken.code.rawValue))")
                lines.append("  (`liteproof timeline` finds the last point that restores cleanly)")
            } else {
                var s = "latest restorable position: \(latest.position)"
                if let t = latest.time { s += " at \(t)" }
                s += " (\(latest.files) files, \(Units.bytes(latest.bytes)))"
                lines.append(s)
            }
        } else {
            lines.append("latest restorable position: none — a restore would fail")
        }
        if let restoreCheck { lines.append("trial restore: SQLite check \(restoreCheck)") }
        if let canaries { lines += canaries.renderLines() }
        if !findings.isEmpty {
            lines.append("")
            lines.append("findings:")
            for f in findings {
                var where_ = f.file.isEmpty ? "(replica)" : f.file
                if let o = f.offset { where_ += " @ \(o)" }
                lines.append("  \(f.severity == .error ? "ERROR  " : "warning") \(f.code.rawValue)  \(where_)")
                lines.append("          \(f.message)")
            }
        }
        return lines.map(\.escapedForText).joined(separator: "\n")
    }
}
