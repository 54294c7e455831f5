import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Looking for the pending canary without a restore: a canary row's token is stored verbatim in
/// the page that holds the row, so the commit that wrote it is in the replica when a file of the
/// latest restore that appeared after the write holds the token in its decoded pages. Those files
/// are the ones new since the write: a look costs what Litestream shipped since, not the database.
extension Watcher {
    /// Looks for the pending canary in the files of `plan` that were not listed when it was
    /// written; records the round trip when found. A file that cannot be read or decoded is a
    /// warning here (the round's own checks judge the file).
    func lookForCanary(_ r: inout WatchRound, replica: Replica, plan: RestorePlan, now: Double) {
        guard let c = schedule.canary else { return }
        schedule.lookedAt = plan.position
        let candidates = plan.files.filter { !schedule.knownAtCanary.contains($0) }
        do {
            if try Self.holds(c.token, in: candidates, replica: replica) { canarySeen(&r, c, now: now) }
        } catch {
            r.warnings.append("cannot look for the canary in the replica: \(LiteProofError(wrapping: error).message)")
        }
    }

    /// Records that the pending canary `c` is in the replica: the round trip and the event.
    func canarySeen(_ r: inout WatchRound, _ c: Canary, now: Double) {
        // The replica held it by the latest position's time (when that is trusted and not before
        // the write), else by the start of this round.
        let by = r.latestTime.flatMap { r.latestTimeTrusted == true && $0 >= c.createdAt ? min($0, now) : nil } ?? now
        r.canaryRoundTripSeconds = by - c.createdAt
        schedule.canary = nil
        r.canary = CanaryTrip(token: c.token, writtenAt: c.createdAt, seen: true, ageSeconds: max(0, now - c.createdAt))
    }

    /// Whether the decoded pages of any of `files` (0.5 LTX files, or 0.3 LZ4 snapshots and WAL
    /// segments) hold `token`'s bytes; stops at the first that does.
    static func holds(_ token: String, in files: [String], replica: Replica) throws -> Bool {
        struct Found: Error {}
        let needle = Array(token.utf8)
        for path in files {
            let file = try replica.open(path)
            do {
                switch replica.layout {
                case .ltx:
                    try LTX.decode(file, name: path) { _, page in if contains(page, needle) { throw Found() } }
                case .v03:
                    // Chunks of the decompressed stream: the bytes that straddle two chunks are
                    // searched with the end of the one before.
                    var tail: [UInt8] = []
                    try LZ4Frame.decompress(file, name: path) { chunk in
                        let window = tail + Array(chunk.prefix(needle.count - 1))
                        if window.withUnsafeBytes({ contains($0, needle) }) || contains(chunk, needle) { throw Found() }
                        tail = Array(chunk.suffix(needle.count - 1))
                    }
                }
            } catch is Found {
                return true
            }
        }
        return false
    }

    /// Whether `haystack` contains `needle` (`memchr` for its first byte, then `memcmp`).
    private static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard let base = haystack.baseAddress, let first = needle.first, haystack.count >= needle.count else { return false }
        return needle.withUnsafeBytes { n in
            var at = 0
            let last = haystack.count - needle.count
            while at <= last {
                guard let hit = memchr(base + at, Int32(first), last - at + 1) else { return false }
                at = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + at, n.baseAddress!, needle.count) == 0 { return true }
                at += 1
            }
            return false
        }
    }
}
