import Foundation
import LiteProof
import LiteProofObjectStore
import LiteProofStoreAnswers

/// The GCS calls LiteProof makes, over the JSON API: the objects list (`prefix`, `pageToken`,
/// `maxResults`) and media downloads (`alt=media`, whole or with `Range:`), with a bearer token
/// when there are credentials. Synchronous, over the shared ``HTTPTransport`` (retries,
/// deadlines, bounded bodies, no redirects), with errors in GCS's own words.
// @unchecked: settings are fixed before first use; the transport and token source are thread-safe.
public final class GCSClient: ObjectStoreClient, @unchecked Sendable {
    public let config: GCSConfig
    let transport: HTTPTransport
    let tokens: GCSTokenSource?
    /// Objects asked for per listing page (`maxResults`; GCS sends at most 1000).
    public var pageSize = 1000
    /// The generation of each object listed so far: a download asks for that generation, so an
    /// object written again after the listing is never read in place of the one listed.
    private let generations = NSLock()
    private var listed: [String: String] = [:]

    public var policy: TransferPolicy { transport.policy }
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
    /// Called before each request is sent (method, object name; "" for a listing).
    public var onRequest: (@Sendable (String, String) -> Void)? {
        get { transport.onRequest }
        set { transport.onRequest = newValue }
    }
    /// Requests sent and response bytes received, for measuring.
    public var traffic: (requests: Int, bytes: Int64) { transport.traffic }

    public init(config: GCSConfig, policy: TransferPolicy = TransferPolicy()) {
        self.config = config
        transport = HTTPTransport(endpoint: config.endpoint, policy: policy)
        tokens = config.credentials.map { GCSTokenSource(credentials: $0, policy: policy) }
    }

    public func display(_ name: String) -> String { "\(config.location.scheme)://\(config.location.bucket)/\(ListingReader.printable(name))" }

    /// Every object whose name starts with `prefix`, all pages, read by ``ListingReader`` with its
    /// invariants; only the objects `keep` accepts are kept.
    public func list(prefix: String, keep: @escaping (RemoteObject) -> Bool = { _ in true }) throws -> [RemoteObject] {
        var reader = ListingReader(context: display(prefix), maxKeys: policy.maxKeys, keep: keep)
        var token: String?
        var pinned: [String: String] = [:]
        let what = "list \(display(prefix))"
        repeat {
            var query = [("prefix", prefix), ("maxResults", String(max(1, pageSize))), ("projection", "noAcl")]
            query.append(("fields", "nextPageToken,items(name,size,updated,generation,etag)"))
            if let token { query.append(("pageToken", token)) }
            let url = self.url(["storage", "v1", "b", config.location.bucket, "o"], query: query)
            let page = try transport.request(
                "GET", label: "", what: what, make: { try self.makeRequest(url) }, judge: { self.judge($0, what: what, listing: true) }
            ) { answer in
                try GCSListPage.parse(answer.body, context: self.display(prefix))
            }
            token = try reader.accept(objects: page.objects, truncated: page.nextToken != nil, nextToken: page.nextToken)
            for o in page.objects where keep(o) { pinned[o.key] = page.generations[o.key] }
        } while token != nil
        generations.lock()
        listed.merge(pinned) { _, new in new }
        generations.unlock()
        return reader.objects
    }

    /// Downloads the object `name` into `destination` (replaced), never more than `expectedSize`
    /// bytes (see ``HTTPTransport``).
    public func download(key name: String, to destination: String, expectedSize: Int64?) throws {
        let what = "read \(display(name))"
        let url = mediaURL(name)
        try transport.download(
            label: name, what: what, to: destination, expectedSize: expectedSize, make: { try self.makeRequest(url) },
            judge: { self.judge($0, what: what, listing: false) })
    }

    /// All of the object `name` (`expectedSize` bytes, as listed) in memory, checked as a
    /// download into a file is.
    public func bytes(key name: String, expectedSize: Int64) throws -> [UInt8]? {
        let what = "read \(display(name))"
        let url = mediaURL(name)
        return try transport.bytes(
            label: name, what: what, expectedSize: expectedSize, make: { try self.makeRequest(url) },
            judge: { self.judge($0, what: what, listing: false) })
    }

