import Foundation
import LiteProof

/// The one reader of a paged listing, with the invariants every page must keep. A listing that
/// breaks one is a transfer failure (`.storage(.transfer)`, exit 2), never a smaller replica:
///
/// - a page that does not parse to its end (each back end's page parser refuses it);
/// - a truncated page without a continuation token, or a token the listing gave before (a server
///   that would page forever);
/// - a key that does not sort after the one before it (within a page or across pages: S3 and GCS
///   list keys in ascending UTF-8 order, so a key out of order means pages overlap or were skipped);
/// - more keys than `maxKeys` (the transfer policy's, LITEPROOF_STORE_MAX_KEYS), or many
///   truncated pages in a row with no key.
///
/// Only the objects `keep` accepts are stored: memory follows what the caller keeps, not what the
/// server sent.
package struct ListingReader {
    let context: String
    let maxKeys: Int
    let keep: (RemoteObject) -> Bool
    package private(set) var objects: [RemoteObject] = []
    package private(set) var pages = 0
    package private(set) var seen = 0
    private var tokens = Set<String>()
    private var last: String?
    private var emptyInARow = 0
    package static let maxEmptyPagesInARow = 1000

    package init(context: String, maxKeys: Int, keep: @escaping (RemoteObject) -> Bool = { _ in true }) {
        self.context = context
        self.maxKeys = maxKeys
        self.keep = keep
    }

    private func refuse(_ why: String) -> LiteProofError {
        LiteProofError(.storage(.transfer), "listing \(context): \(why); the listing is refused as incomplete")
    }

    /// Takes the next page (its objects; whether the listing goes on; the token for the next
    /// page); returns the token to ask for next, nil when the listing is complete.
    package mutating func accept(objects page: [RemoteObject], truncated: Bool, nextToken: String?) throws -> String? {
        pages += 1
        for o in page {
            if let last, !Self.precedes(last, o.key) {
                throw refuse("page \(pages) lists \(Self.printable(o.key)) after \(Self.printable(last)) (keys must ascend)")
            }
            last = o.key
            seen += 1
            if seen > maxKeys {
                throw refuse("more than \(maxKeys) keys (LITEPROOF_STORE_MAX_KEYS)")
            }
            if keep(o) { objects.append(o) }
        }
        guard truncated else { return nil }
        guard let token = nextToken else {
            throw refuse("page \(pages) is truncated but has no token for the next page")
        }
        guard tokens.insert(token).inserted else {
            throw refuse("page \(pages) gives the token of an earlier page again (\(Self.printable(String(token.prefix(80)))))")
        }
        emptyInARow = page.isEmpty ? emptyInARow + 1 : 0
        if emptyInARow >= Self.maxEmptyPagesInARow {
            throw refuse("\(emptyInARow) truncated pages in a row without a key")
        }
        return token
    }

    /// Whether `a` sorts before `b` in UTF-8 byte order (the order S3 and GCS list keys
    /// in, and the order every listing is checked and searched in).
    package static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = min(x.count, y.count)
                let order = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)
                return order < 0 || (order == 0 && x.count < y.count)
            }
        }
    }

    /// A key for a message: control characters escaped.
    package static func printable(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7F { out += String(format: "\\x%02x", u.value) } else { out.unicodeScalars.append(u) }
        }
        return out
    }
}
