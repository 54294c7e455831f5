import Foundation

/// The bytes of a file a download is still writing, as they land. A reader of the file
/// (``ReadOnlyFile/init(arriving:size:arrival:displayName:)``) waits for the bytes it asks for
/// rather than for the whole file, so decoding an object starts with its first part, not after
/// its last one.
///
/// Parts may land in any order; a reader sees only the prefix that has landed without a hole.
/// A download that fails wakes its readers with its failure (bytes that landed before it stay
/// readable: they are the object's).
// @unchecked: every field takes `condition`.
public final class Arrival: @unchecked Sendable {
    private let condition = NSCondition()
    /// The file's first `prefix` bytes have landed.
    private var prefix: Int64 = 0
    /// Ranges that landed past the prefix, by start: (start, end).
    private var beyond: [Int64: Int64] = [:]
    private var failure: Error?

    public init() {}

    /// How many of the file's first bytes have landed, with no hole.
    public var landedPrefix: Int64 {
        condition.lock()
        defer { condition.unlock() }
        return prefix
    }

    /// `range` of the file has landed.
    public func landed(_ range: Range<Int64>) {
        condition.lock()
        defer { condition.unlock() }
        guard !range.isEmpty else { return }
        beyond[range.lowerBound] = max(beyond[range.lowerBound] ?? range.upperBound, range.upperBound)
        let before = prefix
        while let (start, end) = beyond.first(where: { $0.key <= prefix }) {
            beyond[start] = nil
            prefix = max(prefix, end)
        }
        if prefix > before { condition.broadcast() }
    }

    /// The download failed for good: readers waiting, or asking later, for bytes that have not
    /// landed get `error`.
    public func fail(_ error: Error) {
        condition.lock()
        defer { condition.unlock() }
        if failure == nil { failure = error }
        condition.broadcast()
    }

    /// Returns once the file's first `end` bytes have landed; throws the download's failure when
    /// it fails first.
    public func wait(through end: Int64) throws {
        condition.lock()
        defer { condition.unlock() }
        while prefix < end {
            if let failure { throw failure }
            condition.wait()
        }
    }
}
