import AsyncHTTPClient
import Foundation
import LiteProof
import LiteProofStoreAnswers

/// An answer to one request: its status, headers (names in lower case) and body.
package struct HTTPAnswer: Sendable {
    package var status: Int
    package var headers: [String: String]
    /// The body (answers in memory: listings, error answers; a download's body is in its file).
    package var body: Data
    /// Body bytes written to the destination file.
    package var written: Int64 = 0
    package var contentLength: Int64? { headers["content-length"].flatMap { Int64($0) } }

    package init(status: Int, headers: [String: String], body: Data, written: Int64 = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.written = written
    }
}

/// A failure worth another attempt (5xx, throttling, a dropped connection, a short body).
package struct Retryable: Error {
    package var message: String
    /// No complete answer came (refused, dropped, stalled, too slow): counts against the
    /// endpoint (``EndpointHealth``).
    package var transport = false
    /// The request's deadline passed: no further attempt.
    package var final = false
    /// The answer is refused (a body longer than the listing says): no further attempt, and
    /// the message is the error's.
    package var refused = false

    package init(message: String, transport: Bool = false, final: Bool = false, refused: Bool = false) {
        self.message = message
        self.transport = transport
        self.final = final
        self.refused = refused
    }
}

/// What a back end makes of an answer that is not a 2xx: try again, or fail with its own words.
package enum AnswerJudgement {
    case retry(String)
    case fail(LiteProofError)
}

/// The HTTP side every object-store back end shares: requests under a ``TransferPolicy``
/// (attempts with backoff, a deadline, a speed floor, an endpoint given up after failures in a
/// row), bodies streamed with backpressure and never past their limit, redirects never
/// followed, and whole or ranged downloads into scratch files. A back end says how to make (sign)
/// a request and what an error answer means.
///
/// Over async-http-client (SwiftNIO, TLS by swift-nio-ssl), shared by every transport of the
/// process (``HTTPClients``). The library reads replicas on plain threads with synchronous file
/// I/O, so the requesting thread waits for each exchange while the event loop writes each body
/// part before it reads the next (``Transfer``): memory stays bounded however fast or long an
/// answer is (FoundationNetworking's URLSession, used before, queued whatever the network
/// delivered, up to gigabytes, before its delegate could refuse it, and could neither turn
/// certificate verification off nor honour `SSL_CERT_FILE`).
// @unchecked: settings are fixed before first use; the traffic counters take `trafficLock`;
// HTTPClient is thread-safe.
package final class HTTPTransport: @unchecked Sendable {
    package let policy: TransferPolicy
    /// The endpoint, as messages name it.
    package let endpoint: URL
    /// Whether the endpoint's TLS certificate is verified (`skipVerify=true` turns it off).
    package let verifyTLS: Bool
    let client: HTTPClient
    let health: EndpointHealth
    /// Attempts per request (first try included); the policy's unless changed.
    package var maxAttempts: Int
    /// First retry delay in seconds; doubled each time, with jitter, up to 5 s.
    package var baseDelay: Double
    /// Called before each request is sent (method, key).
    package var onRequest: (@Sendable (String, String) -> Void)?
    let trafficLock = NSLock()
    var trafficCount: (requests: Int, bytes: Int64) = (0, 0)

    /// A transport to `endpoint`; with `verifyTLS` false, the endpoint's certificate is not
    /// checked (Litestream's `skipVerify`), for this endpoint only.
    package init(endpoint: URL, policy: TransferPolicy, verifyTLS: Bool = true) {
        self.endpoint = endpoint
        self.policy = policy
        self.verifyTLS = verifyTLS
        maxAttempts = max(1, policy.attempts)
        baseDelay = policy.baseDelay
        health = EndpointHealth(limit: policy.endpointFailures)
        let proxy = HTTPClients.proxy(for: endpoint, environment: ProcessInfo.processInfo.environment)
        client = HTTPClients.client(.init(verify: verifyTLS, proxy: proxy))
    }

    /// Requests sent and response bytes received (bodies, error answers included).
    package var traffic: (requests: Int, bytes: Int64) {
        trafficLock.lock()
        defer { trafficLock.unlock() }
        return trafficCount
    }

    /// Sends a request under the policy. `make` builds (and signs) it for each attempt; `judge`
    /// reads an answer that is not a 2xx (never a 3xx: those are refused here, as
    /// ``refusedRedirect(_:what:)`` words it, unless `judge` fails first); `handle` reads a 2xx
    /// answer (and may throw ``Retryable``). With a `destination`, a 2xx body is streamed there
    /// (at most `bodyLimit` bytes); the file exists only after success. With a `region` instead
    /// (a ranged GET), a 206 body is written into that open file at that offset, each attempt
    /// over the same bytes, and a 200 throws ``RangeIgnored`` at its head.
    @discardableResult
    package func request<T>(
        _ method: String, label: String, what: String, destination: String? = nil, region: (file: OutputFile, at: Int64)? = nil,
        bodyLimit: Int64? = nil, extraHeaders: [(String, String)] = [], make: () throws -> HTTPRequest,
        judge: (HTTPAnswer) -> AnswerJudgement,
        _ handle: (HTTPAnswer) throws -> T
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
                    .transfer, "cannot \(what): not tried, the endpoint \(endpoint.absoluteString) stopped answering (\(dead))")
            }
            if attempt > 0 {
                let delay = min(5, baseDelay * pow(2, Double(attempt - 1))) * Double.random(in: 0.5...1.0)
                if elapsed() + delay >= policy.deadline { break }
                usleep(useconds_t(delay * 1e6))
            }
            let remaining = policy.deadline - elapsed()
            if remaining <= 0 { break }
            var request = try make()
            request.httpMethod = method
            for (name, value) in extraHeaders { request.setValue(value, forHTTPHeaderField: name) }
            onRequest?(method, label)
            tried += 1
            let answer: HTTPAnswer
            do {
                answer = try send(request, destination: destination, region: region, bodyLimit: limit, deadline: remaining)
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
            if (200..<300).contains(answer.status) {
                do {
                    let result = try handle(answer)
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
            switch judge(answer) {
            case .retry(let why): last = why
            case .fail(let error): throw error
            }
        }
        let hint =
            unreachable
            ? "; to work offline, download the replica with `liteproof fetch` on a machine that reaches the bucket and pass the folder" : ""
        throw LiteProofError.storage(
            .transfer,
            "cannot \(what) at \(endpoint.absoluteString): \(last) (gave up after \(tried) attempt\(tried == 1 ? "" : "s") in \(String(format: "%.1f", elapsed())) s\(hint))"
        )
    }

    /// A 3xx answer, refused: following it would carry the request's credentials to wherever the
    /// server points, and object stores do not redirect reads in normal operation.
    package func refusedRedirect(_ answer: HTTPAnswer, what: String) -> LiteProofError {
        let location = answer.headers["location"].map { ListingReader.printable(String($0.prefix(300))) } ?? "no Location"
        let elsewhere = answer.headers["location"].flatMap { URL(string: $0, relativeTo: endpoint) }.map { origin($0.absoluteURL) }
        let whereTo = elsewhere.map { $0 == origin(endpoint) ? "the same origin" : "another origin, \($0)" } ?? "an unreadable location"
        return LiteProofError.storage(
            .transfer,
            "cannot \(what): the server answered HTTP \(answer.status), a redirect to \(location) (\(whereTo)); LiteProof does not follow redirects, which would carry the request's credentials, and object stores do not redirect reads in normal operation"
        )
    }
}
