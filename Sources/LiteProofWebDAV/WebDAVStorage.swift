import Foundation
import LiteProof
import LiteProofObjectStore

/// A replica read straight from a WebDAV server (``ObjectStorage`` over a ``WebDAVClient``).
// @unchecked: adds only an immutable client to ``ObjectStorage``.
public final class WebDAVStorage: ObjectStorage, @unchecked Sendable {
    public let client: WebDAVClient

    /// Lists `webdav://[USER:PASSWORD@]HOST[:PORT]/PATH` (or `webdavs://…`) under the
    /// ``TransferPolicy`` the `LITEPROOF_STORE_*` variables of `environment` set (one policy for
    /// every store).
    public convenience init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment, concurrency: Int? = nil) throws {
        let location = try WebDAVLocation(url: url)
        try self.init(client: WebDAVClient(location: location, policy: try TransferPolicy.from(environment: environment)), concurrency: concurrency)
    }

    public init(client: WebDAVClient, concurrency: Int? = nil) throws {
        self.client = client
        let loc = client.location
        try super.init(
            store: client, location: loc.display, prefix: loc.prefix.isEmpty ? "" : loc.prefix + "/", concurrency: concurrency,
            scratchPrefix: "liteproof-webdav")
    }
}
