import Foundation

/// A running `liteproof watch … --listen :0 --json`, its port read from the `listening` event.
/// Stop it in a defer (SIGTERM, then SIGKILL after 10 s).
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class WatchProcess: @unchecked Sendable {
    let process = Process()
    let outPath: String
    let errPath: String
    /// The port it listens on (read from its `listening` event).
    private(set) var port = 0

    /// Starts `liteproof watch` with `args` (which must hold `--listen` and `--json`), in
    /// `environment` when given, and waits for the address it listens on.
    init(_ args: [String], environment: [String: String]? = nil) throws {
        let dir = try rigTempDir("watch-serve")
        outPath = dir + "/stdout"
        errPath = dir + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: liteproofBinary())
        process.arguments = args
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        RigState.register(pid: process.processIdentifier)
        var found: Int?
        let process = process, outPath = outPath
        do {
            try waitUntil("the watcher's listening event", timeout: 30) {
                guard process.isRunning else { throw RigError(message: "liteproof watch exited") }
                let address = (try? Self.events(outPath))?.first { $0["event"] as? String == "listening" }?["address"] as? String
                found = address.flatMap { $0.split(separator: ":").last }.flatMap { Int($0) }
                return found != nil
            }
        } catch {
            _ = stop()
            throw RigError(message: "\(error)\nstdout: \(stdout)\nstderr: \(stderr)")
        }
        port = found ?? 0
    }

    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// The JSON Lines printed so far.
    var events: [[String: Any]] { (try? Self.events(outPath)) ?? [] }

    private static func events(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        // (The last line may still be being written.)
        return text.split(separator: "\n").compactMap { try? json(String($0)) }
    }

    /// SIGTERM; SIGKILL after 10 s. Returns the exit status (a signal's number + 128 if killed).
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    deinit { stop() }
}
