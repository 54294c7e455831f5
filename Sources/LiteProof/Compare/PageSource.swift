/// A database image, page by page: a database file, or a live database's file overlaid with its
/// WAL. Pages are numbered from 1.
public protocol PageSource {
    var pageSize: Int { get }
    /// Database size in pages.
    var pageCount: UInt32 { get }
    /// Copies page `pgno` (1...pageCount) into `buffer` (pageSize bytes).
    func read(page pgno: UInt32, into buffer: UnsafeMutableRawBufferPointer) throws
}

extension PageSource {
    public func page(_ pgno: UInt32) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: pageSize)
        try out.withUnsafeMutableBytes { try read(page: pgno, into: $0) }
        return out
    }
}

/// A database file read as it is (a restored database, a quiesced file).
public final class FilePageSource: PageSource {
    let file: ReadOnlyFile
    public let pageSize: Int
    public let pageCount: UInt32

    public init(path: String) throws {
        file = try ReadOnlyFile(path)
        let header = try file.read(count: DatabaseHeader.size, at: 0)
        guard case .success(let h) = header.withUnsafeBytes({ DatabaseHeader.parse($0) }) else {
            throw LiteProofError(.usage, "\(path) is not a SQLite database")
        }
        pageSize = h.pageSize
        pageCount = UInt32(file.size / Int64(h.pageSize))
    }

    public func read(page pgno: UInt32, into buffer: UnsafeMutableRawBufferPointer) throws {
        let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<pageSize]), at: Int64(pgno - 1) * Int64(pageSize))
        if n < pageSize { (buffer.baseAddress! + n).initializeMemory(as: UInt8.self, repeating: 0, count: pageSize - n) }
    }
}
