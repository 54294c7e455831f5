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
