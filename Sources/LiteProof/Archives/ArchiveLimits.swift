import Foundation

/// Limits an archive must stay within; anything past one refuses the archive.
public struct ArchiveLimits: Sendable {
    /// Members (files and folders; extended headers not counted).
    public var maxMembers = 1_000_000
    /// Size one member may claim.
    public var maxMemberSize: Int64 = 1 << 40
    /// Bytes a `.tar.zst` may decompress to (its whole tar stream), and that its members may total.
    public var maxExtractBytes: Int64 = 64 << 30
    /// Free space to leave on the scratch folder's file system after extracting a member.
    public var minFreeBytes: Int64 = 64 << 20
    /// Size of one extended header (pax record set, GNU long name), read into memory.
    public var maxMetadataSize = 1 << 20

    public init() {}

    /// Environment variable overriding ``maxExtractBytes``: a byte count (``Limits/parseBytes(_:)``).
    public static let extractLimitVariable = "LITEPROOF_MAX_EXTRACT_BYTES"

    /// The defaults, with ``maxExtractBytes`` taken from `LITEPROOF_MAX_EXTRACT_BYTES` when set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> ArchiveLimits
    {
        var limits = ArchiveLimits()
        if let text = environment[extractLimitVariable], !text.isEmpty {
            guard let value = Limits.parseBytes(text) else {
                throw LiteProofError(
                    .usage, "\(extractLimitVariable)=\(text) is not a byte count (e.g. 68719476736, 64G or 500M)")
            }
            limits.maxExtractBytes = value
        }
        return limits
    }
}
