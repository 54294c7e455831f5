/// A database image, page by page: a database file, or a live database's file overlaid with its
/// WAL. Pages are numbered from 1.
public protocol PageSource {
    var pageSize: Int { get }
    /// Database size in pages.
    var pageCount: UInt32 { get }
    /// Copies page `pgno` (1...pageCount) into `buffer` (pageSize bytes).
    func read(page pgno: UInt32, into buffer: UnsafeMutableRawBufferPointer) throws
    /// Copies `count` pages from `first` into `buffer` (count × pageSize bytes).
    func read(pages first: UInt32, count: Int, into buffer: UnsafeMutableRawBufferPointer) throws
}

extension PageSource {
    public func read(pages first: UInt32, count: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        for i in 0..<count {
            try read(page: first + UInt32(i), into: UnsafeMutableRawBufferPointer(rebasing: buffer[(i * pageSize)..<((i + 1) * pageSize)]))
        }
    }

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
        guard let h = try? header.withUnsafeBytes({ try DatabaseHeader.parse($0) }) else {
            throw LiteProofError(.usage, "\(path) is not a SQLite database")
        }
        pageSize = h.pageSize
        pageCount = UInt32(file.size / Int64(h.pageSize))
    }

    public func read(page pgno: UInt32, into buffer: UnsafeMutableRawBufferPointer) throws {
        try read(pages: pgno, count: 1, into: buffer)
    }

    /// One `pread` for the whole run.
    public func read(pages first: UInt32, count: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        let want = count * pageSize
        let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: Int64(first - 1) * Int64(pageSize))
        if n < want { (buffer.baseAddress! + n).initializeMemory(as: UInt8.self, repeating: 0, count: want - n) }
    }
}
