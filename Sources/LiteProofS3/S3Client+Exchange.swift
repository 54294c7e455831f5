import Foundation
import LiteProof
import LiteProofObjectStore

// The S3 request itself: its URL (``S3Client/target(key:query:)``), signed with SigV4 for each
// attempt; the shared transport sends it.

extension S3Client {
    /// The request for `key` (nil: the bucket) with `query`, signed with SigV4 now (a retry signs
    /// again) when there are credentials, anonymous otherwise. Headers the transport adds
    /// (`Range`) are not signed: SigV4 signs only the headers it lists.
    func makeRequest(_ method: String, key: String?, query: [(String, String)]) -> HTTPRequest {
        let (url, host, path) = target(key: key, query: query)
        var request = HTTPRequest(url: url)
        request.httpMethod = method
        if let credentials = config.credentials {
            let headers: [(String, String)] = [("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)]
            let signed = SigV4Signer(credentials: credentials, region: config.region, keys: signingKeys)
                .sign(method: method, host: host, path: path, query: query, headers: headers, date: Date(), encodedPath: true)
            for (name, value) in headers + signed.headers { request.setValue(value, forHTTPHeaderField: name) }
        }
        return request
    }
}
