import Foundation
import LiteProof

/// One page of the JSON API's objects list (`storage#objects`): `items` (each with `name`,
/// `size`, `updated`, `generation`) and `nextPageToken` while the listing goes on.
///
/// Read with Foundation's JSONDecoder from a body the transport has already bounded (the
/// transfer policy's `maxAnswerBytes`). A page that is not that document, an item without a
/// name, a size that is not a whole number of bytes in range, or a time that does not read is a
/// transfer failure (exit 2), never a smaller listing. Whether pages go on forever is
/// ``ListingReader``'s to judge.
package struct GCSListPage {
    package var objects: [RemoteObject]
    /// Each object's generation (when the page gives one), by name.
    package var generations: [String: String] = [:]
    package var nextToken: String?

    /// Most items one page may hold: GCS sends at most 1000 (`maxResults`' ceiling); a server
    /// that sends far more is refused rather than believed.
    static let maxItems = 5000

    private struct Page: Decodable {
        var items: [Item]?
        var nextPageToken: String?
    }

    private struct Item: Decodable {
        var name: String
        var size: Whole
        var updated: String
        var generation: Whole?
        var etag: String?
    }

    /// A 64-bit count as the JSON API writes it (a string of digits), or a JSON integer.
    private struct Whole: Decodable {
        var value: Int64

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let text = try? c.decode(String.self) {
                guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let v = Int64(text) else {
                    throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(text.prefix(40)) is not a whole number up to 2^63-1")
                }
                value = v
            } else {
                let v = try c.decode(Int64.self)
                guard v >= 0 else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(v) is negative") }
                value = v
            }
        }
    }

    package static func parse(_ data: Data, context: String) throws -> GCSListPage {
        func refuse(_ why: String) -> LiteProofError {
            LiteProofError(.storage(.transfer), "listing \(context): \(why); the listing is refused as incomplete")
        }
        let page: Page
        do {
            page = try JSONDecoder().decode(Page.self, from: data)
        } catch let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c), let DecodingError.dataCorrupted(c) {
            throw refuse("the answer is not an objects list (\(describe(c)))")
        } catch let DecodingError.keyNotFound(key, c) {
            throw refuse("an item has no \(key.stringValue) (\(describe(c)))")
        } catch {
            let start = ListingReader.printable(String(decoding: data.prefix(120), as: UTF8.self))
            throw refuse("the answer is not an objects list in JSON (\(start))")
        }
        let items = page.items ?? []
        guard items.count <= maxItems else { throw refuse("a page of \(items.count) items, more than a GCS page holds") }
        var objects: [RemoteObject] = []
        var generations: [String: String] = [:]
        objects.reserveCapacity(items.count)
        for item in items {
            guard let updated = ListingTime.parse(item.updated) else {
                throw refuse(
                    "\(ListingReader.printable(item.name)) has no readable time (updated: \(ListingReader.printable(String(item.updated.prefix(40)))))")
            }
            // The generation changes whenever the object is written again.
            let etag = item.generation.map { String($0.value) } ?? item.etag ?? ""
            if let g = item.generation { generations[item.name] = String(g.value) }
            objects.append(RemoteObject(key: item.name, size: item.size.value, lastModified: updated, etag: etag))
        }
        let token = page.nextPageToken.flatMap { $0.isEmpty ? nil : $0 }
        return GCSListPage(objects: objects, generations: generations, nextToken: token)
    }

    private static func describe(_ c: DecodingError.Context) -> String {
        let path = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return (path.isEmpty ? "" : "at \(path): ") + String(c.debugDescription.prefix(120))
    }
}
