import Foundation
import LiteProof

#if canImport(FoundationNetworking)
    @preconcurrency import FoundationNetworking
#endif

/// One object of a listing.
public struct S3Object: Sendable, Equatable {
    /// The full key.
    public var key: String
    public var size: Int64
    /// Seconds since the epoch.
    public var lastModified: Double
    /// The ETag as S3 sends it, without the quotes.
    public var etag: String
}

/// The few S3 calls LiteProof makes (ListObjectsV2, GetObject, ranged GetObject), signed with
/// SigV4, synchronous (callers are plain threads), with retries and errors in S3's own words.
///
/// Over Foundation's `URLSession` rather than async-http-client: the library reads replicas on
/// plain threads with synchronous file I/O, so an event loop would only be bridged back to
/// blocking waits; a download task streams a body to disk; and FoundationNetworking ships with the
/// toolchain, with no SwiftNIO package tree to build. If URLSession ever proves unsound here (a
/// crash at exit with many threads, say), only this type has to change.
// @unchecked: settings are fixed before first use; the traffic counters take `trafficLock`;
// URLSession is thread-safe.
public final class S3Client: @unchecked Sendable {
    public let config: S3Config
    /// How requests are bounded: attempts, deadline, speed floor, endpoint give-up, listing size.
    public let policy: TransferPolicy
    let session: URLSession
    let delegate = TransferDelegate()
    let health: EndpointHealth
    /// Attempts per request (first try included); the policy's unless changed.
    public var maxAttempts: Int
    /// First retry delay in seconds; doubled each time, with jitter, up to 5 s.
    public var baseDelay: Double
    /// Called before each request is sent (method, key), e.g. to count the GETs.
    public var onRequest: (@Sendable (String, String) -> Void)?
    /// Requests sent and response bytes received (bodies, error answers included), for measuring.
    public var traffic: (requests: Int, bytes: Int64) {
        trafficLock.lock()
        defer { trafficLock.unlock() }
        return trafficCount
    }
    let trafficLock = NSLock()
    var trafficCount: (requests: Int, bytes: Int64) = (0, 0)

    public init(config: S3Config, policy: TransferPolicy = TransferPolicy()) {
        self.config = config
        self.policy = policy
        maxAttempts = max(1, policy.attempts)
        baseDelay = policy.baseDelay
        health = EndpointHealth(limit: policy.endpointFailures)
        let c = URLSessionConfiguration.ephemeral
        // The watchdog in `send` enforces the policy's bounds; these only back it up.
        c.timeoutIntervalForRequest = max(policy.window * 2, 1)
        c.timeoutIntervalForResource = policy.deadline + 60
        c.httpMaximumConnectionsPerHost = 16
        c.requestCachePolicy = .reloadIgnoringLocalCacheData
        c.urlCache = nil
        c.httpCookieStorage = nil
        c.httpShouldSetCookies = false
        session = URLSession(configuration: c, delegate: delegate, delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

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
        try request(
            "GET", key: key, query: [], what: "read \(display(key))", destination: destination, bodyLimit: expectedSize ?? Int64.max
        ) { response in
            let got = response.written
            if let declared = response.contentLength, declared != got {
                throw Retryable(message: "the connection ended after \(got) of \(declared) bytes", transport: true)
            }
            if let expectedSize, got != expectedSize {
                throw Retryable(message: "the server sent \(got) bytes, the listing says the object has \(expectedSize)")
            }
        }
    }

    /// Downloads `length` bytes at `offset` of `key` (an object of `objectSize` bytes, as listed)
    /// into `destination` with a `Range:` GET. Returns true when the server sent the whole object
    /// instead (200 to a ranged request, as some servers answer), false for the range alone (206).
    /// A body of another length than asked is retried, then refused.
    public func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, to destination: String) throws -> Bool {
        precondition(offset >= 0 && length > 0 && offset + length <= objectSize)
        let header = ("Range", "bytes=\(offset)-\(offset + length - 1)")
        return try request(
            "GET", key: key, query: [], what: "read \(display(key))", destination: destination, bodyLimit: objectSize, extraHeaders: [header]
        ) { response in
            let got = response.written
            switch response.status {
            case 206:
                // `bytes FIRST-LAST/TOTAL`: the range must be the one asked for.
                let expected = "bytes \(offset)-\(offset + length - 1)/"
                if let range = response.headers["content-range"], !range.hasPrefix(expected) {
                    throw Retryable(message: "asked for \(header.1), the server sent \(range)")
                }
                if got != length {
                    throw Retryable(message: "the server sent \(got) bytes of the \(length) asked for at offset \(offset)")
                }
                return false
            case 200:
                if got != objectSize {
                    throw Retryable(message: "the server sent \(got) bytes, the listing says the object has \(objectSize)")
                }
                return true
            default:
                throw LiteProofError.storage(.transfer, "cannot read \(display(key)): HTTP \(response.status) to a ranged GET")
            }
        }
    }

    public func display(_ key: String) -> String { "s3://\(config.location.bucket)/\(ListingReader.printable(key))" }

    // MARK: - Requests

    struct Response {
        var status: Int
        var headers: [String: String]
        /// The body (answers in memory: listings, error answers; a download's body is in its file).
        var body: Data
        /// Body bytes written to the destination file.
        var written: Int64 = 0
        var contentLength: Int64? { headers["content-length"].flatMap { Int64($0) } }
    }

