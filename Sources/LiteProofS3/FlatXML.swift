import Foundation

/// Reads the two-level XML that S3 answers with: the root's child elements (`top`), and the
/// children of each repeated `record` element. `ok` only for a document read to its end whose
/// root element closed, nested no deeper than ``maxDepth`` (S3 nests three levels).
///
/// Our own scanner rather than Foundation's `XMLParser`: that one traps on a processing
/// instruction without data and on an element name that is not UTF-8 (the `s3-listing` and
/// `s3-error` fuzz targets found both), and an object store's answer is outside input. It reads
/// the XML S3 sends and refuses the rest, naming the byte offset: a document type (so no
/// entity can expand), processing instructions other than the declaration, undefined entities,
/// control characters, mismatched or unclosed elements, anything after the root element.
/// Comments and CDATA sections are read. Work is one pass over the bytes.
struct FlatXML {
    var root: String?
    var top: [String: String] = [:]
    var records: [[String: String]] = []
    var ok = false
    /// Why `ok` is false, when known.
    var problem: String?
    static let maxDepth = 6

    static func parse(_ data: Data, record: String?) -> FlatXML {
        var xml = FlatXML()
        // S3 answers in UTF-8; a key decoded from anything else would name another object.
        guard String(data: data, encoding: .utf8) != nil else {
            xml.problem = "the answer is not UTF-8 text"
            return xml
        }
        do {
            try data.withUnsafeBytes { raw in
                var scanner = Scanner(bytes: raw.bindMemory(to: UInt8.self), record: record)
                try scanner.document(into: &xml)
            }
            xml.ok = true
        } catch let e as Refusal {
            xml.problem = e.why
        } catch {
            xml.problem = "\(error)"
        }
        return xml
    }

    struct Refusal: Error {
        var why: String
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let record: String?
        var at = 0
        var stack: [String] = []
        var text: [UInt8] = []
        var current: [String: String]?

        init(bytes: UnsafeBufferPointer<UInt8>, record: String?) {
            self.bytes = bytes
            self.record = record
        }

        func refuse(_ why: String) -> Refusal { Refusal(why: "\(why) at byte \(at)") }

        func starts(with literal: StaticString) -> Bool {
            let n = literal.utf8CodeUnitCount
            guard at + n <= bytes.count else { return false }
            return literal.withUTF8Buffer { lit in (0..<n).allSatisfy { bytes[at + $0] == lit[$0] } }
        }

        /// Moves past `literal`, which ends a construct begun at `at`.
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

        mutating func document(into xml: inout FlatXML) throws {
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
                    throw refuse(starts(with: "<!") ? "a document type or markup S3 never sends" : "a processing instruction")
                } else {
                    try element(into: &xml)
                    rootClosed = true
                }
            }
            guard rootClosed else { throw Refusal(why: "the document ends before its root element closes") }
        }

        /// Reads the element starting at `at` (a `<`), its content and its end tag.
        mutating func element(into xml: inout FlatXML) throws {
            let name = try startTag()
            if stack.isEmpty { xml.root = name.name }
            guard stack.count < FlatXML.maxDepth else { throw refuse("elements nested deeper than \(FlatXML.maxDepth) levels") }
            if stack.count == 1 && name.name == record { current = [:] }
            stack.append(name.name)
            text.removeAll(keepingCapacity: true)
            if !name.selfClosing {
                try content(into: &xml)
            }
            stack.removeLast()
            let value = String(decoding: text, as: UTF8.self)
            if stack.count == 1 {
                if name.name == record, let c = current {
                    xml.records.append(c)
                    current = nil
                } else {
                    xml.top[name.name] = value
                }
            } else if stack.count == 2 && current != nil {
                current?[name.name] = value
            }
            text.removeAll(keepingCapacity: true)
        }

        /// Reads `<name attributes…>` or `<name …/>`.
        mutating func startTag() throws -> (name: String, selfClosing: Bool) {
            at += 1
            let start = at
            while at < bytes.count, !Self.isSpace(bytes[at]), bytes[at] != UInt8(ascii: ">"), bytes[at] != UInt8(ascii: "/") {
                let c = bytes[at]
                if c == UInt8(ascii: "<") || c == UInt8(ascii: "&") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c == UInt8(ascii: "=") {
                    throw refuse("a malformed element name")
                }
                at += 1
            }
            guard at > start else { throw refuse("an element without a name") }
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            // Attributes (S3 puts a namespace on the root): skipped, quotes respected.
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

        /// Reads an element's content up to and including its end tag.
        mutating func content(into xml: inout FlatXML) throws {
            while at < bytes.count {
                let c = bytes[at]
                if c == UInt8(ascii: "<") {
                    let next = at + 1 < bytes.count ? bytes[at + 1] : 0
                    if next == UInt8(ascii: "/") {
                        try endTag()
                        return
                    } else if next != UInt8(ascii: "!") && next != UInt8(ascii: "?") {
                        // A child element: the text read so far belongs to no leaf.
                        try element(into: &xml)
                    } else if starts(with: "<!--") {
                        try skip(past: "-->", what: "a comment")
                    } else if starts(with: "<![CDATA[") {
                        at += 9
                        let start = at
                        try skip(past: "]]>", what: "a CDATA section")
                        try appendText(UnsafeBufferPointer(rebasing: bytes[start..<(at - 3)]))
                    } else {
                        throw refuse("markup S3 never sends inside an element")
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
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            while at < bytes.count, Self.isSpace(bytes[at]) { at += 1 }
            guard at < bytes.count, bytes[at] == UInt8(ascii: ">") else { throw refuse("a malformed end tag") }
            at += 1
            guard name == stack.last else { throw refuse("</\(name)> closes <\(stack.last ?? "")>") }
        }

        /// Text as XML allows it: no control characters but tab, LF and CR.
        mutating func appendText(_ part: UnsafeBufferPointer<UInt8>) throws {
            if part.contains(where: { $0 < 0x20 && !Self.isSpace($0) }) { throw refuse("a control character in text") }
            text.append(contentsOf: part)
        }

        /// `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&#N;` `&#xH;`; any other is refused (no
        /// document type defines one).
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
            text.append(contentsOf: Array(String(scalar).utf8))
            at = end + 1
        }
    }
}
