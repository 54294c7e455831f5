import Foundation
import LiteProof
import LiteProofObjectStore
import LiteProofStoreAnswers

/// The WebDAV calls LiteProof makes: `PROPFIND` with `Depth: 1`, folder by folder below the
/// replica (Litestream 0.5 writes `PATH/ltx/<level>/<min>-<max>.ltx`), and GETs, whole or with
/// `Range:`. Synchronous, over the shared ``HTTPTransport`` (retries, deadlines, bounded bodies,
/// no redirects), with basic auth from the URL's userinfo (never printed) and errors in the
/// server's words.
///
/// Times are `getlastmodified`: the time the server stored the file (Litestream's WebDAV client
/// cannot set it), like S3's LastModified; a 0.5 position takes its time from the LTX header.
// @unchecked: settings are fixed before first use; the transport is thread-safe.
public final class WebDAVClient: ObjectStoreClient, @unchecked Sendable {
    public let location: WebDAVLocation
    let transport: HTTPTransport
    /// Folders below the replica a walk goes into at most (a fleet's replicas at any sane depth).
    public var maxDepth = 64

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
    /// Called before each request is sent (method, path; "" for a listing).
    public var onRequest: (@Sendable (String, String) -> Void)? {
        get { transport.onRequest }
        set { transport.onRequest = newValue }
    }
    /// Requests sent and response bytes received, for measuring.
    public var traffic: (requests: Int, bytes: Int64) { transport.traffic }

    public init(location: WebDAVLocation, policy: TransferPolicy = TransferPolicy()) {
        self.location = location
        transport = HTTPTransport(endpoint: location.endpoint, policy: policy)
    }

    public func display(_ path: String) -> String { "\(location.scheme)://\(location.host)/\(ListingReader.printable(path))" }

    /// The PROPFIND body: the four properties read, nothing else (no quota, no locks).
    static let propfindBody = Data(
        """
        <?xml version="1.0" encoding="utf-8"?>
        <D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>
        """.utf8)

    /// Every file below the folder `prefix` (a path from the server's root without its leading
    /// `/`, ending in `/`, or ""), its folders walked breadth first with `PROPFIND Depth: 1`,
    /// then sorted and checked by ``ListingReader``. A folder that does not exist lists nothing.
    /// An href outside the folder asked for, or not a direct child of it, is refused (never
    /// followed), as are more than the policy's `maxKeys` entries.
    public func list(prefix: String, keep: @escaping (RemoteObject) -> Bool = { _ in true }) throws -> [RemoteObject] {
        let top = "/" + prefix
        var queue: [(path: String, depth: Int)] = [(top, 0)]
        var visited: Set<String> = [top]
        var next = 0
        var kept: [RemoteObject] = []
        var seen = 0
        while next < queue.count {
            let (folder, depth) = queue[next]
            next += 1
            guard let entries = try propfind(folder, entriesLeft: policy.maxKeys - seen + 1) else { continue }
            for entry in entries {
                guard let path = try child(entry.href, of: folder) else { continue }
                seen += 1
                guard seen <= policy.maxKeys else {
                    throw refuse(top, "more than \(policy.maxKeys) entries (LITEPROOF_STORE_MAX_KEYS)")
                }
                if entry.collection || path.hasSuffix("/") {
                    let sub = path.hasSuffix("/") ? path : path + "/"
                    guard depth < maxDepth else { throw refuse(top, "\(ListingReader.printable(sub)) is more than \(maxDepth) folders deep") }
                    if visited.insert(sub).inserted { queue.append((sub, depth + 1)) }
                    continue
                }
                let name = ListingReader.printable(path)
                guard let text = entry.size, let size = Int64(text), size >= 0 else {
                    throw refuse(folder, "\(name) has no getcontentlength (\(ListingReader.printable(String((entry.size ?? "none").prefix(40)))))")
                }
                guard let modified = entry.modified.flatMap(HTTPDate.parse) else {
                    throw refuse(
                        folder, "\(name) has no readable getlastmodified (\(ListingReader.printable(String((entry.modified ?? "none").prefix(40)))))")
                }
                var etag = entry.etag ?? ""
                etag = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                let object = RemoteObject(key: String(path.dropFirst()), size: size, lastModified: modified, etag: etag)
                if keep(object) { kept.append(object) }
            }
        }
        kept.sort { ListingReader.precedes($0.key, $1.key) }
        // The same invariants as a bucket listing: a name listed twice is refused.
        var reader = ListingReader(context: display(prefix), maxKeys: policy.maxKeys)
        _ = try reader.accept(objects: kept, truncated: false, nextToken: nil)
        return reader.objects
    }

