import Foundation
import LiteProof
import LiteProofStoreAnswers

// How ``ObjectStorage`` finds a listed object: its listing is one sorted array (paths, sizes,
// times) with the tags beside it, searched rather than indexed by a dictionary of paths.

extension ObjectStorage {
    /// Where `path` is in ``listing``, nil when it is not listed (a binary search).
    func position(_ path: String) -> Int? {
        var low = 0
        var high = listing.count
        while low < high {
            let mid = (low + high) / 2
            if ListingReader.precedes(listing[mid].path, path) { low = mid + 1 } else { high = mid }
        }
        return low < listing.count && listing[low].path == path ? low : nil
    }

    /// The listed object at `path` (its key, size, time and tag), nil when it is not listed.
    public func object(_ path: String) -> RemoteObject? {
        position(path).map(object(at:))
    }

    /// The listed object at `index` of ``listing``.
    public func object(at index: Int) -> RemoteObject {
        let file = listing[index]
        return RemoteObject(key: keyPrefix + file.path, size: file.size, lastModified: file.modified ?? 0, etag: tags[index].text)
    }

    /// The listed size of `path`, nil when it is not listed.
    func listedSize(_ path: String) -> Int64? {
        position(path).map { listing[$0].size }
    }
}

/// An object's tag as the listing gave it, in 16 bytes inline when it is an MD5 in lowercase hex
/// (S3's ETag of an object uploaded whole, most objects) or a decimal number (GCS's generation)
/// rather than a string of its own: 9 MB of a 115,000-object listing.
enum ListedTag {
    case md5(UInt64, UInt64)
    case number(UInt64)
    case text(String)

    init(_ tag: String) {
        let utf8 = Array(tag.utf8)
        if utf8.count == 32, let high = Self.hex(utf8[0..<16]), let low = Self.hex(utf8[16..<32]) {
            self = .md5(high, low)
        } else if let n = UInt64(tag), String(n) == tag {
            self = .number(n)
        } else {
            self = .text(tag)
        }
    }

    /// The tag as listed.
    var text: String {
        switch self {
        case .md5(let high, let low): return Self.hex(high) + Self.hex(low)
        case .number(let n): return String(n)
        case .text(let t): return t
        }
    }

    /// 16 lowercase hex digits as a number (nil for anything else: an uppercase ETag stays text,
    /// so the tag reads back as listed).
    private static func hex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var n: UInt64 = 0
        for d in digits {
            switch d {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): n = n << 4 | UInt64(d - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): n = n << 4 | UInt64(d - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        return n
    }

    private static func hex(_ n: UInt64) -> String {
        let s = String(n, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
