import Foundation
import LiteProof

#if canImport(Glibc)
    import Glibc
#endif

/// `liteproof fetch` of an `sftp://` replica: copies the replica's folder from the server into a
/// local folder, each file with the server's modification time (as `scp -p` or `rsync -t` keep
/// it). No manifest is written: SFTP times are file times, judged in the copy as in any file
/// replica (see ``SFTPStorage``). A second run skips the files already there with the same size
/// and time; each file is written beside its place and renamed into it when whole.
public struct SFTPFetch: ReplicaFetch, Sendable {
    public typealias Summary = FetchSummary

    public let storage: SFTPStorage
    public let destination: String
    /// Called after each file (done, total).
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// Only these files, and the position they restore to (``limit(to:)``); nil fetches all.
    public private(set) var only: (files: Set<String>, position: Position)?

    public init(storage: SFTPStorage, destination: String) {
        self.storage = storage
        self.destination = destination
    }

    /// Limits the fetch to the files a restore to `position` applies (planned on the server's
    /// listing, as `restore` plans it). Returns the plan.
    @discardableResult
    public mutating func limit(to position: Position) throws -> RestorePlan {
        let plan = try Restorer(replica: try Replica.open(storage: storage)).plan(position.target)
        only = (Set(plan.files), plan.position)
        return plan
    }

    public func run() throws -> Summary {
        if FS.exists(destination) && !FS.isDirectory(destination) {
            throw LiteProofError(.usage, "\(destination) exists and is not a folder")
        }
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let files = storage.listing.filter { only?.files.contains($0.path) ?? true }.sorted { $0.path < $1.path }
        for f in files where f.path.split(separator: "/").contains("..") {
            throw LiteProofError(.usage, "refusing to write \(f.path) from the server into \(destination)")
        }
        var summary = Summary(files: files.count)
        var failed: [String] = []
        for f in files {
            let local = destination + "/" + f.path
            if FS.fileSize(local) == f.size, let t = FS.modificationTime(local), let remote = f.modified, abs(t - remote) < 1e-5 {
                summary.skipped += 1
            } else {
                do {
                    try FileManager.default.createDirectory(atPath: (local as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    let partial = local + ".liteproof-partial"
                    FS.remove(partial)
                    try FileManager.default.copyItem(atPath: try storage.localCopy(f.path), toPath: partial)
                    storage.evict([f.path])
                    _ = chmod(partial, 0o644)
                    if let remote = f.modified {
                        var times = [timespec(tv_sec: Int(remote), tv_nsec: 0), timespec(tv_sec: Int(remote), tv_nsec: 0)]
                        _ = utimensat(AT_FDCWD, partial, &times, 0)
                    }
                    guard rename(partial, local) == 0 else {
                        throw LiteProofError.storage(.local, "cannot rename \(partial) to \(local): \(String(cString: strerror(errno)))")
                    }
                    summary.downloaded += 1
                    summary.bytesDownloaded += f.size
                } catch {
                    failed.append("\(f.path): \(error)")
                }
            }
            progress?(summary.downloaded + summary.skipped, files.count)
        }
        if !failed.isEmpty {
            throw LiteProofError(
                .storage(.transfer),
                "\(failed.count) of \(files.count) files could not be fetched (run again to resume): \(failed.prefix(3).joined(separator: "; "))")
        }
        return summary
    }
}
