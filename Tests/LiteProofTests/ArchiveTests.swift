import Foundation
import Testing

@testable import LiteProof

#if canImport(Glibc)
    import Glibc
#endif

/// Replicas inside `.tar` and `.tar.zst` archives: made with the system `tar` and `zstd` from the
/// real example replicas; hostile ones written by Python's `tarfile` or byte by byte here.
@Suite struct ArchiveTests {
    /// How an archive is made from a replica folder.
    enum Form: String, CaseIterable, CustomTestStringConvertible {
        /// `tar -C replica -cf x.tar .` (GNU format; members start with `./`)
        case tarOfContents
        /// `tar --format=pax -C parent -cf x.tar replica` (one top folder)
        case paxTarOfFolder
        /// contents, GNU format, zstd-compressed, `.tar.zst`
        case zstOfContents
        /// folder, ustar format, zstd-compressed, `.tzst`
        case tzstOfFolder
        /// contents without `./` (`tar -C replica -cf - generations|ltx`), `.tar.zstd`
        case zstdOfTopLevelNames

        var testDescription: String { rawValue }
    }

    // MARK: Round trips on the real example replicas

    @Test(arguments: ["0.3", "0.5"], Form.allCases)
    func archivedExampleVerifiesAndRestoresIdentically(version: String, form: Form) throws {
        let ex = Fixtures.example(version)
        let archive = try makeArchive(of: ex.replica, form)
        let replica = try Replica.open(archive)
        #expect(replica.root == archive)
        #expect(replica.format == (version == "0.3" ? .v03 : .ltx))
        #expect(replica.strays.isEmpty, "\(replica.strays)")
        let report = Verifier(replica: replica).run()
        #expect(report.verdict == .ok, "\(report.findings)")
        #expect(report.replica == archive)
        if let scratch = (replica.storage as? ZstdTarStorage)?.scratch {
            #expect(!JSONOutput.encode(report).contains(scratch))
        }
        let out = try rigTempDir("arestore") + "/restored.db"
        let restored = try Restorer(replica: replica).restore(to: out)
        #expect(try bytes(of: out) == (try bytes(of: ex.live)))
        #expect(restored.integrityProblems.isEmpty)
    }

    @Test func plainTarIsReadInPlace() throws {
        let archive = try makeArchive(of: Fixtures.example("0.5").replica, .tarOfContents)
        let replica = try Replica.open(archive)
        let storage = try #require(replica.storage as? TarStorage)
        #expect(storage.memberPrefix == "")
        let ref = try #require(replica.ltx?.files.first)
        let file = try replica.open(ref.path)
        #expect(file.path == archive + ":" + ref.path)
        #expect(try file.read(count: Int(ref.size), at: 0) == (try bytes(of: Fixtures.example("0.5").replica + "/" + ref.path)))
    }

    @Test func aTopFolderIsStrippedOnlyWhenItHoldsTheLayout() throws {
        let folder = try makeArchive(of: Fixtures.example("0.3").replica, .paxTarOfFolder)
        #expect((try Replica.open(folder).storage as? TarStorage)?.memberPrefix == "replica/")
        // Everything under generations/: that is the layout itself, not a folder around it.
        let top = try makeArchive(of: Fixtures.example("0.3").replica, .zstdOfTopLevelNames)
        let storage = try #require(try Replica.open(top).storage as? ZstdTarStorage)
        #expect(storage.memberPrefix == "")
        // A folder around something that is not a replica is not stripped; the error lists the files.
        let dir = try rigTempDir("notrep")
        try FileManager.default.createDirectory(atPath: dir + "/stuff/sub", withIntermediateDirectories: true)
        try write([1], to: dir + "/stuff/sub/a.txt")
        let archive = dir + "/stuff.tar"
        try run("tar", ["-C", dir, "-cf", archive, "stuff"])
        do {
            _ = try Replica.open(archive)
            Issue.record("expected an error")
        } catch let e as LiteProofError {
            #expect(e.kind == .usage)
            #expect(e.message.contains("holds no Litestream replica") && e.message.contains("stuff/sub/a.txt"), "\(e.message)")
        }
    }

