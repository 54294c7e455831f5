/// Reads SQLite b-trees from a ``PageSource`` with LiteProof's own code: which object owns each
/// page, the rows of small tables (the schema, canaries), and the rowids of tables.
/// Facts: https://www.sqlite.org/fileformat2.html — every structure is bounds-checked, and
/// cycles are refused, so a damaged image gives an error, never a crash or a hang.
public final class BTreeReader {
    public struct SchemaEntry: Sendable, Codable, Hashable {
        public var type: String
        public var name: String
        public var tableName: String
        public var rootPage: UInt32
        public var sql: String?
        /// True for `WITHOUT ROWID` tables (stored as index b-trees).
        public var withoutRowid: Bool { type == "table" && (sql?.uppercased().contains("WITHOUT ROWID") ?? false) }
    }

    /// What a page is for.
    public enum Owner: Hashable, Sendable, Codable, CustomStringConvertible {
        case object(type: String, name: String)
        case overflow(type: String, name: String)
        case freelistTrunk
        case freelistLeaf
        case pointerMap
        case lockPage
        case unused

        public var description: String {
            switch self {
            case .object(let t, let n): return "\(t) \(n)"
            case .overflow(let t, let n): return "\(t) \(n) (overflow)"
            case .freelistTrunk: return "freelist (trunk)"
            case .freelistLeaf: return "freelist (leaf)"
            case .pointerMap: return "pointer map"
            case .lockPage: return "lock page"
            case .unused: return "not in use"
            }
        }
    }

    let source: PageSource
    let usable: Int
    let header: DatabaseHeader
    var buffer: [UInt8]

    public init(_ source: PageSource) throws {
        self.source = source
        buffer = [UInt8](repeating: 0, count: source.pageSize)
        guard source.pageCount >= 1 else { throw BTreeError("the database has no pages") }
        let p1 = try source.page(1)
        guard case .success(let h) = p1.withUnsafeBytes({ DatabaseHeader.parse($0) }) else {
            throw BTreeError("page 1 has no valid SQLite header")
        }
        header = h
        usable = source.pageSize - Int(p1[20])
        guard usable >= 480 else { throw BTreeError("usable page size \(usable) is too small") }
    }

    // MARK: pages and cells

    struct Page {
        var pgno: UInt32
        var bytes: [UInt8]
        var type: UInt8
        var headerOffset: Int
        var cellCount: Int
        var rightChild: UInt32?

        var isLeaf: Bool { type == 0x0A || type == 0x0D }
        var isTable: Bool { type == 0x05 || type == 0x0D }

        func cellOffset(_ i: Int) throws -> Int {
            let at = headerOffset + (isLeaf ? 8 : 12) + 2 * i
            guard at + 2 <= bytes.count else { throw BTreeError("cell pointer \(i) of page \(pgno) is outside the page") }
            let off = Int(bytes[at]) << 8 | Int(bytes[at + 1])
            guard off < bytes.count else { throw BTreeError("cell \(i) of page \(pgno) points outside the page") }
            return off
        }
    }

    func loadPage(_ pgno: UInt32) throws -> Page {
        guard pgno >= 1, pgno <= source.pageCount else { throw BTreeError("page \(pgno) is beyond the database's \(source.pageCount) pages") }
        let bytes = try source.page(pgno)
        let h = pgno == 1 ? 100 : 0
        let type = bytes[h]
        guard [0x02, 0x05, 0x0A, 0x0D].contains(type) else { throw BTreeError("page \(pgno) is not a b-tree page (type byte \(type))") }
        let count = Int(bytes[h + 3]) << 8 | Int(bytes[h + 4])
        var right: UInt32?
        if type == 0x02 || type == 0x05 { right = bytes.u32BE(at: h + 8) }
        return Page(pgno: pgno, bytes: bytes, type: type, headerOffset: h, cellCount: count, rightChild: right)
    }

    static func varint(_ b: [UInt8], _ at: inout Int) throws -> Int64 {
        var v: UInt64 = 0
        for i in 0..<9 {
            guard at < b.count else { throw BTreeError("varint runs off the page") }
            let byte = b[at]
            at += 1
            if i == 8 { return Int64(bitPattern: (v << 8) | UInt64(byte)) }
            v = (v << 7) | UInt64(byte & 0x7F)
            if byte < 0x80 { return Int64(bitPattern: v) }
        }
        return Int64(bitPattern: v)
    }

