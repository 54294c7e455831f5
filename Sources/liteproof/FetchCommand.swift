import ArgumentParser
import Foundation
import LiteProof
import LiteProofObjectStore

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a replica from S3, GCS or SFTP into a folder for offline work, keeping each object's time as the file time.",
        discussion: """
            Writes every object below s3://BUCKET/PATH (or gs://BUCKET/PATH, webdav://HOST/PATH) into FOLDER (same relative \
            paths), sets each file's modification time to the object's time (S3's LastModified, GCS's \
            updated: the time 0.3 generation choice and --timestamp use), and records key, size, ETag \
            (GCS: generation) and that time in FOLDER/\(Replica.fetchManifestName). \
            Run it again to resume: files already there with the same size and ETag are skipped. \
            With --position, only the files a restore to that position applies are downloaded (planned \
            as `restore` plans it), and the manifest says the copy is partial (partialTo). \
            Credentials and endpoints are read as for any s3://, gs:// or webdav:// replica (see docs/REFERENCE.md). \
            From sftp://USER@HOST/PATH, files are copied one at a time with the server's file times \
            and no manifest (SFTP times are judged as a file replica's); a second run skips files \
            with the same size and time.
            """)

    @Argument(
        help: ArgumentHelp(
            "The replica: s3://BUCKET/PATH[?endpoint=URL&region=R&forcePathStyle=true], gs://BUCKET/PATH, webdav://[USER:PASSWORD@]HOST[:PORT]/PATH or sftp://USER@HOST[:PORT]/PATH[?key-path=FILE].",
            valueName: "url"))
    var url: String

    @Argument(help: ArgumentHelp("The folder to download into (created if missing).", valueName: "folder"))
    var folder: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Download only what a restore to this position needs (0.3: GENERATION/INDEX:OFFSET as reports print it, 0.5: a TXID in 16 hex digits).",
            valueName: "position"))
    var position: String?

    @Option(name: .long, help: "Downloads in flight at once, 1 to 64 (default: LITEPROOF_STORE_CONNECTIONS, else 16).")
    var concurrency: Int?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @Flag(name: .long, help: "No progress display on stderr.")
    var quiet = false

    func run() throws {
        let storage: ObjectStorage
        do {
            if case .sftp = ReplicaLocation(url) { return try fetchSFTP() }
            if case .local = ReplicaLocation(url) {
                throw LiteProofError(.usage, "fetch reads s3://, gs://, webdav:// and sftp:// URLs; \(url) is not one (a local replica needs no fetch)")
            }
            if let concurrency, !(1...TransferPolicy.maxConnections).contains(concurrency) {
                throw LiteProofError(.usage, "--concurrency must be 1…\(TransferPolicy.maxConnections)")
            }
            storage = try ReplicaLocation(url).remoteStorage(concurrency: concurrency)!
        } catch {
            throw fail(error, json: json)
        }
        try fetch(storage)
    }

    private func fetch(_ storage: ObjectStorage) throws {
        do {
            try perform(ObjectFetch(storage: storage, destination: folder), from: storage.location) { storage.failures }
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail(error, json: json)
        }
    }
}

struct FetchReport: Encodable {
    var verdict = "ok"
    var source: String
    var folder: String
    var files: Int
    var downloaded: Int
    var skipped: Int
    var bytesDownloaded: Int64
    var partialTo: String?
}

extension FetchCommand {
    /// Runs `fetch` of `location` as the options ask (`--position`, progress on a terminal) and
    /// prints its report; `failures` are the storage's reads that failed for good.
    func perform<F: ReplicaFetch>(_ fetch: F, from location: String, failures: () -> [LiteProofError]) throws {
        var fetch = fetch
        if let position {
            guard let p = Position(position) else {
                throw LiteProofError(
                    .usage,
                    "--position \(position) is not a position: 0.3 is GENERATION/INDEX:OFFSET (16 hex digits / 8 hex digits : a decimal WAL offset), 0.5 a TXID in 16 hex digits"
                )
            }
            try fetch.limit(to: p)
            if let failure = failures().first { throw failure }
        }
        if !json && !quiet && isatty(2) == 1 {
            fetch.progress = { done, total in
                FileHandle.standardError.write(Data("\rfetch: \(done) of \(total) files\u{1B}[K".utf8))
                if done >= total { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            }
        }
        let s = try fetch.run()
        if json {
            print(
                JSONOutput.encode(
                    FetchReport(
                        source: location, folder: folder, files: s.files, downloaded: s.downloaded, skipped: s.skipped,
                        bytesDownloaded: s.bytesDownloaded, partialTo: fetch.only?.position.description)))
        } else {
            print(
                "fetched \(location)\(fetch.only.map { " (only the files a restore to \($0.position) needs)" } ?? "") into \(folder): \(s.files) files, \(s.downloaded) downloaded (\(Units.bytes(s.bytesDownloaded))), \(s.skipped) already there"
            )
        }
    }
}
