import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one place LiteProof's temporary files and folders are made and removed: scratch folders
/// (a restore for `compare`, `verify`, `canary`, an extracted `.tar.zst`, …) and the temporary
/// files that are renamed into place when finished (a restore's `.NAME.liteproof-PID.tmp`).
///
/// Every path made here is recorded until it is released (removed) or kept (renamed into place).
/// Recorded paths are removed at normal process exit (`atexit`) and when SIGINT, SIGTERM, SIGHUP
/// or SIGPIPE (`liteproof verify x.tar.zst | head`) arrives, for each of these signals the process
/// had left at its default action. The signal handler itself only writes the signal number to a
/// pipe (async-signal-safe); a watcher thread removes the paths, restores the default action and
/// raises the signal again, so the process ends with the status the signal gives.
///
/// ```swift
/// let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-compare")
/// defer { ScratchSpace.release(scratch) }
/// ```
public enum ScratchSpace {
    private static let lock = NSLock()
    /// Held while paths are removed, so that an exit or a signal waits for a removal under way
    /// (and the other way round) instead of ending the process halfway through it. Never taken
    /// while holding `lock`.
    private static let removing = NSLock()
    // nonisolated(unsafe): every read and write of these three takes `lock`.
    nonisolated(unsafe) private static var paths: Set<String> = []
    nonisolated(unsafe) private static var installed = false
    /// Set once the paths are being removed for good (exit, signal): nothing new is created.
    nonisolated(unsafe) private static var closing = false

    /// The signals whose arrival removes the recorded paths.
    public static let cleanupSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGPIPE]

    /// Makes a fresh private folder `prefix.XXXXXX` (`mkdtemp`, mode 0700) under `parent`, or
    /// `$TMPDIR`, or /tmp, and records it — under the lock, with the exit and signal handlers
    /// already in place, so there is no moment where the folder exists unrecorded.
    ///
    /// The folder holds an ``ownerName`` file locked (`flock`) for as long as the process lives.
    /// A process killed with SIGKILL cannot remove its folders; the first folder made in the same
    /// place by a later process removes every folder whose owner lock is free (its owner is dead).
    public static func makeFolder(prefix: String, in parent: String? = nil) throws -> String {
        try creating {
            let base = parent ?? (ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp")
            if swept.insert(base).inserted { sweepDeadOwners(in: base) }
            // Made hidden (`.prefix.XXXXXX`, which no sweep touches), locked, then renamed to its name.
            var template = Array((base + "/.\(prefix).XXXXXX").utf8CString)
            let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
            guard made != nil else { throw localError("cannot make a scratch folder in", path: base) }
            let hidden = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
            paths.insert(hidden)
            let fd = open(hidden + "/" + ownerName, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 { close(fd) }
            let path = base + "/" + String(hidden.dropFirst(base.count + 2))
            guard fd >= 0, !FS.exists(path), rename(hidden, path) == 0 else {
                if fd >= 0 { owners[hidden] = fd }
                return hidden
            }
            paths.remove(hidden)
            paths.insert(path)
            owners[path] = fd
            return path
        }
    }

    /// The lock file of a scratch folder, held by the living process that made it.
    public static let ownerName = ".liteproof-owner"
    // nonisolated(unsafe): both take `lock`, as `paths` does.
    nonisolated(unsafe) private static var owners: [String: Int32] = [:]
    nonisolated(unsafe) private static var swept: Set<String> = []

    /// Removes the scratch folders in `base` left by dead processes: `liteproof*` folders of
    /// this user whose owner lock can be taken.
    private static func sweepDeadOwners(in base: String) {
        for name in FS.list(base) ?? [] where name.hasPrefix("liteproof") {
            let folder = base + "/" + name
            var st = stat()
            guard lstat(folder, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == getuid() else { continue }
            let fd = open(folder + "/" + ownerName, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            let free = flock(fd, LOCK_EX | LOCK_NB) == 0
            close(fd)
            if free { removeTree(folder) }
        }
    }

    /// Creates the file `path` exclusively (``OutputFile/init(creating:mode:)``) and records it:
    /// a temporary file that is either renamed into place (then ``keep(_:)``) or released.
    public static func createFile(_ path: String, mode: mode_t = 0o644) throws -> OutputFile {
        try creating {
            let file = try OutputFile(creating: path, mode: mode)
            paths.insert(path)
            return file
        }
    }

    /// Removes a recorded path (a folder with everything in it, or a file) and forgets it.
    public static func release(_ path: String) {
        lock.lock()
        paths.remove(path)
        let owner = owners.removeValue(forKey: path)
        lock.unlock()
        if let owner { close(owner) }
        removing.lock()
        defer { removing.unlock() }
        removeTree(path)
    }

    /// Forgets a recorded path without removing it (it was renamed into place, or is kept on
    /// purpose).
    public static func keep(_ path: String) {
        lock.lock()
        paths.remove(path)
        lock.unlock()
    }

    /// Whether `path` is recorded (for tests).
    static func isRecorded(_ path: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return paths.contains(path)
    }

    /// Runs `body`, which adds one entry inside a recorded folder, unless the recorded paths are
    /// being removed at exit or on a signal: then the calling thread waits for the end of the
    /// process, so the removal never races a new entry.
    static func creatingEntry<T>(_ body: () throws -> T) rethrows -> T {
        try creating(body)
    }

    /// Runs `body` under the lock, with the handlers installed and the paths not being removed.
    private static func creating<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        if closing {
            lock.unlock()
            while true { sleep(60) }
        }
        if !installed {
            installed = true
            atexit { ScratchSpace.removeAll() }
            installSignalHandlers()
        }
        return try body()
    }

    /// Removes every recorded path, for good: called at exit and on a signal.
    static func removeAll() {
        lock.lock()
        closing = true
        let all = paths
        paths.removeAll()
        lock.unlock()
        removing.lock()
        defer { removing.unlock() }
        for path in all { removeTree(path) }
    }

    /// Removes a tree without following links, carrying on past entries that vanish or fail
    /// (another thread may be removing the same tree: a signal arriving during a `deinit`).
    private static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in FS.list(path) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    private static func installSignalHandlers() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        scratchSignalPipe = fds[1]
        let readEnd = fds[0]
        let watcher = Thread {
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n == 1 { break }
                if n < 0 && errno == EINTR { continue }
                return
            }
            ScratchSpace.removeAll()
            let sig = Int32(byte)
            signal(sig, SIG_DFL)
            var unblock = sigset_t()
            sigemptyset(&unblock)
            sigaddset(&unblock, sig)
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
            raise(sig)
            _exit(128 + sig)
        }
        watcher.name = "liteproof-scratch-cleanup"
        watcher.start()
        for sig in cleanupSignals {
            var current = sigaction()
            guard sigaction(sig, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = scratchSignalHandler
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
    }
}

/// Write end of the pipe the signal handler reports to (set once, before the handler is installed).
// nonisolated(unsafe): written once before the handler is installed, then only read.
nonisolated(unsafe) private var scratchSignalPipe: Int32 = -1

/// Async-signal-safe: writes the signal number to the watcher's pipe.
private func scratchSignalHandler(_ sig: Int32) {
    var byte = UInt8(truncatingIfNeeded: sig)
    _ = write(scratchSignalPipe, &byte, 1)
}
