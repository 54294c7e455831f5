import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How Litestream laid out a line it printed.
public enum LogLineFormat: String, Codable, Hashable, Sendable, CaseIterable {
    /// slog's text handler: `time=… level=INFO msg="replicating to" type=file …` (0.3.13 with
    /// `-config`, on stdout; 0.5.x always).
    case keyValue = "key=value"
    /// Go's `log` package through slog's default handler:
    /// `2026/11/27 03:21:40 INFO restoring snapshot replica=file …` (0.3.13 given a replica URL, on stderr).
    case text
    /// 0.5.x with `logging: type: pretty`: `03:26:16 INF replicating to type=file …`.
    case pretty
    /// slog's JSON handler (`logging: type: json`, both versions).
    case json
    /// The error 0.5.x prints on stderr when a command fails: `Error: restore failed: …` (no time).
    case errorLine = "error-line"
}

/// One piece of evidence in a Litestream log: a line Litestream printed, classified.
public struct LogEvent: Codable, Hashable, Sendable {
    /// What the line shows. The raw values are stable: tools may match on them.
    public enum Kind: String, Codable, Hashable, Sendable, CaseIterable {
        /// `litestream version=…`: a `litestream replicate` process started.
        case version
        /// `initialized db path=…`.
        case database
        /// `replicating to type=… path=…` (0.3 also `name=`, S3 `bucket=`…).
        case replicating
        /// 0.3 `sync: new generation generation=… reason=…`.
        case generation = "new-generation"
        /// 0.3 `snapshot written`, 0.5 `snapshot complete`.
        case snapshot
        /// 0.3 `wal segment written`.
        case walSegment = "wal-segment"
        /// 0.5 `ltx file uploaded` (logged at debug level only).
        case ltxFile = "ltx-file"
        /// 0.5 `compaction complete`.
        case compaction
        /// 0.3 `restoring snapshot`, 0.5 `attempting restore before replication`.
        case restoreStarted = "restore-started"
        /// 0.3 `restoring wal files`, `downloaded wal`, `applied wal`, `snapshot only, finalizing database`.
        case restoreProgress = "restore-progress"
        /// 0.3 `renaming database from temporary location`; 0.5 `restore completed`,
        /// `database restored from backup`, `post-restore integrity check passed`.
        case restoreFinished = "restore-finished"
        /// `no matching backups found` (restore command, both versions), 0.5 `no backup found, starting fresh`.
        case restoreNoBackup = "restore-no-backup"
        /// `database already exists, skipping` (restore command), 0.5 `database exists, skipping restore`.
        case restoreSkipped = "restore-skipped"
        /// 0.5 `detected database behind replica`, `fetched latest L0 file from replica`.
        case behindReplica = "behind-replica"
        /// `signal received, litestream shutting down`, `litestream shut down`, ….
        case shutdown
        /// A WARN line from Litestream.
        case warning
        /// An ERROR line from Litestream (`failed to run`, `sync error`, `cannot …`), or 0.5's `Error: …`.
        case error
    }

    /// The boot the event belongs to (1-based; set by ``LogReport``, 0 until then).
    public var boot: Int = 0
    /// Line number in the input (1-based).
    public var line: Int
    /// The time as Litestream printed it (0.5's `Error:` lines have none; a time found in a
    /// platform prefix before them is used instead).
    public var time: String?
    public var kind: Kind
    /// DEBUG, INFO, WARN or ERROR.
    public var level: String?
    /// Litestream's message (`msg`), or the text after `Error: `.
    public var message: String
    /// The line's other key=value attributes (JSON objects flattened to `a.b`).
    public var fields: [String: String]
    public var format: LogLineFormat
    /// The attribute keys in the order Litestream printed them (for display; not encoded).
    public var fieldOrder: [String] = []

    enum CodingKeys: String, CodingKey {
        case boot, line, time, kind, level, message, fields, format
    }

    /// Like the synthesized encoding, but `time` and `level` are written as null when absent.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(boot, forKey: .boot)
        try c.encode(line, forKey: .line)
        try c.encode(time, forKey: .time)
        try c.encode(kind, forKey: .kind)
        try c.encode(level, forKey: .level)
        try c.encode(message, forKey: .message)
        try c.encode(fields, forKey: .fields)
        try c.encode(format, forKey: .format)
    }

    public init(line: Int, time: String?, kind: Kind, level: String?, message: String, fields: [(key: String, value: String)], format: LogLineFormat) {
        self.line = line
        self.time = time
        self.kind = kind
        self.level = level
        self.message = message
        var dict: [String: String] = [:]
        var order: [String] = []
        for (k, v) in fields where dict[k] == nil {
            dict[k] = v
            order.append(k)
        }
        self.fields = dict
        self.fieldOrder = order
        self.format = format
    }

    /// An error after which the Litestream process exits: 0.3's `failed to run`, 0.5's `Error: …`.
    public var isFatal: Bool {
        kind == .error && (format == .errorLine || message == "failed to run")
    }

    /// The error text: the `error` attribute when there is one, else the message.
    public var errorText: String { fields["error"] ?? message }
}

