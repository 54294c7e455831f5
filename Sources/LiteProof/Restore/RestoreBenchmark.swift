import Foundation

/// Times restores of a replica — LiteProof's own, phase by phase, and optionally
/// `litestream restore` alternating with it — into a scratch folder that is removed afterwards.
/// The replica is only read.
public struct RestoreBenchmark {
    public struct Stats: Codable, Sendable {
        public var median: Double
        public var min: Double
        public var max: Double

        init(_ samples: [Double]) {
            let s = samples.sorted()
            median = s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
            min = s.first ?? 0
            max = s.last ?? 0
        }
    }

    public struct Report: Codable, Sendable {
        public var replica: String
        public var format: Replica.Format
        public var position: String
        public var runs: Int
        public var replicaBytes: Int64
        public var databaseBytes: Int64
        /// Seconds per phase (median, min, max over the runs).
        public var phases: [String: Stats]
        /// Whole restore (plan to rename), LiteProof.
        public var total: Stats
        public var readMBps: Double
        public var writeMBps: Double
        /// Peak resident memory of the `liteproof restore` process, bytes (highest over the runs).
        public var peakMemory: Int64
        /// The physical floor of a restore: reading and decompressing every plan file once (on all
        /// cores) plus writing the database once (one sequential pass and an fsync), medians.
        public var floor: Floor?
        public var litestream: LitestreamRuns?
    }

    public struct Floor: Codable, Sendable {
        public var readDecompress: Double
        public var writeOnce: Double
        public var seconds: Double { readDecompress + writeOnce }
        /// LiteProof's median restore / the floor.
        public var ratio: Double
    }

    public struct LitestreamRuns: Codable, Sendable {
        public var binary: String
        public var version: String
        public var total: Stats?
        public var peakMemory: Int64?
        /// LiteProof median / Litestream median.
        public var ratio: Double?
        public var identicalOutput: Bool?
        public var error: String?
    }

    public let replica: Replica
    public var runs = 5
    public var integrityCheck: RestoreOptions.IntegrityCheck = .quick
    public var litestream: String?
    public var progress: ((String) -> Void)?
    /// The `liteproof` executable whose restores are timed (this process's, by default).
    public var executable: String = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? "liteproof"

    public init(replica: Replica, runs: Int = 5, litestream: String? = nil) {
        self.replica = replica
        self.runs = runs
        self.litestream = litestream
    }