    /// Downloads `length` bytes at `offset` of the object `name` with a `Range:` GET; true when
    /// the server sent the whole object instead.
    public func download(key name: String, range offset: Int64, length: Int64, objectSize: Int64, to destination: String) throws -> Bool {
        let what = "read \(display(name))"
        let url = mediaURL(name)
        return try transport.download(
            label: name, what: what, range: offset, length: length, objectSize: objectSize, to: destination,
            make: { try self.makeRequest(url) }, judge: { self.judge($0, what: what, listing: false) })
    }

    /// One part of a download in parts: `length` bytes at `offset`, written into `file` at the
    /// same offset (``RangeIgnored`` when the server sends the whole object instead).
    public func download(key name: String, range offset: Int64, length: Int64, objectSize: Int64, into file: OutputFile) throws {
        let what = "read \(display(name))"
        let url = mediaURL(name)
        try transport.download(
            label: name, what: what, range: offset, length: length, objectSize: objectSize, into: file,
            make: { try self.makeRequest(url) }, judge: { self.judge($0, what: what, listing: false) })
    }

    // MARK: - Requests

    /// `/storage/v1/b/BUCKET/o/NAME?alt=media[&generation=G]`: the name is one path segment (its
    /// `/` encoded); the generation is the listed one, when the object was listed.
    func mediaURL(_ name: String) -> URL {
        generations.lock()
        let generation = listed[name]
        generations.unlock()
        var query = [("alt", "media")]
        if let generation { query.append(("generation", generation)) }
        return url(["storage", "v1", "b", config.location.bucket, "o", name], query: query)
    }

    /// The endpoint with `segments` (each percent-encoded whole) and `query`.
    func url(_ segments: [String], query: [(String, String)]) -> URL {
        var text = config.endpoint.absoluteString
        if text.hasSuffix("/") { text.removeLast() }
        text += "/" + segments.map(Self.encode).joined(separator: "/")
        if !query.isEmpty { text += "?" + query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&") }
        return URL(string: text)!
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters (so `/` and `.` too: a
    /// name of `..` is never a dot segment a layer on the way would remove).
    static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// A GET of `url`, with a bearer token when there are credentials (asked for again when it
    /// has expired).
    func makeRequest(_ url: URL) throws -> HTTPRequest {
        var request = HTTPRequest(url: url)
        if let tokens { request.setValue("Bearer \(try tokens.token())", forHTTPHeaderField: "Authorization") }
        return request
    }

    /// What an answer other than a 2xx means: a redirect refused, a retry (5xx, 429, 408), or
    /// GCS's error in its words (`{"error": {"code", "message"}}`).
    func judge(_ answer: HTTPAnswer, what: String, listing: Bool) -> AnswerJudgement {
        if (300..<400).contains(answer.status) && answer.status != 304 { return .fail(transport.refusedRedirect(answer, what: what)) }
        struct Body: Decodable {
            struct Inner: Decodable { var message: String? }
            var error: Inner?
        }
        let said =
            (try? JSONDecoder().decode(Body.self, from: answer.body))?.error?.message
            ?? String(decoding: answer.body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let words = "HTTP \(answer.status)" + (said.isEmpty ? "" : " \(ListingReader.printable(String(said.prefix(300))))")
        if answer.status >= 500 || answer.status == 429 || answer.status == 408 { return .retry(words) }
        let bucket = config.location.bucket
        let tried = "endpoint \(config.endpoint.absoluteString)" + (config.emulator ? " (STORAGE_EMULATOR_HOST)" : "")
        switch answer.status {
        case 404 where listing:
            return .fail(LiteProofError(.usage, "cannot \(what): GCS answered \(words) (the bucket \(bucket) does not exist at \(tried))"))
        case 404:
            return .fail(
                LiteProofError(
                    .storage(.missing),
                    "cannot \(what): GCS answered \(words) (the object as listed is gone: deleted, or written again, since the listing)"))
        case 401, 403:
            let who =
                config.credentials.map { "the \($0.who) may not read gs://\(bucket)" }
                ?? "no credentials were found (GOOGLE_APPLICATION_CREDENTIALS) and the bucket is not public"
            return .fail(LiteProofError(.storage(.permission), "cannot \(what): GCS answered \(words) (\(who); \(tried))"))
        default:
            return .fail(LiteProofError(.storage(.transfer), "cannot \(what): GCS answered \(words) (\(tried))"))
        }
    }
}
