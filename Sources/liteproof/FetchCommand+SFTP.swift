import Foundation
import LiteProof
import LiteProofSFTP

extension FetchCommand {
    /// `fetch` of an sftp:// replica (``SFTPFetch``): the same options and report as from S3;
    /// files are copied one at a time (`--concurrency` does not apply to one SSH connection).
    func fetchSFTP() throws {
        let storage = try SFTPStorage(url: url)
        var fetch = SFTPFetch(storage: storage, destination: folder)
        if let position {
            guard let p = Position(position) else {
                throw LiteProofError(
                    .usage,
                    "--position \(position) is not a position: 0.3 is GENERATION/INDEX:OFFSET (16 hex digits / 8 hex digits : a decimal WAL offset), 0.5 a TXID in 16 hex digits"
                )
            }
            try fetch.limit(to: p)
            if let failure = storage.failures.first { throw failure }
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
                        source: storage.location, folder: folder, files: s.files, downloaded: s.downloaded, skipped: s.skipped,
                        bytesDownloaded: s.bytesDownloaded, partialTo: fetch.only?.position.description)))
        } else {
            print(
                "fetched \(storage.location)\(fetch.only.map { " (only the files a restore to \($0.position) needs)" } ?? "") into \(folder): \(s.files) files, \(s.downloaded) downloaded (\(Units.bytes(s.bytesDownloaded))), \(s.skipped) already there"
            )
        }
    }
}