    public func run() throws -> Report {
        let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-bench")
        defer { ScratchSpace.release(scratch) }
        // Each run plans once (timed), and its passes read that plan's files.
        var plan: RestorePlan?
        var samples: [String: [Double]] = [:]
        var totals: [Double] = []
        var lsTotals: [Double] = []
        var lsPeak: Int64 = 0
        var lsError: String?
        var identical: Bool?
        var dbBytes: Int64 = 0
        var peak: Int64 = 0
        let lsVersion = litestream.map { Self.version(of: $0) } ?? ""

        for i in 0...runs {  // run 0 is the warm-up
            let warm = i == 0
            progress?(warm ? "warm-up" : "run \(i) of \(runs)")
            // Listing and planning (opening the replica reads the folder afresh).
            var t = Date()
            let fresh = try Replica.open(storage: replica.storage).choosing(generation: replica.chosenGeneration)
            let planned = try RestorePlanner(replica: fresh).plan()
            let planTime = Date().timeIntervalSince(t)
            plan = planned
            // Reading only: every file of the plan, to nowhere.
            t = Date()
            try readAll(planned, in: fresh)
            let readTime = Date().timeIntervalSince(t)
            // Reading and decompressing, nothing applied.
            t = Date()
            try decompressAll(planned, in: fresh)
            let decompressTime = Date().timeIntervalSince(t)
            // The whole restore, as a user runs it: `liteproof restore` in its own process, so
            // its wall time and peak memory are measured like litestream's.
            let out = scratch + "/liteproof-\(i).db"
            let run = try ChildProcess.run(
                executable,
                [
                    "restore", replica.root, "-o", out, "--json", "--quiet",
                    "--integrity-check", integrityCheck.rawValue,
                ] + (replica.chosenGeneration.map { ["--generation", $0] } ?? []), scratch: scratch)
            guard run.status == 0, let data = run.stdout.data(using: .utf8),
                let report = try? JSONDecoder().decode(RestoreReport.self, from: data)
            else {
                throw LiteProofError.storage(.local, "liteproof restore failed in the benchmark (exit \(run.status)): \(run.stdout.suffix(300))")
            }
            dbBytes = report.bytesWritten
            peak = max(peak, run.peakMemory)
            // Writing the result once: the database's bytes in one sequential pass, then fsync.
            t = Date()
            try writeOnce(bytes: dbBytes, to: scratch + "/write-once-\(i).db")
            let writeTime = Date().timeIntervalSince(t)
            if !warm {
                samples["plan", default: []].append(planTime)
                samples["read", default: []].append(readTime)
                samples["read+decompress", default: []].append(decompressTime)
                samples["write-once", default: []].append(writeTime)
                samples["apply", default: []].append(report.phases.apply)
                samples["sync", default: []].append(report.phases.sync)
                samples["integrity-check", default: []].append(report.phases.integrityCheck)
                totals.append(run.seconds)
            }
            if let bin = litestream, lsError == nil {
                let lsOut = scratch + "/litestream-\(i).db"
                let r = try ChildProcess.run(
                    bin, ["restore", "-o", lsOut] + (replica.chosenGeneration.map { ["-generation", $0] } ?? []) + ["file://" + replica.root],
                    scratch: scratch)
                if r.status != 0 {
                    lsError = "litestream restore exited \(r.status): \(r.stdout.suffix(300))"
                } else {
                    lsPeak = max(lsPeak, r.peakMemory)
                    if !warm { lsTotals.append(r.seconds) }
                    if identical == nil { identical = FileManager.default.contentsEqual(atPath: out, andPath: lsOut) }
                }
                for suffix in ["", "-wal", "-shm", ".tmp-wal", ".tmp-shm"] { FS.remove(lsOut + suffix) }
            }
            FS.remove(out)
        }
        guard let plan else { preconditionFailure("the warm-up run plans") }
        let total = Stats(totals)
        var ls: LitestreamRuns?
        if let bin = litestream {
            let lsStats = lsTotals.isEmpty ? nil : Stats(lsTotals)
            ls = LitestreamRuns(
                binary: bin, version: lsVersion, total: lsStats, peakMemory: lsError == nil ? lsPeak : nil,
                ratio: lsStats.map { total.median / $0.median }, identicalOutput: identical, error: lsError)
        }
        let apply = Stats(samples["apply"] ?? []).median
        let floorRD = Stats(samples["read+decompress"] ?? []).median, floorW = Stats(samples["write-once"] ?? []).median
        let floor = Floor(readDecompress: floorRD, writeOnce: floorW, ratio: floorRD + floorW > 0 ? total.median / (floorRD + floorW) : 0)
        return Report(
            replica: replica.root, format: replica.format, position: plan.position.description, runs: runs,
            replicaBytes: plan.totalBytes, databaseBytes: dbBytes,
            phases: samples.mapValues { Stats($0) }, total: total,
            readMBps: apply > 0 ? Double(plan.totalBytes) / apply / 1e6 : 0,
            writeMBps: apply > 0 ? Double(dbBytes) / apply / 1e6 : 0,
            peakMemory: peak, floor: floor, litestream: ls)
    }

