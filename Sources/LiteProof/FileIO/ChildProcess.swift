import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a program to completion with `posix_spawn` and `wait4`, so its own wall time and peak
/// memory are measured (Foundation's `Process` does not report a child's resource use).
enum ChildProcess {
    struct Result {
        var status: Int32
        var seconds: Double
        /// Peak resident set of the child, bytes.
        var peakMemory: Int64
        /// Standard output and error, interleaved.
        var stdout: String
    }

    static func run(_ executable: String, _ arguments: [String], scratch: String) throws -> Result {
        let outPath = scratch + "/.child-output-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let started = Date()
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw LiteProofError.storage(.local, "cannot run \(executable): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = Date().timeIntervalSince(started)
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        return Result(status: code, seconds: seconds, peakMemory: Int64(usage.ru_maxrss) * 1024, stdout: text)
    }
}
