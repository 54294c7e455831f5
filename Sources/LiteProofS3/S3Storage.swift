import Foundation
import LiteProof
import LiteProofObjectStore
import LiteProofStoreAnswers

/// A replica read straight from an S3 bucket (``ObjectStorage`` over an ``S3Client``).
// @unchecked: adds only an immutable client to ``ObjectStorage``.
public final class S3Storage: ObjectStorage, @unchecked Sendable {
    public let client: S3Client

    /// Lists `s3://…` (`url`, a replica URL as Litestream takes it: ``S3Location``) with
    /// credentials from `environment` and the AWS configuration files, under the
    /// ``TransferPolicy`` the environment's `LITEPROOF_STORE_*` variables set. What the URL's
    /// resolution says besides its settings (parameters ignored, `skipVerify`) goes to `notes`,
    /// by default to stderr.
    public convenience init(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment, concurrency: Int? = nil,
        notes: (String) -> Void = ObjectStorage.noteOnStderr
    ) throws {
        let location = try S3Location(url: url)
        let config = try S3Config.resolve(location, environment: environment)
        for note in config.notes { notes(note) }
        let client = S3Client(config: config, policy: try TransferPolicy.from(environment: environment))
        try self.init(client: client, concurrency: concurrency)
    }

    public init(client: S3Client, concurrency: Int? = nil) throws {
        self.client = client
        let loc = client.config.location
        try super.init(
            store: client, location: loc.display, prefix: loc.prefix.isEmpty ? "" : loc.prefix + "/", concurrency: concurrency,
            scratchPrefix: "liteproof-s3")
    }
}

/// `liteproof fetch` from S3 (the same copy for every store).
public typealias S3Fetch = ObjectFetch

/// One object of an S3 listing.
public typealias S3Object = RemoteObject