    /// Bytes of payload stored on the page for a payload of `p` bytes.
    func localSize(_ p: Int, table: Bool) -> Int {
        let x = table ? usable - 35 : ((usable - 12) * 64 / 255) - 23
        if p <= x { return p }
        let m = ((usable - 12) * 32 / 255) - 23
        let k = m + (p - m) % (usable - 4)
        return k <= x ? k : m
    }

    struct Cell {
        var leftChild: UInt32?
        var rowid: Int64?
        var payloadSize: Int
        var localStart: Int
        var localCount: Int
        var overflow: UInt32?
    }

    func cell(_ page: Page, _ i: Int) throws -> Cell {
        var at = try page.cellOffset(i)
        let b = page.bytes
        var c = Cell(payloadSize: 0, localStart: 0, localCount: 0)
        if !page.isLeaf {
            guard at + 4 <= b.count else { throw BTreeError("cell \(i) of page \(page.pgno) runs off the page") }
            c.leftChild = b.u32BE(at: at)
            at += 4
        }
        if page.type == 0x05 {
            c.rowid = try Self.varint(b, &at)
            return c
        }
        let size = try Self.varint(b, &at)
        guard size >= 0, size < Int64(1) << 31 else { throw BTreeError("cell \(i) of page \(page.pgno) has payload size \(size)") }
        c.payloadSize = Int(size)
        if page.type == 0x0D { c.rowid = try Self.varint(b, &at) }
        c.localStart = at
        c.localCount = localSize(c.payloadSize, table: page.isTable)
        guard at + c.localCount <= b.count else { throw BTreeError("cell \(i) of page \(page.pgno) runs off the page") }
        if c.localCount < c.payloadSize {
            guard at + c.localCount + 4 <= b.count else { throw BTreeError("cell \(i) of page \(page.pgno) runs off the page") }
            c.overflow = b.u32BE(at: at + c.localCount)
        }
        return c
    }

    /// The whole payload of a cell, following its overflow chain.
    func payload(_ page: Page, _ c: Cell) throws -> [UInt8] {
        var out = Array(page.bytes[c.localStart..<(c.localStart + c.localCount)])
        var next = c.overflow
        var guardCount = 0
        while out.count < c.payloadSize, let pgno = next, pgno != 0 {
            guardCount += 1
            guard guardCount <= Int(source.pageCount) else { throw BTreeError("overflow chain loops") }
            let ov = try source.page(pgno)
            let take = min(usable - 4, c.payloadSize - out.count)
            out += ov[4..<(4 + take)]
            next = ov.u32BE(at: 0)
        }
        guard out.count == c.payloadSize else { throw BTreeError("overflow chain ends early (\(out.count) of \(c.payloadSize) bytes)") }
        return out
    }

    /// Visits every cell of the b-tree rooted at `root` (leaf cells and, for index b-trees, the
    /// interior cells that carry keys), and every page the tree uses.
    func walk(
        _ root: UInt32, visitPage: (UInt32, _ isOverflow: Bool) throws -> Void = { _, _ in },
        visitCell: (Page, Cell) throws -> Void = { _, _ in }
    ) throws {
        var stack: [UInt32] = [root]
        var seen = Set<UInt32>()
        while let pgno = stack.popLast() {
            guard seen.insert(pgno).inserted else { throw BTreeError("page \(pgno) is reached twice in the b-tree rooted at \(root)") }
            let page = try loadPage(pgno)
            try visitPage(pgno, false)
            for i in 0..<page.cellCount {
                let c = try cell(page, i)
                if let l = c.leftChild { stack.append(l) }
                if page.isLeaf || !page.isTable {
                    try visitCell(page, c)
                    var next = c.overflow
                    var n = 0
                    while let ov = next, ov != 0 {
                        n += 1
                        guard n <= Int(source.pageCount), ov <= source.pageCount else { throw BTreeError("overflow chain from page \(pgno) is broken") }
                        try visitPage(ov, true)
                        next = try source.page(ov).u32BE(at: 0)
                    }
                }
            }
            if let r = page.rightChild { stack.append(r) }
        }
    }

    // MARK: records

