import CLZ4
import Foundation

@testable import LiteProof

// Targets for the file formats (Sources/LiteProof/Formats). Each body calls the library's entry
// point for those bytes; when a signature changes, only the line inside the body changes.

/// An LTX file (Litestream 0.5): the full checking decode, then the cheap reads from its ends.
let ltxTarget = FuzzTarget(name: "ltx", summary: "an LTX file: LTX.decode, readHeader + forEachIndexEntry") { bytes in
    let path = Scratch.write(bytes, as: "0000000000000001-0000000000000001.ltx")
    expectCleanError { try LTX.decode(try ReadOnlyFile(path), name: path) }
    expectCleanError {
        let file = try ReadOnlyFile(path)
        let header = try LTX.readHeader(file, name: path)
        try LTX.forEachIndexEntry(file, name: path, header: header) { _ in }
    }
}

/// A decompressed SQLite WAL stream (what the 0.3 segments of one index concatenate to): fed
/// whole and in small pieces, the decoder must end in the same state.
let walTarget = FuzzTarget(name: "wal", summary: "a WAL stream: WALHeader.parse, WALDecoder.feed whole and in pieces") { bytes in
    _ = try? WALHeader.parse(bytes)
    func decode(pieceSize: Int) -> (Int, Int, Int64, Int64, UInt32, Bool)? {
        let decoder = WALDecoder { _ in }
        do {
            var at = 0
            while at < bytes.count {
                let end = min(bytes.count, at + pieceSize)
                try decoder.feed(UnsafeRawBufferPointer(rebasing: bytes[at..<end]))
                at = end
            }
        } catch { return nil }
        return (decoder.frameCount, decoder.commitCount, decoder.offset, decoder.lastCommitEnd, decoder.lastCommitSize, decoder.stopped == nil)
    }
    let whole = decode(pieceSize: max(1, bytes.count))
    let pieces = decode(pieceSize: 1 + Int(bytes.last ?? 0) % 61)
    precondition((whole == nil) == (pieces == nil), "WALDecoder: fed whole and in pieces, one threw and the other did not")
    if let whole, let pieces {
        precondition(whole == pieces, "WALDecoder: fed whole \(whole), in pieces \(pieces)")
    }
}

/// The WAL of one 0.3 index, as LZ4-framed segments in a replica folder: the bytes are the
/// decompressed WAL, cut into two segments (offset names) and compressed as Litestream does.
let walSegmentTarget = FuzzTarget(name: "wal-segment", summary: "0.3 WAL segments of one index: V03Readers.readIndex") { bytes in
    let root = Scratch.folder("replica-wal")
    let dir = "generations/0123456789abcdef/wal/"
    let cut = bytes.count < 2 ? bytes.count : 1 + Int(bytes.last!) * 257 % (bytes.count - 1)
    lz4Frame(UnsafeRawBufferPointer(rebasing: bytes[0..<cut])).withUnsafeBytes { _ = Scratch.write($0, as: "replica-wal/\(dir)00000000_00000000.wal.lz4") }
    if cut < bytes.count {
        lz4Frame(UnsafeRawBufferPointer(rebasing: bytes[cut...])).withUnsafeBytes {
            _ = Scratch.write($0, as: "replica-wal/\(dir)00000000_\(UInt64(cut).hex(width: 8)).wal.lz4")
        }
    }
    expectCleanError {
        let replica = try Replica.open(root)
        guard let generation = replica.v03?.generations.first else { return }
        _ = try V03Readers.readIndex(replica, index: 0, segments: generation.segments(of: 0), expectedPageSize: nil)
    }
}

/// An LZ4 frame file (every 0.3 replica file), and the same bytes as an LTX page's LZ4 block.
let lz4Target = FuzzTarget(name: "lz4", summary: "an LZ4 frame file: LZ4Frame.decompress; LZ4Block.decompress") { bytes in
    let path = Scratch.write(bytes, as: "00000000_00000000.wal.lz4")
    expectCleanError { try LZ4Frame.decompress(try ReadOnlyFile(path), name: path) { _ in } }
    let page = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 64)
    defer { page.deallocate() }
    _ = LZ4Block.decompress(bytes, into: page)
}