/// The Litestream lines found in a log.
public struct LogScan: Sendable {
    /// Evidence, in input order.
    public var events: [LogEvent]
    /// Lines read (all of them, the application's included).
    public var lineCount: Int
}

/// Finds Litestream's lines in a log and classifies them.
///
/// A line may carry anything before Litestream's text (a platform's timestamp, `app[web.1]:`); the
/// Litestream part is found by its shape: `time=… level=… msg=…`, `2006/01/02 15:04:05 LEVEL`,
/// `15:04:05 INF`, a JSON object with `msg`, or `Error: `. Lines whose message is not one of
/// Litestream's are ignored, except WARN/ERROR lines that use Litestream's words or attributes — so
/// an application's own lines do not count as evidence. `Error: …` lines are all kept here;
/// ``LogReport`` drops those Litestream cannot have printed.
public enum LogReader {
    /// The bytes of `path`, or of standard input for `-`.
    public static func read(_ path: String) throws -> [UInt8] {
        if path == "-" { return try readAll(fd: 0, name: "standard input") }
        if FS.isDirectory(path) { throw LiteProofError(.usage, "\(path) is a folder, not a log file") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw LiteProofError(.usage, "no such file: \(path)") }
            throw posixError("cannot open", path: path, errno: e)
        }
        defer { close(fd) }
        return try readAll(fd: fd, name: path)
    }

    static func readAll(fd: Int32, name: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw posixError("cannot read", path: name)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// `read(2)`, named apart from ``read(_:)``.
    static func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc)
            return Glibc.read(fd, buffer, count)
        #else
            return Darwin.read(fd, buffer, count)
        #endif
    }

    public static func scan(_ text: String) -> LogScan { scan(Array(text.utf8)) }

    /// Splits `bytes` into lines (LF or CRLF) and keeps Litestream's.
    public static func scan(_ bytes: [UInt8]) -> LogScan {
        var events: [LogEvent] = []
        var lineNumber = 0
        var start = 0
        let n = bytes.count
        while start < n {
            var end = start
            while end < n && bytes[end] != 0x0A { end += 1 }
            lineNumber += 1
            var stop = end
            if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
            var line = Array(bytes[start..<stop])
            if line.contains(0x1B) { line = stripANSI(line) }
            if let raw = parseLine(line), let e = classify(raw, line: lineNumber) { events.append(e) }
            start = end + 1
        }
        return LogScan(events: events, lineCount: lineNumber)
    }

    // MARK: - Classification

    /// Litestream's messages (0.3.13 and 0.5.17, from their source and real logs) and what they show.
    static let messages: [String: LogEvent.Kind] = [
        "litestream": .version,
        "initialized db": .database,
        "replicating to": .replicating,
        "sync: new generation": .generation,
        "snapshot written": .snapshot,
        "snapshot complete": .snapshot,
        "wal segment written": .walSegment,
        "ltx file uploaded": .ltxFile,
        "compaction complete": .compaction,
        "restoring snapshot": .restoreStarted,
        "attempting restore before replication": .restoreStarted,
        "restoring wal files": .restoreProgress,
        "downloaded wal": .restoreProgress,
        "applied wal": .restoreProgress,
        "snapshot only, finalizing database": .restoreProgress,
        "renaming database from temporary location": .restoreFinished,
        "restore completed": .restoreFinished,
        "database restored from backup": .restoreFinished,
        "post-restore integrity check passed": .restoreFinished,
        "no matching backups found": .restoreNoBackup,
        "no backup found, starting fresh": .restoreNoBackup,
        "database already exists, skipping": .restoreSkipped,
        "database exists, skipping restore": .restoreSkipped,
        "detected database behind replica": .behindReplica,
        "fetched latest L0 file from replica": .behindReplica,
        "signal received, litestream shutting down": .shutdown,
        "subprocess exited, litestream shutting down": .shutdown,
        "replication complete, litestream shutting down": .shutdown,
        "one-shot replication complete": .shutdown,
        "litestream shut down": .shutdown,
    ]

    /// Attribute keys Litestream puts on its lines; an application's WARN/ERROR lines rarely have them.
    static let litestreamKeys: Set<String> = ["db", "replica", "generation", "position", "system", "txid", "db_txid", "replica_txid", "subsystem"]
    /// Words in Litestream's WARN/ERROR messages (matched as whole words, plural allowed).
    static let litestreamWords = [
        "litestream", "replica", "snapshot", "wal", "ltx", "generation", "compaction", "retention", "sync", "restore", "monitor", "checkpoint",
    ]

    static func classify(_ raw: RawLogLine, line: Int) -> LogEvent? {
        let level = raw.level.map(normalizeLevel)
        func event(_ kind: LogEvent.Kind) -> LogEvent {
            LogEvent(line: line, time: raw.time, kind: kind, level: level, message: raw.message, fields: raw.fields, format: raw.format)
        }
        // An application can print `Error: …` too: ``LogReport`` keeps such a line only where
        // Litestream could have printed it.
        if raw.format == .errorLine { return event(.error) }
        if let kind = messages[raw.message] {
            if kind == .version && !raw.fields.contains(where: { $0.key == "version" }) { return nil }
            return event(kind)
        }
        guard level == "ERROR" || level == "WARN" else { return nil }
        let lower = raw.message.lowercased()
        let ours =
            raw.message == "failed to run"
            || lower.hasPrefix("cannot ")
            || raw.fields.contains(where: { litestreamKeys.contains($0.key) })
            || litestreamWords.contains(where: { containsWord(lower, $0) })
        return ours ? event(level == "ERROR" ? .error : .warning) : nil
    }

    /// `word` (or its plural) in `text`, not inside another word: "sync" is not in "async".
    static func containsWord(_ text: String, _ word: String) -> Bool {
        let t = Array(text.utf8), w = Array(word.utf8)
        var from = 0
        while let i = find(t, w, from: from) {
            from = i + 1
            var end = i + w.count
            if end < t.count && t[end] == UInt8(ascii: "s") { end += 1 }
            let before = i == 0 || !isAlphanumeric(t[i - 1])
            let after = end == t.count || !isAlphanumeric(t[end])
            if before && after { return true }
        }
        return false
    }

    static func normalizeLevel(_ s: String) -> String {
        var base = s.uppercased()
        if let i = base.firstIndex(where: { $0 == "+" || $0 == "-" }) { base = String(base[..<i]) }
        switch base {
        case "DBG", "DEBUG", "TRACE", "TRC": return "DEBUG"
        case "INF", "INFO": return "INFO"
        case "WRN", "WARN", "WARNING": return "WARN"
        case "ERR", "ERROR": return "ERROR"
        default: return base
        }
    }

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

    /// `time=… level=… msg=… k=v…`, starting anywhere in the line.
    static func parseKeyValueLine(_ b: [UInt8]) -> RawLogLine? {
        var from = 0
        while let i = find(b, timeKey, from: from) {
            from = i + 1
            guard atBoundary(b, i) else { continue }
            let pairs = parsePairs(b, from: i)
            guard pairs.count >= 3, pairs[0].key == "time", pairs[1].key == "level", pairs[2].key == "msg" else { continue }
            return RawLogLine(time: pairs[0].value, level: pairs[1].value, message: pairs[2].value, fields: Array(pairs.dropFirst(3)), format: .keyValue)
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
        var pairs: [(key: String, value: String)] = []
        var p = start
        while p < b.count {
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
        return pairs
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

    // MARK: - JSON lines

    /// A JSON object with `level` and `msg`, starting anywhere in the line. Parsed by hand: Litestream's
    /// JSON can repeat a key (0.5's version line has two `level`s), which JSONSerialization would merge.
    static func parseJSONLine(_ b: [UInt8]) -> RawLogLine? {
        var from = 0
        while let i = find(b, jsonStart, from: from) {
            from = i + 1
            var parser = FlatJSON(b: b, p: i)
            var pairs: [(key: String, value: String)] = []
            guard parser.object(prefix: "", into: &pairs) else { continue }
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
    struct FlatJSON {
        let b: [UInt8]
        var p: Int

        mutating func skipSpace() { while p < b.count && isSpace(b[p]) { p += 1 } }

        mutating func object(prefix: String, into pairs: inout [(key: String, value: String)]) -> Bool {
            guard p < b.count, b[p] == UInt8(ascii: "{") else { return false }
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
                guard p < b.count else { return false }
                if b[p] == UInt8(ascii: "{") {
                    guard object(prefix: full, into: &pairs) else { return false }
                } else if b[p] == UInt8(ascii: "\"") {
                    guard let s = string() else { return false }
                    pairs.append((full, s))
                } else {
                    let start = p
                    guard skipScalarOrArray() else { return false }
                    pairs.append((full, LogReader.string(b[start..<p])))
                }
                skipSpace()
                guard p < b.count else { return false }
                if b[p] == UInt8(ascii: ",") { p += 1; continue }
                if b[p] == UInt8(ascii: "}") { p += 1; return true }
                return false
            }
        }

        /// Numbers, true/false/null, or an array kept as its text.
        mutating func skipScalarOrArray() -> Bool {
            if b[p] == UInt8(ascii: "[") {
                var depth = 0
                while p < b.count {
                    let c = b[p]
                    if c == UInt8(ascii: "\"") {
                        guard string() != nil else { return false }
                        continue
                    }
                    if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") { depth += 1 }
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
