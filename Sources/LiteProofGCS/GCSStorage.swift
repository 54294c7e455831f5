import Foundation
import LiteProof
import LiteProofObjectStore

/// A replica read straight from a GCS bucket (``ObjectStorage`` over a ``GCSClient``).
// @unchecked: adds only an immutable client to ``ObjectStorage``.
public final class GCSStorage: ObjectStorage, @unchecked Sendable {
    public let client: GCSClient

    /// Lists `gs://BUCKET/PATH` (or `gcs://…`) with the endpoint and credentials `environment`
    /// gives (``GCSConfig/resolve(_:environment:)``), under the ``TransferPolicy`` its
    /// `LITEPROOF_STORE_*` variables set (one policy for every store). What the resolution says
    /// besides its settings goes to `notes`, by default to stderr.
    public convenience init(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment, concurrency: Int? = nil,
        notes: (String) -> Void = ObjectStorage.noteOnStderr
    ) throws {
        let config = try GCSConfig.resolve(try GCSLocation(url: url), environment: environment)
        for note in config.notes { notes(note) }
        try self.init(client: GCSClient(config: config, policy: try TransferPolicy.from(environment: environment)), concurrency: concurrency)
    }

    public init(client: GCSClient, concurrency: Int? = nil) throws {
        self.client = client
        let loc = client.config.location
        try super.init(
            store: client, location: loc.display, prefix: loc.prefix.isEmpty ? "" : loc.prefix + "/", concurrency: concurrency,
            scratchPrefix: "liteproof-gcs")
    }
}
