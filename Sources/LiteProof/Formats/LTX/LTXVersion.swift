import CLZ4

/// The LTX format versions. The magic is "LTX1" in all of them; a file's version shows in its
/// structure only. Facts: docs/FORMATS.md ("Older LTX versions"), from the ltx library's history.
enum LTXVersion: Int {
    /// ltx 0.3 and older: 4-byte page headers, raw pages (or, with header flag 0x1, all pages in
    /// one LZ4 frame), no page index.
    case v1 = 1
    /// ltx 0.4: 4-byte page headers, each page one LZ4 frame, a page index.
    case v2 = 2

    static let flagCompressLZ4: UInt32 = 0x1
    static let lz4FrameMagic: [UInt8] = [0x04, 0x22, 0x4D, 0x18]

    var writers: String {
        switch self {
        case .v1: "ltx 0.3 and older: LiteFS, Litestream 0.5.0-beta1"
        case .v2: "ltx 0.4: the Litestream 0.5.0-test.1 and test.2 pre-releases"
        }
    }

    func describe(_ sign: String) -> String {
        "LTX version \(rawValue) (\(sign)), written by \(writers). LiteProof reads version 3 only, as Litestream 0.5.0 and later do: neither LiteProof nor Litestream 0.5.17 can restore this file"
    }

    /// Recognises a version-1 or version-2 file from its first page header (read as version 3's
    /// six bytes), the bytes that follow, and the file's size; nil when it looks like neither.
    static func older(firstPageHeader ph: [UInt8], next: [UInt8], fileSize: Int64, pageSize: Int) -> String? {
        // Version 2: the page's LZ4 frame starts right after a 4-byte page number.
        if ph.count == 6, next.count >= 2, ph[4] == lz4FrameMagic[0], ph[5] == lz4FrameMagic[1], next[0] == lz4FrameMagic[2], next[1] == lz4FrameMagic[3] {
            return v2.describe("4-byte page headers, each page an LZ4 frame")
        }
        // Version 1 uncompressed: header, (4-byte page number + raw page) per page, a 4-byte zero
        // end mark and the trailer, so the size is 100 + n × (4 + pageSize) + 4 + 16.
        let body = fileSize - Int64(LTXHeader.size) - 4 - Int64(LTX.trailerSize)
        if body > 0, body % Int64(4 + pageSize) == 0 {
            return v1.describe("4-byte page headers and uncompressed pages, no page index")
        }
        return nil
    }
}
