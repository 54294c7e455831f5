/// Where a database state sits in SQLite's WAL: the WAL's salts, its checkpoint sequence when
/// known, and the WAL offset just after the state's last commit.
public struct WALMark: Codable, Sendable, Equatable {
    public var salt1: UInt32
    public var salt2: UInt32
    public var checkpointSequence: UInt32?
    public var offset: Int64

    public init(salt1: UInt32, salt2: UInt32, checkpointSequence: UInt32?, offset: Int64) {
        self.salt1 = salt1
        self.salt2 = salt2
        self.checkpointSequence = checkpointSequence
        self.offset = offset
    }
}

/// Evidence that the live database has moved on past a replica's last change, for when no state
/// of the live side matches the replica: is the live side newer (`lagging-unproven`), or does
/// nothing show that (`differs`)?
///
/// SQLite adds one to salt-1 and to the checkpoint sequence of the WAL header each time it
/// restarts the WAL (after a checkpoint), and both travel with the replica: a 0.3 WAL index is a
/// copy of the live WAL with its header, and a 0.5 LTX file written from the WAL records its salts
/// and offsets. So the replica's last change names the WAL it came from, and the live side names
/// its own WAL:
/// - the same WAL (both salts equal), reaching further on the live side, and the database file
///   holding a page version the WAL wrote: a checkpoint has copied WAL pages into the file, so
///   the earlier states are gone from the live files;
/// - a later WAL: salt-1 ahead by d (1 ≤ d ≤ 2^20) and, where both are known, the checkpoint
///   sequence ahead by the same d: the WAL was restarted d times since.
/// Anything else — no WAL on either side, a WAL behind, salts that do not step (a new WAL file
/// starts with random salts; another database has unrelated ones) — is no evidence. A different
/// database passes by chance at most 2^20 in 2^32 (where checkpoint sequences are known, far less).
public enum MovedOn {
    static let maxResets: UInt32 = 1 << 20

    /// Words saying how `live` is past `replica`, or nil when nothing shows it. `checkpointed`:
    /// the live database file already holds a page version that its WAL wrote (see
    /// ``LiveHistory/showsCheckpoint``) — without it, the same WAL still holds every state since
    /// it began, and a state it does not hold is a real difference.
    public static func evidence(replica r: WALMark, live l: WALMark, checkpointed: Bool) -> String? {
        if r.salt1 == l.salt1 && r.salt2 == l.salt2 {
            guard l.offset > r.offset, checkpointed else { return nil }
            return
                "the live WAL is the one the replica's last change came from and reaches further (WAL offset \(l.offset) against \(r.offset)), but a checkpoint has copied its pages into the database file, so the earlier states are gone"
        }
        let d = l.salt1 &- r.salt1
        guard d >= 1, d <= maxResets else { return nil }
        if let a = r.checkpointSequence, let b = l.checkpointSequence, b &- a != d { return nil }
        return
            "the live WAL was restarted \(d) time\(d == 1 ? "" : "s") since the replica's last change (SQLite adds one to salt-1 at every restart: \(r.salt1) then, \(l.salt1) now)"
    }

    /// Whether the WAL with header `later` is `earlier`'s WAL or a restart of it (salt-1 and,
    /// where both are set, the checkpoint sequence stepped by the same 1…2^20): the same
    /// database, later in time.
    static func follows(_ later: WALHeader, _ earlier: WALHeader) -> Bool {
        if later.salt1 == earlier.salt1 && later.salt2 == earlier.salt2 { return true }
        let d = later.salt1 &- earlier.salt1
        return d >= 1 && d <= maxResets && later.checkpointSequence &- earlier.checkpointSequence == d
    }

    /// The WAL mark of the state a plan restores: 0.3, the header of the last WAL index applied
    /// and the position's offset; 0.5, the WAL salts and range recorded in the LTX header of the
    /// last file (or of another file ending at the same TXID — level 0, a snapshot — when the
    /// last is a compacted one, which carries none).
    /// Nil when the replica does not say (a 0.3 snapshot alone, LTX files without WAL fields).
    static func replicaMark(_ replica: Replica, plan: RestorePlan) -> WALMark? {
        switch plan {
        case .v03(let p):
            guard let last = p.indexes.last, case .v03(_, _, let offset) = p.position else { return nil }
            guard let first = last.segments.first, first.offset == 0, let h = try? V03Readers.readWALHeader(replica, first) else { return nil }
            return WALMark(salt1: h.salt1, salt2: h.salt2, checkpointSequence: h.checkpointSequence, offset: offset)
        case .ltx(let p):
            guard let ref = p.files.last, case .ltx(let txid) = p.position else { return nil }
            // Compacted files (levels 1–8) carry no WAL fields; level 0 and snapshots do.
            var candidates = [ref]
            if let layout = replica.ltx {
                candidates += layout.files.filter { $0.maxTXID == txid && $0.path != ref.path }.sorted { $0.level < $1.level }
            }
            for c in candidates {
                let planned = c.path == ref.path ? p.header(at: p.files.count - 1) : nil
                guard let h = planned ?? (try? replica.open(c.path)).flatMap({ try? LTX.readHeader($0, name: c.path) }), h.walOffset != 0 else {
                    continue
                }
                return WALMark(salt1: h.walSalt1, salt2: h.walSalt2, checkpointSequence: nil, offset: h.walOffset + h.walSize)
            }
            return nil
        }
    }
}
