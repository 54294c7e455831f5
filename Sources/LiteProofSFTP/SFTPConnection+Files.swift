import CSSH2
import Foundation
import LiteProof

#if canImport(Glibc)
    import Glibc
#endif

/// One entry of a remote folder, from `libssh2_sftp_readdir_ex`.
struct SFTPEntry {
    var name: String
    var isFile: Bool
    var isFolder: Bool
    var isLink: Bool
    var size: Int64
    var modified: Double?
}

extension SFTPConnection {
    /// The entries of the remote folder `path` (`.` and `..` left out), at most `limit`.
    func list(_ path: String, limit: Int) throws -> [SFTPEntry] {
        let sftp = try channel()
        guard let handle = liteproof_sftp_opendir(sftp, path, UInt32(path.utf8.count)) else {
            throw failure("listing \(path) on \(server)", path: path)
        }
        defer { _ = liteproof_sftp_close(handle) }
        var entries: [SFTPEntry] = []
        var name = [CChar](repeating: 0, count: 4096)
        while true {
            var attrs = LIBSSH2_SFTP_ATTRIBUTES()
            let n = libssh2_sftp_readdir_ex(handle, &name, name.count, nil, 0, &attrs)
            if n == 0 { break }
            if n < 0 { throw failure("listing \(path) on \(server)", path: path) }
            let entry = name.withUnsafeBufferPointer { buf in
                String(decoding: UnsafeRawBufferPointer(start: buf.baseAddress, count: Int(n)), as: UTF8.self)
            }
            if entry == "." || entry == ".." { continue }
            guard entries.count < limit else {
                throw LiteProofError.storage(.transfer, "listing \(path) on \(server): more than \(limit) entries", path: path)
            }
            entries.append(Self.entry(entry, attrs))
        }
        return entries
    }

    /// The attributes of `path`, following a link (`libssh2_sftp_stat_ex`).
    func stat(_ path: String) throws -> SFTPEntry {
        var attrs = LIBSSH2_SFTP_ATTRIBUTES()
        if liteproof_sftp_stat(try channel(), path, UInt32(path.utf8.count), &attrs) != 0 {
            throw failure("stat \(path) on \(server)", path: path)
        }
        return Self.entry(String(path.split(separator: "/").last ?? ""), attrs)
    }

    static func entry(_ name: String, _ attrs: LIBSSH2_SFTP_ATTRIBUTES) -> SFTPEntry {
        let perms = attrs.flags & UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS) != 0 ? attrs.permissions : 0
        let type = perms & UInt(LIBSSH2_SFTP_S_IFMT)
        return SFTPEntry(
            name: name, isFile: type == UInt(LIBSSH2_SFTP_S_IFREG), isFolder: type == UInt(LIBSSH2_SFTP_S_IFDIR),
            isLink: type == UInt(LIBSSH2_SFTP_S_IFLNK),
            size: attrs.flags & UInt(LIBSSH2_SFTP_ATTR_SIZE) != 0 ? Int64(clamping: attrs.filesize) : 0,
            modified: attrs.flags & UInt(LIBSSH2_SFTP_ATTR_ACMODTIME) != 0 ? Double(attrs.mtime) : nil)
    }

    /// Reads the remote file `path` from `offset`, handing each chunk to `sink`, and stops after
    /// `limit` bytes; returns how many it read. Reading stops at the end of the file, so fewer
    /// than `limit` bytes mean the file is shorter (`libssh2_sftp_open_ex`, `libssh2_sftp_seek64`,
    /// `libssh2_sftp_read`).
    func read(_ path: String, offset: Int64, limit: Int64, into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let sftp = try channel()
        guard let handle = liteproof_sftp_open_read(sftp, path, UInt32(path.utf8.count)) else {
            throw failure("opening \(path) on \(server)", path: path)
        }
        defer { _ = liteproof_sftp_close(handle) }
        if offset > 0 { libssh2_sftp_seek64(handle, UInt64(offset)) }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var done: Int64 = 0
        while done < limit {
            let want = Int(min(Int64(buffer.count), limit - done))
            let n = buffer.withUnsafeMutableBytes { raw in
                libssh2_sftp_read(handle, raw.baseAddress!.assumingMemoryBound(to: CChar.self), want)
            }
            if n == 0 { break }
            if n < 0 { throw failure("reading \(path) at offset \(offset + done) on \(server)", path: path) }
            try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            done += Int64(n)
        }
        return done
    }
}
