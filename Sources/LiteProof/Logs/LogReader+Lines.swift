import Foundation

/// The shapes a Litestream line can take: key=value (slog's text handler), Go's log text, 0.5's
/// pretty and `Error:` lines. JSON lines are in LogReader+JSON.swift.
extension LogReader {
    // MARK: - Line shapes

    struct RawLogLine {
        var time: String?
        var level: String?
        var message: String
        var fields: [(key: String, value: String)]
        var format: LogLineFormat
    }

    /// Litestream's part of `b`, if the line holds one; whatever comes before it is ignored.
    static func parseLine(_ b: [UInt8]) -> RawLogLine? {
        if let r = parseJSONLine(b) { return r }
        if let r = parseKeyValueLine(b) { return r }
        if let r = parseLeveledLine(b) { return r }
        return parseErrorLine(b)
    }

    /// Places tried in one line for a shape that may start anywhere (`time=`, `{"`). Litestream's
    /// text comes after at most a platform's prefix; trying every place would make a hostile line
    /// (`time=x ` a million times) cost the square of its length.
    static let maxStarts = 16

    /// `time=… level=… msg=… k=v…`, starting anywhere in the line (at one of its first
    /// ``maxStarts`` `time=`s).
    static func parseKeyValueLine(_ b: [UInt8]) -> RawLogLine? {
        var from = 0
        var tried = 0
        while tried < maxStarts, let i = find(b, timeKey, from: from) {
            from = i + 1
            guard atBoundary(b, i) else { continue }
            tried += 1
            let (head, end) = pairs(b, from: i, limit: 3)
            guard head.count == 3, head[0].key == "time", head[1].key == "level", head[2].key == "msg" else { continue }
            return RawLogLine(time: head[0].value, level: head[1].value, message: head[2].value, fields: parsePairs(b, from: end), format: .keyValue)
        }
        return nil
    }

    static let textLevels = ["DEBUG", "INFO", "WARN", "ERROR"].map { Array($0.utf8) }
    static let prettyLevels = ["DBG", "INF", "WRN", "ERR"].map { Array($0.utf8) }
    static let shapes: [(template: [UInt8], levels: [[UInt8]], format: LogLineFormat)] = [
        (Array("0000/00/00 00:00:00".utf8), textLevels, .text),
        (Array("00:00:00".utf8), prettyLevels, .pretty),
    ]
    static let prefixTimeTemplates = ["0000-00-00T00:00:00", "0000-00-00 00:00:00", "0000/00/00 00:00:00"].map { Array($0.utf8) }
    static let timeKey = Array("time=".utf8)
    static let errorPrefix = Array("Error: ".utf8)
    static let jsonStart = Array("{\"".utf8)

    /// `2006/01/02 15:04:05 LEVEL msg k=v…` (Go's log) or `15:04:05 INF msg k=v…` (pretty).
    static func parseLeveledLine(_ b: [UInt8]) -> RawLogLine? {
        var i = 0
        while i < b.count {
            defer { i += 1 }
            guard isDigit(b[i]), atBoundary(b, i) else { continue }
            for (template, levels, format) in shapes {
                guard matches(b, i, template) else { continue }
                var j = i + template.count
                if j < b.count && b[j] == UInt8(ascii: ".") {
                    j += 1
                    while j < b.count && isDigit(b[j]) { j += 1 }
                }
                guard j < b.count, b[j] == 0x20 else { continue }
                let levelStart = j + 1
                guard let level = levels.first(where: { matches(b, levelStart, $0) }) else { continue }
                var k = levelStart + level.count
                if k < b.count && (b[k] == UInt8(ascii: "+") || b[k] == UInt8(ascii: "-")) {
                    k += 1
                    while k < b.count && isDigit(b[k]) { k += 1 }
                }
                guard k == b.count || b[k] == 0x20 else { continue }
                let time = string(b[i..<j])
                let (message, fields) = splitMessage(b, from: min(k + 1, b.count))
                return RawLogLine(time: time, level: string(b[levelStart..<k]), message: message, fields: fields, format: format)
            }
        }
        return nil
    }

    /// `Error: text`, 0.5's way of reporting the error a command stopped on.
    static func parseErrorLine(_ b: [UInt8]) -> RawLogLine? {
        guard let i = find(b, errorPrefix, from: 0), i == 0 || !isAlphanumeric(b[i - 1]) else { return nil }
        let text = string(b[(i + 7)...]).trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        return RawLogLine(time: prefixTime(b, before: i), level: "ERROR", message: text, fields: [], format: .errorLine)
    }

    /// A timestamp a platform put before Litestream's text (ISO 8601 or `2006/01/02 15:04:05`).
    static func prefixTime(_ b: [UInt8], before end: Int) -> String? {
        var i = 0
        while i < end {
            if isDigit(b[i]) && atBoundary(b, i) {
                for template in prefixTimeTemplates where matches(b, i, template) {
                    var j = i + template.count
                    while j < end && !isSpace(b[j]) && b[j] != UInt8(ascii: "]") && b[j] != UInt8(ascii: "|") { j += 1 }
                    return string(b[i..<j])
                }
            }
            i += 1
        }
        return nil
    }

