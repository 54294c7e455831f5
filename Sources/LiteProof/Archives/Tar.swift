import Foundation

// The tar format (ustar, pax, GNU) as LiteProof reads it: member times, members, the byte
// stream a tar is read from, and the error refusing an archive. ``TarScanner`` reads the headers.

/// A member time: whole seconds and nanoseconds (pax `mtime` keeps fractions).
struct TarTime: Hashable, Sendable {
    var seconds: Int64
    var nanoseconds: Int32

    var value: Double { Double(seconds) + Double(nanoseconds) / 1e9 }

    /// A pax `mtime` value: `[-]seconds[.fraction]`.
    init?(pax text: String) {
        var s = Substring(text)
        let negative = s.hasPrefix("-")
        if negative { s = s.dropFirst() }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit), let secs = Int64(whole) else {
            return nil
        }
        var nanos: Int32 = 0
        if parts.count == 2 {
            let frac = parts[1]
            guard frac.allSatisfy(\.isASCIIDigit) else { return nil }
            let digits = String(frac.prefix(9)).padding(toLength: 9, withPad: "0", startingAt: 0)
            nanos = Int32(digits) ?? 0
        }
        if negative {
            self.init(seconds: nanos > 0 ? -secs - 1 : -secs, nanoseconds: nanos > 0 ? 1_000_000_000 - nanos : 0)
        } else {
            self.init(seconds: secs, nanoseconds: nanos)
        }
    }

    init(seconds: Int64, nanoseconds: Int32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
}

extension Character {
    /// `0`…`9`.
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// A regular-file member, after its extended headers were applied and its name checked.
struct TarEntry: Sendable {
    /// Relative path, no leading `./`, no empty, `.` or `..` components.
    var name: String
    var size: Int64
    var mtime: TarTime
    /// Where the member's header starts in the tar stream.
    var headerOffset: Int64
    /// Where its data starts in the tar stream.
    var dataOffset: Int64
}

/// Bytes of a tar stream, read in order.
protocol TarSource: AnyObject {
    /// Bytes of the tar stream consumed so far.
    var position: Int64 { get }
    /// The stream's total size when known (an uncompressed archive).
    var knownSize: Int64? { get }
    /// Reads up to `buffer.count` bytes; fewer only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Skips up to `count` bytes; returns how many (fewer only at the end).
    func skip(_ count: Int64) throws -> Int64
}

extension TarSource {
    /// Reads until `buffer` is full or the stream ends.
    func readFully(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            if n == 0 { break }
            done += n
        }
        return done
    }
}

/// An uncompressed archive: reads with `pread`, skips by moving the position.
final class FileTarSource: TarSource {
    let file: ReadOnlyFile
    private(set) var position: Int64 = 0

    init(_ file: ReadOnlyFile) { self.file = file }

    var knownSize: Int64? { file.size }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try file.read(into: buffer, at: position)
        position += Int64(n)
        return n
    }

    func skip(_ count: Int64) throws -> Int64 {
        let n = max(0, min(count, file.size - position))
        position += n
        return n
    }
}

/// The error refusing an archive: names the archive, the member when there is one, the reason,
/// and where in the tar stream.
func tarRefusal(_ archive: String, _ reason: String, member: String? = nil, at offset: Int64?) -> LiteProofError {
    var m = "refusing the archive \(archive): "
    if let member { m += "member \"\(member)\" " }
    m += reason
    if let offset { m += " (tar header at byte \(offset))" }
    return LiteProofError(.usage, m)
}

extension FindingCode {
    /// A malformed tar header or pax record (internal: an archive LiteProof refuses is a usage
    /// error, exit 2, not a finding in the replica).
    static let tarHeader: FindingCode = "archive.bad-header"
}

/// One 512-byte tar header block (ustar layout; GNU and old V7 tars use the same offsets), its
/// fields read in order with a ``ByteReader``.
struct TarHeader {
    static let size = 512

    /// `name`, up to its first NUL.
    var name: [UInt8]
    var sizeField: [UInt8]
    var mtimeField: [UInt8]
    var checksumField: [UInt8]
    /// The member type (`0`, `5`, `x`, `L`, …).
    var type: UInt8
    /// `ustar\0`: a POSIX ustar header, whose `prefix` extends the name.
    var isPOSIXUstar: Bool
    /// `prefix`, up to its first NUL (POSIX ustar only).
    var prefix: [UInt8]
    /// Sums of the block with the checksum field read as spaces: unsigned, and signed as some
    /// old tars computed it.
    var unsignedSum: Int64
    var signedSum: Int64

