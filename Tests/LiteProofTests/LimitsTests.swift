import Testing

@testable import LiteProof

/// The one byte-count parser behind LITEPROOF_MAX_DATABASE_BYTES and LITEPROOF_MAX_EXTRACT_BYTES.
@Suite struct LimitsTests {
    static let counts: [(String, Int64)] = [
        ("0", 0), ("1048576", 1 << 20), ("4T", 4 << 40), ("12g", 12 << 30), ("500M", 500 << 20), ("64GiB", 64 << 30),
        ("2kb", 2048), (" 7E ", 7 << 60), ("8191P", 8191 << 50), ("9223372036854775807", Int64.max),
    ]

    @Test(arguments: counts)
    func parsesByteCounts(text: String, value: Int64) {
        #expect(Limits.parseBytes(text) == value)
    }

    /// Past `Int64` — in the digits or through the unit — and anything not a count is nil.
    @Test(arguments: ["16E", "8E", "8192P", "9223372036854775808", "99999999999999999999999", "-1", "", "G", "1.5G", "12 G", "lots", "4X"])
    func refusesOverflowAndGarbage(text: String) {
        #expect(Limits.parseBytes(text) == nil)
    }

    @Test func archiveLimitUsesTheSameParser() throws {
        #expect(try ArchiveLimits.fromEnvironment(["LITEPROOF_MAX_EXTRACT_BYTES": "4T"]).maxExtractBytes == 4 << 40)
        #expect(throws: LiteProofError.self) { try ArchiveLimits.fromEnvironment(["LITEPROOF_MAX_EXTRACT_BYTES": "16E"]) }
    }
}
