import CZstd
import Foundation

/// Writes a zstd-compressed tar (ustar) archive, streaming: members are copied through fixed
/// buffers and compressed with libzstd's `ZSTD_compressStream2`, so a large member (a restored
/// database) never sits in memory. The archive is written to a temporary name and renamed when
/// finished; an unfinished archive is removed (also on a signal: the temporary name is recorded
/// in ``ScratchSpace``).
final class TarZstdWriter {
    let path: String
    let temp: String
    let out: OutputFile
    let cctx: OpaquePointer
    let outBuffer: UnsafeMutableRawBufferPointer
    var written: Int64 = 0
    var finished = false

    init(path: String, level: Int32 = 3) throws {
        try FS.checkOutput(path, force: false)
        self.path = path
        temp = path + ".liteproof-\(getpid()).tmp"
        out = try ScratchSpace.createFile(temp)
        guard let c = ZSTD_createCCtx() else { throw LiteProofError.storage(.local, "cannot create a zstd context") }
        cctx = c
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        outBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 64)
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        outBuffer.deallocate()
        if !finished { ScratchSpace.release(temp) }
    }

    private func compress(_ data: UnsafeRawBufferPointer, end: Bool) throws {
        var input = ZSTD_inBuffer(src: data.baseAddress, size: data.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: outBuffer.baseAddress, size: outBuffer.count, pos: 0)
            let remaining = ZSTD_compressStream2(cctx, &output, &input, end ? ZSTD_e_end : ZSTD_e_continue)
            if ZSTD_isError(remaining) != 0 {
                throw LiteProofError.storage(.local, "zstd compression failed: \(String(cString: ZSTD_getErrorName(remaining)))")
            }
            if output.pos > 0 {
                try out.write(UnsafeRawBufferPointer(rebasing: outBuffer[0..<output.pos]), at: written)
                written += Int64(output.pos)
            }
            if end ? remaining == 0 : input.pos == input.size { break }
        }
    }

    private func header(name: String, size: Int64, mtime: Double) throws -> [UInt8] {
        guard name.utf8.count < 100, !name.hasPrefix("/"), !name.contains("..") else {
            throw LiteProofError(.usage, "archive member name \(name) is not allowed")
        }
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ at: Int, _ width: Int) {
            for (i, b) in s.utf8.prefix(width).enumerated() { h[at + i] = b }
        }
        func octal(_ v: Int64, _ at: Int, _ width: Int) {
            let s = String(v, radix: 8)
            put(String(repeating: "0", count: max(0, width - 1 - s.count)) + s, at, width - 1)
        }
        put(name, 0, 100)
        octal(0o644, 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        if size < 0o77777777777 {
            octal(size, 124, 12)
        } else {  // base-256 for members of 8 GiB and more
            h[124] = 0x80
            var v = size
            for i in stride(from: 135, to: 124, by: -1) { h[i] = UInt8(v & 0xFF); v >>= 8 }
        }
        octal(Int64(mtime), 136, 12)
        h[156] = UInt8(ascii: "0")
        put("ustar", 257, 6)
        put("00", 263, 2)
        put("liteproof", 265, 32)
        put("liteproof", 297, 32)
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int64($1) }
        octal(sum, 148, 7)
        h[155] = 0x20
        return h
    }

    /// Adds a member from bytes.
    func add(name: String, bytes: [UInt8], mtime: Double = Date().timeIntervalSince1970) throws {
        try header(name: name, size: Int64(bytes.count), mtime: mtime).withUnsafeBytes { try compress($0, end: false) }
        try bytes.withUnsafeBytes { try compress($0, end: false) }
        try pad(Int64(bytes.count))
    }

    /// Adds a member copied from a file, streaming.
    func add(name: String, file: ReadOnlyFile, mtime: Double) throws {
        try header(name: name, size: file.size, mtime: mtime).withUnsafeBytes { try compress($0, end: false) }
        try file.forEachChunk { chunk, _ in try compress(chunk, end: false) }
        try pad(file.size)
    }

    private func pad(_ size: Int64) throws {
        let rem = Int(size % 512)
        if rem != 0 { try [UInt8](repeating: 0, count: 512 - rem).withUnsafeBytes { try compress($0, end: false) } }
    }

    /// Writes the end-of-archive blocks, ends the zstd frame, fsyncs and renames into place.
    func finish() throws {
        try [UInt8](repeating: 0, count: 1024).withUnsafeBytes { try compress($0, end: true) }
        try out.sync()
        try FS.checkOutput(path, force: false)  // nothing appeared there meanwhile
        guard rename(temp, path) == 0 else { throw localError("cannot rename the archive to", path: path) }
        finished = true
        ScratchSpace.keep(temp)
    }
}