    /// Decodes a SQLite record into values.
    static func record(_ b: [UInt8]) throws -> [SQLiteDatabase.Value] {
        var at = 0
        let headerSize = Int(try varint(b, &at))
        guard headerSize >= 1, headerSize <= b.count else { throw BTreeError("record header size \(headerSize) is invalid") }
        var types: [Int64] = []
        while at < headerSize { types.append(try varint(b, &at)) }
        var pos = headerSize
        var out: [SQLiteDatabase.Value] = []
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, pos + n <= b.count else { throw BTreeError("record value runs past the payload") }
            defer { pos += n }
            return b[pos..<(pos + n)]
        }
        for t in types {
            switch t {
            case 0: out.append(.null)
            case 1, 2, 3, 4, 5, 6:
                let n = [1, 2, 3, 4, 6, 8][Int(t) - 1]
                let bytes = try take(n)
                var v = Int64(Int8(bitPattern: bytes.first!))
                for x in bytes.dropFirst() { v = (v << 8) | Int64(x) }
                out.append(.integer(v))
            case 7:
                let bytes = try take(8)
                out.append(.real(Double(bitPattern: bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
            case 8: out.append(.integer(0))
            case 9: out.append(.integer(1))
            case let t where t >= 12 && t % 2 == 0: out.append(.blob(Array(try take(Int((t - 12) / 2)))))
            case let t where t >= 13: out.append(.text(String(decoding: try take(Int((t - 13) / 2)), as: UTF8.self)))
            default: throw BTreeError("record has reserved serial type \(t)")
            }
        }
        return out
    }

    // MARK: queries

    /// The rows of `sqlite_schema`.
    public func schema() throws -> [SchemaEntry] {
        var out: [SchemaEntry] = []
        try walk(
            1,
            visitCell: { page, c in
                let v = try Self.record(try payload(page, c))
                guard v.count >= 4 else { return }
                func text(_ i: Int) -> String? { if case .text(let s) = v[i] { return s } else { return nil } }
                var root: UInt32 = 0
                if case .integer(let r) = v[3], r > 0, r <= Int64(UInt32.max) { root = UInt32(r) }
                out.append(SchemaEntry(type: text(0) ?? "", name: text(1) ?? "", tableName: text(2) ?? "", rootPage: root, sql: v.count > 4 ? text(4) : nil))
            })
        return out
    }

    /// Rows of a rowid table: (rowid, values) — for small tables.
    public func rows(ofTable entry: SchemaEntry) throws -> [(Int64, [SQLiteDatabase.Value])] {
        var out: [(Int64, [SQLiteDatabase.Value])] = []
        try walk(
            entry.rootPage,
            visitCell: { page, c in
                guard let rowid = c.rowid else { return }
                out.append((rowid, try Self.record(try payload(page, c))))
            })
        return out.sorted { $0.0 < $1.0 }
    }

    /// Rowids of a rowid table (sorted), or the entry count of an index / WITHOUT ROWID table.
    public func keys(of entry: SchemaEntry) throws -> (rowids: [Int64]?, count: Int) {
        var rowids: [Int64] = []
        var count = 0
        try walk(
            entry.rootPage,
            visitCell: { _, c in
                count += 1
                if let r = c.rowid { rowids.append(r) }
            })
        let isRowidTable = entry.type == "table" && !entry.withoutRowid
        return (isRowidTable ? rowids.sorted() : nil, count)
    }

    /// The owner of every page (index 0 unused).
    public func owners() throws -> [Owner] {
        let n = Int(source.pageCount)
        var owners = [Owner](repeating: .unused, count: n + 1)
        let lock = LTX.lockPage(pageSize: source.pageSize)
        if lock <= source.pageCount { owners[Int(lock)] = .lockPage }
        var objects = [SchemaEntry(type: "table", name: "sqlite_schema", tableName: "sqlite_schema", rootPage: 1, sql: nil)]
        objects += try schema().filter { $0.rootPage > 0 }
        for o in objects {
            try walk(
                o.rootPage,
                visitPage: { pgno, overflow in
                    owners[Int(pgno)] = overflow ? .overflow(type: o.type, name: o.name) : .object(type: o.type, name: o.name)
                })
        }
        // Freelist.
        var trunk = header.freelistTrunk
        var hops = 0
        while trunk != 0 && trunk <= source.pageCount {
            hops += 1
            guard hops <= n else { throw BTreeError("freelist loops") }
            owners[Int(trunk)] = .freelistTrunk
            let t = try source.page(trunk)
            let leaves = Int(t.u32BE(at: 4))
            guard leaves <= (usable - 8) / 4 else { throw BTreeError("freelist trunk \(trunk) lists \(leaves) leaves") }
            for i in 0..<leaves {
                let leaf = t.u32BE(at: 8 + 4 * i)
                if leaf >= 1 && leaf <= source.pageCount { owners[Int(leaf)] = .freelistLeaf }
            }
            trunk = t.u32BE(at: 0)
        }
        // Pointer-map pages (auto-vacuum databases).
        if header.autoVacuumLargestRoot != 0 {
            let step = usable / 5 + 1
            var p = 2
            while p <= n {
                owners[p] = .pointerMap
                p += step
            }
        }
        return owners
    }
}

public struct BTreeError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
