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

    /// Parses the header at the start of `b`. Errors are `snapshot.bad-header` with offsets from
    /// the start of the database image.
    public static func parse(_ b: UnsafeRawBufferPointer) throws(FormatError) -> DatabaseHeader {
        var r = ByteReader(b, truncation: .snapshotHeader)
        guard b.count >= size else {
            throw r.error(.snapshotHeader, at: 0, "a SQLite header needs 100 bytes; found \(b.count)")
        }
        guard try r.readBytes(16, "the magic").elementsEqual(magic) else {
            throw r.error(.snapshotHeader, at: 0, "does not start with \"SQLite format 3\\0\"")
        }
        let raw = UInt32(try r.readUInt16(.big, "the page size"))
        guard let pageSize = validPageSize(raw) else {
            throw r.error(.snapshotHeader, at: 16, "page size field is \(raw); expected a power of two from 512 to 32768, or 1 for 65536")
        }
        try r.seek(to: 24)
        let changeCounter = try r.readUInt32(.big, "the change counter")
        let pageCount = try r.readUInt32(.big, "the page count")
        let freelistTrunk = try r.readUInt32(.big, "the first freelist trunk page")
        let freelistCount = try r.readUInt32(.big, "the freelist page count")
        try r.seek(to: 52)
        let largestRoot = try r.readUInt32(.big, "the largest root page")
        try r.seek(to: 92)
        let versionValidFor = try r.readUInt32(.big, "the version-valid-for number")
        return DatabaseHeader(
            pageSize: pageSize, changeCounter: changeCounter, pageCount: pageCount, versionValidFor: versionValidFor,
            freelistTrunk: freelistTrunk, freelistCount: freelistCount, autoVacuumLargestRoot: largestRoot)
    }
}