    /// Writes `bytes` of zero pages to a new file in 1 MiB `pwrite`s, fsyncs it and removes it.
    func writeOnce(bytes: Int64, to path: String) throws {
        let out = try OutputFile(creating: path)
        defer { FS.remove(path) }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { chunk.deallocate() }
        chunk.initializeMemory(as: UInt8.self, repeating: 0x5A)
        var offset: Int64 = 0
        while offset < bytes {
            let n = Int(min(Int64(chunk.count), bytes - offset))
            try out.write(UnsafeRawBufferPointer(rebasing: chunk[0..<n]), at: offset)
            offset += Int64(n)
        }
        try out.sync()
    }

    func readAll(_ plan: RestorePlan, in replica: Replica) throws {
        for path in plan.files {
            try replica.open(path).forEachChunk { _, _ in }
        }
    }

    /// Decodes every plan file once, on all cores, as fast as LiteProof can: 0.3 files through
    /// the restore's block-parallel decoder (both cores on each file, content checksums checked),
    /// LTX files one per core.
    func decompressAll(_ plan: RestorePlan, in replica: Replica) throws {
        switch plan {
        case .v03(let p):
            let prefetcher = SegmentPrefetcher(replica: replica, files: p.files)
            defer { prefetcher.cancel() }
            for file in p.files { _ = try prefetcher.decompress(file) { _ in } }
        case .ltx(let p):
            _ = try parallelMap(p.files) { ref -> Int in
                try LTX.decode(try replica.open(ref.path), name: ref.path)
                return 0
            }
        }
    }

    static func version(of binary: String) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["version"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        guard (try? p.run()) != nil else { return "unknown" }
        p.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension RestoreBenchmark.Report {
    public func renderText() -> String {
        func s(_ x: Double) -> String { String(format: "%8.3f", x) }
        var lines = [
            "restore benchmark: \(replica) (\(format.rawValue)) to \(position)",
            "replica \(Units.bytes(replicaBytes)) → database \(Units.bytes(databaseBytes)), \(runs) runs after a warm-up", "",
            "phase                 median      min      max   (seconds)",
        ]
        for name in ["plan", "read", "read+decompress", "write-once", "apply", "sync", "integrity-check"] {
            if let p = phases[name] { lines.append("\(name.padding(toLength: 18, withPad: " ", startingAt: 0))  \(s(p.median)) \(s(p.min)) \(s(p.max))") }
        }
        lines.append("\("liteproof restore".padding(toLength: 18, withPad: " ", startingAt: 0))  \(s(total.median)) \(s(total.min)) \(s(total.max))")
        if let ls = litestream, let t = ls.total {
            lines.append("\("litestream restore".padding(toLength: 18, withPad: " ", startingAt: 0))  \(s(t.median)) \(s(t.min)) \(s(t.max))   (\(ls.version))")
        }
        lines.append("")
        lines.append("('read' reads the plan's files only; 'read+decompress' also decodes them, on all cores; 'apply' is the")
        lines.append(" restore's read, decompress and write, overlapped; 'write-once' writes the database's size once and")
        lines.append(" fsyncs; plan/read/decompress/write-once are measured in separate passes)")
        if let f = floor {
            lines.append(
                String(
                    format: "floor: %.3f s (read+decompress every plan file once %.3f s + write the result once %.3f s); "
                        + "liteproof restore takes %.2f× the floor",
                    f.seconds, f.readDecompress, f.writeOnce, f.ratio))
        }
        lines.append(String(format: "throughput: %.0f MB/s of replica read, %.0f MB/s of database written (during apply)", readMBps, writeMBps))
        lines.append("liteproof restore peak memory: \(Units.bytes(peakMemory))")
        if let ls = litestream {
            if let e = ls.error {
                lines.append("litestream: \(e)")
            } else if let r = ls.ratio {
                lines.append(
                    String(format: "LiteProof takes %.2f× litestream's time (%.1f× faster)", r, 1 / r) + "; outputs "
                        + (ls.identicalOutput == true ? "byte-identical" : "DIFFER"))
                if let m = ls.peakMemory { lines.append("litestream peak memory: \(Units.bytes(m))") }
            }
        }
        return lines.joined(separator: "\n")
    }
}
