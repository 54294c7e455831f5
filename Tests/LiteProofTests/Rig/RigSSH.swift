// The SFTP rig: Debian's OpenSSH server (`sshd -D -e -f CONFIG`, installed by .ci/setup) on a
// free loopback port with a throwaway host key and user key made by ssh-keygen, serving SFTP
// (internal-sftp) to the test's user; and a TCP proxy in front of it that cuts or stalls a
// connection after a number of bytes from the server.

import Foundation
import LiteProof

/// `sshd` on 127.0.0.1 with keys made for it: log in as ``user`` with ``userKey``; the host key
/// is in ``knownHosts`` (OpenSSH's format, `[127.0.0.1]:PORT`). Stop it in a defer.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class SSHServer: @unchecked Sendable {
    let port: Int
    let dir: String
    let user: String
    /// The private key the server lets ``user`` in with (ed25519, OpenSSH format).
    let userKey: String
    /// A known_hosts file holding the server's host key, and a line for Litestream 0.5's `host-key`.
    let knownHosts: String
    let hostKeyLine: String
    let process = Process()
    let logPath: String

    static func binary() throws -> String {
        for path in ["/usr/sbin/sshd", "/usr/bin/sshd"] where FileManager.default.isExecutableFile(atPath: path) { return path }
        throw RigError(message: "no sshd: run .ci/setup (installs Debian's openssh-server)")
    }

    init() throws {
        let sshd = try Self.binary()
        dir = try rigTempDir("sshd")
        let root = getuid() == 0
        user = root ? "root" : (ProcessInfo.processInfo.environment["USER"] ?? NSUserName())
        // sshd refuses to start without its privilege separation folder (made by .ci/setup; a
        // container's /run may be fresh).
        if root && !FileManager.default.fileExists(atPath: "/run/sshd") {
            try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
        for name in ["host_key", "user_key"] {
            let made = try runWithEnvironment(
                "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "liteproof-test", "-f", dir + "/" + name],
                environment: ProcessInfo.processInfo.environment)
            guard made.status == 0 else { throw RigError(message: "ssh-keygen: \(made.output)") }
        }
        userKey = dir + "/user_key"
        try FileManager.default.copyItem(atPath: dir + "/user_key.pub", toPath: dir + "/authorized_keys")
        let hostPub = try String(contentsOfFile: dir + "/host_key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        hostKeyLine = hostPub
        port = try freeLoopbackPort()
        knownHosts = dir + "/known_hosts"
        try "[127.0.0.1]:\(port) \(hostPub)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        try """
        Port \(port)
        ListenAddress 127.0.0.1
        HostKey \(dir)/host_key
        AuthorizedKeysFile \(dir)/authorized_keys
        PermitRootLogin prohibit-password
        PasswordAuthentication yes
        PermitEmptyPasswords no
        KbdInteractiveAuthentication no
        UsePAM no
        StrictModes no
        PidFile none
        MaxStartups 50
        Subsystem sftp internal-sftp

        """.write(toFile: dir + "/sshd_config", atomically: true, encoding: .utf8)
        logPath = dir + "/sshd.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        // Through a shell that waits for it: sshd closes every descriptor it inherits, which
        // Foundation's Process takes for the child's exit (and then blocks reaping it, stalling
        // every other Process of the test run). The shell passes SIGINT/SIGTERM on to sshd.
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", "trap 'kill $p 2>/dev/null; wait $p; exit 0' INT TERM; \"$0\" -D -e -f \"$1\" & p=$!; wait $p", sshd, dir + "/sshd_config",
        ]
        try rigLaunch(process, output: log)
        do {
            try waitUntil("sshd listening on 127.0.0.1:\(port)", timeout: 20) {
                guard process.isRunning else { throw RigError(message: "sshd exited") }
                return self.log.contains("Server listening on 127.0.0.1 port \(port)")
            }
        } catch {
            stop()
            throw RigError(message: "cannot start sshd: \(error)\n\(log)")
        }
    }

    /// The replica URL of `path` on this server, with the user key as `key-path`.
    func url(_ path: String, port: Int? = nil) -> String {
        "sftp://\(user)@127.0.0.1:\(port ?? self.port)\(path)?key-path=\(userKey)"
    }

    /// The environment for liteproof: this server's known_hosts, nothing from the user's ~/.ssh.
    func environment(knownHosts: String? = nil) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LITEPROOF_SFTP_") }
        env["LITEPROOF_SFTP_KNOWN_HOSTS"] = knownHosts ?? self.knownHosts
        return env
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Stops the listener and the sessions it started (its children: each logged-in connection).
    func stop() {
        let pid = process.processIdentifier
        for child in rigChildren(of: pid).reversed() { kill(child, SIGTERM) }
        terminate(process, grace: 5)
        process.waitUntilExit()
        RigState.unregister(pid: pid)
    }
}

/// The processes whose parent is `pid` (from /proc), and theirs.
func rigChildren(of pid: Int32) -> [Int32] {
    var found: [Int32] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let p = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8) else { continue }
        // Fields after the command name (which may hold spaces) in parentheses: state, ppid.
        guard let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, Int32(fields[1]) == pid { found += [p] + rigChildren(of: p) }
    }
    return found
}

/// A loopback TCP proxy in front of a server: `cut:N` closes the connection once N bytes came
/// from the server and every later connection at once (the server gone mid-answer); `stall:N`
/// stops passing bytes after N and holds the connection open, as every later one from its start
/// (a server that hangs); `cutonce:N` cuts only the first connection that reaches N (a network
/// blip: a new connection gets through).
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class TCPFaultProxy: @unchecked Sendable {
    let port: Int
    let process = Process()
    let logPath: String

    init(upstream: Int, mode: String) throws {
        port = try freeLoopbackPort()
        let script = """
            import os, signal, socket, sys, threading
            signal.signal(signal.SIGINT, lambda *_: os._exit(0))
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            port, upstream, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
            kind, limit = mode.split(":")[0], int(mode.split(":")[1])
            faulted = []
            def pump(src, dst, count):
                sent = 0
                mine = limit if not faulted else (10**15 if kind == "cutonce" else 0)
                if count and mine == 0 and kind == "cut":
                    for s in (src, dst):
                        try: s.shutdown(socket.SHUT_RDWR)
                        except OSError: pass
                    return
                try:
                    while True:
                        data = src.recv(65536)
                        if not data: break
                        if count and sent + len(data) >= mine:
                            dst.sendall(data[:mine - sent]); sent = mine
                            faulted.append(True)
                            if kind != "stall":
                                break
                            while src.recv(65536): pass
                            break
                        dst.sendall(data); sent += len(data)
                except OSError:
                    pass
                if count: print("bytes", sent, flush=True)
                for s in (src, dst):
                    try: s.shutdown(socket.SHUT_RDWR)
                    except OSError: pass
            def serve(c):
                u = socket.create_connection(("127.0.0.1", upstream))
                threading.Thread(target=pump, args=(c, u, False), daemon=True).start()
                threading.Thread(target=pump, args=(u, c, True), daemon=True).start()
            l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            l.bind(("127.0.0.1", port)); l.listen(16)
            print("ready", flush=True)
            while True:
                c, _ = l.accept(); serve(c)
            """
        let dir = try rigTempDir("tcp-proxy")
        logPath = dir + "/proxy.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, String(port), String(upstream), mode]
        try rigLaunch(process, output: log)
        do {
            let log = logPath
            try waitUntil("the TCP proxy on \(port)", timeout: 20) {
                (try? String(contentsOfFile: log, encoding: .utf8))?.contains("ready") == true
            }
        } catch {
            stop()
            throw error
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The bytes passed from the server to the client, one count per connection that ended.
    func bytesSent() throws -> [Int] {
        try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").compactMap {
            $0.hasPrefix("bytes ") ? Int($0.dropFirst(6)) : nil
        }
    }

    func stop() {
        terminate(process, grace: 3)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}
