import Foundation
import Testing

@testable import LiteProof

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile archives: written by Python's `tarfile` or byte by byte (``RawTar``), truncated, bombs;
/// each is refused with its reason and writes nothing outside its scratch folder.
extension ArchiveTests {
    /// Archives written by Python's tarfile (a real writer) that point outside or are not files.
    @Test(arguments: [
        ("absolute", "absolute path"), ("dotdot", "\"..\" component"), ("symlink", "symbolic link"),
        ("hardlink", "hard link"), ("chardev", "character device"), ("blockdev", "block device"), ("fifo", "FIFO"),
    ])
    func pythonMadeHostileArchivesAreRefused(kind: String, reason: String) throws {
        let dir = try rigTempDir("evil")
        let sentinel = "/tmp/liteproof-evil-\(UInt64.random(in: 0...UInt64.max))"
        let tar = dir + "/evil.tar"
        let script = """
            import io, sys, tarfile
            kind, out, sentinel = sys.argv[1:4]
            with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
                def add(name, type, data=b"", link=""):
                    ti = tarfile.TarInfo(name)
                    ti.type, ti.size, ti.linkname, ti.mtime = type, len(data), link, 1700000000
                    t.addfile(ti, io.BytesIO(data) if data else None)
                add("generations/1f36b0de0c49a751/snapshots/00000000.snapshot.lz4", tarfile.REGTYPE, b"fine")
                if kind == "absolute": add(sentinel, tarfile.REGTYPE, b"evil")
                if kind == "dotdot": add("generations/../../../../../../../.." + sentinel, tarfile.REGTYPE, b"evil")
                if kind == "symlink":
                    add("ltx", tarfile.SYMTYPE, link=sentinel)
                    add("ltx/x", tarfile.REGTYPE, b"evil")
                if kind == "hardlink": add("ltx", tarfile.LNKTYPE, link=sentinel)
                if kind == "chardev": add("dev", tarfile.CHRTYPE)
                if kind == "blockdev": add("dev", tarfile.BLKTYPE)
                if kind == "fifo": add("fifo", tarfile.FIFOTYPE)
            """
        try run("python3", ["-c", script, kind, tar, sentinel])
        try expectRefused(tar, reason: reason, sentinel: sentinel)
    }

    /// Malformed archives, byte by byte.
    @Test(arguments: HostileCase.allCases)
    func malformedArchivesAreRefused(hostile: HostileCase) throws {
        let sentinel = "/tmp/liteproof-evil-\(UInt64.random(in: 0...UInt64.max))"
        let dir = try rigTempDir("evil")
        let tar = dir + "/evil.tar"
        let fine = "generations/1f36b0de0c49a751/snapshots/00000000.snapshot.lz4"
        var raw = RawTar()
        var limits = ArchiveLimits()
        var zstdReason: String?
        raw.file(fine, Array("fine".utf8))
        switch hostile {
        case .sizePastTheArchive:
            raw.header(name: "generations/x", size: 10_000)
            raw.append(Array(repeating: 0, count: 512))
            raw.end()
            zstdReason = "truncated"
        case .badChecksum:
            raw.header(name: "generations/x", size: 0, checksumDelta: 1)
            raw.end()
        case .absurdSize:
            var field = [UInt8](repeating: 0, count: 12)
            field[0] = 0x80
            field[6] = 0x02  // 2^41 bytes = 2 TiB, base-256
            raw.header(name: "generations/x", size: 0, sizeField: field)
            raw.end()
        case .tooManyMembers:
            limits.maxMembers = 3
            for i in 0..<4 { raw.file("generations/f\(i)", []) }
            raw.end()
        case .nulInPaxPath:
            raw.pax([("path", Array("generations/a".utf8) + [0] + Array(sentinel.utf8))])
            raw.file("generations/placeholder", [1])
            raw.end()
        case .nulInGNULongName:
            raw.gnuLongName(Array("generations/".utf8) + [0] + Array(sentinel.utf8) + [0])
            raw.file("generations/placeholder", [1])
            raw.end()
        case .duplicateNames:
            raw.file("generations/same", [1])
            raw.file("./generations/same", [2])
            raw.end()
        case .fileInsideAFile:
            raw.file("generations/a", [1])
            raw.file("generations/a/b", [2])
            raw.end()
        case .paxAbsolutePath:
            raw.pax([("path", Array(sentinel.utf8))])
            raw.file("generations/placeholder", Array("evil".utf8))
            raw.end()
        case .noEndMarker:
            raw.file("generations/y", [1])
        case .truncatedMember:
            raw.header(name: "generations/x", size: 5000)
            raw.append(Array(repeating: 9, count: 1024))
        case .dataAfterLoneZeroBlock:
            raw.append(Array(repeating: 0, count: 512))
            raw.file("generations/hidden", [1])
            raw.end()
        case .sparse:
            raw.header(name: "generations/x", size: 0, type: UInt8(ascii: "S"))
            raw.end()
        case .hugePaxHeader:
            raw.header(name: "././@PaxHeader", size: 2 << 20, type: UInt8(ascii: "x"))
            raw.append(Array(repeating: 0x20, count: 2 << 20))
            raw.end()
        }
        try write(raw.bytes, to: tar)
        try expectRefused(tar, reason: hostile.reason, sentinel: sentinel, limits: limits, zstdReason: zstdReason)
    }

