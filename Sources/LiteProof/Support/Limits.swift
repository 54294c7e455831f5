import Foundation

/// Explicit limits on sizes read from files, checked before anything is allocated or written
/// from them, so a hostile or damaged size field gives a clear finding instead of a huge sparse
/// file, a long stall or an allocation failure.
public enum Limits {
    /// The largest database LiteProof will restore or accept in a header (default 4 TiB;
    /// `LITEPROOF_MAX_DATABASE_BYTES` overrides, e.g. `64T`).
    public static let maxDatabaseBytes: Int64 = {
        if let text = ProcessInfo.processInfo.environment["LITEPROOF_MAX_DATABASE_BYTES"], let v = parseBytes(text) { return v }
        return 4 << 40
    }()

    static func parseBytes(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int64)] = [("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            return Int64(t.dropLast()).map { $0 * scale }
        }
        return Int64(t)
    }

    /// The most pages a database of `pageSize` may have under ``maxDatabaseBytes``.
    public static func maxPages(pageSize: Int) -> UInt32 {
        UInt32(clamping: maxDatabaseBytes / Int64(pageSize))
    }
}
