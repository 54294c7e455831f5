import Foundation
import LiteProof

#if canImport(Glibc)
    import Glibc
#endif

/// A replica read over SFTP (`sftp://USER@HOST[:PORT]/PATH`, see ``SFTPLocation``): the
/// replica's folder on the server is walked once (names, sizes, modification times), and each
/// file is downloaded once, when it is first opened, into a scratch folder (``ScratchSpace``)
/// removed when the storage goes away, at exit or on a signal. Reads of part of a large file
/// fetch only that part.
///
/// The files on the server are a file replica that SSH serves, so their times are judged as a
/// file replica's are (not trusted as an object store's LastModified): Litestream 0.3.13 writes
/// them without setting times (the server's clock at upload, which 0.3.13 itself reads as the
/// files' creation times), 0.5 sets each LTX file's time to its header's timestamp
/// (`Chtimes`), and a copy of the folder on the server may have rewritten either. SFTP version 3
/// gives whole seconds.
///
/// One connection serves every read, one at a time. A read that fails on the connection (a
/// timeout, a closed socket) is tried again on a new connection, up to
/// ``SFTPSettings/attempts`` times; an SFTP status (no such file, permission denied) is final.
/// Every read is bounded by the listed size: a file that has grown or shrunk since the listing
/// is refused as a `transfer` failure.
// @unchecked: the connection, copies and failures take `lock`; the rest is immutable.
public final class SFTPStorage: ReplicaStorage, @unchecked Sendable {
    public let server: SFTPLocation
    public let settings: SFTPSettings
    public let location: String
    public let listing: [StoredFile]
    private let sizes: [String: Int64]
    /// The folder holding the local copies of downloaded files (removed with the storage).
    public let scratch: String
    /// Most entries the walk of the replica's folders takes, and how deep it goes.
    public static let maxEntries = 10_000_000
    public static let maxDepth = 64
    /// Files up to this size are downloaded whole even when only part is read.
    public var wholeFilesUpTo: Int64 = 64 << 10

    private let lock = NSLock()
    private var connection: SFTPConnection?
    private var copies: [String: String] = [:]
    private var failedReads: [String: LiteProofError] = [:]
    private var failedOrder: [String] = []
    /// Set when a read failed on the connection after every attempt: the server is given up,
    /// and later reads fail at once instead of each waiting out its own timeouts.
    private var givenUp: LiteProofError?

