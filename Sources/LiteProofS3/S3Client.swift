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
public final class S3Client: @unchecked Sendable {
    public let config: S3Config
    let session: URLSession
    /// Attempts per request (first try included).
    public var maxAttempts = 5
    /// First retry delay in seconds; doubled each time, with jitter, up to 5 s.
    public var baseDelay = 0.2
    /// Called before each request is sent (method, key), e.g. to count the GETs.
    public var onRequest: (@Sendable (String, String) -> Void)?
    /// Requests sent and response bytes received (bodies, error answers included), for measuring.
    public var traffic: (requests: Int, bytes: Int64) {
        trafficLock.lock()
        defer { trafficLock.unlock() }
        return trafficCount
    }
    private let trafficLock = NSLock()
    private var trafficCount: (requests: Int, bytes: Int64) = (0, 0)

    public init(config: S3Config, timeout: TimeInterval = 60) {
        self.config = config
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = timeout
        c.httpMaximumConnectionsPerHost = 16
        c.requestCachePolicy = .reloadIgnoringLocalCacheData
        c.urlCache = nil
        session = URLSession(configuration: c)
    }

    deinit { session.invalidateAndCancel() }

    // MARK: - Calls

    /// Every object below `prefix` (ListObjectsV2, all pages).
    public func list(prefix: String) throws -> [S3Object] {
        var out: [S3Object] = []
        var token: String?
        var pages = 0
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let page = try request("GET", key: nil, query: query, what: "list \(display(prefix))") { response in
                try ListBucketResult.parse(response.body, context: self.display(prefix))
            }
            out += page.objects
            token = page.truncated ? page.nextToken : nil
            pages += 1
            if page.truncated && token == nil {
                throw LiteProofError.storage(.transfer, "listing \(display(prefix)): page \(pages) is truncated but has no NextContinuationToken")
            }
        } while token != nil
        return out
    }

    /// Downloads `key` into `destination` (replaced), streaming to disk. With `expectedSize`
    /// (the listing's), a body of another length is retried, then refused.
    public func download(key: String, to destination: String, expectedSize: Int64?) throws {
        try request("GET", key: key, query: [], what: "read \(display(key))", destination: destination) { response in
            let got = FS.fileSize(destination) ?? -1
            if let declared = response.contentLength, declared != got {
                throw Retryable(message: "the connection ended after \(got) of \(declared) bytes")
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
        return try request("GET", key: key, query: [], what: "read \(display(key))", destination: destination, extraHeaders: [header]) { response in
            let got = FS.fileSize(destination) ?? -1
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

    public func display(_ key: String) -> String { "s3://\(config.location.bucket)/\(key)" }

    // MARK: - Requests

    struct Response {
        var status: Int
        var headers: [String: String]
        /// The body (small responses only; downloads go to their file).
        var body: Data
        var contentLength: Int64? { headers["content-length"].flatMap { Int64($0) } }
    }

    /// A failure worth another attempt (5xx, throttling, a dropped connection, a short body).
    struct Retryable: Error {
        var message: String
        /// The server was not reached or the connection failed (as opposed to an answer).
        var transport = false
    }

    /// Sends a request with retries; `handle` reads a 2xx response (and may throw ``Retryable``).
    @discardableResult
    func request<T>(
        _ method: String, key: String?, query: [(String, String)], what: String, destination: String? = nil,
        extraHeaders: [(String, String)] = [], _ handle: (Response) throws -> T
    ) throws -> T {
        var last = ""
        var unreachable = false
        for attempt in 0..<maxAttempts {
            if attempt > 0 {
                let delay = min(5, baseDelay * pow(2, Double(attempt - 1))) * Double.random(in: 0.5...1.0)
                usleep(useconds_t(delay * 1e6))
            }
            onRequest?(method, key ?? "")
            let response: Response
            do {
                response = try send(method, key: key, query: query, destination: destination, extraHeaders: extraHeaders)
            } catch let e as Retryable {
                last = e.message
                unreachable = e.transport
                continue
            }
            unreachable = false
            if (200..<300).contains(response.status) {
                do {
                    return try handle(response)
                } catch let e as Retryable {
                    last = e.message
                    continue
                }
            }
            let body = destination.flatMap { FileManager.default.contents(atPath: $0) } ?? response.body
            if let d = destination { FS.remove(d) }
            let error = S3ErrorBody.parse(body)
            if response.status >= 500 || response.status == 429 || ["SlowDown", "RequestTimeout", "InternalError"].contains(error?.code ?? "") {
                last = "HTTP \(response.status)" + (error.map { " \($0.code): \($0.message)" } ?? "")
                continue
            }
            throw describe(status: response.status, error: error, headers: response.headers, what: what)
        }
        let hint =
            unreachable
            ? "; to work offline, download the replica with `liteproof fetch` on a machine that reaches the bucket and pass the folder" : ""
        throw LiteProofError.storage(.transfer, "cannot \(what) at \(config.endpoint.absoluteString): \(last) (gave up after \(maxAttempts) attempts\(hint))")
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

    /// The URL and the Host header of a request for `key` (nil: the bucket itself).
    func target(key: String?, query: [(String, String)]) -> (url: URL, host: String, path: String) {
        let e = config.endpoint
        let scheme = e.scheme?.lowercased() ?? "https"
        var host = e.host ?? ""
        if let port = e.port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) { host += ":\(port)" }
        let bucket = config.location.bucket
        var path: String
        if config.pathStyle {
            path = "/\(bucket)" + (key.map { "/" + $0 } ?? "/")
        } else {
            host = "\(bucket).\(host)"
            path = "/" + (key ?? "")
        }
        let base = e.path.hasSuffix("/") ? String(e.path.dropLast()) : e.path
        path = base + path
        var text = "\(scheme)://\(host)\(SigV4Signer.uriEncode(path, slash: false))"
        if !query.isEmpty {
            text += "?" + query.map { "\(SigV4Signer.uriEncode($0.0, slash: true))=\(SigV4Signer.uriEncode($0.1, slash: true))" }.joined(separator: "&")
        }
        return (URL(string: text)!, host, path)
    }

    /// One HTTP exchange. Transport failures come back as ``Retryable``. `extraHeaders` are sent
    /// unsigned (SigV4 signs only the headers it lists; `Range` need not be among them).
    func send(_ method: String, key: String?, query: [(String, String)], destination: String?, extraHeaders: [(String, String)] = []) throws -> Response {
        let (url, host, path) = target(key: key, query: query)
        var request = URLRequest(url: url)
        request.httpMethod = method
        var headers: [(String, String)] = [("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)]
        if let credentials = config.credentials {
            let signed = SigV4Signer(credentials: credentials, region: config.region)
                .sign(method: method, host: host, path: path, query: query, headers: headers, date: Date())
            headers += signed.headers
        } else {
            headers = []
        }
        for (name, value) in headers + extraHeaders { request.setValue(value, forHTTPHeaderField: name) }

        let done = DispatchSemaphore(value: 0)
        let box = Locked<(URLResponse?, Data?, Error?)>((nil, nil, nil))  // the completion handler's results
        let task: URLSessionTask
        if let destination {
            task = session.downloadTask(with: request) { file, response, error in
                if let file {
                    FS.remove(destination)
                    if rename(file.path, destination) != 0 {
                        // Another file system: copy.
                        do { try FileManager.default.copyItem(atPath: file.path, toPath: destination) } catch {
                            box.withLock { $0 = (nil, nil, error) }
                            done.signal()
                            return
                        }
                    }
                }
                box.withLock { $0 = (response, nil, error) }
                done.signal()
            }
        } else {
            task = session.dataTask(with: request) { data, response, error in
                box.withLock { $0 = (response, data, error) }
                done.signal()
            }
        }
        task.resume()
        done.wait()
        let (response, data, error) = box.current
        let received = destination.flatMap { FS.fileSize($0) } ?? Int64(data?.count ?? 0)
        trafficLock.lock()
        trafficCount.requests += 1
        trafficCount.bytes += received
        trafficLock.unlock()
        if let error {
            if let destination { FS.remove(destination) }
            throw Retryable(message: "\(method) \(url.absoluteString): \(error.localizedDescription)", transport: true)
        }
        guard let http = response as? HTTPURLResponse else {
            throw Retryable(message: "\(method) \(url.absoluteString): no HTTP response", transport: true)
        }
        var lower: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { lower[k.lowercased()] = v }
        }
        return Response(status: http.statusCode, headers: lower, body: data ?? Data())
    }
}
