import Foundation
import LiteProof
import LiteProofSFTP

extension FetchCommand {
    /// `fetch` of an sftp:// replica (``SFTPFetch``): the same options and report as from S3;
    /// files are copied one at a time (`--concurrency` does not apply to one SSH connection).
    func fetchSFTP() throws {
        let storage = try SFTPStorage(url: url)
        try perform(SFTPFetch(storage: storage, destination: folder), from: storage.location) { storage.failures }
    }
}