    /// Connects to the server `url` names, with the settings the `LITEPROOF_SFTP_*` variables of
    /// `environment` give (``SFTPSettings/from(environment:)``), and walks the replica's folder.
    public convenience init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try self.init(location: try SFTPLocation(url: url), settings: try SFTPSettings.from(environment: environment))
    }

    public init(location: SFTPLocation, settings: SFTPSettings) throws {
        server = location
        self.settings = settings
        self.location = location.display
        var files: [StoredFile] = []
        var pending: [(remote: String, relative: String, depth: Int)] = [(location.path, "", 0)]
        var connection: SFTPConnection?
        var count = 0
        while let folder = pending.popLast() {
            let entries: [SFTPEntry] = try Self.attempt(settings, &connection, location) { c in
                try c.list(folder.remote, limit: Self.maxEntries - count)
            }
            count += entries.count
            for var e in entries {
                let remote = (folder.remote == "/" ? "" : folder.remote) + "/" + e.name
                let relative = folder.relative + e.name
                if e.isLink, let target = try? Self.attempt(settings, &connection, location, { try $0.stat(remote) }), target.isFile {
                    e = target
                }
                if e.isFile {
                    files.append(StoredFile(path: relative, size: e.size, modified: e.modified, timeTrusted: false))
                } else if e.isFolder && folder.depth < Self.maxDepth {
                    pending.append((remote, relative + "/", folder.depth + 1))
                }
            }
        }
        listing = files
        sizes = Dictionary(files.map { ($0.path, $0.size) }, uniquingKeysWith: { a, _ in a })
        self.connection = connection
        scratch = try ScratchSpace.makeFolder(prefix: "liteproof-sftp")
    }

    deinit {
        connection = nil
        ScratchSpace.release(scratch)
    }

    public func files() -> [StoredFile] { listing }

    /// Reads that failed for good, as they failed: storage failures, never damage.
    public var failures: [LiteProofError] {
        lock.lock()
        defer { lock.unlock() }
        return failedOrder.compactMap { failedReads[$0] }
    }

    public func open(_ path: String) throws -> ReadOnlyFile {
        try ReadOnlyFile(try localCopy(path), displayName: path)
    }

    /// Part of one file: from the local copy when there is one or the file is small, else only
    /// that range from the server.
    public func read(_ path: String, offset: Int64, count: Int) throws -> [UInt8] {
        let size = try listedSize(path)
        let n = max(0, min(Int64(max(0, count)), size - max(0, offset)))
        if n == 0 { return [] }
        lock.lock()
        let local = copies[path]
        lock.unlock()
        if local != nil || size <= wholeFilesUpTo || n + n / 8 >= size {
            return try ReadOnlyFile(try localCopy(path), displayName: path).read(count: Int(n), at: offset)
        }
        lock.lock()
        defer { lock.unlock() }
        let remote = remotePath(path)
        do {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(n))
            let got = try attempt { c in
                bytes.removeAll(keepingCapacity: true)
                return try c.read(remote, offset: offset, limit: n) { bytes.append(contentsOf: $0) }
            }
            guard got == n else {
                throw LiteProofError.storage(
                    .transfer,
                    "\(location)/\(path): the server sent \(got) bytes at offset \(offset) where the listing promised \(n): the file changed since it was listed",
                    path: path)
            }
            return bytes
        } catch {
            throw record(path, error)
        }
    }

    /// Removes the local copies of `paths`; a later read downloads them again.
    public func evict(_ paths: [String]) {
        lock.lock()
        let removed = paths.compactMap { copies.removeValue(forKey: $0) }
        lock.unlock()
        for local in removed { FS.remove(local) }
    }

    private func listedSize(_ path: String) throws -> Int64 {
        guard let size = sizes[path] else {
            throw LiteProofError.storage(.missing, "\(location)/\(path) is not in the folder's listing", path: path)
        }
        return size
    }

    private func remotePath(_ path: String) -> String { (server.path == "/" ? "" : server.path) + "/" + path }

    /// Keeps a failed read of `path` among ``failures``, its message naming the file; returns it.
    /// Must be called with `lock` held.
    @discardableResult
    private func record(_ path: String, _ error: Error) -> LiteProofError {
        var e = LiteProofError(wrapping: error)
        if e.path == nil { e.path = path }
        if !e.message.contains(path) { e.message = "\(location)/\(path): " + e.message }
        if failedReads.updateValue(e, forKey: path) == nil { failedOrder.append(path) }
        return e
    }

    /// ``attempt(_:_:_:_:)`` on the storage's connection, unless the server was given up; a
    /// `transfer` failure that outlasts the attempts gives it up. Must be called with `lock` held.
    private func attempt<T>(_ body: (SFTPConnection) throws -> T) throws -> T {
        if let givenUp {
            throw LiteProofError.storage(.transfer, "not read: \(server.knownHostsName) was given up after an earlier failure (\(givenUp.message))")
        }
        do {
            return try Self.attempt(settings, &connection, server, body)
        } catch let e as LiteProofError where e.storageFailure == .transfer && (connection == nil || connection!.isBroken) {
            givenUp = e
            throw e
        }
    }

    /// The local file holding `path`, downloaded now unless it was already: the whole file,
    /// refused when the server has more or fewer bytes than the listing said.
    func localCopy(_ path: String) throws -> String {
        let size = try listedSize(path)
        lock.lock()
        defer { lock.unlock() }
        if let local = copies[path] { return local }
        if let failed = failedReads[path] { throw failed }
        let local = scratch + "/" + String(format: "%08x", UInt32(truncatingIfNeeded: path.hashValue)) + "-" + path.replacingOccurrences(of: "/", with: "_")
        do {
            let remote = remotePath(path)
            let got: Int64 = try attempt { c in
                let fd = Glibc.open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard fd >= 0 else {
                    throw LiteProofError.storage(.local, "cannot create \(local): \(String(cString: strerror(errno)))", path: local)
                }
                defer { Glibc.close(fd) }
                // One byte past the listed size: a file longer than listed is seen, not cut.
                return try c.read(remote, offset: 0, limit: size + 1) { chunk in
                    var done = 0
                    while done < chunk.count {
                        let w = write(fd, chunk.baseAddress! + done, chunk.count - done)
                        if w < 0 && errno == EINTR { continue }
                        guard w > 0 else {
                            throw LiteProofError.storage(.local, "cannot write \(local): \(String(cString: strerror(errno)))", path: local)
                        }
                        done += w
                    }
                }
            }
            guard got == size else {
                throw LiteProofError.storage(
                    .transfer,
                    "\(location)/\(path): the server has \(got > size ? "more than \(size)" : "\(got)") bytes where the listing said \(size): the file changed since it was listed",
                    path: path)
            }
            copies[path] = local
            return local
        } catch {
            FS.remove(local)
            throw record(path, error)
        }
    }

    /// Runs `body` on a live connection (made if there is none or the last one broke), trying
    /// again on a new connection after a `transfer` failure, up to the settings' attempts, with
    /// a pause that doubles each time. Other failures (a refused host key or login, an SFTP
    /// status) end it at once.
    static func attempt<T>(
        _ settings: SFTPSettings, _ connection: inout SFTPConnection?, _ location: SFTPLocation, _ body: (SFTPConnection) throws -> T
    ) throws -> T {
        var delay = settings.retryDelay
        var tries = 1
        var first: LiteProofError?
        while true {
            do {
                if connection == nil || connection!.isBroken {
                    connection = nil
                    connection = try SFTPConnection(location: location, settings: settings)
                }
                return try body(connection!)
            } catch var e as LiteProofError where e.storageFailure == .transfer {
                if connection?.isBroken ?? true { connection = nil }
                guard tries < settings.attempts else {
                    // The first failure (often the one mid-read) and the last both told.
                    if let first, first.message != e.message { e.message = "\(first.message); \(tries) tries, the last: \(e.message)" }
                    throw e
                }
                if first == nil { first = e }
                usleep(UInt32(min(delay, 30) * 1_000_000))
                delay *= 2
                tries += 1
            }
        }
    }
}
