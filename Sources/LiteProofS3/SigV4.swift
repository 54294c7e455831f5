import Crypto
import Foundation

/// AWS credentials: an access key pair, with a session token for temporary credentials.
public struct S3Credentials: Sendable, Equatable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 for requests sent in headers (`Authorization: AWS4-HMAC-SHA256 …`).
///
/// Pure: the same request, time and credentials always give the same signature, so it is tested
/// against AWS's published test-suite vectors.
public struct SigV4Signer: Sendable {
    public var credentials: S3Credentials
    public var region: String
    public var service: String
    /// The last signing key derived (it changes with the day): four HMACs a request saved when
    /// the signers of one client share it.
    let keys: SigningKeyCache

    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.init(credentials: credentials, region: region, service: service, keys: SigningKeyCache())
    }

    init(credentials: S3Credentials, region: String, service: String = "s3", keys: SigningKeyCache) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.keys = keys
    }

    public struct Signed: Sendable {
        /// Headers to add to the request (`Authorization`, `X-Amz-Date`, and the token if any).
        public var headers: [(String, String)]
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        public var authorization: String
    }

    /// SHA-256 of an empty payload, hex.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Signs a request.
    /// - Parameters:
    ///   - path: the URI path, not yet percent-encoded (`/bucket/key`); each segment is encoded once.
    ///   - query: decoded query parameters (encoded and sorted here).
    ///   - headers: headers to sign besides `host` and `x-amz-date` (names any case).
    ///   - host: the Host header value (with `:port` when it is not the scheme's default).
    ///   - encodedPath: `path` is already encoded as it is sent (then signed as it is).
    public func sign(
        method: String, host: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = [],
        payloadHash: String = SigV4Signer.emptyPayloadHash, date: Date, encodedPath: Bool = false
    ) -> Signed {
        let amzDate = Self.amzDate(date)
        let day = String(amzDate.prefix(8))
        var all: [(String, String)] = headers.map { ($0.0.lowercased(), Self.trimHeaderValue($0.1)) }
        all.append(("host", host))
        all.append(("x-amz-date", amzDate))
        if let token = credentials.sessionToken { all.append(("x-amz-security-token", token)) }
        all.sort { $0.0 < $1.0 }
        let canonicalHeaders = all.map { "\($0.0):\($0.1)\n" }.joined()
        let signedHeaders = all.map(\.0).joined(separator: ";")
        let encoded: [(String, String)] = query.map { (Self.uriEncode($0.0, slash: true), Self.uriEncode($0.1, slash: true)) }
        let sorted = encoded.sorted { (a: (String, String), b: (String, String)) -> Bool in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        let canonicalQuery = sorted.map { (k: String, v: String) -> String in k + "=" + v }.joined(separator: "&")
        let canonicalRequest = [
            method, encodedPath ? (path.isEmpty ? "/" : path) : Self.uriEncode(path.isEmpty ? "/" : path, slash: false), canonicalQuery, canonicalHeaders,
            signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(Crypto.SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        let key = signingKey(day: day)
        let signature = Self.hex(HMAC<Crypto.SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        var out: [(String, String)] = [("Authorization", authorization), ("X-Amz-Date", amzDate)]
        if let token = credentials.sessionToken { out.append(("X-Amz-Security-Token", token)) }
        return Signed(
            headers: out, canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature, authorization: authorization)
    }

    /// The key that signs a request of `day` (`YYYYMMDD`): HMACs of the day, region, service and
    /// `aws4_request`, from the secret; derived once a day, not for every request.
    func signingKey(day: String) -> SymmetricKey {
        let scope = [credentials.secretAccessKey, day, region, service]
        if let key = keys.key(for: scope) { return key }
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<Crypto.SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        keys.remember(key, for: scope)
        return key
    }

    /// `YYYYMMDD'T'HHMMSS'Z'` in UTC (digits by hand: `String(format:)` cost 1.5% of a fleet's CPU).
    public static func amzDate(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        gmtime_r(&t, &tm)
        var out: [UInt8] = []
        out.reserveCapacity(16)
        func digits(_ value: Int32, _ count: Int) {
            var v = Int(value)
            var d = [UInt8](repeating: UInt8(ascii: "0"), count: count)
            for i in stride(from: count - 1, through: 0, by: -1) {
                d[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            out += d
        }
        digits(tm.tm_year + 1900, 4)
        digits(tm.tm_mon + 1, 2)
        digits(tm.tm_mday, 2)
        out.append(UInt8(ascii: "T"))
        digits(tm.tm_hour, 2)
        digits(tm.tm_min, 2)
        digits(tm.tm_sec, 2)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Percent-encodes everything but the unreserved characters (`A-Z a-z 0-9 - _ . ~`), and `/`
    /// unless `slash` (S3 encodes each path segment once, keeping the slashes).
    public static func uriEncode(_ s: String, slash: Bool) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "/") where !slash:
                out.append("/")
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(Self.upperDigits[Int(b >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(Self.upperDigits[Int(b & 0xF)]))
            }
        }
        return out
    }

    static func trimHeaderValue(_ v: String) -> String {
        v.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// Lowercase hex, two digits a byte (without `String(format:)`, which cost ~3% of a fleet
    /// check's CPU: a signature hexes several hashes per request).
    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(lowerDigits[Int(b >> 4)])
            out.append(lowerDigits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let lowerDigits = Array("0123456789abcdef".utf8)
    static let upperDigits = Array("0123456789ABCDEF".utf8)
}

/// The last signing key a ``SigV4Signer`` derived, with what it was derived from (secret, day,
/// region, service); shared by copies of the signer, which compare all four before reuse.
// @unchecked: both fields take `lock`.
final class SigningKeyCache: @unchecked Sendable {
    private let lock = NSLock()
    private var scope: [String] = []
    private var key: SymmetricKey?

    func key(for scope: [String]) -> SymmetricKey? {
        lock.lock()
        defer { lock.unlock() }
        return scope == self.scope ? key : nil
    }

    func remember(_ key: SymmetricKey, for scope: [String]) {
        lock.lock()
        defer { lock.unlock() }
        self.scope = scope
        self.key = key
    }
}
