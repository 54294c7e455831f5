import LiteProof

/// What a configuration file may cost before and while it is read: it is untrusted text, and
/// the YAML composer recurses once per level of nesting and hashes mapping keys whole (an
/// alias of a large node used as a key would be hashed at its full, expanded size).
///
/// ``check(_:file:)`` scans the text once, before the YAML parser sees it, outside quoted
/// scalars and comments: nesting (flow brackets, block indentation, compact `- - -` entries)
/// is bounded, and complex keys (`? …`, an alias or a flow collection used as a key) are
/// refused, as Litestream's configuration has none. While the parsed document is walked,
/// every node visited (aliases followed, merge keys expanded) is counted against ``maxNodes``,
/// so an alias bomb ("billion laughs") ends with an error instead of a hang.
public enum LitestreamConfigLimits {
    /// Nesting of flow collections, indentation levels, or both, at any point.
    public static let maxDepth = 64
    /// Nodes visited while the document is walked (a real configuration has a few hundred).
    public static let maxNodes = 100_000

    /// Scans `text` (see the type's summary); throws a usage error naming `file` and the line.
    static func check(_ text: String, file: String) throws {
        var line = 1
        var flow = 0
        var indents: [Int] = []
        var quote: UInt8? = nil
        var atLineStart = true
        var column = 0
        var compact = 0
        var previous: UInt8 = UInt8(ascii: "\n")
        let bytes = Array(text.utf8)
        func refuse(_ what: String) -> LiteProofError {
            LiteProofError(.usage, "\(file): line \(line): \(what); a Litestream configuration has none")
        }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            defer {
                previous = c
                i += 1
            }
            if c == UInt8(ascii: "\n") {
                line += 1
                atLineStart = true
                column = 0
                compact = 0
                if quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") { continue }
                quote = nil
                continue
            }
            if let q = quote {
                if q == UInt8(ascii: "#") { continue }
                if c == UInt8(ascii: "\\"), q == UInt8(ascii: "\""), i + 1 < bytes.count {
                    i += 1
                } else if c == q {
                    quote = nil
                }
                continue
            }
            let separated = previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\t") || previous == UInt8(ascii: "\n")
            if atLineStart {
                if c == UInt8(ascii: " ") {
                    column += 1
                    continue
                }
                atLineStart = false
                if c != UInt8(ascii: "#") && flow == 0 {
                    while let top = indents.last, top >= column { indents.removeLast() }
                    indents.append(column)
                }
            }
            switch c {
            case UInt8(ascii: "#") where separated:
                quote = c  // a comment, to the end of the line
            case let q where (q == UInt8(ascii: "'") || q == UInt8(ascii: "\"")) && (separated || "[{,:".utf8.contains(previous)):
                quote = c  // a quoted scalar starts here (an apostrophe inside a plain one does not)
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                flow += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                flow = max(0, flow - 1)
                if followedByKeyIndicator(bytes, after: i) { throw refuse("a collection used as a mapping key") }
            case UInt8(ascii: "-") where separated && isBlank(bytes, i + 1):
                compact += 1
            case UInt8(ascii: "?") where (separated || previous == UInt8(ascii: "[") || previous == UInt8(ascii: "{")) && isBlank(bytes, i + 1):
                throw refuse("a complex mapping key (\"? \")")
            case UInt8(ascii: "*") where separated || previous == UInt8(ascii: "[") || previous == UInt8(ascii: "{") || previous == UInt8(ascii: ","):
                var j = i + 1
                while j < bytes.count, !isBlank(bytes, j), !",[]{}".utf8.contains(bytes[j]) { j += 1 }
                if followedByKeyIndicator(bytes, after: j - 1) { throw refuse("an alias used as a mapping key") }
            default:
                break
            }
            if flow + indents.count + compact > maxDepth {
                throw LiteProofError(.usage, "\(file): line \(line): nested more than \(maxDepth) levels deep; a Litestream configuration is a few levels deep")
            }
        }
    }

    /// Whether the next non-space byte after `i` is a `:` that ends a key (followed by a blank).
    private static func followedByKeyIndicator(_ bytes: [UInt8], after i: Int) -> Bool {
        var j = i + 1
        while j < bytes.count, bytes[j] == UInt8(ascii: " ") { j += 1 }
        return j < bytes.count && bytes[j] == UInt8(ascii: ":") && isBlank(bytes, j + 1)
    }

    /// A space, a tab, a line end, or the end of the text.
    private static func isBlank(_ bytes: [UInt8], _ i: Int) -> Bool {
        i >= bytes.count || bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t") || bytes[i] == UInt8(ascii: "\n")
            || bytes[i] == UInt8(ascii: "\r")
    }
}