    /// A failure worth another attempt (5xx, throttling, a dropped connection, a short body).
    struct Retryable: Error {
        var message: String
        /// No complete answer came (refused, dropped, stalled, too slow): counts against the
        /// endpoint (``EndpointHealth``).
        var transport = false
        /// The request's deadline passed: no further attempt.
        var final = false
        /// The answer is refused (a body longer than the listing says): no further attempt, and
        /// the message is the error's.
        var refused = false
    }

    /// Sends a request under the policy; `handle` reads a 2xx response (and may throw
    /// ``Retryable``). With a `destination`, a 2xx body is streamed there (at most `bodyLimit`
    /// bytes); the file exists only after success.
    @discardableResult
    func request<T>(
        _ method: String, key: String?, query: [(String, String)], what: String, destination: String? = nil, bodyLimit: Int64? = nil,
        extraHeaders: [(String, String)] = [], _ handle: (Response) throws -> T
    ) throws -> T {
        let started = Date()
        var last = ""
        var unreachable = false
        var tried = 0
        let limit = bodyLimit ?? Int64(policy.maxAnswerBytes)
        func elapsed() -> Double { Date().timeIntervalSince(started) }
        attempts: for attempt in 0..<maxAttempts {
            if let dead = health.deadReason {
                throw LiteProofError.storage(
                    .transfer, "cannot \(what): not tried, the endpoint \(config.endpoint.absoluteString) stopped answering (\(dead))")
            }
            if attempt > 0 {
                let delay = min(5, baseDelay * pow(2, Double(attempt - 1))) * Double.random(in: 0.5...1.0)
                if elapsed() + delay >= policy.deadline { break }
                usleep(useconds_t(delay * 1e6))
            }
            let remaining = policy.deadline - elapsed()
            if remaining <= 0 { break }
            onRequest?(method, key ?? "")
            tried += 1
            let response: Response
            do {
                response = try send(
                    method, key: key, query: query, destination: destination, bodyLimit: limit, deadline: remaining, extraHeaders: extraHeaders)
            } catch let e as Retryable {
                last = e.message
                unreachable = e.transport
                if e.refused { throw LiteProofError.storage(.transfer, "cannot \(what): \(e.message)") }
                if e.transport { health.failed("\(what): \(e.message)") }
                if e.final { break attempts }
                continue
            }
            health.answered()
            unreachable = false
            if (200..<300).contains(response.status) {
                do {
                    let result = try handle(response)
                    if let destination { ScratchSpace.keep(destination) }
                    return result
                } catch let e as Retryable {
                    if let destination { ScratchSpace.release(destination) }
                    last = e.message
                    continue
                } catch {
                    if let destination { ScratchSpace.release(destination) }
                    throw error
                }
            }
            if let destination { ScratchSpace.release(destination) }
            let error = S3ErrorBody.parse(response.body)
            if (300..<400).contains(response.status) && response.status != 304 {
                throw redirect(response, error: error, what: what)
            }
            if response.status >= 500 || response.status == 429 || ["SlowDown", "RequestTimeout", "InternalError"].contains(error?.code ?? "") {
                last = "HTTP \(response.status)" + (error.map { " \($0.code): \($0.message)" } ?? "")
                continue
            }
            throw describe(status: response.status, error: error, headers: response.headers, what: what)
        }
        let hint =
            unreachable
            ? "; to work offline, download the replica with `liteproof fetch` on a machine that reaches the bucket and pass the folder" : ""
        throw LiteProofError.storage(
            .transfer,
            "cannot \(what) at \(config.endpoint.absoluteString): \(last) (gave up after \(tried) attempt\(tried == 1 ? "" : "s") in \(String(format: "%.1f", elapsed())) s\(hint))"
        )
    }

    /// A 3xx answer: never followed (the request's credentials would go along). S3's own region
    /// redirect (PermanentRedirect, or `x-amz-bucket-region`) says which region to use.
    func redirect(_ response: Response, error: S3ErrorBody?, what: String) -> LiteProofError {
        if error?.code == "PermanentRedirect" || response.headers["x-amz-bucket-region"] != nil {
            return describe(status: response.status, error: error, headers: response.headers, what: what)
        }
        let location = response.headers["location"].map { ListingReader.printable(String($0.prefix(300))) } ?? "no Location"
        let elsewhere = response.headers["location"].flatMap { URL(string: $0, relativeTo: config.endpoint) }.map { origin($0.absoluteURL) }
        let whereTo = elsewhere.map { $0 == origin(config.endpoint) ? "the same origin" : "another origin, \($0)" } ?? "an unreadable location"
        return LiteProofError.storage(
            .transfer,
            "cannot \(what): the server answered HTTP \(response.status), a redirect to \(location) (\(whereTo)); LiteProof does not follow redirects, which would carry the request's credentials, and S3 does not redirect reads in normal operation"
        )
    }

    /// Turns an S3 error answer into a message in S3's words, with what was tried.
    func describe(status: Int, error: S3ErrorBody?, headers: [String: String], what: String) -> LiteProofError {
        // A HEAD-like answer without a body (some servers for 403): S3 would have said AccessDenied.
        let code = error?.code ?? (status == 403 ? "AccessDenied" : "HTTP \(status)")
        let message = error?.message ?? HTTPURLResponse.localizedString(forStatusCode: status)
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
