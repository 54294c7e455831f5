import Foundation

/// 0.3 WAL indexes checked a segment at a time: a segment's WAL checksums continue from the
/// segments before it in the same index, so the state keeps where each index's stream stood
/// after its last verified segment (``WatchState/IndexCarry``), and a round that finds new
/// segments at the end of an index reads only those. Anything else about the index (a segment
/// before them changed, gone or damaged, no carry, one that does not hold together) has the
/// whole index read again, as `verify` reads it.
extension Watcher {
    /// The key of a WAL index in ``WatchState/carries``.
    public static func carryKey(_ generation: String, _ index: UInt32) -> String {
        "\(generation)/\(index.hex(width: 8))"
    }

    /// The unit that checks the fresh segments of one index (`segments` in offset order, some of
    /// them in `fresh`): only its new tail when the state carries the stream to just before it,
    /// else every segment.
    static func indexUnit(generation g: String, index i: UInt32, segments segs: [V03File], fresh: Set<String>, state: WatchState)
        -> Verifier.V03Unit
    {
        let whole = Verifier.V03Unit.index(generation: g, index: i, segments: segs)
        guard let c = state.carries?[carryKey(g, i)], c.carry.holdsTogether,
            let first = segs.firstIndex(where: { fresh.contains($0.path) }), first > 0,
            segs[first...].allSatisfy({ fresh.contains($0.path) }),
            segs[first - 1].path == c.through,
            segs[..<first].allSatisfy({ state.files[$0.path]?.verdict == .ok })
        else { return whole }
        return .indexTail(generation: g, index: i, segments: Array(segs[first...]), resume: c.carry)
    }

    /// What the state keeps of an index read to its end: the carry after its last segment, when
    /// the stream was followed to the end with no error and no frame cut short (nil otherwise:
    /// the next new segment has the whole index read again).
    static func carry(after result: V03Readers.IndexResult, segments: [V03File]) -> WatchState.IndexCarry? {
        guard let carry = result.carry, carry.pending.isEmpty, !result.hasErrors, let last = segments.last else { return nil }
        return WatchState.IndexCarry(through: last.path, carry: carry)
    }

    /// Findings that speak of the end of an index's stream as it was (frames after the last
    /// commit): once segments follow, the stream's end is judged again at the new last segment.
    static let streamEndCodes: Set<FindingCode> = [.walUncommittedTail]
}
