import ArgumentParser
import Foundation
import LiteProof
import LiteProofGCS
import LiteProofObjectStore
import LiteProofS3
import LiteProofSFTP
import LiteProofWebDAV

/// Where a replica (or a fleet of them) is, as the command line names it: told apart once, here.
enum ReplicaLocation: Sendable {
    /// A folder, a `file://` URL, or a `.tar` / `.tar.zst` archive of one (``Replica/open(_:)``
    /// tells those apart by what is on disk).
    case local(String)
    /// A bucket prefix: `s3://BUCKET/PATH?…`, read in place.
    case s3(String)
    /// A GCS bucket prefix: `gs://BUCKET/PATH` (0.3: `gcs://`), read in place.
    case gcs(String)
    /// A folder on an SSH server: `sftp://USER[:PASSWORD]@HOST[:PORT]/PATH?key-path=…`.
    case sftp(String)
    /// A folder on a WebDAV server: `webdav://[USER:PASSWORD@]HOST[:PORT]/PATH` (`webdavs://`: https).
    case webdav(String)

    init(_ text: String) {
        if S3Location.isS3URL(text) {
            self = .s3(text)
        } else if GCSLocation.isGCSURL(text) {
            self = .gcs(text)
        } else if SFTPLocation.isSFTPURL(text) {
            self = .sftp(text)
        } else if WebDAVLocation.isWebDAVURL(text) {
            self = .webdav(text)
        } else {
            self = .local(text)
        }
    }

    /// The storage of a bucket prefix (nil for a local replica or an SFTP folder, which is not an
    /// object store: ``SFTPStorage``): its listing is made now, with
    /// the credentials and settings of `environment`.
    func remoteStorage(environment: [String: String] = ProcessInfo.processInfo.environment, concurrency: Int? = nil) throws -> ObjectStorage? {
        switch self {
        case .local, .sftp: return nil
        case .s3(let url): return try S3Storage(url: url, environment: environment, concurrency: concurrency)
        case .gcs(let url): return try GCSStorage(url: url, environment: environment, concurrency: concurrency)
        case .webdav(let url): return try WebDAVStorage(url: url, environment: environment, concurrency: concurrency)
        }
    }

    /// The storage of a remote replica (nil for a local one), listed now with the credentials and
    /// settings of `environment`.
    func remote(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ReplicaStorage? {
        switch self {
        case .local: return nil
        case .s3, .gcs, .webdav: return try remoteStorage(environment: environment)
        case .sftp(let url): return try SFTPStorage(url: url, environment: environment)
        }
    }

    /// The replica at this location (a remote replica's credentials and settings from `environment`).
    func open(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Replica {
        if case .local(let path) = self { return try Replica.open(path) }
        return try Replica.open(storage: try remote(environment: environment)!)
    }

    /// Every replica below this location, for `verify --all` (a bucket prefix is listed once;
    /// each replica's files are downloaded as its check reads them).
    func openFleet() throws -> FleetVerifier {
        switch self {
        case .local(let path): return try FleetVerifier.open(path)
        case .s3(let url), .gcs(let url): return FleetVerifier(root: url, storage: try remoteStorage()!)
        case .sftp(let url):
            let storage = try SFTPStorage(url: url)
            return FleetVerifier(root: storage.location, storage: storage)
        case .webdav(let url): return FleetVerifier(root: (try? WebDAVLocation(url: url).display) ?? url, storage: try remoteStorage()!)
        }
    }
}

extension ReplicaLocation: ExpressibleByArgument {
    init?(argument: String) { self.init(argument) }
}