    /// The message runs until the first `key=` token; the rest are attributes.
    static func splitMessage(_ b: [UInt8], from start: Int) -> (String, [(key: String, value: String)]) {
        var p = start
        var messageEnd = start
        while p < b.count {
            while p < b.count && b[p] == 0x20 { p += 1 }
            if p >= b.count || isKeyToken(b, p) { break }
            while p < b.count && b[p] != 0x20 { p += 1 }
            messageEnd = p
        }
        return (string(b[start..<messageEnd]), parsePairs(b, from: p))
    }

    static func isKeyToken(_ b: [UInt8], _ p: Int) -> Bool {
        var q = p
        while q < b.count && isKeyByte(b[q]) { q += 1 }
        return q > p && q < b.count && b[q] == UInt8(ascii: "=")
    }

    /// `k=v k="quoted v"…` from `start` until a token that is not a pair.
    static func parsePairs(_ b: [UInt8], from start: Int) -> [(key: String, value: String)] {
        pairs(b, from: start, limit: .max).pairs
    }

    /// At most `limit` pairs from `start`, and the index after the last one read.
    static func pairs(_ b: [UInt8], from start: Int, limit: Int) -> (pairs: [(key: String, value: String)], end: Int) {
        var pairs: [(key: String, value: String)] = []
        var p = start
        while p < b.count && pairs.count < limit {
            while p < b.count && b[p] == 0x20 { p += 1 }
            guard p < b.count else { break }
            var key: String
            if b[p] == UInt8(ascii: "\"") {
                guard let (k, next) = goQuoted(b, from: p), next < b.count, b[next] == UInt8(ascii: "=") else { break }
                key = k
                p = next + 1
            } else {
                let keyStart = p
                while p < b.count && b[p] != UInt8(ascii: "=") && b[p] != 0x20 { p += 1 }
                guard p < b.count, b[p] == UInt8(ascii: "="), p > keyStart else { break }
                key = string(b[keyStart..<p])
                p += 1
            }
            var value: String
            if p < b.count && b[p] == UInt8(ascii: "\""), let (v, next) = goQuoted(b, from: p) {
                value = v
                p = next
            } else {
                let valueStart = p
                while p < b.count && b[p] != 0x20 { p += 1 }
                value = string(b[valueStart..<p])
            }
            pairs.append((key, value))
        }
        return (pairs, p)
    }

    /// A Go-quoted string (`strconv.Quote`) starting at the quote; returns it and the index after it.
    static func goQuoted(_ b: [UInt8], from start: Int) -> (String, Int)? {
        var out: [UInt8] = []
        var p = start + 1
        while p < b.count {
            let c = b[p]
            if c == UInt8(ascii: "\"") { return (String(decoding: out, as: UTF8.self), p + 1) }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                p += 1
                continue
            }
            guard p + 1 < b.count else { return nil }
            let e = b[p + 1]
            p += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let width = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                guard p + width <= b.count, let v = UInt32(string(b[p..<(p + width)]), radix: 16) else { return nil }
                p += width
                if e == UInt8(ascii: "x") {
                    out.append(UInt8(v))
                } else {
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(v) ?? "\u{FFFD}")).utf8))
                }
            default: out.append(e)
            }
        }
        return nil
    }

    // MARK: - Bytes

    static func string(_ s: ArraySlice<UInt8>) -> String { String(decoding: s, as: UTF8.self) }

    static func find(_ b: [UInt8], _ n: [UInt8], from: Int) -> Int? {
        guard !n.isEmpty, b.count >= n.count, from <= b.count - n.count else { return nil }
        var i = from
        while i <= b.count - n.count {
            if b[i] == n[0] {
                var k = 1
                while k < n.count && b[i + k] == n[k] { k += 1 }
                if k == n.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// Whether `b` at `i` has the shape of `template`, where `0` stands for any digit.
    static func matches(_ b: [UInt8], _ i: Int, _ t: [UInt8]) -> Bool {
        guard i + t.count <= b.count else { return false }
        for k in 0..<t.count {
            if t[k] == UInt8(ascii: "0") ? !isDigit(b[i + k]) : b[i + k] != t[k] { return false }
        }
        return true
    }

    /// Nothing word-like just before `i`, so `time=` inside `runtime=` does not count.
    static func atBoundary(_ b: [UInt8], _ i: Int) -> Bool { i == 0 || !(isAlphanumeric(b[i - 1]) || b[i - 1] == UInt8(ascii: "_")) }

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isAlphanumeric(_ c: UInt8) -> Bool { isDigit(c) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) }
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
    static func isKeyByte(_ c: UInt8) -> Bool {
        isAlphanumeric(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")
    }

    /// Removes terminal escape sequences (`ESC [ … letter`), which some log viewers keep.
    static func stripANSI(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == 0x1B && i + 1 < b.count && b[i + 1] == UInt8(ascii: "[") {
                i += 2
                while i < b.count && !(b[i] >= 0x40 && b[i] <= 0x7E) { i += 1 }
                i += 1
                continue
            }
            out.append(b[i])
            i += 1
        }
        return out
    }
}
