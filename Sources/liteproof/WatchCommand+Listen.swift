import ArgumentParser
import Foundation
import LiteProof
import LiteProofMetrics
import LiteProofS3
import LiteProofServe

/// `watch --listen HOST:PORT`: the rounds' results over HTTP.
struct ListenOptions: ParsableArguments {
    @Option(
        name: .customLong("listen"),
        help: ArgumentHelp(
            "Serve GET /metrics (Prometheus text format) and /healthz (200 while every replica is healthy and fresh, else 503 with JSON naming the others) on this address. ':PORT' listens on 127.0.0.1; port 0 picks a free port (the address bound is printed on stderr, and with --json as a \"listening\" event).",
            valueName: "host:port"))
    var listen: ListenAddress?
}

/// `HOST:PORT`, `:PORT` (127.0.0.1) or `[IPv6]:PORT`.
struct ListenAddress: ExpressibleByArgument, Sendable {
    var host: String
    var port: Int

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]), (0...65_535).contains(port)
        else { return nil }
        var host = String(argument[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        guard !host.contains(where: { $0.isWhitespace || $0 == "/" }) else { return nil }
        self.host = host
        self.port = port
    }
}

/// Where rounds go besides the event lines: the metrics (for `--listen` and `--metrics-file`),
/// the board `/healthz` reads, and the storage request counts of each replica.
final class WatchPublication {
    let metrics = WatchMetrics()
    let board: WatchBoard
    private var counts: [String: StorageRequestCounts]
    private var server: StatusServer?

    /// Starts the server when `listen` is given, and says where it listens (stderr; with `json`,
    /// also a `listening` event on stdout).
    init(databases: [String], listen: ListenAddress?, json: Bool) throws {
        board = WatchBoard(databases: databases)
        counts = Dictionary(databases.map { ($0, StorageRequestCounts()) }, uniquingKeysWith: { a, _ in a })
        guard let listen else { return }
        let metrics = metrics, board = board
        let server = try StatusServer(host: listen.host, port: listen.port) { path in
            switch path {
            case "/metrics": return StatusResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render())
            case "/healthz":
                let h = board.health()
                return StatusResponse(status: h.healthy ? 200 : 503, contentType: "application/json", body: WatchCommand.line(h) + "\n")
            default: return nil
            }
        }
        self.server = server
        FileHandle.standardError.write(Data("liteproof: listening on http://\(server.address)\n".utf8))
        if json {
            FileHandle.standardOutput.write(Data((WatchCommand.line(ListeningEvent(address: server.address, url: "http://\(server.address)")) + "\n").utf8))
        }
    }

    /// The counts of requests to `database`'s storage (shared by all its rounds).
    func requestCounts(_ database: String) -> StorageRequestCounts {
        counts[database] ?? StorageRequestCounts()
    }

    /// The replicas watched now (after SIGHUP re-read the configuration): `/healthz` judges
    /// these; a new one gets its own request counts; one no longer watched leaves the metrics.
    func watch(_ databases: [String]) {
        board.watch(databases)
        for d in databases where counts[d] == nil { counts[d] = StorageRequestCounts() }
        for d in Set(counts.keys).subtracting(databases) {
            counts[d] = nil
            metrics.forget(d)
        }
    }

    /// Records a round in the metrics and on the board.
    func record(_ r: WatchRound) {
        metrics.record(r, requests: counts[r.database]?.current)
        board.post(r)
    }

    /// Stops the server (at the end of the watch).
    func shutdown() {
        server?.shutdown()
        server = nil
    }
}

/// `{"event":"listening","address":"127.0.0.1:PORT","url":"http://127.0.0.1:PORT"}`.
struct ListeningEvent: Encodable {
    var event = "listening"
    var address: String
    var url: String
}

extension ReplicaLocation {
    /// The replica at this location (credentials and settings from `environment`), each request
    /// to its storage counted in `counts`.
    func open(environment: [String: String] = ProcessInfo.processInfo.environment, counting counts: StorageRequestCounts) throws -> Replica {
        switch self {
        case .local(let path): return try Replica.open(path, through: { CountingStorage($0, counts: counts) })
        default:
            // (A remote storage lists its prefix as it is made: a listing that fails throws here;
            // a URL that cannot be used is no request.)
            let storage: ReplicaStorage
            do { storage = try remote(environment: environment)! } catch {
                if LiteProofError(wrapping: error).outcome == .unreadable { counts.record(.list, .error) }
                throw error
            }
            return try Replica.open(storage: CountingStorage(storage, counts: counts), location: name)
        }
    }
}
