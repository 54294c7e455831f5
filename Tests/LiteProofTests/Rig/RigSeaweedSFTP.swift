// A second SFTP server, one that checks passwords itself: SeaweedFS's `weed sftp` (the binary
// .ci/setup installs for the S3 tests) in front of the filer of a `weed mini`, with one user in
// its `-userStoreFile` and a throwaway host key made by ssh-keygen. OpenSSH's sshd, run
// unprivileged, cannot check a password; this one can.

import Foundation
import LiteProof

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `weed sftp` on 127.0.0.1 serving a `weed mini`'s filer: log in as ``user`` with
/// ``password``; the host key is in ``knownHosts`` (`[127.0.0.1]:PORT`). The user's paths are
/// under ``home`` in the filer (weed sftp roots each user at its HomeDir). Stop it in a defer.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class SeaweedSFTPServer: @unchecked Sendable {
    let seaweed: SeaweedServer
    let port: Int
    let dir: String
    let user = "backup"
    /// With a `@` and a `:` that a URL must percent-encode (``url(_:password:)`` does).
    let password: String
    /// The user's HomeDir in the filer: SFTP path `/x` is filer path `HOME/x`.
    let home = "/sftp/backup"
    let knownHosts: String
    let hostKeyLine: String
    let process = Process()
    let logPath: String

    init() throws {
        let weed = try SeaweedServer.binary()
        seaweed = try SeaweedServer.start()
        do {
            dir = try rigTempDir("weed-sftp")
            password = "pw@\(String(UInt32.random(in: 0...UInt32.max), radix: 36)):x"
            let made = try runWithEnvironment(
                "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "liteproof-test", "-f", dir + "/host_key"],
                environment: ProcessInfo.processInfo.environment)
            guard made.status == 0 else { throw RigError(message: "ssh-keygen: \(made.output)") }
            hostKeyLine = try String(contentsOfFile: dir + "/host_key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
            // The user store: a plain-text password; "*" is every permission ("all" is not one).
            let users: [[String: Any]] = [
                [
                    "Username": user, "Password": password, "PublicKeys": [String](), "HomeDir": home, "Permissions": [home: ["*"]],
                    "Uid": 1000, "Gid": 1000,
                ]
            ]
            try JSONSerialization.data(withJSONObject: users).write(to: URL(fileURLWithPath: dir + "/users.json"))
            port = try freeLoopbackPort()
            knownHosts = dir + "/known_hosts"
            try "[127.0.0.1]:\(port) \(hostKeyLine)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
            logPath = dir + "/sftp.log"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            process.executableURL = URL(fileURLWithPath: weed)
            // `-filer=HOST:HTTP.GRPC`: without `.GRPC` it assumes the HTTP port + 10000.
            process.arguments = [
                "sftp", "-ip.bind=127.0.0.1", "-port=\(port)", "-filer=127.0.0.1:\(seaweed.filerPort).\(seaweed.filerGRPCPort)",
                "-sshPrivateKey=\(dir)/host_key", "-userStoreFile=\(dir)/users.json", "-authMethods=password",
            ]
            process.currentDirectoryURL = URL(fileURLWithPath: dir)
            try rigLaunch(process, output: log)
        } catch {
            seaweed.stop()
            throw error
        }
        do {
            let port = port
            try waitUntil("weed sftp listening on 127.0.0.1:\(port)", timeout: 30) {
                guard process.isRunning else { throw RigError(message: "weed sftp exited") }
                return self.log.contains("Starting Seaweed SFTP service on 127.0.0.1:\(port)")
            }
        } catch {
            stop()
            throw RigError(message: "cannot start weed sftp: \(error)\n\(log)")
        }
    }

    /// `sftp://USER:PASSWORD@127.0.0.1:PORT/PATH`, the password percent-encoded as a URL's user
    /// part needs; another `password` for a login that must fail.
    func url(_ path: String, password: String? = nil) -> String {
        let encoded = (password ?? self.password).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return "sftp://\(user):\(encoded)@127.0.0.1:\(port)\(path)"
    }

    /// The environment for liteproof and Litestream: this server's known_hosts, and a HOME
    /// without ~/.ssh so that only the password is tried.
    func environment() throws -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LITEPROOF_SFTP_") }
        env["LITEPROOF_SFTP_KNOWN_HOSTS"] = knownHosts
        env["HOME"] = try rigTempDir("weed-sftp-home")
        return env
    }

    /// The files under SFTP path `path` (relative to it), read from the filer's JSON listing:
    /// the rig's own view of the replica, not LiteProof's.
    func files(_ path: String) throws -> [String] {
        let root = home + path
        var found: [String] = []
        var folders = [root]
        while let folder = folders.popLast() {
            let listing = try filerGet(folder + "/?limit=100000")
            guard let object = try JSONSerialization.jsonObject(with: listing) as? [String: Any] else {
                throw RigError(message: "the filer's listing of \(folder) is not a JSON object")
            }
            for entry in object["Entries"] as? [[String: Any]] ?? [] {
                guard let full = entry["FullPath"] as? String, let mode = entry["Mode"] as? Int else { continue }
                // Go's os.ModeDir.
                if mode & (1 << 31) != 0 { folders.append(full) } else { found.append(String(full.dropFirst(root.count + 1))) }
            }
        }
        return found.sorted()
    }

    private func filerGet(_ path: String) throws -> Data {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(seaweed.filerPort)\(path)")!)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.timeoutInterval = 10
        let done = DispatchSemaphore(value: 0)
        let result = Locked<Result<Data, Error>>(.failure(RigError(message: "no answer from the filer for \(path)")))
        URLSession.shared.dataTask(with: request) { data, response, error in
            let status = (response as? HTTPURLResponse)?.statusCode ?? -1
            result.update {
                $0 =
                    status == 200 && data != nil
                    ? .success(data!) : .failure(RigError(message: "filer GET \(path): HTTP \(status) \(error.map { "\($0)" } ?? "")"))
            }
            done.signal()
        }.resume()
        done.wait()
        return try result.update { $0 }.get()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        terminate(process, grace: 5)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
        // weed sftp leaves its local socket in /tmp, named after its port.
        try? FileManager.default.removeItem(atPath: "/tmp/seaweedfs-sftp-\(port).sock")
        seaweed.stop()
    }
}
