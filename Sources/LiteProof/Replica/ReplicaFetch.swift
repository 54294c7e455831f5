import Foundation

/// What a `liteproof fetch` did: the files of the copy, how many were downloaded (and their
/// bytes), how many were already there.
public struct FetchSummary: Sendable {
    public var downloaded = 0
    public var skipped = 0
    public var bytesDownloaded: Int64 = 0
    public var files = 0

    public init(files: Int = 0) { self.files = files }
}

/// A copy of a remote replica into a local folder for offline work: from a bucket
/// (`ObjectFetch`) or from an SFTP server (`SFTPFetch`), driven alike by `liteproof fetch`.
public protocol ReplicaFetch {
    /// Called after each file (done, total).
    var progress: (@Sendable (Int, Int) -> Void)? { get set }
    /// Only these files, and the position they restore to (``limit(to:)``); nil fetches all.
    var only: (files: Set<String>, position: Position)? { get }
    /// Limits the fetch to the files a restore to `position` applies. Returns the plan.
    @discardableResult
    mutating func limit(to position: Position) throws -> RestorePlan
    func run() throws -> FetchSummary
}
