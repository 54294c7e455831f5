import Foundation

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
    /// Lines longer than ``LogReader/maxLineLength``, counted but not read.
    public var skippedLines: [SkippedLine] = []

    /// A line too long to be Litestream's, skipped without being held in memory.
    public struct SkippedLine: Codable, Hashable, Sendable {
        /// Line number in the input (1-based).
        public var line: Int
        /// Its length in bytes, without the line break.
        public var bytes: Int
    }
}
