import Foundation
import LiteProof

/// The one reader of a paged listing, with the invariants every page must keep. A listing that
/// breaks one is a transfer failure (`.storage(.transfer)`, exit 2), never a smaller replica:
///
/// - a page that does not parse to its end (``ListBucketResult/parse(_:context:)``);
/// - a truncated page without a continuation token, or a token the listing gave before (a server
///   that would page forever);
/// - a key that does not sort after the one before it (within a page or across pages: S3 lists
///   keys in ascending UTF-8 order, so a key out of order means pages overlap or were skipped);
/// - more keys than ``TransferPolicy/maxKeys``, or many truncated pages in a row with no key.
///
/// Only the objects `keep` accepts are stored: memory follows what the caller keeps, not what the
/// server sent.
struct ListingReader {
    let context: String
    let maxKeys: Int
    let keep: (S3Object) -> Bool
    private(set) var objects: [S3Object] = []
    private(set) var pages = 0
    private(set) var seen = 0
    private var tokens = Set<String>()
    private var last: String?
    private var emptyInARow = 0
    static let maxEmptyPagesInARow = 1000

    init(context: String, maxKeys: Int, keep: @escaping (S3Object) -> Bool = { _ in true }) {
        self.context = context
        self.maxKeys = maxKeys
        self.keep = keep
    }

    private func refuse(_ why: String) -> LiteProofError {
        LiteProofError(.storage(.transfer), "listing \(context): \(why); the listing is refused as incomplete")
    }

    /// Takes the next page; returns the continuation token to ask for next, nil when the listing
    /// is complete.
    mutating func accept(_ page: ListBucketResult) throws -> String? {
        pages += 1
        for o in page.objects {
            if let last, !last.utf8.lexicographicallyPrecedes(o.key.utf8) {
                throw refuse("page \(pages) lists \(Self.printable(o.key)) after \(Self.printable(last)) (keys must ascend)")
            }
            last = o.key
            seen += 1
            if seen > maxKeys {
                throw refuse("more than \(maxKeys) keys (LITEPROOF_S3_MAX_KEYS)")
            }
            if keep(o) { objects.append(o) }
        }
        guard page.truncated else { return nil }
        guard let token = page.nextToken else {
            throw refuse("page \(pages) is truncated but has no NextContinuationToken")
        }
        guard tokens.insert(token).inserted else {
            throw refuse("page \(pages) gives the continuation token of an earlier page again (\(Self.printable(String(token.prefix(80)))))")
        }
        emptyInARow = page.objects.isEmpty ? emptyInARow + 1 : 0
        if emptyInARow >= Self.maxEmptyPagesInARow {
            throw refuse("\(emptyInARow) truncated pages in a row without a key")
        }
        return token
    }

    /// A key for a message: control characters escaped.
    static func printable(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7F { out += String(format: "\\x%02x", u.value) } else { out.unicodeScalars.append(u) }
        }
        return out
    }
}
