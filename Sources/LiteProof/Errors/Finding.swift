/// One thing a check found: damage (an error) or something odd (a warning).
///
/// Findings are values, collected and rendered; a thrown ``LiteProofError`` is kept for
/// "cannot continue". `code` values are stable: tools may match on them.
public struct Finding: Codable, Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Codable, Sendable, Comparable {
        case warning
        case error

        public static func < (a: Severity, b: Severity) -> Bool { a == .warning && b == .error }
    }

    public var severity: Severity
    public var code: FindingCode
    /// The file, relative to the replica root ("" when the finding is about the replica as a whole).
    public var file: String
    /// Byte offset the finding applies to. For data inside an LZ4 frame this is the offset in the
    /// *decompressed* stream (see `message`), since compressed offsets mean nothing to a reader.
    public var offset: Int64?
    public var message: String

    public init(_ severity: Severity, _ code: FindingCode, file: String, offset: Int64? = nil, _ message: String) {
        self.severity = severity
        self.code = code
        self.file = file
        self.offset = offset
        self.message = message
    }

    public static func error(_ code: FindingCode, file: String, offset: Int64? = nil, _ message: String) -> Finding {
        Finding(.error, code, file: file, offset: offset, message)
    }

    public static func warning(_ code: FindingCode, file: String, offset: Int64? = nil, _ message: String) -> Finding {
        Finding(.warning, code, file: file, offset: offset, message)
    }

    public var description: String {
        var s = "\(severity.rawValue) \(code.rawValue)"
        if !file.isEmpty { s += " \(file)" }
        if let offset { s += " @\(offset)" }
        return (s + ": " + message).escapedForText
    }
}
