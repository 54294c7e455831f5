import ArgumentParser
import Foundation
import LiteProof
import LiteProofS3

/// The replica argument and output flags most commands share.
struct ReplicaOptions: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "The replica: a folder (file replica or a bucket prefix downloaded from S3), a file:// URL, a .tar / .tar.zst of one, or a replica URL as Litestream takes it (s3://BUCKET/PATH?endpoint=…&region=…, s3://BUCKET.HOST:PORT/PATH, …; gs://BUCKET/PATH or 0.3's gcs://BUCKET/PATH, with GOOGLE_APPLICATION_CREDENTIALS or STORAGE_EMULATOR_HOST; sftp://USER@HOST[:PORT]/PATH?key-path=FILE, host keys from ~/.ssh/known_hosts or LITEPROOF_SFTP_KNOWN_HOSTS; webdav://[USER:PASSWORD@]HOST[:PORT]/PATH, webdavs:// for https). TLS certificates are checked against the system's roots plus SSL_CERT_FILE / SSL_CERT_DIR; skipVerify=true in an s3:// URL turns the check off for that endpoint. With --config: the database's path as the file names it (left out: its only database).",
            valueName: "replica"))
    var replica: String?

    @OptionGroup var configOptions: ConfigOptions

    @Option(help: "0.3: use this generation (16 hex digits) wherever a restore plan is made, instead of the one LiteProof would choose.")
    var generation: String?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @Flag(name: .long, help: "No progress display on stderr.")
    var quiet = false

    func validate() throws {
        if replica == nil && configOptions.config == nil { throw ValidationError("Missing expected argument '<replica>' (or --config FILE)") }
    }

    /// Opens the replica (with --config: the one the configuration names for the database
    /// given), with `--generation` chosen for every plan made from it.
    func open() throws -> Replica {
        if configOptions.config != nil { return try configOptions.target(database: replica).open().choosing(generation: generation) }
        return try ReplicaLocation(replica ?? "").open().choosing(generation: generation)
    }

    /// The first read of the store that failed for good (a download from S3), if any: a verdict
    /// drawn without that file's bytes would be wrong, so the command stops with it instead.
    func storageFailure(_ replica: Replica) -> Error? {
        replica.storage.failures.first
    }

    /// A progress handler drawing on stderr, only when stderr is a terminal and output is text.
    func progressHandler() -> ProgressHandler? {
        guard !json, !quiet, isatty(2) == 1 else { return nil }
        return { p in
            let pct = p.total > 0 ? Int(Double(p.done) / Double(p.total) * 100) : 0
            let line = "\r\(p.phase): \(pct)% (\(Units.bytes(p.done)) of \(Units.bytes(p.total)))\u{1B}[K"
            FileHandle.standardError.write(Data(line.utf8))
            if p.done >= p.total { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
    }
}

enum LiteProofVersion {
    static let string = "0.1.0"
}
