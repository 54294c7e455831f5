import Foundation
import LiteProof

/// A real Litestream replica made by `Benchmarks/make-replica.sh` with the real `litestream
/// replicate`, and the live database it replicates (quiesced and checkpointed).
public struct BenchReplica: Sendable {
    public let version: String
    public let size: BenchSize
    /// `Benchmarks/.data/<version>-<size>mb` or `<version>-<profile>`: `live.db`, `replica/`,
    /// `litestream.yml`, logs.
    public let folder: String

    public var replicaPath: String { folder + "/replica" }
    public var livePath: String { folder + "/live.db" }
    /// Size of the database the replica restores to (the live database's file).
    public var databaseBytes: Int64 { BenchData.fileSize(livePath) }
    /// Bytes of all files of the replica (what `verify` reads).
    public var replicaBytes: Int64 { BenchData.treeSize(replicaPath) }
    public var replicaFiles: Int { BenchData.fileCount(replicaPath) }
}

/// The replicas the suites measure: three sizes of the append profile (`large` made and measured
/// only with `LITEPROOF_BENCH_LARGE=1`) and the two profiles dominated by updates
/// (`make-replica.sh VERSION update-heavy|small-tx`).
public enum BenchSize: String, Sendable, CaseIterable {
    case small, medium, large
    case updateHeavy = "update-heavy"
    case smallTx = "small-tx"

    /// The second argument of `make-replica.sh`: SIZE_MB for the append sizes (the databases it
    /// makes are somewhat larger, rows and index overhead: 16.6 MB, 359 MB and 1.48 GB), or the
    /// profile's name.
    public var makeArgument: String {
        switch self {
        case .small: return "16"
        case .medium: return "256"
        case .large: return "1024"
        case .updateHeavy, .smallTx: return rawValue
        }
    }

    /// The cache folder's name after `VERSION-` (the same as `compare-litestream.sh`'s).
    public var folderSuffix: String {
        switch self {
        case .small, .medium, .large: return makeArgument + "mb"
        case .updateHeavy, .smallTx: return rawValue
        }
    }

    /// The name in benchmark names: `small`, `medium`, `large`, `update-heavy`, `small-tx`.
    public var label: String { rawValue }
}

/// Where the benchmark inputs live and how they are made, once.
public enum BenchData {
    /// The Litestream versions measured (both replica formats: 0.3 WAL segments, 0.5 LTX files).
    public static let versions = ["0.3.13", "0.5.17"]

    /// `LITEPROOF_BENCH_LARGE=1` turns on the ~1 GB benchmarks (making each such replica once
    /// takes minutes).
    public static var largeEnabled: Bool {
        ProcessInfo.processInfo.environment["LITEPROOF_BENCH_LARGE"] == "1"
    }

    /// The replicas to register: small, medium and both update profiles always, large when
    /// enabled.
    public static var sizes: [BenchSize] {
        largeEnabled ? [.small, .medium, .large, .updateHeavy, .smallTx] : [.small, .medium, .updateHeavy, .smallTx]
    }

    /// This package's folder (`Benchmarks/`), from this file's path at build time.
    public static let packageDir: String = {
        if let dir = ProcessInfo.processInfo.environment["LITEPROOF_BENCH_DIR"], !dir.isEmpty { return dir }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // BenchSupport
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()  // Benchmarks
            .path
    }()

    /// The repository root (the parent of `Benchmarks/`).
    public static var repoRoot: String { (packageDir as NSString).deletingLastPathComponent }

    /// Cached replicas: `Benchmarks/.data/` (ignored by git); `LITEPROOF_BENCH_DATA` overrides.
    public static var dataDir: String {
        if let dir = ProcessInfo.processInfo.environment["LITEPROOF_BENCH_DATA"], !dir.isEmpty { return dir }
        return packageDir + "/.data"
    }

    /// The real Litestream binary `make-replica.sh` runs, installed by `bash .ci/setup`.
    public static func litestreamBinary(_ version: String) -> String {
        repoRoot + "/.tools/litestream-\(version)/bin/litestream"
    }