    enum HostileCase: String, CaseIterable, CustomTestStringConvertible {
        case sizePastTheArchive, badChecksum, absurdSize, tooManyMembers, nulInPaxPath, nulInGNULongName
        case duplicateNames, fileInsideAFile, paxAbsolutePath, noEndMarker, truncatedMember, dataAfterLoneZeroBlock
        case sparse, hugePaxHeader

        var reason: String {
            switch self {
            case .sizePastTheArchive: "larger than the"
            case .badChecksum: "bad header checksum"
            case .absurdSize: "more than the 1.0 TiB"
            case .tooManyMembers: "more than 3 members"
            case .nulInPaxPath, .nulInGNULongName: "NUL byte"
            case .duplicateNames: "duplicate member names"
            case .fileInsideAFile: "which is a file member"
            case .paxAbsolutePath: "absolute path"
            case .noEndMarker: "truncated"
            case .truncatedMember: "truncated"
            case .dataAfterLoneZeroBlock: "lone zero block"
            case .sparse: "sparse"
            case .hugePaxHeader: "extended header of"
            }
        }

        var testDescription: String { rawValue }
    }

    @Test(arguments: ["0.3", "0.5"])
    func truncatedArchivesAreRefused(version: String) throws {
        for form in [Form.tarOfContents, .zstOfContents] {
            let archive = try makeArchive(of: Fixtures.example(version).replica, form)
            let whole = try bytes(of: archive)
            let size = whole.count
            // For the .tar: also right after the last member's data (end-of-archive marker gone);
            // cuts inside the trailing zero padding leave a complete archive.
            let dataEnd = ((whole.lastIndex { $0 != 0 } ?? 0) + 512) / 512 * 512
            let cuts = form == .tarOfContents ? [size / 2, size / 3 + 17, dataEnd] : [size / 2, size / 3 + 17, size - 1]
            for cut in Set(cuts) where cut > 0 {
                let dir = try rigTempDir("cut")
                let copy = dir + "/" + (archive as NSString).lastPathComponent
                try write(Array(whole.prefix(cut)), to: copy)
                expectRefusal(try Replica.open(copy), "truncated", "\(form) cut to \(cut) of \(size)")
            }
        }
    }

    @Test func decompressionBombIsRefused() throws {
        let dir = try rigTempDir("bomb")
        var raw = RawTar()
        raw.file("generations/zeros", Array(repeating: 0, count: 3 << 20))
        raw.end()
        try write(raw.bytes, to: dir + "/bomb.tar")
        try run("zstd", ["-q", "-19", dir + "/bomb.tar", "-o", dir + "/bomb.tar.zst"])
        #expect(fileSize(dir + "/bomb.tar.zst") < 4096)
        let parent = try rigTempDir("bombscratch")
        var limits = ArchiveLimits()
        limits.maxExtractBytes = 1 << 20
        expectRefusal(try ZstdTarStorage(archive: dir + "/bomb.tar.zst", limits: limits, scratchParent: parent), "past the limit of 1.0 MiB")
        #expect(FS.list(parent) == [])
        // The whole stream counts too: many members each under the limit, together over it.
        var many = RawTar()
        for i in 0..<8 { many.file("generations/z\(i)", Array(repeating: 0, count: 200_000)) }
        many.end()
        try write(many.bytes, to: dir + "/many.tar")
        try run("zstd", ["-q", dir + "/many.tar", "-o", dir + "/many.tar.zst"])
        expectRefusal(try ZstdTarStorage(archive: dir + "/many.tar.zst", limits: limits, scratchParent: parent), "LITEPROOF_MAX_EXTRACT_BYTES")
        #expect(FS.list(parent) == [])
    }

    @Test func extractionStopsBeforeTheDiskFills() throws {
        let archive = try makeArchive(of: Fixtures.example("0.3").replica, .zstOfContents)
        let parent = try rigTempDir("fullscratch")
        var limits = ArchiveLimits()
        limits.minFreeBytes = 1 << 62  // more than any disk has
        expectRefusal(try ZstdTarStorage(archive: archive, limits: limits, scratchParent: parent), "free")
        #expect(FS.list(parent) == [])
    }

