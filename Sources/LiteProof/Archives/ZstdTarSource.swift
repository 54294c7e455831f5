import CZstd
import Foundation

/// A zstd-compressed archive, decompressed as it is read with `ZSTD_decompressStream` through
/// fixed buffers (`ZSTD_DStreamInSize`/`ZSTD_DStreamOutSize`; the window is capped at zstd's
/// default 128 MiB), so memory stays bounded whatever the archive's size.
final class ZstdTarSource: TarSource {
    let file: ReadOnlyFile
    let archive: String
    /// Most bytes the stream may decompress to.
    let limit: Int64
    private let stream: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    private var inputStart = 0, inputEnd = 0
    private var outputStart = 0, outputEnd = 0
    private var fileOffset: Int64 = 0
    /// The last call filled the output buffer: the decoder may hold more without new input.
    private var flushPending = false
    /// The last call ended inside a frame.
    private var inFrame = false
    private var produced: Int64 = 0
    private(set) var position: Int64 = 0

    /// Calls `ZSTD_createDStream`.
    init(_ file: ReadOnlyFile, archive: String, limit: Int64) throws {
        guard let stream = ZSTD_createDStream() else {
            throw LiteProofError.storage(.local, "cannot create a zstd decoder for \(archive)")
        }
        ZSTD_initDStream(stream)
        self.stream = stream
        self.file = file
        self.archive = archive
        self.limit = limit
        input = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 16)
        output = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDStream(stream)
        input.deallocate()
        output.deallocate()
    }

    var knownSize: Int64? { nil }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            if outputStart == outputEnd, try !refill() { break }
            let n = min(buffer.count - done, outputEnd - outputStart)
            (buffer.baseAddress! + done).copyMemory(from: output.baseAddress! + outputStart, byteCount: n)
            outputStart += n
            done += n
        }
        position += Int64(done)
        return done
    }

    func skip(_ count: Int64) throws -> Int64 {
        var done: Int64 = 0
        while done < count {
            if outputStart == outputEnd, try !refill() { break }
            let n = Int(min(count - done, Int64(outputEnd - outputStart)))
            outputStart += n
            done += Int64(n)
        }
        position += done
        return done
    }

    /// Decompresses the next piece into `output` (`ZSTD_decompressStream`); false at the end.
    private func refill() throws -> Bool {
        outputStart = 0
        outputEnd = 0
        while true {
            if inputStart == inputEnd && !flushPending {
                if fileOffset >= file.size {
                    if inFrame {
                        throw tarRefusal(archive, "is truncated: the zstd stream ends inside a frame", at: nil)
                    }
                    return false
                }
                let n = try file.read(into: input, at: fileOffset)
                if n == 0 { throw tarRefusal(archive, "could not be read past compressed byte \(fileOffset)", at: nil) }
                fileOffset += Int64(n)
                inputStart = 0
                inputEnd = n
            }
            var inBuf = ZSTD_inBuffer(src: input.baseAddress, size: inputEnd, pos: inputStart)
            var outBuf = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let r = ZSTD_decompressStream(stream, &outBuf, &inBuf)
            if ZSTD_isError(r) != 0 {
                let why = String(cString: ZSTD_getErrorName(r))
                let at = fileOffset - Int64(inputEnd - inBuf.pos)
                var hint = ""
                if why.lowercased().contains("memory") { hint = " (made with zstd --long? LiteProof decodes windows up to 128 MiB)" }
                if fileOffset <= Int64(inputEnd) && at == 0 { hint += " — is it a zstd file?" }
                throw tarRefusal(archive, "cannot be decompressed: zstd: \(why), near compressed byte \(at)\(hint)", at: nil)
            }
            inputStart = inBuf.pos
            inFrame = r != 0
            flushPending = outBuf.pos == outBuf.size
            if outBuf.pos > 0 {
                outputEnd = outBuf.pos
                produced += Int64(outBuf.pos)
                if produced > limit {
                    throw tarRefusal(
                        archive,
                        "decompresses to more than \(Units.bytes(limit)), the limit (set \(ArchiveLimits.extractLimitVariable) to raise it)",
                        at: nil)
                }
                return true
            }
        }
    }
}
