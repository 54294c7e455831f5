import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Finds Litestream's lines in a log and classifies them.
///
/// A line may carry anything before Litestream's text (a platform's timestamp, `app[web.1]:`); the
/// Litestream part is found by its shape: `time=… level=… msg=…`, `2006/01/02 15:04:05 LEVEL`,
/// `15:04:05 INF`, a JSON object with `msg`, or `Error: `. Lines whose message is not one of
/// Litestream's are ignored, except WARN/ERROR lines that use Litestream's words or attributes — so
/// an application's own lines do not count as evidence. `Error: …` lines are all kept here;
/// ``LogReport`` drops those Litestream cannot have printed.
public enum LogReader {
    /// The longest line read, in bytes: Litestream's lines are a few hundred bytes. A longer line is
    /// counted and skipped (``LogScan/skippedLines``) without being held in memory.
    public static let maxLineLength = 1 << 20

    /// Reads `path`, or standard input for `-`, a chunk at a time, and keeps Litestream's lines.
    /// Memory follows the longest line kept, never the size of the input.
    public static func scan(path: String) throws -> LogScan {
        if path == "-" { return try scan(fd: 0, name: "standard input") }
        if FS.isDirectory(path) { throw LiteProofError(.usage, "\(path) is a folder, not a log file") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw LiteProofError(.usage, "no such file: \(path)") }
            throw posixError("cannot open", path: path, errno: e)
        }
        defer { close(fd) }
        return try scan(fd: fd, name: path)
    }

    static func scan(fd: Int32, name: String) throws -> LogScan {
        var scanner = LineScanner()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw posixError("cannot read", path: name)
            }
            if n == 0 { break }
            scanner.feed(chunk[0..<n])
        }
        return scanner.finish()
    }

    /// `read(2)`, named apart from the module's other `read`s.
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
        var scanner = LineScanner()
        scanner.feed(bytes[...])
        return scanner.finish()
    }

    /// Cuts bytes, fed in chunks, into lines (LF or CRLF) and classifies each. A line longer than
    /// ``maxLineLength`` is dropped as soon as it passes the limit, and only its length is kept.
    struct LineScanner {
        var events: [LogEvent] = []
        var skipped: [LogScan.SkippedLine] = []
        var lineNumber = 0
        /// The current line's bytes so far, while it is within the limit.
        var pending: [UInt8] = []
        /// The current line's length so far, once it is over the limit.
        var skippedLength: Int?

        mutating func feed(_ chunk: ArraySlice<UInt8>) {
            var rest = chunk
            while !rest.isEmpty {
                let newline = rest.firstIndex(of: 0x0A)
                let piece = rest[..<(newline ?? rest.endIndex)]
                if let n = skippedLength {
                    skippedLength = n + piece.count
                } else if pending.count + piece.count > LogReader.maxLineLength {
                    skippedLength = pending.count + piece.count
                    pending = []
                } else {
                    pending.append(contentsOf: piece)
                }
                guard let newline else { return }
                endLine()
                rest = rest[(newline + 1)...]
            }
        }

        mutating func endLine() {
            lineNumber += 1
            if let n = skippedLength {
                skipped.append(LogScan.SkippedLine(line: lineNumber, bytes: n))
                skippedLength = nil
                return
            }
            if pending.last == 0x0D { pending.removeLast() }
            if pending.contains(0x1B) { pending = stripANSI(pending) }
            if let raw = parseLine(pending), let e = classify(raw, line: lineNumber) { events.append(e) }
            pending.removeAll(keepingCapacity: pending.capacity <= 1 << 16)
        }

        /// Ends the last line (which may lack its line break) and returns what was found.
        mutating func finish() -> LogScan {
            if !pending.isEmpty || skippedLength != nil { endLine() }
            return LogScan(events: events, lineCount: lineNumber, skippedLines: skipped)
        }
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

}