    @Test(arguments: [Form.tarOfContents, .paxTarOfFolder, .zstOfContents, .tzstOfFolder])
    func v03FileTimesSurviveTheArchive(form: Form) throws {
        let source = Fixtures.example("0.3").replica
        let archive = try makeArchive(of: source, form)
        let replica = try Replica.open(archive)
        let segment = try #require(replica.v03?.generations.first?.segments.first)
        let expected = try #require(FS.modificationTime(source + "/" + segment.path))
        let got = try #require(segment.modified)
        #expect(abs(got - expected) < 1, "\(got) vs \(expected)")
        if form == .paxTarOfFolder {
            #expect(abs(got - expected) < 0.001, "pax keeps fractions: \(got) vs \(expected)")
        }
        for snapshot in replica.v03?.generations.first?.snapshots ?? [] {
            let t = try #require(FS.modificationTime(source + "/" + snapshot.path))
            #expect(abs((snapshot.modified ?? 0) - t) < 1)
        }
        // Extracted files carry the archive's time too.
        if let storage = replica.storage as? ZstdTarStorage {
            let onDisk = try #require(FS.modificationTime(storage.scratch + "/" + storage.memberPrefix + segment.path))
            #expect(abs(onDisk - got) < 0.001)
        }
    }

    @Test(arguments: [Form.tarOfContents, .tzstOfFolder])
    func damageInsideAnArchiveNamesTheMember(form: Form) throws {
        let dir = try exampleCopy("0.3"), seg = Fixtures.v03Segment("00004080")
        try flipByte(dir + "/" + seg, at: 0)
        let archive = try makeArchive(of: dir, form)
        let report = try verify(archive)
        #expect(report.verdict == .damaged)
        #expect(report.findings(.lz4Header).contains { $0.file == seg && $0.offset == 0 }, "\(report.findings)")
        #expect(report.findings.allSatisfy { !$0.file.contains("/tmp/") && !$0.message.contains("liteproof-archive") })

        let dir5 = try exampleCopy("0.5"), ltx = "ltx/0/0000000000000002-0000000000000002.ltx"
        try flipByte(dir5 + "/" + ltx, at: 200)
        let report5 = try verify(try makeArchive(of: dir5, form))
        #expect(report5.verdict == .damaged)
        #expect(report5.findings.contains { $0.file == ltx && $0.severity == .error }, "\(report5.findings)")
    }

    // MARK: Scratch folders

    @Test func scratchFolderGoesAwayWithTheStorage() throws {
        let archive = try makeArchive(of: Fixtures.example("0.5").replica, .zstOfContents)
        let parent = try rigTempDir("scratchparent")
        var scratch = ""
        do {
            let storage = try ZstdTarStorage(archive: archive, scratchParent: parent)
            scratch = storage.scratch
            #expect(FS.isDirectory(scratch))
            #expect(scratch.hasPrefix(parent + "/"))
            let replica = try Replica.open(storage: storage)
            #expect(replica.root == archive)
            #expect(Verifier(replica: replica).run().verdict == .ok)
        }
        #expect(!FS.exists(scratch))
        #expect(FS.list(parent) == [])

        // Through Replica.open: the scratch folder lives as long as the replica.
        var opened: Replica? = try Replica.open(archive)
        let path = try #require((opened?.storage as? ZstdTarStorage)?.scratch)
        #expect(FS.isDirectory(path))
        opened = nil
        #expect(!FS.exists(path))
    }

