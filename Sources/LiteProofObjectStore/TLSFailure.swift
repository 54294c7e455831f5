import Foundation
import NIOSSL

/// A TLS failure that no further attempt can cure: the server's certificate was refused. Named
/// with the endpoint and what to do, instead of a generic transfer failure tried again and again.
enum TLSFailure {
    /// The refusal in words when `error` is a refused certificate; nil otherwise.
    static func refusal(_ error: Error, endpoint: URL) -> String? {
        let text = String(describing: error)
        let server = "\(endpoint.host ?? "?"):\(endpoint.port ?? (endpoint.scheme?.lowercased() == "http" ? 80 : 443))"
        let remedy =
            "; if it is signed by a private CA, give the CA's PEM file in SSL_CERT_FILE (as Litestream reads it), or, for an S3 URL, add skipVerify=true to not verify it"
        if let e = error as? NIOSSLExtraError, e == .failedToValidateHostname || e == .serverHostnameImpossibleToMatch {
            return "the TLS certificate of \(server) does not name \(endpoint.host ?? "?") (\(e))\(remedy)"
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return
                "the TLS certificate of \(server) is not trusted (CERTIFICATE_VERIFY_FAILED: self-signed, signed by a CA that is not among the trust roots, or expired)\(remedy)"
        }
        return nil
    }
}
