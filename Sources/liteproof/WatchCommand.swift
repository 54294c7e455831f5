import ArgumentParser
import Foundation
import LiteProof
import LiteProofMetrics
import LiteProofSFTP
import LiteProofWebDAV

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Keep proving replicas: a round every --interval that reads only new or changed files.",
        discussion: """
            Each round lists every replica afresh, reads and checks only the files that are new or \
            changed since the last round (with verify's per-file checks; for 0.3, a new WAL segment \
            from where the state left its index), and judges the latest position as verify does. \
            A file verified earlier and listed with another time is read again; with another \
            size it is damage (file.changed); \
            files removed by retention or compaction are not, unless the latest restore then \
            breaks (a missing WAL index, a TXID gap). A store that cannot be read makes the \
            round unreadable (unreachable), never damaged, and that replica's next round waits 2, \
            then 4 intervals. With --db, deep checks (--restore-every) also compare with the live \
            database, and --canary-every measures the round trip of a write through Litestream.

            Output: one line per change of verdict (--verbose: also one status line per round); \
            with --json, JSON Lines: one "round" event per round per replica and one \
            "verdict-changed" event per change. --state DIR keeps what was verified, so a \
            restarted watcher reads only files new since; a state file that cannot be trusted is \
            ignored with a warning. SIGTERM or SIGINT end the watch after the current round and \
            its state write, with exit 0.

            --config FILE watches every database of Litestream's own configuration (the replica \
            it names for each, its path: as the live database), e.g. `liteproof watch --config \
            /etc/litestream.yml --state /var/lib/liteproof`; --shard I/N keeps the databases \
            whose path hashes into shard I of N, as `verify --all --shard` does. SIGHUP re-reads \
            the file between rounds: databases added start, removed ones stop, changed ones \
            start afresh; a file that cannot be read keeps the running set, with a warning.

            Exit codes (with --rounds, or on an error before the first round): 0 when stopped by \
            a signal, or when the last verdicts are ok; otherwise the worst last verdict's code \
            (1 damaged, or older than --max-lag; 2 unreadable or undecided).
            """)

    @Argument(
        help: ArgumentHelp(
            "Replicas to watch: folders (file replicas), file:// URLs, .tar / .tar.zst archives, s3://BUCKET/PATH[?endpoint=URL&region=R&forcePathStyle=true], gs://BUCKET/PATH, sftp://USER@HOST[:PORT]/PATH[?key-path=FILE], or webdav://[USER:PASSWORD@]HOST[:PORT]/PATH (webdavs:// for https).",
            valueName: "replica"))
    var replicas: [ReplicaLocation] = []

    @OptionGroup var configOptions: ConfigOptions

    @Option(
        help: ArgumentHelp("With --config: only shard I of N (0 ≤ I < N), by a stable hash of each database's path.", valueName: "I/N"),
        transform: { try FleetShard(parsing: $0) })
    var shard: FleetShard?

    @Option(help: "Seconds between rounds (default 60), with ±10 % jitter.")
    var interval: Double = 60

    @Option(help: "Keep what was verified in this folder (made if missing), one file per replica, written atomically.")
    var state: String?

    @Option(name: .customLong("max-lag"), help: "A latest position older than this many seconds makes the replica unhealthy (health failed, exit 1).")
    var maxLag: Double?

    @Option(help: "Stop after this many rounds (for tests and cron).")
    var rounds: Int?

    @Flag(name: .long, help: "Print JSON Lines: one event per round per replica, and one per change of verdict.")
    var json = false

    @Flag(name: .long, help: "Text: also print one status line per round per replica.")
    var verbose = false

    @Option(
        name: .customLong("metrics-file"),
        help:
            "After each round, write the metrics /metrics serves (and verify --all's gauges) to this file, atomically (for node_exporter's textfile collector)."
    )
    var metricsFile: String?

    @OptionGroup var deep: WatchDeepOptions

    @OptionGroup var listening: ListenOptions

    func validate() throws {
        if replicas.isEmpty && configOptions.config == nil { throw ValidationError("Missing expected argument '<replica> ...' (or --config FILE)") }
        if shard != nil && configOptions.config == nil { throw ValidationError("--shard goes with --config FILE") }
        try deep.validate(replicas: replicas.count)
        if !(interval > 0) || interval > 7 * 86_400 { throw ValidationError("--interval must be more than 0 seconds and at most a week") }
        if let maxLag, !(maxLag > 0) { throw ValidationError("--max-lag must be more than 0 seconds") }
        if let rounds, rounds < 1 { throw ValidationError("--rounds must be at least 1") }
    }

    func run() throws {
        let stop = StopSignal.install()
        if let state {
            do {
                try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            } catch { throw fail(LiteProofError(.usage, "cannot make the state folder \(state): \(error.localizedDescription)"), json: json) }
            guard FS.isDirectory(state) else { throw fail(LiteProofError(.usage, "--state \(state) is not a folder"), json: json) }
        }
        let targets: [WatchTarget]
        do { targets = try WatchTarget.all(replicas: replicas, live: deep.databases, config: configOptions, shard: shard) } catch {
            throw fail(error, json: json)
        }
        let published: WatchPublication
        do { published = try WatchPublication(databases: targets.map(\.name), listen: listening.listen, json: json) } catch { throw fail(error, json: json) }
        defer { published.shutdown() }
        let set = WatchSet(targets) { [state, maxLag, deep] target in
            let counts = published.requestCounts(target.name)
            let w = Watcher(
                database: target.name, live: target.live, stateFile: state.map { WatchState.path(in: $0, replica: target.name) }, maxLag: maxLag,
                open: { try target.open(counting: counts) })
            deep.configure(w)
            return w
        }
        do { try deep.requireLive(set.watchers) } catch { throw fail(error, json: json) }
        if configOptions.config != nil { stop.handleReload() }
        var last: [String: Outcome] = [:]
        var done = 0
        var interrupted = false
        watching: while true {
            if stop.takeReload() { reload(set, last: &last, published: published) }
            for watcher in set.watchers {
                if stop.stopRequested {
                    interrupted = true
                    break watching
                }
                guard watcher.isDue() else { continue }  // backing off after unreadable rounds
                let r = watcher.round()
                report(r, previous: last[watcher.database])
                last[watcher.database] = r.health
                published.record(r)
            }
            if let metricsFile {
                do { try published.metrics.write(to: metricsFile) } catch { warn("cannot write \(metricsFile): \(LiteProofError(wrapping: error).message)") }
            }
            done += 1
            if let rounds, done >= rounds { break }
            if stop.wait(seconds: interval * Double.random(in: 0.9...1.1)) {
                interrupted = true
                break
            }
        }
        for watcher in set.watchers { if let w = watcher.saveState() { warn(w) } }
        if interrupted { return }
        let worst = last.values.max() ?? .ok
        if worst != .ok { throw ExitCode(worst.exitCode) }
    }

    /// One round's lines: warnings on stderr; the round event (--json) or status line (--verbose);
    /// an event when the health changed (the first round's counts as a change).
    private func report(_ r: WatchRound, previous: Outcome?) {
        for w in r.warnings { warn(w) }
        if json {
            say(Self.line(WatchEvent(event: "round", body: r)))
        } else if verbose {
            var s = "\(formatTime(r.time)) \(r.database) round \(r.round) \(r.health.rawValue): \(r.filesChecked) of \(r.filesListed) files read"
            s += " (\(Units.bytes(r.bytesRead))), \(r.filesGone) gone"
            if let latest = r.latest { s += "; latest \(latest.position)" }
            if let age = r.freshnessSeconds { s += String(format: ", %.1f s old", age) }
            s += WatchDeepOptions.status(r)
            say(s.escapedForText)
        }
        guard previous != r.health else { return }
        let change = VerdictChange(database: r.database, round: r.round, time: r.time, from: previous, to: r.health, reason: r.reason)
        if json {
            say(Self.line(WatchEvent(event: "verdict-changed", body: change)))
        } else {
            say("\(formatTime(r.time)) \(r.database) \(previous?.rawValue ?? "start") -> \(r.health.rawValue): \(r.reason)".escapedForText)
        }
        if let w = deep.changed(database: r.database, from: previous, to: r.health, reason: r.reason) { warn(w) }
    }

    /// One line on stdout, written at once (unbuffered: a pipe sees each event as it happens).
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private func warn(_ message: String) {
        FileHandle.standardError.write(Data("liteproof: warning: \(message.escapedForText)\n".utf8))
    }

    /// One JSON object on one line (JSON Lines).
    static func line(_ value: some Encodable) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? e.encode(value), let s = String(data: data, encoding: .utf8) else { return "{}" }
        return s
    }
}

/// A change of a replica's health, as the event line gives it.
struct VerdictChange: Encodable {
    var database: String
    var round: Int
    var time: Double
    /// nil at the first round.
    var from: Outcome?
    var to: Outcome
    var reason: String
}

/// An event line: `event` beside the body's own keys.
struct WatchEvent<Body: Encodable>: Encodable {
    var event: String
    var body: Body

    enum Keys: String, CodingKey { case event }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(event, forKey: .event)
        try body.encode(to: encoder)
    }
}

extension ReplicaLocation {
    /// The replica's name in events, metrics and the state: an absolute path for a folder or
    /// archive, the URL as given for a bucket, the URL without its password for SFTP.
    var name: String {
        switch self {
        case .local(let path):
            if path.hasPrefix("file://"), let url = URL(string: path), url.isFileURL { return url.standardizedFileURL.path }
            return URL(fileURLWithPath: path).standardizedFileURL.path
        case .s3(let url), .gcs(let url): return url
        case .sftp(let url): return (try? SFTPLocation(url: url).display) ?? SFTPLocation.redacted(url)
        // Without the credentials of the URL.
        case .webdav(let url): return (try? WebDAVLocation(url: url).display) ?? "webdav://?"
        }
    }
}
