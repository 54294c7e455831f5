import ArgumentParser
import Foundation
import LiteProof
import LiteProofS3
import LiteProofSFTP

/// Where a replica (or a fleet of them) is, as the command line names it: told apart once, here.
enum ReplicaLocation: Sendable {
    /// A folder, a `file://` URL, or a `.tar` / `.tar.zst` archive of one (``Replica/open(_:)``
    /// tells those apart by what is on disk).
    case local(String)
    /// A bucket prefix: `s3://BUCKET/PATH?…`, read in place.
    case s3(String)
    /// A folder on an SSH server: `sftp://USER[:PASSWORD]@HOST[:PORT]/PATH?key-path=…`.
    case sftp(String)

    init(_ text: String) {
        self = S3Location.isS3URL(text) ? .s3(text) : SFTPLocation.isSFTPURL(text) ? .sftp(text) : .local(text)
    }

    /// The replica at this location (an S3 replica's credentials and settings from `environment`).
    func open(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Replica {
        switch self {
        case .local(let path): return try Replica.open(path)
        case .s3(let url): return try Replica.open(storage: try S3Storage(url: url, environment: environment))
        case .sftp(let url): return try Replica.open(storage: try SFTPStorage(url: url, environment: environment))
        }
    }

    /// Every replica below this location, for `verify --all` (an s3:// prefix is listed once;
    /// each replica's files are downloaded as its check reads them).
    func openFleet() throws -> FleetVerifier {
        switch self {
        case .local(let path): return try FleetVerifier.open(path)
        case .s3(let url): return FleetVerifier(root: url, storage: try S3Storage(url: url))
        case .sftp(let url):
            let storage = try SFTPStorage(url: url)
            return FleetVerifier(root: storage.location, storage: storage)
        }
    }
}

extension ReplicaLocation: ExpressibleByArgument {
    init?(argument: String) { self.init(argument) }
}
