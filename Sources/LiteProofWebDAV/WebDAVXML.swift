import Foundation
import LiteProofObjectStore

/// One `<response>` of a PROPFIND's multistatus answer: what LiteProof reads of it.
struct DAVEntry: Equatable {
    /// The href as sent (percent-encoded; a path or an absolute URL).
    var href: String
    /// `<resourcetype><collection/></resourcetype>` in a propstat of status 200.
    var collection = false
    /// getcontentlength, getlastmodified and getetag from propstats of status 200.
    var size: String?
    var modified: String?
    var etag: String?
}

/// Reads a `207 Multi-Status` answer to PROPFIND (`DAV:` namespace, any prefix) into its
/// responses, in one pass over the bytes with a scanner of our own, bounded as the S3 scanner is:
/// elements no deeper than ``maxDepth``, a leaf's text no longer than ``maxText`` bytes, no more
/// than `maxEntries` responses; a document type (so no entity can expand), processing
/// instructions other than the declaration, undefined entities, control characters, mismatched
/// or unclosed elements and content after the root element are refused, naming the byte offset.
/// Elements are matched by local name (the part after `:`), as WebDAV servers spell the `DAV:`
/// prefix as they like (`D:`, `d:`, `ns0:`, a default namespace).
enum Multistatus {
    static let maxDepth = 16
    static let maxText = 8192

    struct Refusal: Error {
        var why: String
    }

    static func parse(_ data: Data, maxEntries: Int) throws -> [DAVEntry] {
        guard String(data: data, encoding: .utf8) != nil else { throw Refusal(why: "the answer is not UTF-8 text") }
        return try data.withUnsafeBytes { raw in
            var scanner = Scanner(bytes: raw.bindMemory(to: UInt8.self), maxEntries: maxEntries)
            try scanner.document()
            return scanner.entries
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let maxEntries: Int
        var at = 0
        var stack: [String] = []
        var text: [UInt8] = []
        var entries: [DAVEntry] = []
        var entry: DAVEntry?
        /// The propstat being read: its leaves, whether it says collection, its status.
        var pending: [String: String] = [:]
        var pendingCollection = false
        var pendingStatus: String?

        init(bytes: UnsafeBufferPointer<UInt8>, maxEntries: Int) {
            self.bytes = bytes
            self.maxEntries = maxEntries
        }

        func refuse(_ why: String) -> Refusal { Refusal(why: "\(why) at byte \(at)") }

        func starts(with literal: StaticString) -> Bool {
            let n = literal.utf8CodeUnitCount
            guard at + n <= bytes.count else { return false }
            return literal.withUTF8Buffer { lit in (0..<n).allSatisfy { bytes[at + $0] == lit[$0] } }
        }

        mutating func skip(past literal: StaticString, what: String) throws {
            while at < bytes.count {
                if starts(with: literal) {
                    at += literal.utf8CodeUnitCount
                    return
                }
                at += 1
            }
            throw refuse("the document ends inside \(what)")
        }

        static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }

        static func local(_ name: String) -> String {
            guard let colon = name.lastIndex(of: ":") else { return name }
            return String(name[name.index(after: colon)...])
        }

        mutating func document() throws {
            if starts(with: "\u{FEFF}") { at += 3 }
            if starts(with: "<?xml") && at + 5 < bytes.count && (Self.isSpace(bytes[at + 5]) || bytes[at + 5] == UInt8(ascii: "?")) {
                try skip(past: "?>", what: "the XML declaration")
            }
            var rootClosed = false
            while at < bytes.count {
                let c = bytes[at]
                if Self.isSpace(c) {
                    at += 1
                } else if c != UInt8(ascii: "<") {
                    throw refuse(rootClosed ? "content after the root element" : "text before the root element")
                } else if starts(with: "<!--") {
                    try skip(past: "-->", what: "a comment")
                } else if rootClosed {
                    throw refuse("a second root element")
                } else if starts(with: "<!") || starts(with: "<?") {
                    throw refuse(starts(with: "<!") ? "a document type or other markup a multistatus has no use for" : "a processing instruction")
                } else {
                    try element()
                    rootClosed = true
                }
            }
            guard rootClosed else { throw Refusal(why: "the document ends before its root element closes") }
        }

        /// Where the element about to open sits, by local names from the root.
        func isPath(_ names: String...) -> Bool {
            stack.count == names.count && zip(stack, names).allSatisfy { $0 == $1 }
        }

        mutating func element() throws {
            let (raw, selfClosing) = try startTag()
            let name = Self.local(raw)
            guard stack.count < Multistatus.maxDepth else { throw refuse("elements nested deeper than \(Multistatus.maxDepth) levels") }
            if stack.isEmpty && name != "multistatus" { throw refuse("the root element is <\(raw)>, not a multistatus") }
            stack.append(name)
            text.removeAll(keepingCapacity: true)
            // Entering: a response, a propstat, a collection marker.
            if isPath("multistatus", "response") {
                guard entries.count < maxEntries else { throw refuse("more than \(maxEntries) responses") }
                entry = DAVEntry(href: "")
            } else if isPath("multistatus", "response", "propstat") {
                pending = [:]
                pendingCollection = false
                pendingStatus = nil
            } else if isPath("multistatus", "response", "propstat", "prop", "resourcetype", "collection") {
                pendingCollection = true
            }
            if !selfClosing { try content() }
            let value = String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            text.removeAll(keepingCapacity: true)
            // Leaving: the leaves read, the propstat kept when its status is 200.
            if isPath("multistatus", "response", "href") {
                entry?.href = value
            } else if isPath("multistatus", "response", "propstat", "status") {
                pendingStatus = value
            } else if stack.count == 5 && isPrefix("multistatus", "response", "propstat", "prop") {
                pending[name] = value
            } else if isPath("multistatus", "response", "propstat") {
                let code = pendingStatus?.split(separator: " ").dropFirst().first
                if code == "200", var e = entry {
                    if pendingCollection { e.collection = true }
                    if let v = pending["getcontentlength"] { e.size = v }
                    if let v = pending["getlastmodified"] { e.modified = v }
                    if let v = pending["getetag"] { e.etag = v }
                    entry = e
                }
            } else if isPath("multistatus", "response"), let e = entry {
                entries.append(e)
                entry = nil
            }
            stack.removeLast()
        }

        func isPrefix(_ names: String...) -> Bool {
            stack.count >= names.count && zip(stack, names).allSatisfy { $0 == $1 }
        }

        mutating func startTag() throws -> (String, Bool) {
            at += 1
            let start = at
            while at < bytes.count, !Self.isSpace(bytes[at]), bytes[at] != UInt8(ascii: ">"), bytes[at] != UInt8(ascii: "/") {
                let c = bytes[at]
                if c == UInt8(ascii: "<") || c == UInt8(ascii: "&") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c == UInt8(ascii: "=") {
                    throw refuse("a malformed element name")
                }
                at += 1
            }
            guard at > start, at - start <= 256 else { throw refuse("an element without a name, or with a name over 256 bytes") }
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            var quote: UInt8?
            while at < bytes.count {
                let c = bytes[at]
                if let q = quote {
                    if c == q { quote = nil }
                    if c == UInt8(ascii: "<") { throw refuse("a '<' inside an attribute") }
                } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                    quote = c
                } else if c == UInt8(ascii: ">") {
                    at += 1
                    return (name, false)
                } else if c == UInt8(ascii: "/") && at + 1 < bytes.count && bytes[at + 1] == UInt8(ascii: ">") {
                    at += 2
                    return (name, true)
                } else if c == UInt8(ascii: "<") {
                    throw refuse("a '<' inside a start tag")
                }
                at += 1
            }
            throw refuse("the document ends inside the start tag of <\(name)>")
        }

