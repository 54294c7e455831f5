import AsyncHTTPClient
import Foundation
import LiteProof
import NIOCore
import NIOHTTP1

/// One HTTP exchange in progress: the client's event loop takes each body part as it arrives,
/// the requesting thread (``HTTPTransport``) waits for the end, watches the policy's bounds and
/// cancels past them. A 2xx body goes to `file` at `base` (or memory when there is none) and
/// never past `bodyLimit` bytes; any other answer's body is kept in memory, at most `memoryLimit`
/// bytes. A ranged read into its place in a shared file (`rangeOnly`) takes a 206 body only: a
/// 200 (the server sent the whole object) is cut at its head, before a byte lands in the file.
///
/// Backpressure: the event loop writes each part before it reads the next from the connection
/// (the part's future is already complete when handed back), so however fast or long a server's
/// answer, what waits in memory is one part (NIO's read buffer), not what the network delivered.
/// The parts are written on the event loop, not handed to the requesting thread: a handover per
/// part cost two thread wake-ups per 64 KiB read, a sixth of a restore's CPU time from S3. The
/// requesting thread is woken only by the head, the end, and a refusal.
// @unchecked: what the event loop and the requesting thread share (`shared`) takes `lock`; the
// file is written by the event loop alone, and its `written` count is final once `ended` is set.
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
        /// A ranged read was answered with the whole object (200), refused at its head.
        case wholeInstead
    }

    /// Why a body part was not taken (the client then ends the exchange).
    struct Cut: Error {}

    /// What the event loop and the requesting thread share.
    private struct Shared {
        var head: HTTPResponseHead?
        var succeeded = false
        var body = Data()
        var written: Int64 = 0
        var received: Int64 = 0
        var ended = false
        var error: Error?
        /// The first reason the exchange stops, from either side.
        var abort: Abort?
        /// The requesting thread has stopped waiting: later parts are refused.
        var abandoned = false
        /// The event loop is writing a part into the file (outside the lock).
        var writing = false
    }

    private let lock = NSLock()
    private var shared = Shared()
    /// Signalled at the head, the end, and when the event loop refuses a part.
    package let wake = DispatchSemaphore(value: 0)
    package let file: OutputFile?
    /// Where the body's first byte goes in `file`.
    package let base: Int64
    /// Only a 206 body is taken (see the type's comment).
    package let rangeOnly: Bool
    package let bodyLimit: Int64
    package let memoryLimit: Int
    // The requesting thread's copies, as of its last ``collect()``.
    package var head: HTTPResponseHead?
    package var body = Data()
    package var written: Int64 = 0
    /// Body bytes received (any status).
    package var received: Int64 = 0
    package var abort: Abort?
    package var error: Error?
    package var complete = false

    package init(file: OutputFile?, at base: Int64 = 0, rangeOnly: Bool = false, bodyLimit: Int64, memoryLimit: Int) {
        self.file = file
        self.base = base
        self.rangeOnly = rangeOnly
        self.bodyLimit = bodyLimit
        self.memoryLimit = memoryLimit
    }

    package var status: Int? { head.map { Int($0.status.code) } }

    /// What `bodyLimit` is, for a refusal.
    private var limitWords: String {
        rangeOnly ? "the \(bodyLimit) bytes of the range asked for" : "the \(bodyLimit) bytes the listing gives"
    }

    // MARK: The event loop's side

    func received(head: HTTPResponseHead) {
        lock.withLock {
            shared.head = head
            shared.succeeded = (200..<300).contains(Int(head.status.code))
            let declared = head.headers.first(name: "content-length").flatMap { Int64($0) }
            if shared.succeeded, rangeOnly, head.status.code != 206, shared.abort == nil {
                shared.abort = .wholeInstead
            }
            if shared.succeeded, let declared, declared > bodyLimit, shared.abort == nil {
                shared.abort = .tooLong("the server announces \(declared) bytes (Content-Length), more than \(limitWords)")
            }
        }
        wake.signal()
    }

    /// A body part, written (or kept) before the future is handed back; a failed future ends
    /// the exchange (the exchange was cut, or the part runs past its limit or cannot be written).
    func received(part: ByteBuffer, on loop: EventLoop) -> EventLoopFuture<Void> {
        if take(part) { return loop.makeSucceededVoidFuture() }
        wake.signal()
        return loop.makeFailedFuture(Cut())
    }

    func ended(_ error: Error?) {
        lock.withLock {
            shared.ended = true
            shared.error = error
        }
        wake.signal()
    }

    /// Takes one body part on the event loop; false when the exchange must stop.
    private func take(_ part: ByteBuffer) -> Bool {
        let count = part.readableBytes
        lock.lock()
        guard shared.abort == nil, !shared.abandoned else {
            lock.unlock()
            return false
        }
        shared.received += Int64(count)
        let offset = shared.written
        guard shared.succeeded, let file else {
            let limit = shared.succeeded ? Int(clamping: bodyLimit) : memoryLimit
            let fits = shared.body.count + count <= limit
            if fits {
                part.withUnsafeReadableBytes { shared.body.append(contentsOf: $0) }
            } else {
                shared.abort = .tooLong("the answer runs past \(limit) bytes")
            }
            lock.unlock()
            return fits
        }
        if offset + Int64(count) > bodyLimit {
            shared.abort = .tooLong("the body runs past \(limitWords)")
            lock.unlock()
            return false
        }
        shared.written = offset + Int64(count)
        shared.writing = true
        lock.unlock()
        // Written outside the lock (a slow disk must not hold up the watchdog); only this
        // loop writes the file.
        do {
            try part.withUnsafeReadableBytes { try file.write($0, at: base + offset) }
            lock.withLock { shared.writing = false }
            return true
        } catch {
            lock.withLock {
                shared.writing = false
                shared.abort = shared.abort ?? .local(error)
            }
            return false
        }
    }

    // MARK: The requesting thread's side

    /// Takes what happened so far (head, counts, the end, a refusal); true when the exchange is
    /// over (complete, failed or cut).
    func collect() -> Bool {
        lock.lock()
        head = shared.head
        received = shared.received
        written = shared.written
        if abort == nil { abort = shared.abort }
        let ended = shared.ended
        if ended {
            body = shared.body
            complete = shared.error == nil
            error = shared.error
        }
        lock.unlock()
        return ended || abort != nil
    }

    /// No more parts are taken: the event loop refuses any later part, and a part it was
    /// writing is written first, so nothing of this exchange reaches the file once this returns
    /// (a retry of a ranged part writes the same bytes of a file others read).
    func abandon() {
        lock.lock()
        shared.abandoned = true
        while shared.writing {
            lock.unlock()
            usleep(200)
            lock.lock()
        }
        lock.unlock()
    }

    /// Records why the exchange is cut short (the first reason wins), and stops the event loop
    /// taking further parts.
    package func cut(_ reason: Abort) {
        if abort == nil { abort = reason }
        lock.withLock { shared.abort = shared.abort ?? reason }
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
