import Foundation
import LiteProof
import LiteProofObjectStore
import LiteProofStoreAnswers

/// Access tokens for ``GCSCredentials``: exchanged at the credentials' token endpoint (a signed
/// JWT for a service account, the refresh token for a user) over the shared transport, kept
/// until a minute before they expire, asked for again after. Neither the key nor a token is
/// ever put in a message.
// @unchecked: the cached token takes `lock`; the transport is thread-safe.
final class GCSTokenSource: @unchecked Sendable {
    let credentials: GCSCredentials
    let transport: HTTPTransport
    private let lock = NSLock()
    private var cached: (token: String, until: Date)?

    init(credentials: GCSCredentials, policy: TransferPolicy) {
        self.credentials = credentials
        let uri: URL
        switch credentials {
        case .serviceAccount(let a): uri = a.tokenURI
        case .authorizedUser(let u): uri = u.tokenURI
        }
        transport = HTTPTransport(endpoint: uri, policy: policy)
    }

    /// A valid access token (one exchange at most at a time; the others wait for its token).
    func token() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let cached, Date() < cached.until { return cached.token }
        let (token, lifetime) = try exchange()
        cached = (token, Date().addingTimeInterval(max(lifetime / 2, lifetime - 60)))
        return token
    }

    /// One exchange at the token endpoint: the token and its lifetime in seconds.
    private func exchange() throws -> (String, Double) {
        var form: [(String, String)]
        switch credentials {
        case .serviceAccount(let a):
            form = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", try a.assertion())]
        case .authorizedUser(let u):
            form = [("grant_type", "refresh_token"), ("client_id", u.clientID), ("client_secret", u.clientSecret), ("refresh_token", u.refreshToken)]
        }
        let body = Data(form.map { "\(GCSClient.encode($0.0))=\(GCSClient.encode($0.1))" }.joined(separator: "&").utf8)
        let endpoint = transport.endpoint
        let what = "get an access token for the \(credentials.who) at \(endpoint.absoluteString)"
        return try transport.request(
            "POST", label: "token", what: what,
            make: {
                var r = HTTPRequest(url: endpoint)
                r.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
                r.httpBody = body
                return r
            },
            judge: { answer in
                if (300..<400).contains(answer.status) { return .fail(self.transport.refusedRedirect(answer, what: what)) }
                if answer.status >= 500 || answer.status == 429 { return .retry("HTTP \(answer.status)") }
                struct Refusal: Decodable {
                    var error: String?
                    var error_description: String?
                }
                let r = try? JSONDecoder().decode(Refusal.self, from: answer.body)
                let words = [r?.error, r?.error_description].compactMap { $0.map(ListingReader.printable) }.joined(separator: ": ")
                return .fail(
                    LiteProofError(
                        .usage,
                        "cannot \(what): HTTP \(answer.status)\(words.isEmpty ? "" : " \(String(words.prefix(300)))") (check GOOGLE_APPLICATION_CREDENTIALS)"
                    ))
            }
        ) { answer in
            struct Grant: Decodable {
                var access_token: String
                var expires_in: Double?
            }
            guard let grant = try? JSONDecoder().decode(Grant.self, from: answer.body) else {
                throw LiteProofError(.storage(.transfer), "cannot \(what): the answer is not a token grant (JSON with access_token)")
            }
            // The token goes into a header: printable ASCII only, of a sane length.
            guard !grant.access_token.isEmpty, grant.access_token.utf8.count <= 8192,
                grant.access_token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else {
                throw LiteProofError(.storage(.transfer), "cannot \(what): the access token it sent is empty, too long or not printable")
            }
            let lifetime = grant.expires_in.flatMap { $0.isFinite && $0 >= 10 ? min($0, 86_400) : nil } ?? 3600
            return (grant.access_token, lifetime)
        }
    }
}
