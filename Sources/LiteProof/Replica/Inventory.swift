import Foundation

/// What a replica holds, from names, file times and headers (no full read): the `inspect` view.
public struct Inventory: Codable, Sendable {
    public struct Segment: Codable, Sendable {
        public var path: String
        public var offset: Int64
        public var storedSize: Int64
        /// Decompressed size: from the next segment's offset, or by decompressing the last one.
        public var size: Int64?
        public var time: String?
    }

    public struct Index: Codable, Sendable {
        public var index: String
        public var segments: [Segment]
    }

    public struct Snapshot: Codable, Sendable {
        public var path: String
        public var index: String
        public var storedSize: Int64
        public var time: String?
    }

    public struct Generation: Codable, Sendable {
        public var id: String
        public var firstTime: String?
        public var lastTime: String?
        public var snapshots: [Snapshot]
        public var indexes: [Index]
        /// First and last restorable positions within the generation ("index:offset").
        public var restorableFrom: String?
        public var restorableTo: String?
    }

    public struct LTXFile: Codable, Sendable {
        public var path: String
        public var minTXID: String
        public var maxTXID: String
        public var time: String?
        public var pageSize: Int?
        public var commit: UInt32?
        public var size: Int64
        public var error: String?
    }

    public struct Level: Codable, Sendable {
        public var level: Int
        public var files: [LTXFile]
    }

    public var replica: String
    public var format: Replica.Format
    public var layout: String?
    public var generations: [Generation]?
    public var levels: [Level]?
    public var restorableFromTXID: String?
    public var latest: PlanSummary?
    /// Why no restore is possible, when that is so.
    public var latestError: String?
    public var strays: [String]
    /// Where trusted file times came from (a bucket listing or a fetch manifest); nil when the
    /// times are the files' own modification times.
    public var timeSource: String?