    /// Reads the header at stream offset `offset` from `block` (exactly 512 bytes).
    init(_ block: UnsafeRawBufferPointer, at offset: Int64) throws(FormatError) {
        var r = ByteReader(block, base: offset, truncation: .tarHeader)
        name = Self.text(try r.readBytes(100, "the name field"))
        try r.skip(24, "the mode, uid and gid fields")
        sizeField = Array(try r.readBytes(12, "the size field"))
        mtimeField = Array(try r.readBytes(12, "the mtime field"))
        checksumField = Array(try r.readBytes(8, "the checksum field"))
        type = try r.readUInt8("the type field")
        try r.skip(100, "the link name field")
        isPOSIXUstar = try r.readBytes(6, "the magic field").elementsEqual("ustar\0".utf8)
        try r.skip(2 + 32 + 32 + 8 + 8, "the version, owner and device fields")
        prefix = isPOSIXUstar ? Self.text(try r.readBytes(155, "the prefix field")) : []
        var unsigned: Int64 = 0, signed: Int64 = 0
        for (i, b) in block.enumerated() {
            let v = (148..<156).contains(i) ? 32 : b
            unsigned += Int64(v)
            signed += Int64(Int8(bitPattern: v))
        }
        unsignedSum = unsigned
        signedSum = signed
    }

    /// The member name: `prefix/name` for POSIX ustar, else `name`.
    var path: [UInt8] { prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name }

    /// Whether the stored checksum matches either sum.
    var checksumMatches: Bool {
        guard let stored = Self.number(checksumField) else { return false }
        return stored == unsignedSum || stored == signedSum
    }

    var size: Int64? { Self.number(sizeField) }
    var mtime: Int64? { Self.number(mtimeField) }

    /// A NUL-terminated text field.
    static func text(_ field: UnsafeRawBufferPointer) -> [UInt8] {
        Array(field.prefix { $0 != 0 })
    }

    /// A numeric field: octal digits (leading spaces, then NUL or space), or GNU base-256 (top bit
    /// of the first byte set; `0xff` first means negative). nil when unreadable or past `Int64`.
    static func number(_ bytes: [UInt8]) -> Int64? {
        guard let first = bytes.first else { return nil }
        if first & 0x80 != 0 {
            var value: Int64 = first == 0xFF ? -1 : Int64(first & 0x7F)
            for b in bytes.dropFirst() {
                guard value <= Int64.max >> 8, value >= Int64.min >> 8 else { return nil }
                value = value << 8 | Int64(b)
            }
            return value
        }
        var i = 0
        while i < bytes.count && bytes[i] == 32 { i += 1 }
        var value: Int64 = 0
        while i < bytes.count, (48...55).contains(bytes[i]) {
            guard value <= Int64.max >> 3 else { return nil }
            value = value << 3 | Int64(bytes[i] - 48)
            i += 1
        }
        while i < bytes.count {
            guard bytes[i] == 0 || bytes[i] == 32 else { return nil }
            i += 1
        }
        return value
    }
}

/// Pax extended header records, `"<length> <key>=<value>\n"`, in order, read with a
/// ``ByteReader`` (`base`: the records' offset in the tar stream). A record set ends at its end or
/// at trailing NUL padding. Throws a ``FormatError``.
func paxRecords(_ data: [UInt8], base: Int64) throws -> [(key: String, value: [UInt8])] {
    let malformed = "expected a record \"<length> <key>=<value>\\n\""
    return try data.withUnsafeBytes { bytes in
        var r = ByteReader(bytes, base: base, truncation: .tarHeader)
        var records: [(key: String, value: [UInt8])] = []
        while !r.isAtEnd {
            if try r.peekBytes(r.remaining, "padding").allSatisfy({ $0 == 0 }) { break }
            let start = r.position
            var length = 0, digits = 0
            var byte = try r.readUInt8("a pax record's length")
            while (48...57).contains(byte) {
                // Longer than the record set: stop before the number can overflow.
                if length > bytes.count { throw r.error(.tarHeader, at: start, "a pax record's length runs past the header; \(malformed)") }
                length = length * 10 + Int(byte - 48)
                digits += 1
                byte = try r.readUInt8("a pax record's length")
            }
            guard digits > 0, byte == 32 else { throw r.error(.tarHeader, at: start, malformed) }
            let consumed = r.position - start
            guard length > consumed + 1 else { throw r.error(.tarHeader, at: start, "a pax record of \(length) bytes is too short; \(malformed)") }
            let body = try r.readBytes(length - consumed, "a pax record of \(length) bytes")
            guard body.last == 10 else { throw r.error(.tarHeader, at: start, "a pax record does not end with a newline; \(malformed)") }
            let record = body.dropLast()
            guard let eq = record.firstIndex(of: UInt8(ascii: "=")), let key = String(bytes: record[..<eq], encoding: .utf8) else {
                throw r.error(.tarHeader, at: start, "a pax record has no UTF-8 key before \"=\"; \(malformed)")
            }
            records.append((key, Array(record[(eq + 1)...])))
        }
        return records
    }
}
