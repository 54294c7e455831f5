import Foundation

extension LogReader {
    // MARK: - JSON lines

    /// A JSON object with `level` and `msg`, starting anywhere in the line (at one of its first
    /// ``maxStarts`` `{"`s). Parsed by hand: Litestream's JSON can repeat a key (0.5's version line
    /// has two `level`s), which JSONSerialization would merge.
    static func parseJSONLine(_ b: [UInt8]) -> RawLogLine? {
        var from = 0
        var tried = 0
        while tried < maxStarts, let i = find(b, jsonStart, from: from) {
            from = i + 1
            tried += 1
            var parser = FlatJSON(b: b, p: i)
            var pairs: [(key: String, value: String)] = []
            guard parser.object(prefix: "", depth: 1, into: &pairs) else { continue }
            var time: String?, level: String?, message: String?
            var fields: [(key: String, value: String)] = []
            for pair in pairs {
                if pair.key == "time" && time == nil {
                    time = pair.value
                } else if pair.key == "level" && level == nil {
                    level = pair.value
                } else if pair.key == "msg" && message == nil {
                    message = pair.value
                } else {
                    fields.append(pair)
                }
            }
            guard let level, let message else { continue }
            return RawLogLine(time: time, level: level, message: message, fields: fields, format: .json)
        }
        return nil
    }

    /// A JSON reader that flattens an object into ordered (key, value) pairs, nested objects as `a.b`.
    ///
    /// Litestream's objects are shallow and their keys short, so an object nested deeper than
    /// ``maxDepth`` (objects and arrays together), a flattened key longer than ``maxKeyLength``, or
    /// flattened keys adding up to more than twice the line end the reading: the line is not
    /// Litestream's. This keeps the recursion shallow, and the work and memory one line costs
    /// proportional to its length.
    struct FlatJSON {
        static let maxDepth = 32
        static let maxKeyLength = 128

        let b: [UInt8]
        var p: Int
        /// Bytes of flattened keys made so far.
        var keyBytes = 0

        mutating func skipSpace() { while p < b.count && isSpace(b[p]) { p += 1 } }

        mutating func object(prefix: String, depth: Int, into pairs: inout [(key: String, value: String)]) -> Bool {
            guard depth <= Self.maxDepth, p < b.count, b[p] == UInt8(ascii: "{") else { return false }
            p += 1
            skipSpace()
            if p < b.count && b[p] == UInt8(ascii: "}") { p += 1; return true }
            while true {
                skipSpace()
                guard let key = string() else { return false }
                skipSpace()
                guard p < b.count, b[p] == UInt8(ascii: ":") else { return false }
                p += 1
                skipSpace()
                let full = prefix.isEmpty ? key : prefix + "." + key
                keyBytes += full.utf8.count
                guard full.utf8.count <= Self.maxKeyLength, keyBytes <= 2 * b.count + 4096 else { return false }
                guard p < b.count else { return false }
                if b[p] == UInt8(ascii: "{") {
                    guard object(prefix: full, depth: depth + 1, into: &pairs) else { return false }
                } else if b[p] == UInt8(ascii: "\"") {
                    guard let s = string() else { return false }
                    pairs.append((full, s))
                } else {
                    let start = p
                    guard skipScalarOrArray(depth: depth) else { return false }
                    pairs.append((full, LogReader.string(b[start..<p])))
                }
                skipSpace()
                guard p < b.count else { return false }
                if b[p] == UInt8(ascii: ",") { p += 1; continue }
                if b[p] == UInt8(ascii: "}") { p += 1; return true }
                return false
            }
        }

        /// Numbers, true/false/null, or an array kept as its text; `outer` is the depth of the
        /// object holding it.
        mutating func skipScalarOrArray(depth outer: Int) -> Bool {
            if b[p] == UInt8(ascii: "[") {
                var depth = 0
                while p < b.count {
                    let c = b[p]
                    if c == UInt8(ascii: "\"") {
                        guard string() != nil else { return false }
                        continue
                    }
                    if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                        depth += 1
                        guard outer + depth <= Self.maxDepth else { return false }
                    }
                    if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") { depth -= 1 }
                    p += 1
                    if depth == 0 { return true }
                }
                return false
            }
            let start = p
            while p < b.count && b[p] != UInt8(ascii: ",") && b[p] != UInt8(ascii: "}") && !isSpace(b[p]) { p += 1 }
            return p > start
        }

        mutating func string() -> String? {
            guard p < b.count, b[p] == UInt8(ascii: "\"") else { return nil }
            p += 1
            var out: [UInt8] = []
            while p < b.count {
                let c = b[p]
                p += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard c == UInt8(ascii: "\\") else { out.append(c); continue }
                guard p < b.count else { return nil }
                let e = b[p]
                p += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard p + 4 <= b.count, var v = UInt32(LogReader.string(b[p..<(p + 4)]), radix: 16) else { return nil }
                    p += 4
                    if (0xD800..<0xDC00).contains(v), p + 6 <= b.count, b[p] == UInt8(ascii: "\\"), b[p + 1] == UInt8(ascii: "u"),
                        let low = UInt32(LogReader.string(b[(p + 2)..<(p + 6)]), radix: 16), (0xDC00..<0xE000).contains(low)
                    {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                        p += 6
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(v) ?? "\u{FFFD}")).utf8))
                default: out.append(e)
                }
            }
            return nil
        }
    }

}
