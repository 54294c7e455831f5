import Foundation

/// The text table of `verify --all` and `report`: one line per database, then a summary.
public struct FleetTable: Sendable {
    /// The width of the database column (the longest name, at least the heading's).
    public var nameWidth: Int

    public init(names: [String]) {
        nameWidth = max("DATABASE".count, names.map(\.count).max() ?? 0)
    }

    public var header: String {
        row("VERDICT", "DATABASE", "LATEST POSITION", "AGE", "SIZE", "CANARY", "PROBLEM")
    }

    public func line(_ e: FleetEntry) -> String {
        row(
            e.verdict.rawValue.uppercased(), e.database, e.position ?? "-", e.ageSeconds.map(Units.age) ?? "-",
            Units.bytes(e.replicaBytes), e.canaryLagSeconds.map(Units.age) ?? "-", e.problem ?? "")
    }

    func row(_ verdict: String, _ name: String, _ position: String, _ age: String, _ size: String, _ canary: String, _ problem: String) -> String {
        let cells = [pad(verdict, 10), pad(name, nameWidth), pad(position, 34), pad(age, 6), pad(size, 10), pad(canary, 6), problem]
        var s = cells.joined(separator: " ")
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }

    func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// The summary paragraph after the table.
    public static func summary(_ s: FleetSummary) -> String {
        var text = "\(s.databases) database\(s.databases == 1 ? "" : "s")"
        if let shard = s.shard { text += " in shard \(shard) (of \(s.discovered) found)" }
        text += ": \(s.ok) ok, \(s.damaged) damaged, " + ((s.undecided ?? 0) > 0 ? "\(s.undecided!) undecided, " : "") + "\(s.unreadable) unreadable; "
        text += "\(Units.bytes(s.replicaBytes)) of replicas, \(Units.bytes(s.bytesRead)) read in \(Units.seconds(s.seconds))"
        if let requests = s.storageRequests {
            let perDatabase = String(format: "%.1f", Double(requests) / Double(max(1, s.databases)))
            text += "\nstorage: \(requests) requests (\(s.listingRequests ?? 0) for the listing, \(perDatabase) per database)"
            if let bytes = s.storageBytes { text += ", \(Units.bytes(bytes)) received" }
        }
        let worst: Outcome = s.unreadable > 0 ? .unreadable : (s.undecided ?? 0) > 0 ? .undecided : s.damaged > 0 ? .damaged : .ok
        return text + "\n" + verdictLine(worst)
    }

    static func verdictLine(_ worst: Outcome) -> String {
        switch worst {
        case .ok, .inconclusive: return "OK: every database is sound."
        case .damaged, .failed: return "DAMAGED: at least one database has damage that breaks a restore (liteproof verify <replica> shows every finding)."
        case .undecided:
            return "UNDECIDED: at least one database's latest position cannot be decided (liteproof verify <replica> says why; pass --generation)."
        case .unreadable, .usage: return "UNREADABLE: at least one database could not be read."
        }
    }
}

extension FleetReport {
    /// The merged table, the problems with the inputs, and one summary line.
    public func renderText() -> String {
        let table = FleetTable(names: entries.map(\.database))
        var lines = [table.header] + entries.map(table.line)
        let counts = VerdictCounts(entries)
        let bytes = entries.reduce(Int64(0)) { $0 + $1.replicaBytes }
        lines.append("")
        lines += problems.map { "problem: \($0)" }
        let inputs = summaries.count == 1 ? "1 run" : "\(summaries.count) runs"
        lines.append(
            "\(entries.count) database\(entries.count == 1 ? "" : "s") from \(inputs): \(counts.text); \(Units.bytes(bytes)) of replicas"
        )
        lines.append(problems.isEmpty ? FleetTable.verdictLine(counts.worst) : "INCOMPLETE: the inputs do not cover the whole fleet once.")
        return lines.joined(separator: "\n")
    }
}

extension Units {
    /// A duration as its largest unit: 45s, 12m, 5h, 3d.
    public static func age(_ s: Double) -> String {
        if s < 90 { return "\(Int(s.rounded()))s" }
        if s < 90 * 60 { return "\(Int((s / 60).rounded()))m" }
        if s < 36 * 3600 { return "\(Int((s / 3600).rounded()))h" }
        return "\(Int((s / 86400).rounded()))d"
    }
}
