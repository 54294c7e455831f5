import Foundation
import LiteProof
import LiteProofObjectStore
import LiteProofStoreAnswers

/// The few S3 calls LiteProof makes (ListObjectsV2, GetObject, ranged GetObject), signed with
/// SigV4, synchronous (callers are plain threads), over the shared ``HTTPTransport`` (retries,
/// deadlines, bounded bodies, no redirects), with errors in S3's own words.
// @unchecked: settings are fixed before first use; the transport is thread-safe.
public final class S3Client: ObjectStoreClient, @unchecked Sendable {
    public let config: S3Config
    /// How requests are bounded: attempts, deadline, speed floor, endpoint give-up, listing size.
    public var policy: TransferPolicy { transport.policy }
    let transport: HTTPTransport
    /// The signing key of the day, derived once for all this client's requests.
    let signingKeys = SigningKeyCache()
    /// Attempts per request (first try included); the policy's unless changed.
    public var maxAttempts: Int {
        get { transport.maxAttempts }
        set { transport.maxAttempts = newValue }
    }
    /// First retry delay in seconds; doubled each time, with jitter, up to 5 s.
    public var baseDelay: Double {
        get { transport.baseDelay }
        set { transport.baseDelay = newValue }
    }
    /// Called before each request is sent (method, key), e.g. to count the GETs.
    public var onRequest: (@Sendable (String, String) -> Void)? {
        get { transport.onRequest }
        set { transport.onRequest = newValue }
    }
    /// Requests sent and response bytes received (bodies, error answers included), for measuring.
    public var traffic: (requests: Int, bytes: Int64) { transport.traffic }

    public init(config: S3Config, policy: TransferPolicy = TransferPolicy()) {
        self.config = config
        // skipVerify: this endpoint's certificate is not checked (https only; the resolution's
        // note says so on stderr).
        transport = HTTPTransport(endpoint: config.endpoint, policy: policy, verifyTLS: !config.location.skipVerify)
    }

    // MARK: - Calls

    /// Every object below `prefix` (ListObjectsV2, all pages), read by ``ListingReader`` with its
    /// invariants; only the objects `keep` accepts are kept.
    public func list(prefix: String, keep: @escaping (S3Object) -> Bool = { _ in true }) throws -> [S3Object] {
        var reader = ListingReader(context: display(prefix), maxKeys: policy.maxKeys, keep: keep)
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("encoding-type", "url"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let page = try request("GET", key: nil, query: query, what: "list \(display(prefix))") { response in
                try ListBucketResult.parse(response.body, context: self.display(prefix))
            }
            token = try reader.accept(page)
        } while token != nil
        return reader.objects
    }

    /// Downloads `key` into `destination` (replaced), streaming to disk, the file private (0600)
    /// and removed on every failure (and at exit or on a signal while it is being written). With
    /// `expectedSize` (the listing's), no more than that is read: a longer body is refused, a
    /// shorter one retried, then refused.
    public func download(key: String, to destination: String, expectedSize: Int64?) throws {
        let what = "read \(display(key))"
        try transport.download(
            label: key, what: what, to: destination, expectedSize: expectedSize, make: { self.makeRequest("GET", key: key, query: []) },
            judge: { self.judge($0, what: what) })
    }

