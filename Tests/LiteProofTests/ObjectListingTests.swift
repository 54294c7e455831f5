// ObjectStorage's listing: one sorted array searched by path, each object's tag held compactly,
// and every object read back exactly as the store listed it.

import Foundation
import LiteProof
import LiteProofObjectStore
import LiteProofStoreAnswers
import Testing

@Suite struct ObjectListingTests {
    /// A store that only lists (in the order given, which need not be sorted).
    final class ListedStore: ObjectStoreClient, @unchecked Sendable {
        let objects: [RemoteObject]
        init(_ objects: [RemoteObject]) { self.objects = objects }
        func list(prefix: String, keep: @escaping (RemoteObject) -> Bool) throws -> [RemoteObject] { objects.filter(keep) }
        func download(key: String, to destination: String, expectedSize: Int64?) throws {
            throw LiteProofError.storage(.transfer, "not served", path: key)
        }
        func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, to destination: String) throws -> Bool {
            throw LiteProofError.storage(.transfer, "not served", path: key)
        }
        func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, into file: OutputFile) throws {
            throw LiteProofError.storage(.transfer, "not served", path: key)
        }
    }

    @Test func everyObjectReadsBackAsListed() throws {
        // Tags of every kind a store gives: S3's MD5 in hex (held as 16 bytes), uppercase and
        // multipart ETags, GCS's generations (held as numbers), a number with a leading zero, none.
        let tags = [
            "d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E", "9b2cf535f27731c974343645a3985328-3",
            "1767225600123456", "18446744073709551615", "18446744073709551616", "0123", "0", "", "e1", "00000000000000000000000000000000",
        ]
        var listed: [RemoteObject] = []
        for (i, tag) in tags.enumerated() {
            listed.append(RemoteObject(key: "app/db/f\(i)", size: Int64(i * 7), lastModified: 1_767_225_600.5 + Double(i), etag: tag))
        }
        // Keys sorting differently as UTF-8 bytes and as Swift strings would, a "/" key (a
        // folder marker, not an object) and a key outside the prefix.
        listed += [
            RemoteObject(key: "app/db/é", size: 1, lastModified: 1, etag: "x"),
            RemoteObject(key: "app/db/z", size: 2, lastModified: 2, etag: "y"),
            RemoteObject(key: "app/db/Z", size: 3, lastModified: 3, etag: "w"),
            RemoteObject(key: "app/db/sub/", size: 0, lastModified: 0, etag: ""),
            RemoteObject(key: "app/other", size: 9, lastModified: 9, etag: "q"),
        ]
        for order in [listed, listed.reversed(), listed.shuffled()] {
            let storage = try ObjectStorage(store: ListedStore(order), location: "listed", prefix: "app/db/", scratchPrefix: "liteproof-listing")
            let expected = listed.filter { $0.key.hasPrefix("app/db/") && !$0.key.hasSuffix("/") }
            #expect(storage.listing.count == expected.count)
            #expect(storage.listing.map(\.path) == expected.map { String($0.key.dropFirst(7)) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            for o in expected {
                let path = String(o.key.dropFirst(7))
                #expect(storage.object(path) == o, "\(path)")
            }
            #expect(storage.object("missing") == nil && storage.object("sub/") == nil && storage.object("") == nil)
            #expect(storage.object("f1") != nil && storage.object("f") == nil && storage.object("f10x") == nil)
        }
    }
}
