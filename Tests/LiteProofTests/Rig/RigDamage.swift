// Test rig: copies of replicas for damaging, damage helpers, and `litestream restore`.
//
// The shared replicas from ReplicaFactory must never be modified: tests damage a
// scratchCopy(of:) instead.

import Foundation

// LZ4 goes through CLZ4's LZ4F API when the test target can import it (it can when
// it depends, even indirectly through the LiteProof library, on the CLZ4 system
// library target); otherwise, or when built with -Xswiftc -DRIG_LZ4_CLI, through
// the `lz4` command-line tool.
#if canImport(CLZ4) && !RIG_LZ4_CLI
    import CLZ4
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Copies `r.replicaDir` to a fresh temp folder with `cp -a` (keeps mtimes and
/// modes) and returns the copy's replica root (it contains generations/ or ltx/).
func scratchCopy(of r: RealReplica) throws -> String {
    try scratchCopy(ofDirectory: r.replicaDir)
}

/// `cp -a dir <fresh temp>/replica`; returns the copy.
func scratchCopy(ofDirectory dir: String) throws -> String {
    let dest = try rigTempDir("scratch") + "/replica"
    let (status, out) = try runProcess("/bin/cp", ["-a", dir, dest], timeout: 60)
    guard status == 0 else { throw RigError("cp -a \(dir) \(dest) failed (\(status)): \(out)") }
    return dest
}

/// XORs the byte at `offset` with `mask` (default 0xFF, so it always changes).
/// Keeps the file's mtime unless `preserveMTime` is false.
func flipByte(_ path: String, at offset: Int, mask: UInt8 = 0xFF, preserveMTime: Bool = true) throws {
    precondition(mask != 0, "a zero mask changes nothing")
    let times = try rigFileTimes(path)
    guard let h = FileHandle(forUpdatingAtPath: path) else { throw RigError("cannot open \(path) for update") }
    defer { try? h.close() }
    let size = Int(h.seekToEndOfFile())
    guard offset >= 0 && offset < size else {
        throw RigError("flipByte: offset \(offset) outside \(path) (\(size) bytes)")
    }
    h.seek(toFileOffset: UInt64(offset))
    let old = h.readData(ofLength: 1)
    h.seek(toFileOffset: UInt64(offset))
    h.write(Data([old[old.startIndex] ^ mask]))
    h.synchronizeFile()
    try h.close()
    if preserveMTime { try rigSetFileTimes(path, times) }
}

/// Cuts (or zero-extends) the file to `size` bytes. Keeps the mtime unless told not to.
func truncate(_ path: String, to size: Int, preserveMTime: Bool = true) throws {
    let times = try rigFileTimes(path)
    #if canImport(Glibc)
        let rc = Glibc.truncate(path, off_t(size))
    #else
        let rc = Darwin.truncate(path, off_t(size))
    #endif
    guard rc == 0 else { throw RigError("truncate \(path) to \(size): \(String(cString: strerror(errno)))") }
    if preserveMTime { try rigSetFileTimes(path, times) }
}

/// Decompresses the LZ4-frame file at `path`, lets `transform` change the
/// decompressed bytes, and writes them back as one valid LZ4 frame with the
/// content checksum ON (so the frame itself stays valid and only checksums
/// inside the payload, e.g. SQLite WAL frame checksums, can catch the change).
/// The original frame's block size / block mode / content-size flag are reused
/// where the LZ4F API is available. Keeps the file's mtime.
func recompressLZ4(_ path: String, transform: (inout [UInt8]) -> Void) throws {
    let times = try rigFileTimes(path)
    let compressed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var plain: [UInt8]
    let frame: RigLZ4FrameSettings
    (plain, frame) = try rigLZ4FrameDecompress(compressed, path: path)
    transform(&plain)
    let out = try rigLZ4FrameCompress(plain, like: frame)
    try Data(out).write(to: URL(fileURLWithPath: path))
    try rigSetFileTimes(path, times)
}

/// Decompresses a whole LZ4-frame file (helper for tests that want to look inside).
func lz4DecompressFile(_ path: String) throws -> [UInt8] {
    let compressed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    return try rigLZ4FrameDecompress(compressed, path: path).0
}

struct RigLZ4FrameSettings {
    var blockSizeID: UInt32 = 0  // LZ4F_blockSizeID_t raw value; 0 = default
    var blockLinked: Bool = false
    var contentSizeFlag: Bool = false
    var blockChecksum: Bool = false
}

#if canImport(CLZ4) && !RIG_LZ4_CLI

    private func rigLZ4Check(_ code: Int, _ what: String) throws {
        if LZ4F_isError(code) != 0 {
            throw RigError("LZ4F \(what): \(String(cString: LZ4F_getErrorName(code)))")
        }
    }

    func rigLZ4FrameDecompress(_ src: [UInt8], path: String) throws -> ([UInt8], RigLZ4FrameSettings) {
        var dctx: OpaquePointer?
        try rigLZ4Check(LZ4F_createDecompressionContext(&dctx, liteproof_lz4f_version()), "createDecompressionContext")
        defer { LZ4F_freeDecompressionContext(dctx) }
        var settings = RigLZ4FrameSettings()
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try src.withUnsafeBufferPointer { s in
            guard let base = s.baseAddress else { throw RigError("\(path): empty file is not an LZ4 frame") }
            var info = LZ4F_frameInfo_t()
            var consumed = s.count
            try rigLZ4Check(LZ4F_getFrameInfo(dctx, &info, base, &consumed), "getFrameInfo(\(path))")
            settings.blockSizeID = info.blockSizeID.rawValue
            settings.blockLinked = info.blockMode == LZ4F_blockLinked
            settings.contentSizeFlag = info.contentSize != 0
            settings.blockChecksum = info.blockChecksumFlag == LZ4F_blockChecksumEnabled
            var pos = consumed
            var hint = 1
            while true {
                var inSize = s.count - pos
                var outSize = chunk.count
                hint = try chunk.withUnsafeMutableBytes { c -> Int in
                    let r = LZ4F_decompress(dctx, c.baseAddress, &outSize, base + pos, &inSize, nil)
                    try rigLZ4Check(r, "decompress(\(path))")
                    return r
                }
                out.append(contentsOf: chunk[0..<outSize])
                pos += inSize
                if hint == 0 && pos == s.count { break }  // frame complete, input used up
                if inSize == 0 && outSize == 0 { break }  // no progress: truncated input
            }
            if hint != 0 { throw RigError("\(path): LZ4 frame is incomplete (decoder wants \(hint) more bytes)") }
        }
        return (out, settings)
    }

    func rigLZ4FrameCompress(_ plain: [UInt8], like settings: RigLZ4FrameSettings) throws -> [UInt8] {
        var prefs = LZ4F_preferences_t()
        if settings.blockSizeID != 0 {
            prefs.frameInfo.blockSizeID = LZ4F_blockSizeID_t(rawValue: settings.blockSizeID)
        }
        prefs.frameInfo.blockMode = settings.blockLinked ? LZ4F_blockLinked : LZ4F_blockIndependent
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        prefs.frameInfo.blockChecksumFlag = settings.blockChecksum ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum
        prefs.frameInfo.contentSize = settings.contentSizeFlag ? UInt64(plain.count) : 0
        let bound = LZ4F_compressFrameBound(plain.count, &prefs)
        var out = [UInt8](repeating: 0, count: bound)
        let n = try out.withUnsafeMutableBytes { o -> Int in
            try plain.withUnsafeBytes { p -> Int in
                let r = LZ4F_compressFrame(o.baseAddress, o.count, p.baseAddress, p.count, &prefs)
                try rigLZ4Check(r, "compressFrame")
                return r
            }
        }
        return Array(out[0..<n])
    }

#else

    // Fallback when CLZ4 is not importable from the test target: the `lz4` CLI
    // (frame format, content checksum on by default; independent blocks).
    func rigLZ4FrameDecompress(_ src: [UInt8], path: String) throws -> ([UInt8], RigLZ4FrameSettings) {
        let dir = try rigTempDir("lz4")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/plain"
        let (status, text) = try runProcess(rigLZ4CLI(), ["-d", "-f", "-q", path, out], timeout: 60)
        guard status == 0 else { throw RigError("lz4 -d \(path) failed (\(status)): \(text)") }
        return ([UInt8](try Data(contentsOf: URL(fileURLWithPath: out))), RigLZ4FrameSettings())
    }

    func rigLZ4FrameCompress(_ plain: [UInt8], like settings: RigLZ4FrameSettings) throws -> [UInt8] {
        let dir = try rigTempDir("lz4")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(plain).write(to: URL(fileURLWithPath: dir + "/plain"))
        let (status, text) = try runProcess(
            rigLZ4CLI(), ["-z", "-f", "-q", "--content-size", dir + "/plain", dir + "/out.lz4"],
            timeout: 60)
        guard status == 0 else { throw RigError("lz4 -z failed (\(status)): \(text)") }
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/out.lz4")))
    }

    private func rigLZ4CLI() throws -> String {
        for p in ["/usr/bin/lz4", "/usr/local/bin/lz4", "/opt/homebrew/bin/lz4"]
        where FileManager.default.isExecutableFile(atPath: p) { return p }
        throw RigError("no lz4 CLI found (apt-get install lz4), and CLZ4 is not importable here")
    }

#endif

// MARK: - litestream restore

/// Runs the real `litestream restore -o OUTPUT [args] file://REPLICADIR` with a
/// timeout. `output` must not exist yet (0.5.17 also accepts `-force`).
/// 0.3.13 args: -generation NAME, -index HEX, -timestamp RFC3339, -parallelism N, -v.
/// 0.5.17 args: -txid HEX, -timestamp RFC3339, -integrity-check none|quick|full,
///              -dry-run, -json, -force, -parallelism N.
@discardableResult
func litestreamRestore(
    _ version: LitestreamVersion, replicaDir: String, output: String,
    args: [String] = [], timeout: TimeInterval = 120
) throws -> (status: Int32, output: String) {
    let binary = try Litestream.binary(version)
    let abs = URL(fileURLWithPath: replicaDir).standardizedFileURL.path
    return try runProcess(
        binary, ["restore", "-no-expand-env", "-o", output] + args + ["file://" + abs],
        timeout: timeout)
}
