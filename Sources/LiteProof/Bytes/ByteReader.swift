/// Byte order of a multi-byte read: every read states it.
public enum ByteOrder: Sendable {
    case big
    case little
}

/// A bounds-checked cursor over bytes that belong to someone else (a page, a header, a chunk of a
/// decompressed stream). Every read states its byte order, returns a value or throws a
/// ``FormatError`` with the absolute offset, and never traps; nothing is bound to a type.
///
/// The buffer must outlive the reader: make it inside `withUnsafeBytes` and do not let it escape.
/// Hot loops that read a page or frame at a time check bounds once for the whole unit and use the
/// raw buffer; this type is for headers, records and fields.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    /// Offset of `bytes[0]` in the file or stream; errors carry `base + position`.
    public let base: Int64
    /// The code for running out of bytes (e.g. `ltx.truncated`).
    public let truncation: FindingCode
    /// The file errors are attributed to, when known.
    public let file: String?
    /// Index of the next unread byte in `bytes`.
    public private(set) var position = 0

    public init(_ bytes: UnsafeRawBufferPointer, base: Int64 = 0, file: String? = nil, truncation: FindingCode) {
        self.bytes = bytes
        self.base = base
        self.file = file
        self.truncation = truncation
    }

    /// Absolute offset of the next unread byte.
    public var offset: Int64 { base + Int64(position) }
    public var remaining: Int { bytes.count - position }
    public var isAtEnd: Bool { position == bytes.count }

    /// An error of `code` at `position` (a buffer index; the cursor by default), made absolute.
    public func error(_ code: FindingCode, at position: Int? = nil, _ message: String) -> FormatError {
        FormatError(code, file: file, offset: base + Int64(position ?? self.position), message)
    }

    /// Checks that `count` more bytes exist, naming `what` needs them otherwise.
    @inline(__always)
    public func require(_ count: Int, _ what: String) throws(FormatError) {
        guard count >= 0, count <= remaining else {
            throw error(
                truncation, at: bytes.count,
                "the data ends at \(base + Int64(bytes.count)) bytes inside \(what); expected \(count) bytes from offset \(offset)")
        }
    }

    public mutating func skip(_ count: Int, _ what: String = "skipped bytes") throws(FormatError) {
        try require(count, what)
        position += count
    }

    /// Moves the cursor to buffer index `index` (0...count).
    public mutating func seek(to index: Int, _ what: String = "a seek") throws(FormatError) {
        guard index >= 0, index <= bytes.count else {
            throw error(truncation, at: bytes.count, "\(what) points to \(base + Int64(index)); the data ends at \(base + Int64(bytes.count))")
        }
        position = index
    }

    /// The next `count` bytes, as a view into the same buffer.
    public mutating func readBytes(_ count: Int, _ what: String) throws(FormatError) -> UnsafeRawBufferPointer {
        try require(count, what)
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    /// The next `count` bytes, without consuming them.
    public func peekBytes(_ count: Int, _ what: String) throws(FormatError) -> UnsafeRawBufferPointer {
        try require(count, what)
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    @inline(__always)
    public mutating func read<T: FixedWidthInteger>(_: T.Type, _ order: ByteOrder, _ what: String) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        try require(size, what)
        let raw = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return order == .big ? T(bigEndian: raw) : T(littleEndian: raw)
    }

    public mutating func readUInt8(_ what: String = "a byte") throws(FormatError) -> UInt8 {
        try require(1, what)
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func readUInt16(_ order: ByteOrder, _ what: String = "a 2-byte integer") throws(FormatError) -> UInt16 {
        try read(UInt16.self, order, what)
    }

    public mutating func readUInt32(_ order: ByteOrder, _ what: String = "a 4-byte integer") throws(FormatError) -> UInt32 {
        try read(UInt32.self, order, what)
    }

    public mutating func readUInt64(_ order: ByteOrder, _ what: String = "an 8-byte integer") throws(FormatError) -> UInt64 {
        try read(UInt64.self, order, what)
    }

    /// An unsigned LEB128 varint (Go's `binary.Uvarint`, LTX's page index), at most 64 bits;
    /// `code` is reported for an overlong one.
    public mutating func readUVarint(_ code: FindingCode, _ what: String = "a varint") throws(FormatError) -> UInt64 {
        let start = position
        var x: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else {
                throw error(truncation, at: bytes.count, "the data ends at \(base + Int64(bytes.count)) bytes inside \(what)")
            }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw error(code, at: start, "\(what) overflows 64 bits") }
            x |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return x }
            shift += 7
            if shift > 63 { throw error(code, at: start, "\(what) overflows 64 bits") }
        }
    }

    /// Runs `body` with a reader over `array`.
    @discardableResult
    public static func reading<R>(
        _ array: [UInt8], base: Int64 = 0, file: String? = nil, truncation: FindingCode,
        _ body: (inout ByteReader) throws -> R
    ) rethrows -> R {
        try array.withUnsafeBytes { b in
            var r = ByteReader(b, base: base, file: file, truncation: truncation)
            return try body(&r)
        }
    }
}
