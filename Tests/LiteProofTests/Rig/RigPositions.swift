// Where a live database, litestream's own copy of it and the replica stand, read by the rig
// itself (not by LiteProof, whose answers the tests check): the rig waits for positions, never
// for a quiet period.

import CLZ4
import Foundation

enum RigPositions {
    /// Litestream's metadata folder beside a database: `DIR/.NAME-litestream`.
    static func metaFolder(_ db: String) -> String {
        let url = URL(fileURLWithPath: db)
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + "-litestream"
    }

    /// A 0.3 replica's position beside litestream's shadow WAL and the live WAL.
    struct V03: CustomStringConvertible {
        var liveEnd: Int64?
        var shadowGeneration: String?
        var shadowIndex: UInt32?
        var shadowSize: Int64?
        var replicaIndex: UInt32?
        var replicaEnd: Int64?

        var caughtUp: Bool {
            guard let live = liveEnd, let index = shadowIndex, let size = shadowSize else { return false }
            return size == live && replicaIndex == index && replicaEnd == size
        }

        var description: String {
            func s<T>(_ x: T?) -> String { x.map { "\($0)" } ?? "none" }
            return "live WAL ends at \(s(liveEnd)); shadow \(s(shadowGeneration))/\(s(shadowIndex)) is \(s(shadowSize)) B; "
                + "replica index \(s(replicaIndex)) ends at \(s(replicaEnd))"
        }
    }

    static func v03(db: String, replicaDir: String) -> V03 {
        var p = V03()
        p.liveEnd = liveWALEnd(db + "-wal")
        let meta = metaFolder(db)
        guard let gen = try? String(contentsOfFile: meta + "/generation", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            gen.count == 16
        else { return p }
        p.shadowGeneration = gen
        let shadowDir = "\(meta)/generations/\(gen)/wal"
        let indexes = rigListDir(shadowDir).compactMap { name -> UInt32? in
            name.hasSuffix(".wal") && name.count == 12 ? UInt32(name.prefix(8), radix: 16) : nil
        }
        guard let index = indexes.max() else { return p }
        p.shadowIndex = index
        p.shadowSize = fileSize(shadowDir + "/" + String(format: "%08x.wal", index))
        let segments = RigV03Files.walSegments(replicaDir, gen)
        guard let last = segments.last else { return p }
        p.replicaIndex = last.index
        if let n = lz4DecompressedLength("\(replicaDir)/generations/\(gen)/wal/\(last.name)") {
            p.replicaEnd = Int64(last.offset) + n
        }
        return p
    }

    /// End of the live WAL's last commit: frames are read while their salts match the header's
    /// (frames of an earlier WAL cycle carry other salts); nil without a WAL or a commit.
    static func liveWALEnd(_ walPath: String) -> Int64? {
        guard let h = FileHandle(forReadingAtPath: walPath) else { return nil }
        defer { try? h.close() }
        guard let header = try? h.read(upToCount: 32), header.count == 32 else { return nil }
        func be32(_ d: Data, _ at: Int) -> UInt32 { d[d.startIndex + at..<d.startIndex + at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        guard be32(header, 0) & 0xFFFF_FFFE == 0x377F_0682 else { return nil }
        let raw = Int(be32(header, 8))
        let pageSize = raw == 1 ? 65536 : raw
        guard pageSize >= 512, pageSize <= 65536 else { return nil }
        let salts = header[header.startIndex + 16..<header.startIndex + 24]
        var offset: Int64 = 32
        var lastCommit: Int64?
        while true {
            guard (try? h.seek(toOffset: UInt64(offset))) != nil,
                let frame = try? h.read(upToCount: 24), frame.count == 24,
                frame[frame.startIndex + 8..<frame.startIndex + 16] == salts
            else { break }
            offset += Int64(24 + pageSize)
            guard offset <= (fileSize(walPath) ?? 0) else { break }
            if be32(frame, 4) != 0 { lastCommit = offset }
        }
        return lastCommit
    }

    static func fileSize(_ path: String) -> Int64? {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value
    }

    /// Bytes an LZ4 frame decompresses to; nil if the file is missing or not (yet) a whole frame.
    static func lz4DecompressedLength(_ path: String) -> Int64? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var ctx: OpaquePointer?
        guard LZ4F_createDecompressionContext(&ctx, UInt32(LZ4F_VERSION)) == 0, let ctx else { return nil }
        defer { LZ4F_freeDecompressionContext(ctx) }
        var out = [UInt8](repeating: 0, count: 1 << 16)
        var total: Int64 = 0
        var consumed = 0
        var hint = 1
        data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            while consumed < src.count {
                var srcSize = src.count - consumed
                var dstSize = out.count
                hint = out.withUnsafeMutableBytes { dst in
                    LZ4F_decompress(ctx, dst.baseAddress, &dstSize, src.baseAddress! + consumed, &srcSize, nil)
                }
                if LZ4F_isError(hint) != 0 { return }
                consumed += srcSize
                total += Int64(dstSize)
                if hint == 0 || (srcSize == 0 && dstSize == 0) { return }
            }
        }
        return hint == 0 ? total : nil
    }
}
