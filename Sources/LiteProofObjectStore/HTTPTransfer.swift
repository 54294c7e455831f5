import AsyncHTTPClient
import Foundation
import LiteProof
import NIOCore
import NIOHTTP1

/// One HTTP exchange in progress: the client's event loop hands over what arrives (through
/// ``TransferDelegate``), the requesting thread (``HTTPTransport``) takes it, watches the policy's
/// bounds and cancels past them. A 2xx body goes to `file` (or memory when there is none) and
/// never past `bodyLimit` bytes; any other answer's body is kept in memory, at most `memoryLimit`
/// bytes.
///
/// Backpressure: a body part is handed over with a promise, and the client reads the next part
/// from the connection only once the requesting thread has written this one and fulfilled the
/// promise. However fast or long a server's answer, what waits in memory is one part (NIO's read
/// buffer), not what the network delivered.
// @unchecked: what the event loop and the requesting thread share (`head`, `parts`, `ended`,
// `error`, `abandoned`) takes `lock`; the rest is the requesting thread's alone.
package final class Transfer: @unchecked Sendable {
    package enum Abort {
        /// The body runs past what the listing (or the caller) allows: refused, not retried.
        case tooLong(String)
        /// Too slow, or no answer: a failed transfer, retried.
        case tooSlow(String)
        /// The request's deadline passed: given up.
        case deadline(String)
        /// The local copy cannot be written.
        case local(Error)
    }

    /// Why a body part was not taken (the client then ends the exchange).
    struct Cut: Error {}

    private let lock = NSLock()
    /// Signalled at every event of the exchange (head, body part, end).
    package let wake = DispatchSemaphore(value: 0)
    package let file: OutputFile?
    package let bodyLimit: Int64
    package let memoryLimit: Int
    // Shared with the event loop (under `lock`).
    private var sharedHead: HTTPResponseHead?
    private var parts: [(ByteBuffer, EventLoopPromise<Void>)] = []
    private var ended = false
    private var sharedError: Error?
    private var abandoned = false
    // The requesting thread's.
    package var head: HTTPResponseHead?
    package var body = Data()
    package var written: Int64 = 0
    /// Body bytes received (any status).
    package var received: Int64 = 0
    package var abort: Abort?
    package var error: Error?
    package var complete = false

    package init(file: OutputFile?, bodyLimit: Int64, memoryLimit: Int) {
        self.file = file
        self.bodyLimit = bodyLimit
        self.memoryLimit = memoryLimit
    }

    package var status: Int? { head.map { Int($0.status.code) } }
    package var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }

    // MARK: The event loop's side

    func received(head: HTTPResponseHead) {
        lock.withLock { sharedHead = head }
        wake.signal()
    }

    /// A body part: taken by the requesting thread, which then fulfils the promise.
    func received(part: ByteBuffer, on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        let refused = lock.withLock {
            if abandoned { return true }
            parts.append((part, promise))
            return false
        }
        if refused { promise.fail(Cut()) } else { wake.signal() }
        return promise.futureResult
    }

    func ended(_ error: Error?) {
        lock.withLock {
            ended = true
            sharedError = error
        }
        wake.signal()
    }

    // MARK: The requesting thread's side

    /// Takes what arrived: the head, every body part waiting (written, or refused once the
    /// exchange must stop), the end. True when the exchange is over (complete, failed or cut).
    func collect() -> Bool {
        let (newHead, newParts, isEnded, endError) = lock.withLock {
            let taken = parts
            parts = []
            return (sharedHead, taken, ended, sharedError)
        }
        if head == nil, let newHead {
            head = newHead
            let declared = newHead.headers.first(name: "content-length").flatMap { Int64($0) }
            if succeeded, let declared, declared > bodyLimit {
                cut(.tooLong("the server announces \(declared) bytes (Content-Length), more than the \(bodyLimit) the listing gives"))
            }
        }
        for (part, promise) in newParts {
            if abort == nil && take(part) { promise.succeed(()) } else { promise.fail(Cut()) }
        }
        if isEnded {
            complete = endError == nil
            error = endError
        }
        return isEnded || abort != nil
    }

    /// No more parts are taken: any waiting (or later) part is refused.
    func abandon() {
        let waiting = lock.withLock {
            abandoned = true
            let taken = parts
            parts = []
            return taken
        }
        for (_, promise) in waiting { promise.fail(Cut()) }
    }

    /// Records why the exchange is cut short (the first reason wins).
    package func cut(_ reason: Abort) {
        if abort == nil { abort = reason }
    }

    /// Takes bytes of the body; false when the exchange must stop (``abort`` says why).
    private func take(_ part: ByteBuffer) -> Bool {
        let count = part.readableBytes
        received += Int64(count)
        if succeeded, let file {
            if written + Int64(count) > bodyLimit {
                cut(.tooLong("the body runs past \(bodyLimit) bytes, the size the listing gives"))
                return false
            }
            do {
                try part.withUnsafeReadableBytes { try file.write($0, at: written) }
            } catch {
                cut(.local(error))
                return false
            }
            written += Int64(count)
        } else {
            let limit = succeeded ? Int(clamping: bodyLimit) : memoryLimit
            if body.count + count > limit {
                cut(.tooLong("the answer runs past \(limit) bytes"))
                return false
            }
            part.withUnsafeReadableBytes { body.append(contentsOf: $0) }
        }
        return true
    }
}

/// The client's delegate for one exchange: hands the head, each body part and the end to the
/// ``Transfer`` (a part's future completes once the requesting thread has taken it).
/// Redirects and 401 challenges are not this delegate's concern: the clients never follow a
/// redirect nor answer a challenge (``HTTPClients``), so the 3xx or 401 comes back as the answer.
final class TransferDelegate: HTTPClientResponseDelegate, Sendable {
    typealias Response = Void
    let transfer: Transfer

    init(transfer: Transfer) { self.transfer = transfer }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        transfer.received(head: head)
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        transfer.received(part: buffer, on: task.eventLoop)
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: Error) { transfer.ended(error) }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws { transfer.ended(nil) }
}

/// The origin (scheme, host, port) of a URL, for telling a redirect elsewhere apart.
package func origin(_ url: URL?) -> String {
    guard let url else { return "?" }
    let scheme = url.scheme?.lowercased() ?? "?"
    let port = url.port ?? (scheme == "https" ? 443 : 80)
    return "\(scheme)://\(url.host?.lowercased() ?? "?"):\(port)"
}
