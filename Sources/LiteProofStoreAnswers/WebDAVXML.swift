import Foundation

/// One `<response>` of a PROPFIND's multistatus answer: what LiteProof reads of it.
package struct DAVEntry: Equatable {
    /// The href as sent (percent-encoded; a path or an absolute URL).
    package var href: String
    /// `<resourcetype><collection/></resourcetype>` in a propstat of status 200.
    package var collection = false
    /// getcontentlength, getlastmodified and getetag from propstats of status 200.
    package var size: String?
    package var modified: String?
    package var etag: String?
}

/// Reads a `207 Multi-Status` answer to PROPFIND (`DAV:` namespace, any prefix) into its
/// responses, in one pass over the bytes with the object stores' bounded scanner (``XMLScan``):
/// elements no deeper than ``maxDepth``, a leaf's text no longer than ``maxText`` bytes, no more
/// than `maxEntries` responses; a document type (so no entity can expand), processing
/// instructions other than the declaration, undefined entities, control characters, mismatched
/// or unclosed elements and content after the root element are refused, naming the byte offset.
/// Elements are matched by local name (the part after `:`), as WebDAV servers spell the `DAV:`
/// prefix as they like (`D:`, `d:`, `ns0:`, a default namespace).
package enum Multistatus {
    static let maxDepth = 16
    static let maxText = 8192
    static let rules = XMLRules(
        maxDepth: maxDepth, maxText: maxText, maxName: 256, localNames: true,
        foreignAtTop: "other markup a multistatus has no use for", foreignInside: "markup a multistatus never holds")

    package typealias Refusal = XMLRefusal

    package static func parse(_ data: Data, maxEntries: Int) throws -> [DAVEntry] {
        var reader = Reader(maxEntries: maxEntries)
        try XMLScan.read(data, rules: rules, into: &reader)
        return reader.entries
    }

    private struct Reader: XMLReader {
        let maxEntries: Int
        var entries: [DAVEntry] = []
        var entry: DAVEntry?
        /// The propstat being read: its leaves, whether it says collection, its status.
        var pending: [String: String] = [:]
        var pendingCollection = false
        var pendingStatus: String?

        init(maxEntries: Int) {
            self.maxEntries = maxEntries
        }

        /// Whether `path` is exactly `names`, by local names from the root.
        static func isPath(_ path: [String], _ names: String...) -> Bool {
            path.count == names.count && zip(path, names).allSatisfy { $0 == $1 }
        }

        static func isPrefix(_ path: [String], _ names: String...) -> Bool {
            path.count >= names.count && zip(path, names).allSatisfy { $0 == $1 }
        }

        /// Entering: a response, a propstat, a collection marker.
        mutating func open(_ path: [String], raw: String) -> String? {
            if path.count == 1 && path[0] != "multistatus" { return "the root element is <\(raw)>, not a multistatus" }
            if Self.isPath(path, "multistatus", "response") {
                guard entries.count < maxEntries else { return "more than \(maxEntries) responses" }
                entry = DAVEntry(href: "")
            } else if Self.isPath(path, "multistatus", "response", "propstat") {
                pending = [:]
                pendingCollection = false
                pendingStatus = nil
            } else if Self.isPath(path, "multistatus", "response", "propstat", "prop", "resourcetype", "collection") {
                pendingCollection = true
            }
            return nil
        }

        /// Leaving: the leaves read, the propstat kept when its status is 200.
        mutating func close(_ path: [String], text: String) {
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if Self.isPath(path, "multistatus", "response", "href") {
                entry?.href = value
            } else if Self.isPath(path, "multistatus", "response", "propstat", "status") {
                pendingStatus = value
            } else if path.count == 5 && Self.isPrefix(path, "multistatus", "response", "propstat", "prop") {
                pending[path[4]] = value
            } else if Self.isPath(path, "multistatus", "response", "propstat") {
                let code = pendingStatus?.split(separator: " ").dropFirst().first
                if code == "200", var e = entry {
                    if pendingCollection { e.collection = true }
                    if let v = pending["getcontentlength"] { e.size = v }
                    if let v = pending["getlastmodified"] { e.modified = v }
                    if let v = pending["getetag"] { e.etag = v }
                    entry = e
                }
            } else if Self.isPath(path, "multistatus", "response"), let e = entry {
                entries.append(e)
                entry = nil
            }
        }
    }
}

/// The times of `getlastmodified`: RFC 1123 (`Sun, 06 Dec 2026 20:59:04 GMT`), as RFC 4918
/// requires; RFC 3339 too, as some servers send.
package enum HTTPDate {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    package static func parse(_ s: String) -> Double? {
        let parts = s.split(separator: " ")
        if parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT" || parts[5] == "UTC", parts[1].count <= 2,
            let day = Int(parts[1]), let month = months.firstIndex(of: String(parts[2])), parts[3].count == 4, Int(parts[3]) != nil,
            parts[4].count == 8
        {
            let iso = "\(parts[3])-\(month < 9 ? "0" : "")\(month + 1)-\(day < 10 ? "0" : "")\(day)T\(parts[4])Z"
            return ListingTime.parse(iso)
        }
        return s.utf8.count <= 40 ? ListingTime.parse(s) : nil
    }
}
