import Crypto
import Foundation
import LiteProof
import _CryptoExtras

/// Google credentials as Google's tools take them: the JSON file `GOOGLE_APPLICATION_CREDENTIALS`
/// names (or gcloud's application default credentials), a service account's key or a user's
/// refresh token. Each is exchanged at its token endpoint for an access token
/// (``GCSTokenSource``); nothing here is ever printed.
public enum GCSCredentials: Sendable {
    case serviceAccount(GCSServiceAccount)
    case authorizedUser(GCSAuthorizedUser)

    /// Who the credentials are, for messages: the service account's email, or the OAuth client.
    public var who: String {
        switch self {
        case .serviceAccount(let a): return "service account \(a.clientEmail)"
        case .authorizedUser(let u): return "user credentials of OAuth client \(u.clientID)"
        }
    }

    /// The most bytes a credentials file may have (a service-account key is about 2.3 KiB).
    static let maxFileBytes = 1 << 20

    /// Reads a credentials file; `source` says where its name came from, for messages.
    public static func load(path: String, source: String) throws -> GCSCredentials {
        let file: ReadOnlyFile
        do {
            file = try ReadOnlyFile(path)
        } catch {
            throw LiteProofError(.usage, "\(source): cannot read \(path): \(error)")
        }
        guard file.size <= Int64(maxFileBytes) else {
            throw LiteProofError(.usage, "\(source): \(path) has \(file.size) bytes, more than a credentials file (at most \(maxFileBytes))")
        }
        return try parse(Data(try file.read(count: Int(file.size), at: 0)), source: "\(source) (\(path))")
    }

    /// The JSON of a credentials file: `type` says which kind.
    public static func parse(_ data: Data, source: String) throws -> GCSCredentials {
        struct File: Decodable {
            var type: String?
            var client_email: String?
            var private_key: String?
            var private_key_id: String?
            var token_uri: String?
            var client_id: String?
            var client_secret: String?
            var refresh_token: String?
        }
        let f: File
        do {
            f = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw LiteProofError(.usage, "\(source) is not a Google credentials file (JSON with a type, e.g. service_account)")
        }
        func need(_ value: String?, _ name: String) throws -> String {
            guard let value, !value.isEmpty else { throw LiteProofError(.usage, "\(source): the \(f.type ?? "?") credentials have no \(name)") }
            return value
        }
        switch f.type {
        case "service_account":
            let pem = try need(f.private_key, "private_key")
            let key: _RSA.Signing.PrivateKey
            do {
                key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
            } catch {
                throw LiteProofError(.usage, "\(source): private_key is not an RSA private key of 2048 bits or more in PEM")
            }
            return .serviceAccount(
                GCSServiceAccount(
                    clientEmail: try need(f.client_email, "client_email"), privateKeyID: f.private_key_id, key: key,
                    tokenURI: try tokenURL(f.token_uri ?? "https://oauth2.googleapis.com/token", source: source)))
        case "authorized_user":
            return .authorizedUser(
                GCSAuthorizedUser(
                    clientID: try need(f.client_id, "client_id"), clientSecret: try need(f.client_secret, "client_secret"),
                    refreshToken: try need(f.refresh_token, "refresh_token"),
                    tokenURI: try tokenURL(f.token_uri ?? "https://oauth2.googleapis.com/token", source: source)))
        default:
            throw LiteProofError(
                .usage,
                "\(source): credentials of type \(f.type.map { "'\($0)'" } ?? "(none)") are not read by LiteProof (it reads service_account and authorized_user files)"
            )
        }
    }

    /// A token endpoint: https, or http on a loopback host (a local test server).
    static func tokenURL(_ text: String, source: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(),
            scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host))
        else {
            throw LiteProofError(.usage, "\(source): token_uri \(text) is not an https URL")
        }
        return url
    }
}

/// A service account's key: signs a JWT (RS256) that its token endpoint exchanges for an
/// access token.
public struct GCSServiceAccount: Sendable {
    public var clientEmail: String
    public var privateKeyID: String?
    let key: _RSA.Signing.PrivateKey
    public var tokenURI: URL

    /// The read-only scope: LiteProof never writes to a bucket.
    public static let scope = "https://www.googleapis.com/auth/devstorage.read_only"

    /// The signed JWT (`header.claims.signature`, base64url) asking `tokenURI` for an access
    /// token of ``scope``, valid for an hour from `now`.
    public func assertion(now: Date = Date()) throws -> String {
        var header: [String: String] = ["alg": "RS256", "typ": "JWT"]
        if let privateKeyID { header["kid"] = privateKeyID }
        let iat = Int(now.timeIntervalSince1970)
        let claims: [String: Any] = [
            "iss": clientEmail, "scope": Self.scope, "aud": tokenURI.absoluteString, "iat": iat, "exp": iat + 3600,
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let h = Self.base64URL(try encoder.encode(header))
        let c = Self.base64URL(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let signingInput = Data("\(h).\(c)".utf8)
        // RS256: RSASSA-PKCS1-v1_5 over SHA-256 (not PSS, _CryptoExtras' default).
        let signature = try key.signature(for: SHA256.hash(data: signingInput), padding: .insecurePKCS1v1_5)
        return "\(h).\(c).\(Self.base64URL(signature.rawRepresentation))"
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// A user's OAuth refresh token (gcloud's `application_default_credentials.json`).
public struct GCSAuthorizedUser: Sendable {
    public var clientID: String
    let clientSecret: String
    let refreshToken: String
    public var tokenURI: URL
}
