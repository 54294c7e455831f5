extension VerifyReport {
    /// The report as a person reads it: verdict first, then each finding.
    public func renderText() -> String {
        var lines: [String] = []
        let counts =
            "\(errorCount) error\(errorCount == 1 ? "" : "s")" + (warningCount > 0 ? ", \(warningCount) warning\(warningCount == 1 ? "" : "s")" : "")
        switch verdict {
        case .ok, .inconclusive:
            lines.append("OK: the replica is sound" + (warningCount > 0 ? " (\(warningCount) warning\(warningCount == 1 ? "" : "s"))" : ""))
        case .damaged, .failed:
            lines.append("DAMAGED: " + counts)
        case .undecided, .usage:
            lines.append("UNDECIDED: the latest position cannot be decided; no verdict on the replica (\(counts) in the files checked)")
            if let undecided { lines.append(undecided) }
        case .unreadable:
            lines.append(
                "UNREADABLE: \(storageFailures.count) file\(storageFailures.count == 1 ? "" : "s") could not be read; no verdict on the replica (\(counts) in the rest)"
            )
            for f in storageFailures.prefix(5) { lines.append("  \(f.storage?.rawValue ?? f.kind): \(f.error)") }
            if storageFailures.count > 5 { lines.append("  … and \(storageFailures.count - 5) more") }
        }
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
        } else if verdict == .undecided {
            lines.append("latest restorable position: undecided — choose a generation with --generation ID")
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
