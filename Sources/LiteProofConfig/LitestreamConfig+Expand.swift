import Foundation

extension LitestreamConfig {
    /// Expands `$VAR` and `${VAR}` in `text` as Litestream does before it parses its
    /// configuration: Go's `os.Expand` with `os.Getenv`, and `$PID` as this process's id (0.5).
    ///
    /// The rules are Go's: a name is letters, digits and `_` (`$VAR`), anything up to the next
    /// `}` (`${VAR}`), or one special character (`$*`, `$#`, `$$`, `$@`, `$!`, `$?`, `$-`, `$0`…
    /// `$9`); an unset variable expands to nothing; `${}` and an unclosed `${` are dropped; a `$`
    /// followed by anything else (or at the end) stays as it is.
    public static func expandEnvironment(_ text: String, environment: [String: String], pid: Int32 = getpid()) -> String {
        let s = Array(text.utf8)
        guard s.contains(UInt8(ascii: "$")) else { return text }
        func lookup(_ name: [UInt8]) -> [UInt8] {
            let key = String(decoding: name, as: UTF8.self)
            if key == "PID" { return Array(String(pid).utf8) }
            return Array((environment[key] ?? "").utf8)
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            guard s[i] == UInt8(ascii: "$"), i + 1 < s.count else {
                out.append(s[i])
                i += 1
                continue
            }
            let (name, width) = shellName(s, from: i + 1)
            if let name {
                out += lookup(name)
            } else if width == 0 {
                out.append(s[i])  // `$` and no name: kept
            }  // else invalid syntax (`${}`, `${…` unclosed): eaten
            i += 1 + width
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Go's `getShellName`: the name after a `$` at `start`, and how many bytes it took.
    private static func shellName(_ s: [UInt8], from start: Int) -> (name: [UInt8]?, width: Int) {
        if s[start] == UInt8(ascii: "{") {
            if start + 2 < s.count, isSpecial(s[start + 1]), s[start + 2] == UInt8(ascii: "}") {
                return ([s[start + 1]], 3)
            }
            var j = start + 1
            while j < s.count {
                if s[j] == UInt8(ascii: "}") {
                    if j == start + 1 { return (nil, 2) }  // "${}"
                    return (Array(s[(start + 1)..<j]), j - start + 1)
                }
                j += 1
            }
            return (nil, 1)  // "${" with no "}": eaten
        }
        if isSpecial(s[start]) { return ([s[start]], 1) }
        var j = start
        while j < s.count, isAlphaNumeric(s[j]) { j += 1 }
        return j == start ? (nil, 0) : (Array(s[start..<j]), j - start)
    }

    private static func isSpecial(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "*"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "@"), UInt8(ascii: "!"), UInt8(ascii: "?"),
            UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default: return false
        }
    }

    private static func isAlphaNumeric(_ c: UInt8) -> Bool {
        c == UInt8(ascii: "_") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
    }
}