    private func refuse(_ folder: String, _ why: String) -> LiteProofError {
        LiteProofError(.storage(.transfer), "listing \(display(String(folder.dropFirst()))): \(why); the listing is refused as incomplete")
    }

    /// One `PROPFIND Depth: 1` of `folder` (an absolute decoded path ending in `/`); nil when
    /// the server says it does not exist (404).
    func propfind(_ folder: String, entriesLeft: Int) throws -> [DAVEntry]? {
        let what = "list \(display(String(folder.dropFirst())))"
        let url = self.url(folder)
        var missing = false
        do {
            return try transport.request(
                "PROPFIND", label: "", what: what, extraHeaders: [("Depth", "1"), ("Content-Type", "application/xml; charset=utf-8")],
                make: {
                    var r = try self.makeRequest(url)
                    r.httpBody = Self.propfindBody
                    return r
                },
                judge: { answer in
                    if answer.status == 404 { missing = true }
                    return self.judge(answer, what: what, listing: true)
                }
            ) { answer in
                guard answer.status == 207 else {
                    throw LiteProofError(
                        .storage(.transfer),
                        "cannot \(what): the server answered HTTP \(answer.status) to PROPFIND, not 207 Multi-Status (is \(location.endpoint.absoluteString) a WebDAV server?)"
                    )
                }
                do {
                    return try Multistatus.parse(answer.body, maxEntries: max(1, entriesLeft) + 1)
                } catch let e as Multistatus.Refusal {
                    throw refuse(folder, "the answer is not a multistatus LiteProof reads (\(e.why))")
                }
            }
        } catch  where missing {
            return nil
        }
    }

