/// Sequential, bounds-checked reads over a ``ReadOnlyFile`` through one fixed buffer.
///
/// `take(n)` hands out `n` contiguous bytes (valid until the next call) or nil at end of file;
/// requests larger than the buffer are refused, so a hostile size field cannot make it allocate.
final class BufferedReader {
    let file: ReadOnlyFile
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0  // first unread byte in buffer
    private var end = 0  // one past the last valid byte in buffer
    private var fileOffset: Int64  // file offset of buffer[end]

    init(_ file: ReadOnlyFile, at offset: Int64 = 0, capacity: Int = 1 << 20) {
        self.file = file
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        self.fileOffset = offset
    }

    deinit { buffer.deallocate() }

    var capacity: Int { buffer.count }

    /// File offset of the next unread byte.
    var position: Int64 { fileOffset - Int64(end - start) }

    /// Makes at least `n` bytes available (fewer at end of file); returns how many are.
    @discardableResult
    func fill(_ n: Int) throws -> Int {
        precondition(n <= buffer.count)
        if end - start >= n { return end - start }
        if start > 0 {
            let have = end - start
            if have > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: have) }
            start = 0
            end = have
        }
        while end < n {
            let got = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]), at: fileOffset)
            if got == 0 { break }
            end += got
            fileOffset += Int64(got)
        }
        return end - start
    }

    /// The next `n` bytes, consumed; nil if the file ends first (nothing is consumed then).
    func take(_ n: Int) throws -> UnsafeRawBufferPointer? {
        guard n <= buffer.count, try fill(n) >= n else { return nil }
        let out = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + n)])
        start += n
        return out
    }

    /// Whatever is buffered now (at least 1 byte unless at end of file), not consumed.
    func peek() throws -> UnsafeRawBufferPointer {
        if end == start { try fill(min(buffer.count, 64 << 10)) }
        return UnsafeRawBufferPointer(rebasing: buffer[start..<end])
    }

    func skip(_ n: Int) {
        precondition(n <= end - start)
        start += n
    }
}
