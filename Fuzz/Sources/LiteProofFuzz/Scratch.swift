import CLZ4
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The folder where targets that read files find their input: one per process, under TMPDIR
/// (run.sh points TMPDIR at /dev/shm when it exists), removed at exit.
enum Scratch {
    nonisolated(unsafe) static var root = ""

    static func setUp() {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        root = base + "/liteproof-fuzz-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        atexit { Scratch.tearDown() }
    }

    static func tearDown() {
        if !root.isEmpty { try? FileManager.default.removeItem(atPath: root) }
    }

    /// Writes `bytes` to `root/name` (replacing it) and returns the path.
    @discardableResult
    static func write(_ bytes: UnsafeRawBufferPointer, as name: String) -> String {
        let path = root + "/" + name
        let parent = (path as NSString).deletingLastPathComponent
        if parent != root { try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            precondition(n > 0, "cannot write \(path)")
            done += n
        }
        close(fd)
        return path
    }

    /// An empty folder `root/name` (emptied if it exists).
    static func folder(_ name: String) -> String {
        let path = root + "/" + name
        try? FileManager.default.removeItem(atPath: path)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Runs `body`; an error it throws is the clean answer to bad input, so it is dropped.
@inline(__always)
func expectCleanError(_ body: () throws -> Void) {
    do { try body() } catch {}
}

/// The repository root, from this file's place in it (Fuzz/Sources/LiteProofFuzz/Scratch.swift).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url.path
}()

/// Compresses `bytes` into one LZ4 frame with a content checksum, as Litestream 0.3 writes its files.
func lz4Frame(_ bytes: UnsafeRawBufferPointer, blockSize: LZ4F_blockSizeID_t = LZ4F_default) -> [UInt8] {
    var prefs = LZ4F_preferences_t()
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
    prefs.frameInfo.blockSizeID = blockSize
    let bound = LZ4F_compressFrameBound(bytes.count, &prefs)
    var out = [UInt8](repeating: 0, count: bound)
    let n = out.withUnsafeMutableBytes { LZ4F_compressFrame($0.baseAddress, bound, bytes.baseAddress, bytes.count, &prefs) }
    precondition(LZ4F_isError(n) == 0, "LZ4F_compressFrame failed")
    out.removeLast(bound - n)
    return out
}
