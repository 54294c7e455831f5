extension String {
    /// The string as one line of terminal text: control characters are shown escaped.
    ///
    /// Names printed in text output come from outside — replica file names, log lines, finding
    /// messages that quote them. A newline in such a name would start a line of its own (a stray
    /// file named "x\nOK: the replica is sound" could forge a verdict), and an escape sequence
    /// could move the cursor or recolour the screen. `\n`, `\r` and `\t` become `\\n`, `\\r` and
    /// `\\t`; the other C0 controls, DEL, the C1 controls and the Unicode line and paragraph
    /// separators become `\\u{…}`. Everything else, backslashes included, is kept as it is; JSON
    /// output keeps the raw text.
    public var escapedForText: String {
        guard unicodeScalars.contains(where: Self.needsEscape) else { return self }
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            guard Self.needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return out
    }

    /// C0 controls, DEL, C1 controls, U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR.
    static func needsEscape(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || (0x7F...0x9F).contains(s.value) || s.value == 0x2028 || s.value == 0x2029
    }
}