    /// The decoded path an href of a listing of `folder` names: nil for the folder itself; an
    /// href that is not a direct child of `folder` (another folder, another server, `..`, a
    /// malformed escape) is refused.
    func child(_ href: String, of folder: String) throws -> String? {
        func outside(_ why: String) -> LiteProofError {
            LiteProofError(
                .storage(.transfer),
                "listing \(display(String(folder.dropFirst()))): the server lists \(ListingReader.printable(String(href.prefix(300)))), \(why); refused, not followed"
            )
        }
        var raw = Substring(href)
        if let scheme = raw.range(of: "://") {
            // An absolute URL: it must name this server.
            let rest = raw[scheme.upperBound...]
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let origin = URL(string: String(raw[..<slash]))
            guard origin?.host?.lowercased() == location.endpoint.host?.lowercased(), (origin?.port ?? 0) == (location.endpoint.port ?? 0)
            else { throw outside("on another server than \(location.host)") }
            raw = rest[slash...]
        }
        guard raw.hasPrefix("/"), !raw.contains("?"), !raw.contains("#") else { throw outside("which is not a path from the server's root") }
        guard let decoded = String(raw).removingPercentEncoding, !decoded.contains("\0") else {
            throw outside("whose %-escapes do not decode to a name")
        }
        let trimmed = decoded.hasSuffix("/") ? String(decoded.dropLast()) : decoded
        if trimmed + "/" == folder || decoded == folder { return nil }
        guard decoded.hasPrefix(folder) else { throw outside("outside \(ListingReader.printable(folder))") }
        let name = trimmed.dropFirst(folder.count)
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw outside("which is not a file or folder directly in \(ListingReader.printable(folder))")
        }
        return decoded
    }

    /// Downloads the file `key` (a path from the server's root, without its leading `/`) into
    /// `destination` (replaced), never more than `expectedSize` bytes.
    public func download(key: String, to destination: String, expectedSize: Int64?) throws {
        let what = "read \(display(key))"
        let url = self.url("/" + key)
        try transport.download(
            label: key, what: what, to: destination, expectedSize: expectedSize, make: { try self.makeRequest(url) },
            judge: { self.judge($0, what: what, listing: false) })
    }

    /// All of the file `key` (`expectedSize` bytes, as listed) in memory, checked as a download
    /// into a file is.
    public func bytes(key: String, expectedSize: Int64) throws -> [UInt8]? {
        let what = "read \(display(key))"
        let url = self.url("/" + key)
        return try transport.bytes(
            label: key, what: what, expectedSize: expectedSize, make: { try self.makeRequest(url) },
            judge: { self.judge($0, what: what, listing: false) })
    }

    /// Downloads `length` bytes at `offset` of the file `key` with a `Range:` GET; true when the
    /// server sent the whole file instead.
    public func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, to destination: String) throws -> Bool {
        let what = "read \(display(key))"
        let url = self.url("/" + key)
        return try transport.download(
            label: key, what: what, range: offset, length: length, objectSize: objectSize, to: destination,
            make: { try self.makeRequest(url) }, judge: { self.judge($0, what: what, listing: false) })
    }

    /// One part of a download in parts: `length` bytes at `offset`, written into `file` at the
    /// same offset (``RangeIgnored`` when the server sends the whole object instead).
    public func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, into file: OutputFile) throws {
        let what = "read \(display(key))"
        let url = self.url("/" + key)
        try transport.download(
            label: key, what: what, range: offset, length: length, objectSize: objectSize, into: file,
            make: { try self.makeRequest(url) }, judge: { self.judge($0, what: what, listing: false) })
    }

    // MARK: - Requests

    /// The server's root with `path` (absolute, decoded), each segment percent-encoded whole.
    func url(_ path: String) -> URL {
        var text = location.endpoint.absoluteString
        if text.hasSuffix("/") { text.removeLast() }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map { Self.encode(String($0)) }
        text += segments.joined(separator: "/")
        return URL(string: text)!
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "."):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// A request of `url`, with basic auth when the URL had credentials.
    func makeRequest(_ url: URL) throws -> HTTPRequest {
        var request = HTTPRequest(url: url)
        if let user = location.username {
            let token = Data("\(user):\(location.password ?? "")".utf8).base64EncodedString()
            request.setValue("Basic \(token)", forHTTPHeaderField: "Authorization")
        }
        return request
    }

    /// What an answer other than a 2xx means: a redirect refused, a retry (5xx, 429, 408), or the
    /// server's error in its words (an HTML page's title, else the start of the body).
    func judge(_ answer: HTTPAnswer, what: String, listing: Bool) -> AnswerJudgement {
        if (300..<400).contains(answer.status) && answer.status != 304 { return .fail(transport.refusedRedirect(answer, what: what)) }
        let words = "HTTP \(answer.status)" + (Self.words(answer.body).map { " \($0)" } ?? "")
        if answer.status >= 500 || answer.status == 429 || answer.status == 408 { return .retry(words) }
        let server = "server \(location.endpoint.absoluteString)"
        switch answer.status {
        case 404 where listing:
            return .fail(LiteProofError(.usage, "cannot \(what): the \(server) answered \(words)"))
        case 404:
            return .fail(LiteProofError(.storage(.missing), "cannot \(what): the \(server) answered \(words) (the file is gone since the listing)"))
        case 401, 403:
            let who =
                location.username.map { "the server refused user \($0)" }
                ?? "no credentials were given: put them in the URL (\(location.scheme)://USER:PASSWORD@\(location.host)/…)"
            return .fail(LiteProofError(.storage(.permission), "cannot \(what): the \(server) answered \(words) (\(who))"))
        case 405,
            501 where listing:
            return .fail(
                LiteProofError(.storage(.transfer), "cannot \(what): the \(server) answered \(words) to PROPFIND (is it a WebDAV server?)"))
        default:
            return .fail(LiteProofError(.storage(.transfer), "cannot \(what): the \(server) answered \(words)"))
        }
    }

    /// The server's words in an error body: an HTML page's `<title>`, else its first 200
    /// characters, whitespace collapsed, control characters escaped; nil for an empty body.
    static func words(_ body: Data) -> String? {
        var text = String(decoding: body.prefix(4096), as: UTF8.self)
        if let open = text.range(of: "<title>", options: .caseInsensitive),
            let close = text.range(of: "</title>", options: .caseInsensitive, range: open.upperBound..<text.endIndex)
        {
            text = String(text[open.upperBound..<close.lowerBound])
        }
        let collapsed = text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return collapsed.isEmpty ? nil : ListingReader.printable(String(collapsed.prefix(200)))
    }
}
