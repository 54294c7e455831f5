import Foundation
import LiteProof
import Testing

/// Paths of the package and of the example replicas committed under Tests/Fixtures (made by real
/// Litestream with Tests/Fixtures/make-examples.sh).
enum Fixtures {
    static let packageRoot: String = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir.path }
            dir.deleteLastPathComponent()
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    /// `example-0.3` or `example-0.5`: a folder with `replica/` and `live.db` (checkpointed).
    static func example(_ version: String) -> (replica: String, live: String) {
        let base = packageRoot + "/Tests/Fixtures/example-\(version)"
        return (base + "/replica", base + "/live.db")
    }

    static let v03Generation = "1f36b0de0c49a751"
    static func v03Segment(_ offsetHex: String) -> String { "generations/\(v03Generation)/wal/00000000_\(offsetHex).wal.lz4" }
    static let v03Snapshot = "generations/\(v03Generation)/snapshots/00000000.snapshot.lz4"
}

/// A copy of an example replica to damage (mtimes kept).
func exampleCopy(_ version: String) throws -> String {
    try scratchCopy(ofDirectory: Fixtures.example(version).replica)
}

/// Runs the verifier in-process.
func verify(_ path: String) throws -> VerifyReport {
    Verifier(replica: try Replica.open(path)).run()
}

/// The findings with a code, for assertions.
extension VerifyReport {
    func findings(_ code: FindingCode) -> [Finding] { findings.filter { $0.code == code } }
    var errorCodes: Set<String> { Set(findings.filter { $0.severity == .error }.map(\.code.rawValue)) }
}

/// Reads a whole file.
func bytes(of path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? -1
}

/// Writes bytes over a file (mtime is not kept).
func write(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// The `liteproof` executable built beside the test bundle, or the one `LITEPROOF_TEST_BINARY`
/// names (to run the command-line tests against another build, e.g. to see a test fail on the
/// build before a fix).
func liteproofBinary() -> String {
    if let other = ProcessInfo.processInfo.environment["LITEPROOF_TEST_BINARY"], !other.isEmpty { return other }
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = runner.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("liteproof").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir.deleteLastPathComponent()
    }
    return Fixtures.packageRoot + "/.build/debug/liteproof"
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the `liteproof` executable with `args`, capturing stdout and stderr separately.
/// Runs the CLI; `addressSpaceKiB` runs it under `ulimit -v` (a blow-up then fails fast instead
/// of taking the machine's memory; AddressSanitizer builds cannot start under such a limit).
func runLiteProof(_ args: [String], timeout: TimeInterval = 120, addressSpaceKiB: Int? = nil) throws -> CommandResult {
    let dir = try rigTempDir("cli")
    let outPath = dir + "/stdout", errPath = dir + "/stderr"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let p = Process()
    if let addressSpaceKiB {
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -v \(addressSpaceKiB); exec \"$0\" \"$@\"", liteproofBinary()] + args
    } else {
        p.executableURL = URL(fileURLWithPath: liteproofBinary())
        p.arguments = args
    }
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning { p.terminate(); p.waitUntilExit(); throw RigError(message: "liteproof \(args) timed out") }
    p.waitUntilExit()
    return CommandResult(
        status: p.terminationStatus,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// Parses a JSON object printed by `--json`.
func json(_ text: String) throws -> [String: Any] {
    guard let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw RigError(message: "not a JSON object: \(text.prefix(200))")
    }
    return obj
}

/// Recomputes the WAL checksum of the frame at `frameOffset` in `wal` (decompressed bytes of a
/// segment), seeded with `seed`; used to forge frames that pass the chain (damage tests).
func resealFrame(_ wal: inout [UInt8], at frameOffset: Int, pageSize: Int, seed: (UInt32, UInt32), bigEndian: Bool) {
    var s0 = seed.0, s1 = seed.1
    wal.withUnsafeBytes { b in
        WALChecksum.update(UnsafeRawBufferPointer(rebasing: b[frameOffset..<(frameOffset + 8)]), bigEndian: bigEndian, &s0, &s1)
        WALChecksum.update(UnsafeRawBufferPointer(rebasing: b[(frameOffset + 24)..<(frameOffset + 24 + pageSize)]), bigEndian: bigEndian, &s0, &s1)
    }
    for (i, v) in [s0, s1].enumerated() {
        let be = v.bigEndian
        withUnsafeBytes(of: be) { for k in 0..<4 { wal[frameOffset + 16 + i * 4 + k] = $0[k] } }
    }
}

func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
    UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
}

/// Expects a finding with `code` at `file` and `offset` in the report.
func expectFinding(_ r: VerifyReport, _ code: FindingCode, file: String, offset: Int64?, sourceLocation: SourceLocation = #_sourceLocation) {
    let hits = r.findings(code)
    #expect(hits.count >= 1, "expected \(code.rawValue); got \(r.findings)", sourceLocation: sourceLocation)
    #expect(
        hits.contains { $0.file == file && $0.offset == offset },
        "expected \(code.rawValue) at \(file) @\(offset.map(String.init) ?? "nil"); got \(hits)", sourceLocation: sourceLocation)
}