    /// Downloads `length` bytes at `offset` of `key` (an object of `objectSize` bytes, as listed)
    /// into `destination` with a `Range:` GET. Returns true when the server sent the whole object
    /// instead (200 to a ranged request, as some servers answer), false for the range alone (206).
    /// A body of another length than asked is retried, then refused.
    public func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, to destination: String) throws -> Bool {
        let what = "read \(display(key))"
        return try transport.download(
            label: key, what: what, range: offset, length: length, objectSize: objectSize, to: destination,
            make: { self.makeRequest("GET", key: key, query: []) }, judge: { self.judge($0, what: what) })
    }

    /// One part of a download in parts: `length` bytes at `offset`, written into `file` at the
    /// same offset (``RangeIgnored`` when the server sends the whole object instead).
    public func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, into file: OutputFile) throws {
        let what = "read \(display(key))"
        try transport.download(
            label: key, what: what, range: offset, length: length, objectSize: objectSize, into: file,
            make: { self.makeRequest("GET", key: key, query: []) }, judge: { self.judge($0, what: what) })
    }

    /// All of `key` (an object of `expectedSize` bytes, as listed) in memory, checked as a
    /// download into a file is.
    public func bytes(key: String, expectedSize: Int64) throws -> [UInt8]? {
        let what = "read \(display(key))"
        return try transport.bytes(
            label: key, what: what, expectedSize: expectedSize, make: { self.makeRequest("GET", key: key, query: []) },
            judge: { self.judge($0, what: what) })
    }

    public func display(_ key: String) -> String { "s3://\(config.location.bucket)/\(ListingReader.printable(key))" }

    // MARK: - Requests

    /// Sends a request under the transport's policy; `handle` reads a 2xx answer (and may throw
    /// ``Retryable``).
    @discardableResult
    func request<T>(_ method: String, key: String?, query: [(String, String)], what: String, _ handle: (HTTPAnswer) throws -> T) throws -> T {
        try transport.request(
            method, label: key ?? "", what: what, make: { self.makeRequest(method, key: key, query: query) },
            judge: { self.judge($0, what: what) }, handle)
    }

    /// What an answer other than a 2xx means: a redirect refused, a retry (5xx, throttling), or
    /// S3's error in its words.
    func judge(_ answer: HTTPAnswer, what: String) -> AnswerJudgement {
        let error = S3ErrorBody.parse(answer.body)
        if (300..<400).contains(answer.status) && answer.status != 304 {
            return .fail(redirect(answer, error: error, what: what))
        }
        if answer.status >= 500 || answer.status == 429 || ["SlowDown", "RequestTimeout", "InternalError"].contains(error?.code ?? "") {
            return .retry("HTTP \(answer.status)" + (error.map { " \($0.code): \($0.message)" } ?? ""))
        }
        return .fail(describe(status: answer.status, error: error, headers: answer.headers, what: what))
    }

    /// A 3xx answer: never followed (the request's credentials would go along). S3's own region
    /// redirect (PermanentRedirect, or `x-amz-bucket-region`) says which region to use.
    func redirect(_ response: HTTPAnswer, error: S3ErrorBody?, what: String) -> LiteProofError {
        if error?.code == "PermanentRedirect" || response.headers["x-amz-bucket-region"] != nil {
            return describe(status: response.status, error: error, headers: response.headers, what: what)
        }
        return transport.refusedRedirect(response, what: what)
    }

    /// Turns an S3 error answer into a message in S3's words, with what was tried.
    func describe(status: Int, error: S3ErrorBody?, headers: [String: String], what: String) -> LiteProofError {
        // A HEAD-like answer without a body (some servers for 403): S3 would have said AccessDenied.
        let code = error?.code ?? (status == 403 ? "AccessDenied" : "HTTP \(status)")
        let message = error?.message ?? HTTPRequest.reason(status)
        let bucket = config.location.bucket
        let tried = "endpoint \(config.endpoint.absoluteString), region \(config.region)"
        var hint = ""
        switch code {
        case "NoSuchBucket":
            hint = "the bucket \(bucket) does not exist at \(tried)"
        case "AccessDenied", "AllAccessDisabled":
            hint =
                config.credentials == nil
                ? "no credentials were found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and the bucket is not public"
                : "the credentials (access key \(config.credentials!.accessKeyID)) may not read s3://\(bucket) (\(tried))"
        case "SignatureDoesNotMatch":
            hint = "signed for \(tried) with access key \(config.credentials?.accessKeyID ?? "?"): check AWS_SECRET_ACCESS_KEY and the region"
        case "InvalidAccessKeyId":
            hint = "the server does not know the access key \(config.credentials?.accessKeyID ?? "?") (\(tried))"
        case "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
            let actual = headers["x-amz-bucket-region"].map { "; the bucket is in \($0): add ?region=\($0)" } ?? ""
            hint = "tried \(tried)\(actual)"
        default:
            if status == 301 || status == 307, let actual = headers["x-amz-bucket-region"] {
                hint = "the bucket is in region \(actual), not \(config.region): add ?region=\(actual)"
            } else {
                hint = tried
            }
        }
        // The configuration is wrong (exit 2, usage); an object the store will not give is a
        // storage failure of its own kind, never damage.
        let kind: LiteProofError.Kind
        switch code {
        case "NoSuchKey": kind = .storage(.missing)
        case "AccessDenied", "AllAccessDisabled": kind = .storage(.permission)
        case "NoSuchBucket", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AuthorizationHeaderMalformed", "PermanentRedirect", "InvalidBucketName":
            kind = .usage
        default: kind = status == 301 ? .usage : .storage(.transfer)
        }
        return LiteProofError(kind, "cannot \(what): S3 answered \(code): \(message) (\(hint))")
    }

    /// The URL, the Host header and the encoded path (as sent and as signed) of a request for
    /// `key` (nil: the bucket itself, `/bucket` in path style as Litestream asks, `/` else).
    /// A `.` or `..` segment of a key is sent as `%2E`/`%2E%2E`, so no HTTP layer on the way
    /// removes it as a dot segment and reads another object.
    func target(key: String?, query: [(String, String)]) -> (url: URL, host: String, path: String) {
        let e = config.endpoint
        let scheme = e.scheme?.lowercased() ?? "https"
        var host = e.host ?? ""
        if let port = e.port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) { host += ":\(port)" }
        let bucket = config.location.bucket
        var segments: [String]
        if config.accessPoint {
            segments = (key ?? "").split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        } else if config.pathStyle {
            segments = [bucket] + (key.map { $0.split(separator: "/", omittingEmptySubsequences: false).map(String.init) } ?? [])
        } else {
            host = "\(bucket).\(host)"
            segments = (key ?? "").split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        }
        let encoded = segments.map { segment -> String in
            if segment == "." || segment == ".." { return String(repeating: "%2E", count: segment.count) }
            return SigV4Signer.uriEncode(segment, slash: true)
        }
        let base = e.path.hasSuffix("/") ? String(e.path.dropLast()) : e.path
        let path = SigV4Signer.uriEncode(base, slash: false) + "/" + encoded.joined(separator: "/")
        var text = "\(scheme)://\(host)\(path)"
        if !query.isEmpty {
            text += "?" + query.map { "\(SigV4Signer.uriEncode($0.0, slash: true))=\(SigV4Signer.uriEncode($0.1, slash: true))" }.joined(separator: "&")
        }
        return (URL(string: text)!, host, path)
    }
}
