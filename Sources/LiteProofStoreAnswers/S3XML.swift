import Foundation
import LiteProof

// The XML of S3's answers: error bodies and ListObjectsV2 pages.

/// `<Error><Code>…</Code><Message>…</Message></Error>`.
package struct S3ErrorBody {
    package var code: String
    package var message: String

    package static func parse(_ data: Data) -> S3ErrorBody? {
        let fields = FlatXML.parse(data, record: nil)
        guard fields.ok, fields.root == "Error", let code = fields.top["Code"] else { return nil }
        return S3ErrorBody(code: code, message: fields.top["Message"] ?? "")
    }
}

/// A ListObjectsV2 page.
package struct ListBucketResult {
    package var objects: [RemoteObject]
    package var truncated: Bool
    package var nextToken: String?

    /// Parses one page. A page that does not parse to its end (cut off, nested deeper than S3
    /// nests, not a ListBucketResult, without IsTruncated) or whose entries lack a key, a size or a
    /// time is a transfer failure: never a smaller listing. With `<EncodingType>url</EncodingType>`
    /// (asked for with `encoding-type=url`) the keys are percent-decoded.
    package static func parse(_ data: Data, context: String) throws -> ListBucketResult {
        let xml = FlatXML.parse(data, record: "Contents")
        func refuse(_ why: String) -> LiteProofError {
            LiteProofError(.storage(.transfer), "listing \(context): \(why)")
        }
        guard xml.ok, xml.root == "ListBucketResult" else {
            let start = String(decoding: data.prefix(200), as: UTF8.self).unicodeScalars
                .map { $0.value < 0x20 || $0.value == 0x7F ? "?" : String($0) }.joined()
            throw refuse("the answer is not a complete ListBucketResult (\(xml.problem ?? "another document"): \(start))")
        }
        guard let truncated = xml.top["IsTruncated"], truncated == "true" || truncated == "false" else {
            throw refuse("the page has no IsTruncated (true or false)")
        }
        let urlEncoded = xml.top["EncodingType"]?.lowercased() == "url"
        var objects: [RemoteObject] = []
        objects.reserveCapacity(xml.records.count)
        for r in xml.records {
            guard var key = r["Key"], let size = r["Size"].flatMap({ Int64($0) }), size >= 0 else {
                throw refuse("an entry without Key or Size")
            }
            if urlEncoded {
                // Form encoding, as S3 and SeaweedFS send it: `+` is a space, a `+` is `%2B`.
                guard let decoded = key.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw refuse("the key \(key) is not percent-encoded as EncodingType=url says")
                }
                key = decoded
            }
            guard let modified = r["LastModified"].flatMap(parseTime) else {
                throw refuse("\(key) has no readable LastModified (\(r["LastModified"] ?? "none"))")
            }
            var etag = r["ETag"] ?? ""
            if etag.hasPrefix("\"") || etag.hasSuffix("\"") { etag = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            objects.append(RemoteObject(key: key, size: size, lastModified: modified, etag: etag))
        }
        let token = xml.top["NextContinuationToken"].flatMap { $0.isEmpty ? nil : $0 }
        return ListBucketResult(objects: objects, truncated: truncated == "true", nextToken: token)
    }

    /// A listing's time (``ListingTime/parse(_:)``).
    static func parseTime(_ s: String) -> Double? { ListingTime.parse(s) }

    static func parseUTCTime(_ b: UnsafeBufferPointer<UInt8>) -> Double? { ListingTime.parseUTC(b) }
}

extension ListingReader {
    /// Takes the next ListObjectsV2 page; returns the continuation token to ask for next, nil
    /// when the listing is complete.
    package mutating func accept(_ page: ListBucketResult) throws -> String? {
        try accept(objects: page.objects, truncated: page.truncated, nextToken: page.nextToken)
    }
}