/// The restore's block-parallel LZ4 decoder against liblz4's: the input is cut into two frame
/// files, read in order through a ``SegmentPrefetcher`` without worker threads (the same feed,
/// decode and hash code without two thread starts per input under AddressSanitizer; the threads
/// are tested in SegmentPrefetcherTests); any difference from
/// ``LZ4Frame/decompress(_:name:_:)`` in the bytes handed over, the size or the error is a bug.
let lz4BlocksTarget = FuzzTarget(name: "lz4-blocks", summary: "LZ4 frame files: SegmentPrefetcher against LZ4Frame.decompress") { bytes in
    let root = Scratch.folder("replica-blocks")
    let dir = "generations/0123456789abcdef/wal/"
    let cut = bytes.count < 2 ? bytes.count : Int(bytes.last!) * 257 % bytes.count
    var files: [V03File] = []
    for (i, part) in [bytes[0..<cut], bytes[cut...]].enumerated() {
        let name = "\(dir)00000000_\(UInt64(i * 4096).hex(width: 8)).wal.lz4"
        Scratch.write(UnsafeRawBufferPointer(rebasing: part), as: "replica-blocks/" + name)
        files.append(V03File(path: name, index: 0, offset: Int64(i * 4096), size: Int64(part.count)))
    }
    guard let replica = try? Replica.open(root) else { return }
    func outcome(_ run: ((UnsafeRawBufferPointer) throws -> Void) throws -> Int64) -> ([UInt8], Int64?, FormatError?) {
        var got: [UInt8] = []
        do {
            let size = try run { got += $0 }
            return (got, size, nil)
        } catch let e as FormatError {
            return (got, nil, e)
        } catch {
            return (got, nil, FormatError(.fileUnreadable, offset: -1, "\(error)"))
        }
    }
    let prefetcher = SegmentPrefetcher(replica: replica, files: files, workers: 0)
    defer { prefetcher.cancel() }
    for file in files {
        let want = outcome { try LZ4Frame.decompress(try replica.open(file.path), name: file.path, $0) }
        let got = outcome { try prefetcher.decompress(file, $0) }
        precondition(
            got.0 == want.0 && got.1 == want.1 && got.2 == want.2,
            "SegmentPrefetcher gave \(got.0.count) bytes, \(got.1.map(String.init) ?? "no size"), \(got.2.map(String.init(describing:)) ?? "no error"); LZ4Frame.decompress \(want.0.count) bytes, \(want.1.map(String.init) ?? "no size"), \(want.2.map(String.init(describing:)) ?? "no error"), for \(file.path)"
        )
    }
}

/// A 0.3 snapshot: the bytes are the database image, compressed as Litestream does.
let snapshotTarget = FuzzTarget(name: "snapshot", summary: "a 0.3 snapshot (database image): V03Readers.readSnapshot") { bytes in
    let root = Scratch.folder("replica-snapshot")
    lz4Frame(bytes).withUnsafeBytes {
        _ = Scratch.write($0, as: "replica-snapshot/generations/0123456789abcdef/snapshots/00000000.snapshot.lz4")
    }
    expectCleanError {
        let replica = try Replica.open(root)
        guard let snapshot = replica.v03?.generations.first?.snapshots.first else { return }
        _ = V03Readers.readSnapshot(replica, snapshot)
    }
}

/// The 100-byte SQLite database header (snapshot images, LTX snapshots, live databases).
let databaseHeaderTarget = FuzzTarget(name: "db-header", summary: "a database file: DatabaseHeader.parse, FilePageSource") { bytes in
    _ = try? DatabaseHeader.parse(bytes)
    let path = Scratch.write(bytes, as: "live.db")
    expectCleanError {
        let source = try FilePageSource(path: path)
        if source.pageCount > 0 { _ = try source.page(1) }
    }
}
