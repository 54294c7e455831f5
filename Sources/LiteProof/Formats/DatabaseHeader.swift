/// The first 100 bytes of a SQLite database file, as far as LiteProof needs them.
/// Facts: https://www.sqlite.org/fileformat2.html#the_database_header
public struct DatabaseHeader: Equatable, Sendable {
    public static let size = 100
    public static let magic = Array("SQLite format 3\0".utf8)

    public var pageSize: Int
    public var changeCounter: UInt32
    /// Page count from offset 28; trusted only when `versionValidFor == changeCounter`.
    public var pageCount: UInt32
    public var versionValidFor: UInt32
    public var freelistTrunk: UInt32
    public var freelistCount: UInt32
    public var autoVacuumLargestRoot: UInt32

    public var pageCountIsValid: Bool { versionValidFor == changeCounter && pageCount > 0 }

    public static func parse(_ b: UnsafeRawBufferPointer) -> Result<DatabaseHeader, WALHeaderProblem> {
        guard b.count >= size else {
            return .failure(.init(code: .snapshotHeader, "a SQLite header needs 100 bytes; found \(b.count)"))
        }
        guard Array(b[0..<16]) == magic else {
            return .failure(.init(code: .snapshotHeader, "does not start with \"SQLite format 3\\0\""))
        }
        let raw = UInt32(b.u16BE(at: 16))
        guard let pageSize = validPageSize(raw) else {
            return .failure(.init(code: .snapshotHeader, offset: 16, "page size field is \(raw); expected a power of two from 512 to 32768, or 1 for 65536"))
        }
        return .success(
            DatabaseHeader(
                pageSize: pageSize, changeCounter: b.u32BE(at: 24), pageCount: b.u32BE(at: 28),
                versionValidFor: b.u32BE(at: 92), freelistTrunk: b.u32BE(at: 32), freelistCount: b.u32BE(at: 36),
                autoVacuumLargestRoot: b.u32BE(at: 52)))
    }
}
