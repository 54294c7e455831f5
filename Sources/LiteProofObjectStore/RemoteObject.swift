import Foundation
import LiteProof

/// One object of a bucket listing.
public struct RemoteObject: Sendable, Equatable {
    /// The full key (S3) or object name (GCS).
    public var key: String
    public var size: Int64
    /// The store's time for the object (S3's LastModified, GCS's `updated`), seconds since the epoch.
    public var lastModified: Double
    /// What changes when the object is written again: S3's ETag without its quotes, GCS's
    /// generation.
    public var etag: String

    public init(key: String, size: Int64, lastModified: Double, etag: String) {
        self.key = key
        self.size = size
        self.lastModified = lastModified
        self.etag = etag
    }
}

/// The three calls an object store makes for a replica read in place (``ObjectStorage``) or
/// fetched (``ObjectFetch``): a listing, a whole download, a ranged one. Each back end (S3, GCS)
/// implements them over ``HTTPTransport``, with the failures of the one failure model.
public protocol ObjectStoreClient: AnyObject, Sendable {
    /// Every object below `prefix`, all pages, with the listing's invariants (``ListingReader``);
    /// only the objects `keep` accepts are kept.
    func list(prefix: String, keep: @escaping (RemoteObject) -> Bool) throws -> [RemoteObject]
    /// Downloads `key` into `destination` (replaced), never more than `expectedSize` bytes.
    func download(key: String, to destination: String, expectedSize: Int64?) throws
    /// Downloads `length` bytes at `offset` of `key` (an object of `objectSize` bytes) into
    /// `destination`; true when the server sent the whole object instead.
    func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, to destination: String) throws -> Bool
}