    /// Pax records are read with the byte reader: values come out whole, and a malformed record
    /// is an error at its offset in the tar stream.
    @Test func paxRecordsAreReadWithOffsets() throws {
        func record(_ text: String) -> [UInt8] {
            var n = text.utf8.count + 2
            while "\(n) \(text)\n".utf8.count != n { n += 1 }
            return Array("\(n) \(text)\n".utf8)
        }
        let data = record("path=generations/a") + record("mtime=1.5") + [0, 0, 0]
        let records = try paxRecords(data, base: 1024)
        #expect(records.map(\.key) == ["path", "mtime"])
        #expect(records.map { String(decoding: $0.value, as: UTF8.self) } == ["generations/a", "1.5"])
        let cases: [([UInt8], Int64, String)] = [
            (record("path=a") + Array("99 path=b\n".utf8), 1024 + 19, "the data ends at 1043 bytes inside a pax record of 99 bytes"),
            (Array("x path=a\n".utf8), 1024, "expected a record"),
            (Array("9 path=abc".utf8) + [0], 1024, "does not end with a newline"),
            (Array("99999999999999999999999999 a=b\n".utf8), 1024, "runs past the header"),
        ]
        for (bytes, offset, says) in cases {
            do {
                _ = try paxRecords(bytes, base: 1024)
                Issue.record("accepted \(bytes)")
            } catch let e as FormatError {
                #expect(e.offset == offset && e.message.contains(says), "\(e)")
            }
        }
    }
}

/// Expects `body` to throw a `.usage` LiteProofError whose message names the archive refusal reason.
func expectRefusal<T>(
    _ body: @autoclosure () throws -> T, _ reason: String, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        _ = try body()
        Issue.record("expected a refusal containing \"\(reason)\" \(comment)", sourceLocation: sourceLocation)
    } catch let e as LiteProofError {
        #expect(e.kind == .usage, sourceLocation: sourceLocation)
        #expect(e.message.contains(reason), "\"\(e.message)\" lacks \"\(reason)\" \(comment)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error) \(comment)", sourceLocation: sourceLocation)
    }
}

/// A tar written byte by byte, for archives no tool would write.
struct RawTar {
    var bytes: [UInt8] = []

    mutating func append(_ data: [UInt8]) { bytes += data }

    /// A ustar header; `checksumDelta` spoils the checksum, `sizeField` replaces the size field.
    mutating func header(
        name: String, size: Int, type: UInt8 = UInt8(ascii: "0"), mtime: Int = 1_700_000_000,
        sizeField: [UInt8]? = nil, checksumDelta: Int = 0
    ) {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ text: [UInt8], _ at: Int) { for (i, b) in text.enumerated() { h[at + i] = b } }
        func octal(_ v: Int, _ width: Int) -> [UInt8] {
            Array(String(v, radix: 8).leftPadded(to: width - 1).utf8) + [0]
        }
        put(Array(name.utf8.prefix(100)), 0)
        put(octal(0o644, 8), 100)
        put(octal(0, 8), 108)
        put(octal(0, 8), 116)
        put(sizeField ?? octal(size, 12), 124)
        put(octal(mtime, 12), 136)
        h[156] = type
        put(Array("ustar\0".utf8) + Array("00".utf8), 257)
        put(Array(repeating: 0x20, count: 8), 148)
        let sum = h.reduce(0) { $0 + Int($1) } + checksumDelta
        put(Array(String(sum, radix: 8).leftPadded(to: 6).utf8) + [0, 0x20], 148)
        bytes += h
    }

    mutating func data(_ d: [UInt8]) {
        bytes += d
        bytes += [UInt8](repeating: 0, count: (512 - d.count % 512) % 512)
    }

    mutating func file(_ name: String, _ content: [UInt8]) {
        header(name: name, size: content.count)
        data(content)
    }

    mutating func pax(_ records: [(String, [UInt8])]) {
        var body: [UInt8] = []
        for (key, value) in records {
            let rest = Array(" \(key)=".utf8) + value + [10]
            var length = rest.count + 1
            while String(length).count + rest.count != length { length += 1 }
            body += Array(String(length).utf8) + rest
        }
        header(name: "././@PaxHeader", size: body.count, type: UInt8(ascii: "x"))
        data(body)
    }

    mutating func gnuLongName(_ name: [UInt8]) {
        header(name: "././@LongLink", size: name.count, type: UInt8(ascii: "L"))
        data(name)
    }

    mutating func end() { bytes += [UInt8](repeating: 0, count: 1024) }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
