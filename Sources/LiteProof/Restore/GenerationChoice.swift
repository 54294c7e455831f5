import Foundation

/// Which of a 0.3 replica's generations is the newest, from evidence that survives a copy.
///
/// Litestream 0.3 picks the generation whose newest file is newest. File times are only as good as
/// the tool that downloaded the replica: many tools (a `download_file` loop, `cp -r`, most sync
/// tools) stamp files in download order, which is key order, so the generation that sorts last
/// looks newest. The files themselves carry an order that no copy changes: every SQLite WAL starts
/// with a header whose checkpoint sequence number (and salt-1) advances at each reset of the WAL of
/// one database file, and a new generation begins only after such a reset (the WAL Litestream was
/// following is gone). So the generation whose last WAL index has the highest (checkpoint
/// sequence, salt-1) is the newest.
///
/// The choice: trusted times decide as Litestream decides (a WAL header order that disagrees is a
/// warning); doubtful times give way to the WAL header order; where neither decides, nothing is
/// guessed: ``GenerationChoice/undecided`` lists the generations and the caller stops.
struct GenerationChoice {
    /// The WAL header values that order WAL resets of one database file.
    struct WALMark: Comparable, CustomStringConvertible {
        var checkpointSequence: UInt32
        var salt1: UInt32

        static func < (a: WALMark, b: WALMark) -> Bool {
            (a.checkpointSequence, a.salt1) < (b.checkpointSequence, b.salt1)
        }

        var description: String { "checkpoint sequence \(checkpointSequence), salt-1 \(salt1.hex(width: 8))" }
    }

    let replica: Replica

    /// Why the file times cannot be trusted to order generations, or nil when nothing says so.
    static func timeDoubt(_ generations: [V03Generation]) -> String? {
        let files = generations.flatMap(\.allFiles)
        let times = files.compactMap(\.modified)
        guard generations.count > 1 else { return nil }
        if times.count < files.count { return "some files have no time" }
        if Set(times).count == 1 { return "every file has the same time" }
        // The object store's own times (a bucket listing, a fetch manifest) were not stamped by a copy.
        if files.allSatisfy(\.timeTrusted) { return nil }
        // Times that never fall in path order, across several generations, are a download's in key
        // order: generation names are random, so Litestream's own times follow them only by chance.
        let byPath = files.sorted { $0.path < $1.path }.map { $0.modified! }
        let rises = zip(byPath, byPath.dropFirst()).allSatisfy { $0 <= $1 }
        if rises { return "file times rise in name order across generations, as a download in key order leaves them" }
        return nil
    }

    /// The header of the WAL at the start of a generation's last index, read from the first bytes
    /// of its offset-0 segment (nil when that segment is missing or unreadable).
    func lastWALMark(_ generation: V03Generation) -> WALMark? {
        for index in generation.indexes.reversed() {
            guard let first = generation.segments(of: index).first, first.offset == 0 else { continue }
            guard let header = try? V03Readers.readWALHeader(replica, first) else { continue }
            return WALMark(checkpointSequence: header.checkpointSequence, salt1: header.salt1)
        }
        return nil
    }

    /// The newest of `candidates` (`all` is every generation, for the time check), with the reasons
    /// in words and warnings; throws a usage error listing the generations when nothing decides.
    func newest(of candidates: [V03Generation], all: [V03Generation]) throws -> (V03Generation, [String], [Finding]) {
        let newestTime = { (g: V03Generation) in g.timeBounds?.1 ?? 0 }
        var byTime = candidates[0]
        for g in candidates.dropFirst() where newestTime(g) > newestTime(byTime) { byTime = g }
        if candidates.count == 1 {
            return (byTime, ["generation \(byTime.id) was updated most recently" + (byTime.timeBounds.map { " (newest file \(formatTime($0.1)))" } ?? "")], [])
        }
        let timeTies = candidates.filter { newestTime($0) == newestTime(byTime) }
        let doubt =
            (timeTies.count > 1 ? "generations \(timeTies.map(\.id).joined(separator: ", ")) have the same newest file time" : nil) ?? Self.timeDoubt(all)
        let marks = Dictionary(uniqueKeysWithValues: candidates.map { ($0.id, lastWALMark($0)) })
        var byHeaders: V03Generation?
        if candidates.allSatisfy({ marks[$0.id]! != nil }) {
            let top = candidates.map { marks[$0.id]!! }.max()!
            let atTop = candidates.filter { marks[$0.id]!! == top }
            if atTop.count == 1 { byHeaders = atTop[0] }
        }
        let timeReason =
            "generation \(byTime.id) was updated most recently of \(candidates.count) generations"
            + (byTime.timeBounds.map { " (newest file \(formatTime($0.1)))" } ?? "")
            + (all.flatMap(\.allFiles).allSatisfy(\.timeTrusted) ? ", by \(replica.timeSource ?? "the object store's LastModified")" : "")
        if let h = byHeaders, h.id == byTime.id, timeTies.count == 1 {
            // Times and contents agree: nothing to doubt, even if the times could be a download's.
            return (byTime, [timeReason, "its WAL headers are the newest too (\(marks[h.id]!!))"], [])
        }
        guard let doubt else {
            guard let h = byHeaders else { return (byTime, [timeReason], []) }
            let warning = Finding.warning(
                .generationOrder, file: "generations",
                "file times say generation \(byTime.id) is the newest, its WAL headers say \(h.id) (\(marks[h.id]!!) against \(marks[byTime.id]!!)); chose \(byTime.id) by the times, as Litestream does. If a copy rewrote the times, pass --generation \(h.id)"
            )
            return (byTime, [timeReason], [warning])
        }
        if let h = byHeaders {
            let warning = Finding.warning(
                .timeUntrusted, file: "generations",
                "file times cannot order the generations (\(doubt)): generation \(h.id) was chosen by WAL header order instead (\(marks[h.id]!!))")
            return (h, ["generation \(h.id) was chosen by WAL header order (\(marks[h.id]!!), the highest); file times cannot decide: \(doubt)"], [warning])
        }
        let listing = candidates.map { g in
            "\(g.id): \(g.allFiles.count) files, newest file time \(g.timeBounds.map { formatTime($0.1) } ?? "none"), "
                + (g.segments.isEmpty ? "no WAL segments" : "last WAL header \(marks[g.id]!.map(\.description) ?? "unreadable")")
        }
        let message =
            "cannot tell which generation is the newest: file times cannot decide (\(doubt)) and the WAL headers do not either. Generations: "
            + listing.joined(separator: "; ") + ". Pass --generation ID to choose one (e.g. the one whose data you expect)."
        throw LiteProofError(
            .undecided, message,
            finding: .warning(.generationAmbiguous, file: "generations", "cannot tell which generation is the newest (\(doubt)); pass --generation ID"))
    }
}
