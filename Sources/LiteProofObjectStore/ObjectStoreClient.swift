import Foundation
import LiteProof
import LiteProofStoreAnswers

/// The calls an object store makes for a replica read in place (``ObjectStorage``) or
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
    /// Downloads `length` bytes at `offset` of `key` (an object of `objectSize` bytes) into
    /// `file` at the same offset (one part of a download in parts); throws ``RangeIgnored``, with
    /// nothing written, when the server sends the whole object instead.
    func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, into file: OutputFile) throws
    /// All of `key`, an object of `expectedSize` bytes (as listed), in memory; nil when the
    /// client keeps objects in files only.
    func bytes(key: String, expectedSize: Int64) throws -> [UInt8]?
    /// How its requests are bounded (and which objects are held in memory).
    var policy: TransferPolicy { get }
}

extension ObjectStoreClient {
    public func bytes(key: String, expectedSize: Int64) throws -> [UInt8]? { nil }
    public var policy: TransferPolicy { TransferPolicy() }
}

/// A ranged GET was answered with the whole object (a server that ignores `Range:`), and the
/// answer was not taken.
public struct RangeIgnored: Error {
    public init() {}
}
