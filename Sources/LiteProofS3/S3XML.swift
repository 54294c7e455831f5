import Foundation
import LiteProof

#if canImport(FoundationXML)
    import FoundationXML
#endif

// The XML of S3's answers: error bodies and ListObjectsV2 pages.

/// `<Error><Code>…</Code><Message>…</Message></Error>`.
struct S3ErrorBody {
    var code: String
    var message: String

    static func parse(_ data: Data) -> S3ErrorBody? {
        let fields = FlatXML.parse(data, record: nil)
        guard let code = fields.top["Code"] else { return nil }
        return S3ErrorBody(code: code, message: fields.top["Message"] ?? "")
    }
}

/// A ListObjectsV2 page.
struct ListBucketResult {
    var objects: [S3Object]
    var truncated: Bool
    var nextToken: String?

    static func parse(_ data: Data, context: String) throws -> ListBucketResult {
        let xml = FlatXML.parse(data, record: "Contents")
        guard xml.ok, xml.root == "ListBucketResult" else {
            throw LiteProofError(
                .storage(.transfer), "listing \(context): the answer is not a ListBucketResult (\(String(decoding: data.prefix(200), as: UTF8.self)))")
        }
        var objects: [S3Object] = []
        for r in xml.records {
            guard let key = r["Key"], let size = r["Size"].flatMap({ Int64($0) }), size >= 0 else {
                throw LiteProofError.storage(.transfer, "listing \(context): an entry without Key or Size")
            }
            guard let modified = r["LastModified"].flatMap(parseTime) else {
                throw LiteProofError.storage(.transfer, "listing \(context): \(key) has no readable LastModified (\(r["LastModified"] ?? "none"))")
            }
            var etag = r["ETag"] ?? ""
            etag = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            objects.append(S3Object(key: key, size: size, lastModified: modified, etag: etag))
        }
        return ListBucketResult(
            objects: objects, truncated: xml.top["IsTruncated"] == "true", nextToken: xml.top["NextContinuationToken"])
    }

    /// `2026-11-29T19:01:27.123Z` (fractional seconds optional).
    static func parseTime(_ s: String) -> Double? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d.timeIntervalSince1970 }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)?.timeIntervalSince1970
    }
}

/// Reads the two-level XML that S3 answers with: the root's child elements (`top`), and the
/// children of each repeated `record` element.
final class FlatXML: NSObject, XMLParserDelegate {
    var root: String?
    var top: [String: String] = [:]
    var records: [[String: String]] = []
    var ok = false
    private let record: String?
    private var stack: [String] = []
    private var text = ""
    private var current: [String: String]?

    private init(record: String?) { self.record = record }

    static func parse(_ data: Data, record: String?) -> FlatXML {
        let delegate = FlatXML(record: record)
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        delegate.ok = parser.parse()
        return delegate
    }

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]
    ) {
        if stack.isEmpty { root = name }
        if stack.count == 1 && name == record { current = [:] }
        stack.append(name)
        text = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        stack.removeLast()
        if stack.count == 1 {
            if name == record, let c = current {
                records.append(c)
                current = nil
            } else {
                top[name] = text
            }
        } else if stack.count == 2 && current != nil {
            current?[name] = text
        }
        text = ""
    }
}
