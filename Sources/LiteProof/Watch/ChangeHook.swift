import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `watch --on-change CMD`: runs a command through `/bin/sh -c` when a replica's health changes,
/// with the change in its environment. The command runs in its own process group, with standard
/// input from /dev/null and its output on the watcher's standard error (standard output keeps the
/// event lines); one that outlives `timeout` has its whole group killed. Nothing it does stops
/// the watcher: every failure comes back as a warning.
public enum ChangeHook {
    /// The variables the command gets, beside the watcher's own environment.
    public static func environment(database: String, from: Outcome?, to: Outcome, reason: String) -> [String: String] {
        ["LITEPROOF_DATABASE": database, "LITEPROOF_FROM": from?.rawValue ?? "start", "LITEPROOF_TO": to.rawValue, "LITEPROOF_REASON": reason]
    }

    /// Runs `command` with `extra` added to the environment and waits at most `timeout` seconds
    /// (`posix_spawn`, then `waitpid`), or until `stop` is requested (SIGTERM: the watch ends
    /// promptly); returns a warning when it could not run, failed, or was killed, nil when it
    /// exited 0.
    public static func run(_ command: String, environment extra: [String: String], timeout: Double, stop: StopSignal? = nil) -> String? {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let args: [String] = ["/bin/sh", "-c", command]
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in envp + argv { free(p) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, 2, 1)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, 0)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp)
        guard rc == 0 else { return "--on-change: cannot run /bin/sh: \(String(cString: strerror(rc)))" }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { return "--on-change: cannot wait for the command: \(String(cString: strerror(errno)))" }
            let stopping = stop?.stopRequested == true
            if stopping || Date() > deadline {
                kill(-pid, SIGTERM)
                let grace = Date().addingTimeInterval(1)
                while waitpid(pid, &status, WNOHANG) == 0 && Date() < grace { usleep(20_000) }
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return stopping
                    ? "--on-change: the command was killed: the watch is stopping"
                    : String(format: "--on-change: the command ran longer than %g s and was killed", timeout)
            }
            if let stop { stop.wait(seconds: 0.02) } else { usleep(20_000) }
        }
        if (status & 0x7f) != 0 { return "--on-change: the command was killed by signal \(status & 0x7f)" }
        let code = (status >> 8) & 0xff
        return code == 0 ? nil : "--on-change: the command exited \(code)"
    }
}