    /// `a + b` for sizes and offsets taken from file names, held at `Int64.max` rather than trapping
    /// (a segment can be named at offset 7fffffffffffffff).
    static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (s, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? .min : .max) : s
    }

    public static func make(_ replica: Replica) throws -> Inventory {
        var inv = Inventory(replica: replica.root, format: replica.format, strays: replica.strays, timeSource: replica.timeSource)
        switch replica.layout {
        case .v03(let layout):
            inv.generations = layout.generations.map { g in
                let indexes = g.indexes.map { i -> Index in
                    let segs = g.segments(of: i)
                    return Index(
                        index: i.hex(width: 8),
                        segments: segs.enumerated().map { n, s in
                            var size: Int64?
                            if n + 1 < segs.count {
                                size = segs[n + 1].offset - s.offset
                            } else if let f = try? replica.open(s.path) {
                                size = try? LZ4Frame.decompress(f, name: s.path) { _ in }
                            }
                            return Segment(path: s.path, offset: s.offset, storedSize: s.size, size: size, time: s.modified.map(formatTime))
                        })
                }
                // Within the generation: from its first snapshot to the position a restore of it
                // reaches (after its last commit); when no restore of it can be planned, to the
                // end of its WAL as the files stand.
                func inGeneration(_ p: Position) -> String { String(p.description.drop { $0 != "/" }.dropFirst()) }
                let planned = try? RestorePlanner(replica: replica).plan(.latest(generation: g.id)).position
                let walEnd = Array(zip(g.indexes, indexes)).last.flatMap { i, index in
                    index.segments.last.map { inGeneration(.v03(generation: g.id, index: i, offset: Self.sum($0.offset, $0.size ?? 0))) }
                }
                return Generation(
                    id: g.id, firstTime: g.timeBounds.map { formatTime($0.0) }, lastTime: g.timeBounds.map { formatTime($0.1) },
                    snapshots: g.snapshots.map {
                        Snapshot(path: $0.path, index: $0.index.hex(width: 8), storedSize: $0.size, time: $0.modified.map(formatTime))
                    },
                    indexes: indexes,
                    restorableFrom: g.snapshots.first.map { inGeneration(.v03(generation: g.id, index: $0.index, offset: 0)) },
                    restorableTo: g.snapshots.isEmpty ? nil : planned.map(inGeneration) ?? walEnd)
            }
        case .ltx(let layout):
            inv.layout = layout.style == .file ? "ltx/<level>/" : "<level %04x>/ (S3)"
            inv.levels = layout.levels.map { level in
                Level(
                    level: level,
                    files: layout.files(atLevel: level).map { ref in
                        var file = LTXFile(path: ref.path, minTXID: ref.minTXID.hex(width: 16), maxTXID: ref.maxTXID.hex(width: 16), size: ref.size)
                        do {
                            let h = try replica.readLTXHeader(ref.path)
                            file.time = formatTime(Double(h.timestamp) / 1000)
                            file.pageSize = h.pageSize
                            file.commit = h.commit
                        } catch {
                            file.error = "\(error)"
                        }
                        return file
                    })
            }
            inv.restorableFromTXID = layout.files(atLevel: LTXLayout.snapshotLevel).map(\.maxTXID).min()?.hex(width: 16)
        }
        do {
            inv.latest = PlanSummary(try RestorePlanner(replica: replica).plan())
        } catch {
            inv.latestError = "\(error)"
        }
        return inv
    }

    public func renderText() -> String {
        var lines = ["replica: \(replica) (\(format.rawValue)\(layout.map { ", " + $0 } ?? ""))"]
        if let timeSource { lines.append("file times: \(timeSource)") }
        for g in generations ?? [] {
            lines.append("")
            lines.append("generation \(g.id)  \(g.firstTime ?? "?") … \(g.lastTime ?? "?")")
            lines.append("  restorable: \(g.restorableFrom ?? "no snapshot") … \(g.restorableTo ?? "-")")
            for s in g.snapshots {
                lines.append("  snapshot \(s.index)  \(Units.bytes(s.storedSize))  \(s.time ?? "")")
            }
            for i in g.indexes {
                let total = i.segments.reduce(Int64(0)) { Self.sum($0, $1.size ?? 0) }
                lines.append("  wal index \(i.index): \(i.segments.count) segment\(i.segments.count == 1 ? "" : "s"), \(Units.bytes(total)) of WAL")
                for s in i.segments {
                    lines.append("    @\(s.offset)  \(Units.bytes(s.storedSize)) → \(s.size.map { Units.bytes($0) } ?? "?")  \(s.time ?? "")")
                }
            }
        }
        for l in levels ?? [] {
            lines.append("")
            lines.append("level \(l.level)\(l.level == LTXLayout.snapshotLevel ? " (snapshots)" : ""): \(l.files.count) file\(l.files.count == 1 ? "" : "s")")
            for f in l.files {
                if let e = f.error {
                    lines.append("  \(f.minTXID)-\(f.maxTXID)  \(Units.bytes(f.size))  UNREADABLE: \(e)")
                } else {
                    lines.append("  \(f.minTXID)-\(f.maxTXID)  \(Units.bytes(f.size))  \(f.time ?? "")  commit \(f.commit ?? 0) × \(f.pageSize ?? 0) B")
                }
            }
        }
        if let from = restorableFromTXID { lines.append(""); lines.append("restorable from TXID \(from)") }
        lines.append("")
        if let latest {
            lines.append("latest restorable position: \(latest.position)\(latest.time.map { " at " + $0 } ?? "")")
            for r in latest.reasons { lines.append("  because \(r)") }
        } else {
            lines.append("no restore possible: \(latestError ?? "unknown")")
        }
        if !strays.isEmpty {
            lines.append("")
            lines.append("files in no layout (ignored by restore):")
            for s in strays { lines.append("  \(s)") }
        }
        return lines.map(\.escapedForText).joined(separator: "\n")
    }
}
