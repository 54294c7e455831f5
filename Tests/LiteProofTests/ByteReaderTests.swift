import LiteProof
import Testing

@Suite struct ByteReaderTests {
    let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A]

    @Test func readsStateTheirByteOrder() throws {
        try ByteReader.reading(bytes, truncation: .ltxTruncated) { (r: inout ByteReader) throws in
            #expect(try r.readUInt16(.big) == 0x0102)
            #expect(try r.readUInt16(.little) == 0x0403)
            #expect(try r.readUInt32(.big) == 0x0506_0708)
            #expect(r.position == 8)
            #expect(try r.readUInt8() == 0x09)
            #expect(r.remaining == 1)
        }
        try ByteReader.reading(bytes, truncation: .ltxTruncated) { (r: inout ByteReader) throws in
            #expect(try r.readUInt64(.big) == 0x0102_0304_0506_0708)
            #expect(try r.readBytes(2, "the tail").elementsEqual([0x09, 0x0A]))
            #expect(r.isAtEnd)
        }
    }

    @Test func readingPastTheEndThrowsWithTheAbsoluteOffset() throws {
        var caught: FormatError?
        do {
            try ByteReader.reading(bytes, base: 1000, file: "x.ltx", truncation: .ltxTruncated) { (r: inout ByteReader) throws in
                try r.skip(8)
                _ = try r.readUInt32(.big, "the page size")
            }
        } catch { caught = error as? FormatError }
        let e = try #require(caught)
        #expect(e.code == .ltxTruncated)
        #expect(e.file == "x.ltx")
        #expect(e.offset == 1010)  // where the data ends
        #expect(e.message.contains("the page size"))
        #expect(e.message.contains("offset 1008"))
        #expect(e.finding.description.hasPrefix("error ltx.truncated x.ltx @1010:"))
    }

    @Test func aFailedReadDoesNotMoveTheCursor() throws {
        try ByteReader.reading(bytes, truncation: .walHeader) { (r: inout ByteReader) throws in
            try r.skip(7)
            #expect(throws: FormatError.self) { try r.readUInt64(.little) }
            #expect(r.position == 7)
            #expect(throws: FormatError.self) { try r.readBytes(-1, "a negative count") }
            #expect(throws: FormatError.self) { try r.seek(to: 11) }
            try r.seek(to: 10)
            #expect(r.isAtEnd)
            #expect(throws: FormatError.self) { try r.readUInt8() }
        }
    }

    @Test func validationErrorsCarryAbsoluteOffsets() throws {
        try ByteReader.reading(bytes, base: 32, truncation: .walPartialFrame) { (r: inout ByteReader) throws in
            let e = r.error(.walBadFrame, at: 4, "frame names page 0")
            #expect(e.offset == 36 && e.code == .walBadFrame && e.file == nil)
            #expect(e.located(in: "a.wal").file == "a.wal")
            #expect(e.located(in: "a.wal").located(in: "b.wal").file == "a.wal")
        }
    }

    @Test func varints() throws {
        try ByteReader.reading([0xAC, 0x02, 0x00, 0x80], base: 5, truncation: .ltxPageIndex) { (r: inout ByteReader) throws in
            #expect(try r.readUVarint(.ltxPageIndex) == 300)
            #expect(try r.readUVarint(.ltxPageIndex) == 0)
            #expect(throws: FormatError(.ltxPageIndex, offset: 9, "the data ends at 9 bytes inside a varint")) {
                try r.readUVarint(.ltxPageIndex)
            }
        }
        let overlong = [UInt8](repeating: 0xFF, count: 10) + [0x01]
        try ByteReader.reading(overlong, truncation: .ltxTruncated) { (r: inout ByteReader) throws in
            #expect(throws: FormatError(.ltxPageIndex, offset: 0, "a varint overflows 64 bits")) { try r.readUVarint(.ltxPageIndex) }
        }
    }
}