    /// The replica of `version` at `size`: made by `make-replica.sh` the first time, then reused
    /// (a folder counts as made once its `.complete` marker exists).
    public static func replica(version: String, size: BenchSize) throws -> BenchReplica {
        let folder = dataDir + "/\(version)-\(size.folderSuffix)"
        let replica = BenchReplica(version: version, size: size, folder: folder)
        let fm = FileManager.default
        if fm.fileExists(atPath: folder + "/.complete") {
            describe(replica)
            return replica
        }

        let binary = litestreamBinary(version)
        guard fm.isExecutableFile(atPath: binary) else {
            throw BenchError(
                "the real Litestream \(version) binary is missing (\(binary)); the benchmarks make their "
                    + "replicas with it. Run `bash .ci/setup` in \(repoRoot) first.")
        }
        guard which("sqlite3") != nil else {
            throw BenchError("the sqlite3 command-line tool is missing; run `bash .ci/setup` in \(repoRoot) first.")
        }
        try fm.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let temp = folder + ".making-\(getpid())"
        try? fm.removeItem(atPath: temp)
        note("making a real Litestream \(version) replica (\(size.label): make-replica.sh \(version) \(size.makeArgument)) in \(folder); once, it is reused afterwards…")
        let started = Date()
        let log = temp + ".log"
        let status = try run(
            "/bin/bash", [packageDir + "/make-replica.sh", version, size.makeArgument, temp],
            outputTo: log)
        guard status == 0 else {
            let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? ""
            try? fm.removeItem(atPath: temp)
            throw BenchError("make-replica.sh \(version) \(size.makeArgument) failed (exit \(status)); its output (\(log)):\n\(tail)")
        }
        try? fm.removeItem(atPath: folder)
        try fm.moveItem(atPath: temp, toPath: folder)
        let summary = (try? String(contentsOfFile: log, encoding: .utf8))?
            .split(separator: "\n").last.map(String.init) ?? ""
        try? fm.moveItem(atPath: log, toPath: folder + "/make-replica.log")
        try Data((summary + "\n").utf8).write(to: URL(fileURLWithPath: folder + "/.complete"))
        note("made in \(Int(Date().timeIntervalSince(started))) s: \(summary)")
        describe(replica)
        return replica
    }

    static func describe(_ r: BenchReplica) {
        let mb = { (bytes: Int64) in String(format: "%.1f MB", Double(bytes) / 1e6) }
        note("Litestream \(r.version) \(r.size.label): database \(mb(r.databaseBytes)), replica \(mb(r.replicaBytes)) in \(r.replicaFiles) files (\(r.folder))")
    }

    /// A fresh, empty folder for outputs, on the same disk as the replicas.
    public static func makeScratch(_ name: String) throws -> String {
        let dir = dataDir + "/scratch/\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    public static func removeScratch(_ dir: String) {
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: helpers

    /// Progress for the person running the benchmarks (stderr: stdout belongs to the tool).
    public static func note(_ message: String) {
        FileHandle.standardError.write(Data(("[liteproof-bench] " + message + "\n").utf8))
    }

    static func fileSize(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : 0
    }

    static func regularFiles(_ root: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        for case let rel as String in e {
            var st = stat()
            if stat(root + "/" + rel, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { out.append(root + "/" + rel) }
        }
        return out
    }

    static func treeSize(_ root: String) -> Int64 { regularFiles(root).reduce(0) { $0 + fileSize($1) } }
    static func fileCount(_ root: String) -> Int { regularFiles(root).count }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func run(_ executable: String, _ arguments: [String], outputTo log: String) throws -> Int32 {
        FileManager.default.createFile(atPath: log, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? out.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}

/// Why a benchmark's input could not be prepared.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Bytes per second of one iteration, in the unit of the suites' throughput metric (MB/s, 10^6).
public func megabytesPerSecond(bytes: Int64, nanoseconds: UInt64) -> Int {
    guard nanoseconds > 0 else { return 0 }
    return Int((Double(bytes) / 1e6) / (Double(nanoseconds) / 1e9))
}

/// Monotonic nanoseconds.
public func nowNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
