import Foundation
import Testing

@testable import LiteProof

/// Odd surroundings rather than odd bytes: signals in the middle of a run, FIFOs and devices
/// where files are expected, outputs that exist or are not files, a local disk that fails.
@Suite struct HostileSurroundingsTests {
    // MARK: One scratch space

    @Test func scratchSpaceRecordsAndRemoves() throws {
        let parent = try rigTempDir("scratchspace")
        let folder = try ScratchSpace.makeFolder(prefix: "liteproof-test", in: parent)
        #expect(FS.isDirectory(folder) && folder.hasPrefix(parent + "/liteproof-test."))
        #expect(ScratchSpace.isRecorded(folder))
        let inner = try ScratchSpace.createFile(folder + "/kept.tmp")
        try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try inner.write($0, at: 0) }
        #expect(rename(folder + "/kept.tmp", parent + "/kept") == 0)
        ScratchSpace.keep(folder + "/kept.tmp")
        #expect(!ScratchSpace.isRecorded(folder + "/kept.tmp"))
        try write([1], to: folder + "/extra")
        ScratchSpace.release(folder)
        #expect(!FS.exists(folder) && !ScratchSpace.isRecorded(folder))
        #expect(FS.list(parent) == ["kept"])
    }

    /// Ctrl-C during `compare` (once its restore is being written) and SIGTERM or SIGHUP during
    /// `restore` (once its temporary output exists) leave nothing: no scratch folder in the
    /// child's own TMPDIR, no `.NAME.liteproof-PID.tmp` beside the output, no output.
    @Test(arguments: [("compare", SIGINT), ("restore", SIGTERM), ("restore", SIGHUP)])
    func interruptedCommandLeavesNothingBehind(command: String, signal sig: Int32) throws {
        let big = try BigReplica.shared.get()
        let tmp = try rigTempDir("interrupted-tmp")
        let outDir = try rigTempDir("interrupted-out")
        let output = outDir + "/restored.db"
        let args = command == "compare" ? ["compare", big.replica, "--live", big.live] : ["restore", big.replica, "-o", output]
        let p = try startWithSignalsUnblocked(args, tmpdir: tmp)
        // Started writing: the compare's restored.db has bytes; the restore's temporary file exists.
        func started() -> Bool {
            if command == "compare" {
                return (FS.list(tmp) ?? []).contains { FS.fileSize(tmp + "/" + $0 + "/restored.db") ?? 0 > 0 }
            }
            return (FS.list(outDir) ?? []).contains { $0.hasSuffix(".tmp") && FS.fileSize(outDir + "/" + $0) ?? 0 > 0 }
        }
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && !started() && Date() < deadline { usleep(1_000) }
        let interrupted = p.isRunning && started()
        if interrupted { kill(p.processIdentifier, sig) }
        p.waitUntilExit()
        #expect(FS.list(tmp) == [], "left in TMPDIR: \(FS.list(tmp) ?? [])")
        #expect(FS.list(outDir) == [], "left beside the output: \(FS.list(outDir) ?? [])")
        if interrupted {
            #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == sig, "status \(p.terminationStatus)")
        } else {
            Issue.record("\(command) finished (status \(p.terminationStatus)) before the signal could be sent; make the replica bigger")
        }
    }

    // MARK: Only regular files are read

    /// A FIFO in place of a snapshot or a WAL segment, or given as the live database: every
    /// command ends quickly with a clear message instead of blocking in open(2).
    @Test func fifosNeverBlock() throws {
        let dir = try exampleCopy("0.3")
        for victim in [Fixtures.v03Snapshot, Fixtures.v03Segment("00004080")] {
            #expect(unlink(dir + "/" + victim) == 0)
            #expect(mkfifo(dir + "/" + victim, 0o644) == 0)
        }
        let fifo = try rigTempDir("fifo") + "/live.db"
        #expect(mkfifo(fifo, 0o644) == 0)
        let out = try rigTempDir("fifo-out")
        let example = Fixtures.example("0.3")
        let runs: [(args: [String], status: Int32, says: String)] = [
            // A file the store cannot produce is no damage: unreadable, exit 2 (the one failure model).
            (["verify", dir], 2, "is not a regular file (a FIFO (named pipe))"),
            (["inspect", dir], 0, ""),
            (["restore", dir, "-o", out + "/r.db"], 2, "is not a regular file"),
            (["compare", dir, "--live", example.live], 2, "is not a regular file"),
            (["verify", example.replica, "--live", fifo], 2, "\(fifo) is not a regular file"),
            (["compare", example.replica, "--live", fifo], 2, "\(fifo) is not a regular file"),
            (["digest", fifo, "-o", out + "/d.json"], 2, "\(fifo) is not a regular file"),
            (["compare", example.replica, "--digest", fifo], 2, "\(fifo) is not a regular file"),
        ]
        for run in runs {
            let started = Date()
            let r = try runLiteProof(run.args, timeout: 20)
            #expect(Date().timeIntervalSince(started) < 20)
            if run.status == 0 {
                #expect(r.status <= 1, "\(run.args): \(r.status) \(r.stderr)")
            } else {
                #expect(r.status == run.status, "\(run.args): \(r.status) \(r.stdout) \(r.stderr)")
            }
            if !run.says.isEmpty { #expect((r.stdout + r.stderr).contains(run.says), "\(run.args): \(r.stdout) \(r.stderr)") }
        }
        #expect(FS.list(out) == [])
    }

    // MARK: Outputs are new regular files

    /// `restore -o X --force` never replaces a device, a FIFO or a symbolic link.
    @Test func restoreForceNeverReplacesWhatIsNotARegularFile() throws {
        let dir = try rigTempDir("outputs")
        let device = dir + "/null", fifo = dir + "/fifo", link = dir + "/link", target = dir + "/target"
        #expect(mknod(device, S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0)  // makedev(1, 3): like /dev/null
        #expect(mkfifo(fifo, 0o644) == 0)
        try write([9], to: target)
        #expect(symlink(target, link) == 0)
        for (path, kind) in [(device, "a character device"), (fifo, "a FIFO"), (link, "a symbolic link"), ("/dev/null", "a character device")] {
            let r = try runLiteProof(["restore", Fixtures.example("0.5").replica, "-o", path, "--force"], timeout: 20)
            #expect(r.status == 2, "\(path): \(r.stderr)")
            #expect(r.stderr.contains("\(path) is \(kind)"), "\(r.stderr)")
            var st = stat()
            #expect(lstat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG)
        }
        #expect(try bytes(of: target) == [9])
        // A sidecar SQLite would read (removed under --force when it is a file) is left alone too.
        #expect(mkfifo(dir + "/out.db-wal", 0o644) == 0)
        let r = try runLiteProof(["restore", Fixtures.example("0.5").replica, "-o", dir + "/out.db", "--force"], timeout: 20)
        #expect(r.status == 2 && r.stderr.contains("\(dir)/out.db-wal is a FIFO"), "\(r.stderr)")
        #expect(Set(FS.list(dir) ?? []) == ["null", "fifo", "link", "target", "out.db-wal"])
    }

    /// `timeline --html FILE` and `digest -o FILE` refuse an existing file unless given --force.
    @Test func writersNeverOverwriteWithoutForce() throws {
        let dir = try rigTempDir("overwrite")
        let html = dir + "/timeline.html", digest = dir + "/digest.json"
        try write(Array("keep me".utf8), to: html)
        try write(Array("keep me".utf8), to: digest)
        let replica = Fixtures.example("0.5").replica, live = Fixtures.example("0.5").live
        let t = try runLiteProof(["timeline", replica, "--html", html])
        #expect(t.status == 2 && t.stderr.contains("\(html) already exists"), "\(t.status) \(t.stderr)")
        let d = try runLiteProof(["digest", live, "-o", digest])
        #expect(d.status == 2 && d.stderr.contains("\(digest) already exists"), "\(d.status) \(d.stderr)")
        #expect(try bytes(of: html) == Array("keep me".utf8))
        #expect(try bytes(of: digest) == Array("keep me".utf8))

        let t2 = try runLiteProof(["timeline", replica, "--html", html, "--force"])
        #expect(t2.status == 0, "\(t2.stderr)")
        #expect(String(decoding: try bytes(of: html), as: UTF8.self).contains("<html"))
        let d2 = try runLiteProof(["digest", live, "-o", digest, "--force"])
        #expect(d2.status == 0, "\(d2.stderr)")
        #expect(try json(String(decoding: try bytes(of: digest), as: UTF8.self))["sha256"] != nil)
        #expect(Set(FS.list(dir) ?? []) == ["timeline.html", "digest.json"])
    }

    // MARK: The local side failing is "could not run"

    /// `ulimit -f` below the output's size: the write fails with EFBIG (SIGXFSZ is ignored, so it
    /// no longer kills the process), `restore` and `verify` exit 2 naming the local file, and no
    /// temporary file or scratch folder is left.
    @Test func fileSizeLimitIsACouldNotRun() throws {
        let out = try rigTempDir("ulimit-out"), tmp = try rigTempDir("ulimit-tmp")
        let replica = Fixtures.example("0.3").replica  // its database is 36 KiB
        let restore = try runLimited(["restore", replica, "-o", out + "/r.db"], fileBlocks: 8, tmpdir: tmp)
        #expect(restore.status == 2, "\(restore.output)")
        #expect(restore.output.contains("cannot write \(out)/.r.db.liteproof-"), "\(restore.output)")
        #expect(restore.output.contains("File too large"), "\(restore.output)")
        #expect(!restore.output.contains("file.unreadable"), "\(restore.output)")
        #expect(FS.list(out) == [])
        let verify = try runLimited(["verify", replica], fileBlocks: 8, tmpdir: tmp)
        #expect(verify.status == 2, "\(verify.output)")
        #expect(verify.output.contains("cannot write \(tmp)/liteproof-verify."), "\(verify.output)")
        #expect(!verify.output.contains("DAMAGED"), "\(verify.output)")
        #expect(FS.list(tmp) == [])
    }

    /// A full disk (a 1 MiB tmpfs) under the output or the scratch folder: exit 2 naming the
    /// local path, never damage in the replica. Needs root to mount; skipped otherwise.
    @Test func fullDiskIsACouldNotRun() throws {
        let big = try BigReplica.shared.get()
        let mnt = try rigTempDir("fulldisk")
        guard getuid() == 0, (try? runProcess("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]))?.status == 0 else {
            print("skipped: cannot mount a small tmpfs here (needs root)")
            return
        }
        defer { _ = try? runProcess("/usr/bin/env", ["umount", mnt]) }
        let restore = try runLiteProof(["restore", big.replica, "-o", mnt + "/r.db"], timeout: 60)
        #expect(restore.status == 2, "\(restore.stdout) \(restore.stderr)")
        #expect(restore.stderr.contains("\(mnt)/.r.db.liteproof-") && restore.stderr.contains("No space left on device"), "\(restore.stderr)")
        #expect(FS.list(mnt) == [])
        let verify = try runProcess("/usr/bin/env", ["TMPDIR=\(mnt)", liteproofBinary(), "verify", big.replica])
        #expect(verify.status == 2, "\(verify.output)")
        #expect(verify.output.contains("No space left on device") && !verify.output.contains("DAMAGED"), "\(verify.output)")
        #expect(FS.list(mnt) == [])
    }

    /// The classification underneath: a failure of the sink (the output) while a snapshot is read
    /// is the local side's, not a finding against the snapshot.
    @Test func aFailingSinkIsNotDamageInTheSnapshot() throws {
        let replica = try Replica.open(Fixtures.example("0.3").replica)
        let snapshot = try #require(replica.v03?.generations.last?.snapshots.first)
        let r = V03Readers.readSnapshot(replica, snapshot) { _, _ in
            throw localError("cannot write", path: "/full/restored.db", errno: ENOSPC)
        }
        #expect(r.findings.isEmpty, "\(r.findings)")
        #expect(r.storageFailure?.path == "/full/restored.db")
        #expect(r.storageFailure?.kind == .storage(.local))
        #expect(r.storageFailure?.message == "cannot write /full/restored.db: No space left on device")
    }

    // MARK: Helpers

    /// Runs `liteproof args` under `bash -c 'ulimit -f BLOCKS; exec …'` with its own TMPDIR.
    func runLimited(_ args: [String], fileBlocks: Int, tmpdir: String) throws -> (status: Int32, output: String) {
        try runProcess(
            "/usr/bin/env", ["TMPDIR=\(tmpdir)", "bash", "-c", "ulimit -f \(fileBlocks); exec \"$0\" \"$@\"", liteproofBinary()] + args)
    }

    /// Starts `liteproof args` with TMPDIR set and every signal unblocked (the test runs on a
    /// thread that blocks some, and a child inherits the blocked set across exec).
    func startWithSignalsUnblocked(_ args: [String], tmpdir: String) throws -> Process {
        let p = Process()
        let launcher =
            "import os, signal, sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL); "
            + "signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", launcher, liteproofBinary()] + args
        var env = ProcessInfo.processInfo.environment
        env["TMPDIR"] = tmpdir
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }
}

/// A real Litestream 0.3 replica of a ~24 MB database of random blobs (incompressible, so a
/// restore takes long enough to be interrupted), made once per test process; Litestream is
/// stopped once the replica holds the live database's latest state.
enum BigReplica {
    static let shared = Result { try build() }

    static func build() throws -> (replica: String, live: String) {
        let dir = try rigTempDir("big-v03")
        let db = dir + "/app.db", replica = dir + "/replica"
        let w = try RigDB(db)
        try w.exec("PRAGMA journal_mode=WAL")
        try w.exec("CREATE TABLE blobs(id INTEGER PRIMARY KEY, data BLOB)")
        try w.exec(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) INSERT INTO blobs(data) SELECT randomblob(4000) FROM n")
        w.close()
        let ls = try startLitestream(.v03, db: db, replica: replica, in: dir)
        defer { ls.stop() }
        try waitUntil("the replica to reach the live database", timeout: 180) {
            try Comparer(replica: try Replica.open(replica)).compare(live: db).verdict == .identical
        }
        return (replica, db)
    }
}