    @Test func theCommandLineLeavesNoScratchFolder() throws {
        let archive = try makeArchive(of: Fixtures.example("0.3").replica, .tzstOfFolder)
        let tmp = try rigTempDir("clitmp")
        let r = try runWithTMPDIR(tmp, ["verify", archive])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("replica: \(archive) (litestream-0.3)"), "\(r.output)")
        #expect(!r.output.contains(tmp))
        #expect(FS.list(tmp) == [])
        let j = try runWithTMPDIR(tmp, ["inspect", "--json", archive])
        #expect(j.status == 0, "\(j.output)")
        #expect(!j.output.contains(tmp))
        #expect(FS.list(tmp) == [])
        // Exit 1 (damaged) and exit 2 (refused) leave nothing either.
        let dir = try exampleCopy("0.3"), seg = Fixtures.v03Segment("00004080")
        try flipByte(dir + "/" + seg, at: 0)
        let damaged = try runWithTMPDIR(tmp, ["verify", try makeArchive(of: dir, .zstOfContents)])
        #expect(damaged.status == 1, "\(damaged.output)")
        #expect(damaged.output.contains(seg) && !damaged.output.contains(tmp), "\(damaged.output)")
        #expect(FS.list(tmp) == [])
        var raw = RawTar()
        raw.file("generations/a", [1])
        raw.file("generations/a", [2])
        raw.end()
        let evil = try rigTempDir("clievil") + "/dup.tar"
        try write(raw.bytes, to: evil)
        try run("zstd", ["-q", evil, "-o", evil + ".zst"])
        let refused = try runWithTMPDIR(tmp, ["verify", evil + ".zst"])
        #expect(refused.status == 2)
        #expect(refused.output.contains("refusing the archive \(evil).zst: member \"generations/a\" appears twice"), "\(refused.output)")
        #expect(FS.list(tmp) == [])
    }

    /// SIGINT while a big archive is being extracted: the scratch folder is removed, and the
    /// process still dies of SIGINT.
    @Test func interruptedExtractionLeavesNoScratchFolder() throws {
        let dir = try rigTempDir("sigint")
        let archive = dir + "/many.tar.zst"
        let script = """
            import io, sys, tarfile
            with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.GNU_FORMAT) as t:
                for i in range(3000):
                    ti = tarfile.TarInfo("generations/%05d/x" % i)
                    ti.size = 0
                    t.addfile(ti)
            """
        try run("sh", ["-c", "python3 -c '\(script)' | zstd -q -o '\(archive)'"])
        let tmp = try rigTempDir("sigtmp")
        let p = Process()
        // Started through Python, which unblocks every signal first: the test runs on a thread
        // that blocks SIGINT, and a child inherits the blocked set across exec.
        let launcher =
            "import os, signal, sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL); "
            + "signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", launcher, liteproofBinary(), "verify", "--quiet", archive]
        var env = ProcessInfo.processInfo.environment
        env["TMPDIR"] = tmp
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && (FS.list(tmp) ?? []).isEmpty && Date() < deadline { usleep(2_000) }
        let interrupted = p.isRunning
        if interrupted { kill(p.processIdentifier, SIGINT) }
        p.waitUntilExit()
        #expect(FS.list(tmp) == [], "left behind: \(FS.list(tmp) ?? [])")
        if interrupted {
            #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGINT)
        } else {
            Issue.record("the extraction finished before SIGINT could be sent; make the archive bigger")
        }
    }

    // MARK: Errors about the location

    @Test func aFileThatIsNotAnArchiveIsAClearError() throws {
        let dir = try rigTempDir("notarch")
        try write([1, 2, 3], to: dir + "/replica.zip")
        do {
            _ = try Replica.open(dir + "/replica.zip")
            Issue.record("expected an error")
        } catch let e as LiteProofError {
            #expect(e.kind == .usage)
            #expect(e.message.contains("not a folder or a .tar/.tar.zst archive"), "\(e.message)")
        }
        try write(Array(repeating: 7, count: 2000), to: dir + "/garbage.tar.zst")
        expectRefusal(try Replica.open(dir + "/garbage.tar.zst"), "cannot be decompressed")
        try write(Array(repeating: 7, count: 2000), to: dir + "/garbage.tar")
        expectRefusal(try Replica.open(dir + "/garbage.tar"), "checksum")
        try write([], to: dir + "/empty.tar")
        expectRefusal(try Replica.open(dir + "/empty.tar"), "empty")
        var raw = RawTar()
        raw.end()
        try write(raw.bytes, to: dir + "/nofiles.tar")
        expectRefusal(try Replica.open(dir + "/nofiles.tar"), "holds no files")
    }

    @Test func extractLimitComesFromTheEnvironment() throws {
        #expect(try ArchiveLimits.fromEnvironment([:]).maxExtractBytes == 64 << 30)
        #expect(try ArchiveLimits.fromEnvironment(["LITEPROOF_MAX_EXTRACT_BYTES": "1048576"]).maxExtractBytes == 1 << 20)
        #expect(try ArchiveLimits.fromEnvironment(["LITEPROOF_MAX_EXTRACT_BYTES": "2G"]).maxExtractBytes == 2 << 30)
        #expect(throws: LiteProofError.self) { try ArchiveLimits.fromEnvironment(["LITEPROOF_MAX_EXTRACT_BYTES": "lots"]) }
        let defaults = ArchiveLimits()
        #expect(defaults.maxMembers == 1_000_000 && defaults.maxMemberSize == 1 << 40)
    }

    // MARK: Hostile archives

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

    // MARK: Helpers

    /// Builds an archive of `replica` (a replica folder) in a fresh folder; returns its path.
    func makeArchive(of replica: String, _ form: Form) throws -> String {
        let dir = try rigTempDir("archive")
        let parent = (replica as NSString).deletingLastPathComponent
        let folder = (replica as NSString).lastPathComponent
        let tar = dir + "/replica.tar"
        switch form {
        case .tarOfContents, .zstOfContents:
            try run("tar", ["--format=gnu", "-C", replica, "-cf", tar, "."])
        case .paxTarOfFolder:
            try run("tar", ["--format=pax", "-C", parent, "-cf", tar, folder])
        case .tzstOfFolder:
            try run("tar", ["--format=ustar", "-C", parent, "-cf", tar, folder])
        case .zstdOfTopLevelNames:
            let names = FS.list(replica) ?? []
            try run("tar", ["-C", replica, "-cf", tar] + names)
        }
        let ext: String
        switch form {
        case .tarOfContents, .paxTarOfFolder: return tar
        case .zstOfContents: ext = ".tar.zst"
        case .tzstOfFolder: ext = ".tzst"
        case .zstdOfTopLevelNames: ext = ".tar.zstd"
        }
        let out = dir + "/replica" + ext
        try run("zstd", ["-q", tar, "-o", out])
        return out
    }

    /// Runs a tool found on PATH (tar, zstd, python3, sh); throws unless it succeeds.
    func run(_ tool: String, _ args: [String]) throws {
        let (status, output) = try runProcess("/usr/bin/env", [tool] + args)
        guard status == 0 else { throw RigError("\(tool) \(args) failed (\(status)): \(output)") }
    }

    /// Runs liteproof with TMPDIR set; stdout and stderr together.
    func runWithTMPDIR(_ tmp: String, _ args: [String]) throws -> (status: Int32, output: String) {
        try runProcess("/usr/bin/env", ["TMPDIR=\(tmp)", liteproofBinary()] + args)
    }

    /// `tar` is refused as a `.tar` and, compressed, as a `.tar.zst`, with `reason` in the message;
    /// nothing appears at `sentinel` and the scratch folder is gone afterwards.
    func expectRefused(
        _ tar: String, reason: String, sentinel: String, limits: ArchiveLimits = ArchiveLimits(), zstdReason: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let dir = (tar as NSString).deletingLastPathComponent
        expectRefusal(try TarStorage(archive: tar, limits: limits), reason, sourceLocation: sourceLocation)
        if limits.maxMembers == ArchiveLimits().maxMembers {
            expectRefusal(try Replica.open(tar), reason, sourceLocation: sourceLocation)
        }
        let zst = dir + "/evil.tar.zst"
        try run("zstd", ["-q", tar, "-o", zst])
        let parent = try rigTempDir("evilscratch")
        expectRefusal(try ZstdTarStorage(archive: zst, limits: limits, scratchParent: parent), zstdReason ?? reason, sourceLocation: sourceLocation)
        #expect(FS.list(parent) == [], "scratch left behind", sourceLocation: sourceLocation)
        #expect(!FS.exists(sentinel), "\(sentinel) was written", sourceLocation: sourceLocation)
        #expect(Set(FS.list(dir) ?? []) == ["evil.tar", "evil.tar.zst"], sourceLocation: sourceLocation)
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
