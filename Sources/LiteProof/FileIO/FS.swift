import CPlatform
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Small file-system helpers used across the pipeline.
public enum FS {
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Modification time in seconds since the epoch (with nanoseconds), or nil.
    public static func modificationTime(_ path: String) -> Double? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    public static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// Entries of a folder (names only, no "." or ".."), sorted; nil when it is not a readable folder.
    public static func list(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Every regular file below `root`, as paths relative to it (symbolic links are not followed).
    public static func walk(_ root: String) -> [String] {
        var out: [String] = []
        func visit(_ rel: String) {
            let full = rel.isEmpty ? root : root + "/" + rel
            guard let names = list(full) else { return }
            for name in names {
                let childRel = rel.isEmpty ? name : rel + "/" + name
                var st = stat()
                guard lstat(root + "/" + childRel, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: visit(childRel)
                default: out.append(childRel)
                }
            }
        }
        visit("")
        return out
    }

    /// Removes a file, ignoring a missing one.
    public static func remove(_ path: String) {
        unlink(path)
    }

    /// Removes a folder tree.
    public static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Refuses an output path LiteProof may not write: an existing entry unless `force`, and —
    /// even with `force` — anything that is not a regular file (a device, a FIFO, a socket, a
    /// symbolic link, a folder), which is never replaced.
    public static func checkOutput(_ path: String, force: Bool) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw LiteProofError(
                .usage, "\(path) is \(kindName(st.st_mode)), not a regular file; LiteProof writes only regular files and never replaces anything else")
        }
        if !force { throw LiteProofError(.usage, "\(path) already exists; LiteProof never overwrites a file unless given --force") }
    }

    /// Writes `bytes` to `path` as a new regular file: checked with ``checkOutput(_:force:)``,
    /// written to a recorded temporary file beside it (removed on failure or a signal), fsynced
    /// and renamed into place.
    public static func writeOutput(_ bytes: some Collection<UInt8>, to path: String, force: Bool) throws {
        try checkOutput(path, force: force)
        let dir = (path as NSString).deletingLastPathComponent
        let temp = (dir.isEmpty ? "." : dir) + "/." + (path as NSString).lastPathComponent + ".liteproof-\(getpid()).tmp"
        let out = try ScratchSpace.createFile(temp)
        var renamed = false
        defer { if renamed { ScratchSpace.keep(temp) } else { ScratchSpace.release(temp) } }
        try Array(bytes).withUnsafeBytes { try out.write($0, at: 0) }
        try out.sync()
        try checkOutput(path, force: force)  // nothing appeared meanwhile
        guard rename(temp, path) == 0 else { throw localError("cannot rename the output to", path: path) }
        renamed = true
    }

    /// Refuses an input given by the user (a live database) that exists but is not a regular
    /// file (symbolic links followed), before anything opens it: a FIFO would block the open.
    public static func checkInput(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw LiteProofError(.usage, "\(path) is not a regular file (\(kindName(st.st_mode))); LiteProof reads only regular files")
        }
    }

    /// What kind of file a `st_mode` names, for messages ("a FIFO", "a character device", …).
    static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }

    /// fsyncs a folder, so a rename inside it is durable.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