        mutating func content() throws {
            while at < bytes.count {
                let c = bytes[at]
                if c == UInt8(ascii: "<") {
                    let next = at + 1 < bytes.count ? bytes[at + 1] : 0
                    if next == UInt8(ascii: "/") {
                        try endTag()
                        return
                    } else if next != UInt8(ascii: "!") && next != UInt8(ascii: "?") {
                        try element()
                    } else if starts(with: "<!--") {
                        try skip(past: "-->", what: "a comment")
                    } else if starts(with: "<![CDATA[") {
                        at += 9
                        let start = at
                        try skip(past: "]]>", what: "a CDATA section")
                        try appendText(UnsafeBufferPointer(rebasing: bytes[start..<(at - 3)]))
                    } else {
                        throw refuse("markup a multistatus never holds inside an element")
                    }
                } else if c == UInt8(ascii: "&") {
                    try entity()
                } else {
                    let start = at
                    while at < bytes.count, bytes[at] != UInt8(ascii: "<"), bytes[at] != UInt8(ascii: "&") { at += 1 }
                    try appendText(UnsafeBufferPointer(rebasing: bytes[start..<at]))
                }
            }
            throw refuse("the document ends inside <\(stack.last ?? "")>")
        }

        mutating func endTag() throws {
            at += 2
            let start = at
            while at < bytes.count, bytes[at] != UInt8(ascii: ">"), !Self.isSpace(bytes[at]) { at += 1 }
            let name = Self.local(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self))
            while at < bytes.count, Self.isSpace(bytes[at]) { at += 1 }
            guard at < bytes.count, bytes[at] == UInt8(ascii: ">") else { throw refuse("a malformed end tag") }
            at += 1
            guard name == stack.last else { throw refuse("</\(name)> closes <\(stack.last ?? "")>") }
        }

        mutating func appendText(_ part: UnsafeBufferPointer<UInt8>) throws {
            if part.contains(where: { $0 < 0x20 && !Self.isSpace($0) }) { throw refuse("a control character in text") }
            guard text.count + part.count <= Multistatus.maxText else { throw refuse("text longer than \(Multistatus.maxText) bytes in one element") }
            text.append(contentsOf: part)
        }

        mutating func entity() throws {
            let start = at + 1
            var end = start
            while end < bytes.count, end - start < 12, bytes[end] != UInt8(ascii: ";") { end += 1 }
            guard end < bytes.count, bytes[end] == UInt8(ascii: ";") else { throw refuse("an '&' that starts no entity") }
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
            let scalar: Unicode.Scalar?
            switch name {
            case "amp": scalar = "&"
            case "lt": scalar = "<"
            case "gt": scalar = ">"
            case "quot": scalar = "\""
            case "apos": scalar = "'"
            default:
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    scalar = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if name.hasPrefix("#") {
                    scalar = UInt32(name.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
                } else {
                    scalar = nil
                }
            }
            guard let scalar, scalar.value >= 0x20 || scalar == "\t" || scalar == "\n" || scalar == "\r" else {
                throw refuse("the entity &\(name); (only XML's five and character references to text)")
            }
            let utf8 = Array(String(scalar).utf8)
            guard text.count + utf8.count <= Multistatus.maxText else { throw refuse("text longer than \(Multistatus.maxText) bytes in one element") }
            text.append(contentsOf: utf8)
            at = end + 1
        }
    }
}

/// The times of `getlastmodified`: RFC 1123 (`Sun, 06 Dec 2026 20:59:04 GMT`), as RFC 4918
/// requires; RFC 3339 too, as some servers send.
enum HTTPDate {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func parse(_ s: String) -> Double? {
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
