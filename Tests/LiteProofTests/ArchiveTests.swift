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
    /// process still dies of SIGINT. 20,000 members, so that a release build on a fast machine is
    /// still extracting when a loaded test thread gets to send the signal.
    @Test func interruptedExtractionLeavesNoScratchFolder() throws {
        let dir = try rigTempDir("sigint")
        let archive = dir + "/many.tar.zst"
        let script = """
            import io, sys, tarfile
            with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.GNU_FORMAT) as t:
                for i in range(20000):
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
