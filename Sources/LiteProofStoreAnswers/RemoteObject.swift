import Foundation

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
