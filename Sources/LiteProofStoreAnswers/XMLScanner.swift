import Foundation

/// What a document read by ``XMLScan`` may hold: how deep its elements nest, how long a name and
/// a leaf's text may be, whether elements are matched by local name (the part after `:`), and
/// how refusals name the markup its sender never sends.
public struct XMLRules: Sendable {
    public var maxDepth: Int
    public var maxText: Int
    public var maxName: Int
    public var localNames: Bool
    /// Finishes "a document type or …" for a `<!`/`<?` before the root element.
    public var foreignAtTop: String
    /// Finishes "… inside an element" for a `<!`/`<?` that is neither a comment nor CDATA.
    public var foreignInside: String

    public init(
        maxDepth: Int, maxText: Int = .max, maxName: Int = .max, localNames: Bool = false, foreignAtTop: String,
        foreignInside: String
    ) {
        self.maxDepth = maxDepth
        self.maxText = maxText
        self.maxName = maxName
        self.localNames = localNames
        self.foreignAtTop = foreignAtTop
        self.foreignInside = foreignInside
    }
}

/// Why ``XMLScan`` refused a document, naming the byte offset where it could.
public struct XMLRefusal: Error, Sendable {
    public var why: String

    public init(why: String) { self.why = why }
}

/// What keeps the elements an ``XMLScan`` passes over. `path` holds the names from the root
/// down to the element, itself last (local names under ``XMLRules/localNames``).
public protocol XMLReader {
    /// The element at the end of `path` (written `raw`) opens; a reason refuses the document.
    mutating func open(_ path: [String], raw: String) -> String?
    /// The element at the end of `path` closes; `text` is its text after its last child element.
    mutating func close(_ path: [String], text: String)
}

/// The bounded XML scanner of the object stores' answers (S3's listings and errors, WebDAV's
/// multistatus), our own rather than Foundation's `XMLParser`: that one traps on a processing
/// instruction without data and on an element name that is not UTF-8 (the `s3-listing` and
/// `s3-error` fuzz targets found both), and an object store's answer is outside input. It
/// refuses, naming the byte offset: a document type (so no entity can expand), processing
/// instructions other than the declaration, undefined entities, control characters,
/// mismatched or unclosed elements, anything after the root element, and what ``XMLRules``
/// bounds. Comments and CDATA sections are read. Work is one pass over the bytes.
public enum XMLScan {
    /// Reads `data` to its end into `reader`; what `reader` kept before a refusal stays in it.
    public static func read<R: XMLReader>(_ data: Data, rules: XMLRules, into reader: inout R) throws {
        // The stores answer in UTF-8; a key decoded from anything else would name another object.
        guard String(data: data, encoding: .utf8) != nil else { throw XMLRefusal(why: "the answer is not UTF-8 text") }
        try data.withUnsafeBytes { raw in
            var scanner = Scanner(bytes: raw.bindMemory(to: UInt8.self), rules: rules, reader: reader)
            defer { reader = scanner.reader }
            try scanner.document()
        }
    }

    private struct Scanner<R: XMLReader> {
        let bytes: UnsafeBufferPointer<UInt8>
        let rules: XMLRules
        var reader: R
        var at = 0
        var stack: [String] = []
        var text: [UInt8] = []

        init(bytes: UnsafeBufferPointer<UInt8>, rules: XMLRules, reader: R) {
            self.bytes = bytes
            self.rules = rules
            self.reader = reader
        }

        func refuse(_ why: String) -> XMLRefusal { XMLRefusal(why: "\(why) at byte \(at)") }

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

        func named(_ raw: String) -> String {
            guard rules.localNames, let colon = raw.lastIndex(of: ":") else { return raw }
            return String(raw[raw.index(after: colon)...])
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
                    throw refuse(starts(with: "<!") ? "a document type or \(rules.foreignAtTop)" : "a processing instruction")
                } else {
                    try element()
                    rootClosed = true
                }
            }
            guard rootClosed else { throw XMLRefusal(why: "the document ends before its root element closes") }
        }

        /// Reads the element starting at `at` (a `<`), its content and its end tag.
        mutating func element() throws {
            let (raw, selfClosing) = try startTag()
            guard stack.count < rules.maxDepth else { throw refuse("elements nested deeper than \(rules.maxDepth) levels") }
            stack.append(named(raw))
            text.removeAll(keepingCapacity: true)
            if let why = reader.open(stack, raw: raw) { throw refuse(why) }
            if !selfClosing { try content() }
            let value = String(decoding: text, as: UTF8.self)
            text.removeAll(keepingCapacity: true)
            reader.close(stack, text: value)
            stack.removeLast()
        }

        /// Reads `<name attributes…>` or `<name …/>`.
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
            guard at > start, at - start <= rules.maxName else {
                throw refuse(rules.maxName == .max ? "an element without a name" : "an element without a name, or with a name over \(rules.maxName) bytes")
            }
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
        mutating func content() throws {
            while at < bytes.count {
                let c = bytes[at]
                if c == UInt8(ascii: "<") {
                    let next = at + 1 < bytes.count ? bytes[at + 1] : 0
                    if next == UInt8(ascii: "/") {
                        try endTag()
                        return
                    } else if next != UInt8(ascii: "!") && next != UInt8(ascii: "?") {
                        // A child element: the text read so far belongs to no leaf.
                        try element()
                    } else if starts(with: "<!--") {
                        try skip(past: "-->", what: "a comment")
                    } else if starts(with: "<![CDATA[") {
                        at += 9
                        let start = at
                        try skip(past: "]]>", what: "a CDATA section")
                        try appendText(UnsafeBufferPointer(rebasing: bytes[start..<(at - 3)]))
                    } else {
                        throw refuse("\(rules.foreignInside) inside an element")
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
            let name = named(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self))
            while at < bytes.count, Self.isSpace(bytes[at]) { at += 1 }
            guard at < bytes.count, bytes[at] == UInt8(ascii: ">") else { throw refuse("a malformed end tag") }
            at += 1
            guard name == stack.last else { throw refuse("</\(name)> closes <\(stack.last ?? "")>") }
        }

        /// Text as XML allows it: no control characters but tab, LF and CR.
        mutating func appendText(_ part: UnsafeBufferPointer<UInt8>) throws {
            if part.contains(where: { $0 < 0x20 && !Self.isSpace($0) }) { throw refuse("a control character in text") }
            try keep(part)
        }

        mutating func keep<C: Collection<UInt8>>(_ part: C) throws {
            guard part.count <= rules.maxText - text.count else { throw refuse("text longer than \(rules.maxText) bytes in one element") }
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
            try keep(String(scalar).utf8)
            at = end + 1
        }
    }
}
