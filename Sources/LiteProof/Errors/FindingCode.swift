/// Stable identifiers of findings. Listed in docs/REFERENCE.md; never renamed.
public struct FindingCode: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    // Files and layout
    public static let layoutStray: FindingCode = "layout.stray-file"
    /// Retired: a file the store cannot produce is a storage failure (``StorageFailure``), not a
    /// finding. Kept so older reports still decode.
    public static let fileUnreadable: FindingCode = "file.unreadable"
    /// `watch`: a file verified in an earlier round is listed with another size or time under
    /// the same name (Litestream never rewrites a file in place).
    public static let fileChanged: FindingCode = "file.changed"

    // LZ4 frames
    public static let lz4Header: FindingCode = "lz4.bad-frame"
    public static let lz4Data: FindingCode = "lz4.corrupt-data"
    public static let lz4ContentChecksum: FindingCode = "lz4.content-checksum"
    public static let lz4Truncated: FindingCode = "lz4.truncated"
    public static let lz4TrailingData: FindingCode = "lz4.trailing-data"

    // SQLite database images (snapshots)
    public static let snapshotHeader: FindingCode = "snapshot.bad-header"
    public static let snapshotSize: FindingCode = "snapshot.size-mismatch"

    // SQLite WAL
    public static let walHeader: FindingCode = "wal.bad-header"
    public static let walHeaderChecksum: FindingCode = "wal.header-checksum"
    public static let walSaltMismatch: FindingCode = "wal.salt-mismatch"
    public static let walChecksumMismatch: FindingCode = "wal.checksum-mismatch"
    public static let walPartialFrame: FindingCode = "wal.partial-frame"
    public static let walUncommittedTail: FindingCode = "wal.uncommitted-tail"
    public static let walPageSize: FindingCode = "wal.page-size-mismatch"
    public static let walBadFrame: FindingCode = "wal.bad-frame"

    // LTX
    public static let ltxHeader: FindingCode = "ltx.bad-header"
    public static let ltxPageHeader: FindingCode = "ltx.bad-page-header"
    public static let ltxPageOrder: FindingCode = "ltx.page-order"
    public static let ltxPageData: FindingCode = "ltx.bad-page-data"
    public static let ltxPageIndex: FindingCode = "ltx.bad-page-index"
    public static let ltxTrailer: FindingCode = "ltx.bad-trailer"
    public static let ltxFileChecksum: FindingCode = "ltx.file-checksum"
    public static let ltxTruncated: FindingCode = "ltx.truncated"
    public static let ltxNameMismatch: FindingCode = "ltx.name-mismatch"
    public static let ltxCommit: FindingCode = "ltx.bad-commit"
    public static let ltxPageSize: FindingCode = "ltx.page-size-mismatch"
    /// An LTX file of an older format version (1 or 2), recognised by its structure.
    public static let ltxVersion: FindingCode = "ltx.unsupported-version"
    /// A file LiteProof reads but a Litestream version refuses (the message names both).
    public static let ltxLitestreamIncompatible: FindingCode = "ltx.litestream-incompatible"

    // The chain of files
    public static let chainGap: FindingCode = "chain.gap"
    public static let chainOverlap: FindingCode = "chain.overlap"
    public static let chainMissingIndex: FindingCode = "chain.missing-index"
    public static let chainNoSnapshot: FindingCode = "chain.no-snapshot"
    public static let chainMissingInitialSegment: FindingCode = "chain.missing-initial-segment"
    public static let chainEmpty: FindingCode = "chain.empty"
    public static let timeUntrusted: FindingCode = "time.untrusted"
    /// The manifest of `liteproof fetch` (its trusted times) was ignored, in whole or for some files.
    public static let manifestIgnored: FindingCode = "fetch.manifest-ignored"
    /// 0.3: file times and WAL headers disagree on which generation is the newest.
    public static let generationOrder: FindingCode = "generation.order-conflict"
    /// 0.3: neither file times nor WAL headers tell which generation is the newest.
    public static let generationAmbiguous: FindingCode = "generation.ambiguous"

    // The trial restore
    public static let restoreIntegrity: FindingCode = "restore.integrity-check"

    // `watch`'s deep checks and canary round trips
    /// The latest position restores, but matches no state of the live database.
    public static let compareDiffers: FindingCode = "compare.differs"
    /// A canary the watcher wrote to the live database is not in the replica within the time allowed.
    public static let canaryLate: FindingCode = "canary.late"

    // Inputs other than the replica (a digest file): parse errors only, never a finding in a report
    public static let digestFormat: FindingCode = "digest.bad-format"
}
