import Foundation

/// Explicit limits on sizes read from files, checked before anything is allocated or written
/// from them, so a hostile or damaged size field gives a clear finding instead of a huge sparse
/// file, a long stall or an allocation failure.
public enum Limits {
    /// Environment variable overriding ``maxDatabaseBytes`` (a byte count, see ``parseBytes(_:)``).
    public static let databaseLimitVariable = "LITEPROOF_MAX_DATABASE_BYTES"

    /// The largest database LiteProof will restore or accept in a header (default 4 TiB;
    /// `LITEPROOF_MAX_DATABASE_BYTES` overrides, e.g. `64T`; a value that is not a byte count is
    /// ignored).
    public static let maxDatabaseBytes: Int64 = {
        if let text = ProcessInfo.processInfo.environment[databaseLimitVariable], let v = parseBytes(text) { return v }
        return 4 << 40
    }()

    /// A byte count: decimal digits, optionally followed by a binary unit K, M, G, T, P or E
    /// (case-insensitive, optionally followed by `B` or `iB`: `64G`, `500MiB`, `12g`). nil when it
    /// is not one or when its value does not fit in `Int64` (`16E`): every step is checked for
    /// overflow.
    public static func parseBytes(_ text: String) -> Int64? {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces).uppercased())
        if digits.hasSuffix("IB") {
            digits.removeLast(2)
        } else if digits.hasSuffix("B") {
            digits.removeLast()
        }
        var shift = 0
        if let unit = digits.last, let s = ["K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60][String(unit)] {
            shift = s
            digits.removeLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        var value: Int64 = 0
        for d in digits.utf8 {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(d - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = sum
        }
        guard value <= Int64.max >> shift else { return nil }
        return value << shift
    }

    /// The most pages a database of `pageSize` may have under ``maxDatabaseBytes``.
    public static func maxPages(pageSize: Int) -> UInt32 {
        UInt32(clamping: maxDatabaseBytes / Int64(pageSize))
    }
}
