import Foundation
import LiteProof

#if canImport(FoundationNetworking)
    @preconcurrency import FoundationNetworking
#endif

/// One HTTP exchange in progress, filled in by ``TransferDelegate`` on the session's queue and
/// watched by the requesting thread (``HTTPTransport``), which cancels it past the policy's
/// bounds. A 2xx body goes to `file` (or memory when there is none) and never past `bodyLimit`
/// bytes; any other answer's body is kept in memory, at most `memoryLimit` bytes.
// @unchecked: its mutable state takes `lock`; the session's delegate queue and the waiting thread share it.
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

    package let lock = NSLock()
    package let done = DispatchSemaphore(value: 0)
    package let file: OutputFile?
    package let bodyLimit: Int64
    package let memoryLimit: Int
    package var response: HTTPURLResponse?
    package var body = Data()
    package var written: Int64 = 0
    /// Body bytes received (any status).
    package var received: Int64 = 0
    package var abort: Abort?
    package var error: Error?
    package var redirect: String?
    /// The server answered 401 with a challenge (`WWW-Authenticate: Basic …`), declined here:
    /// `response` is that 401.
    package var challenged = false
    private var finished = false

    /// Wakes the requesting thread, once: at completion, or as soon as the exchange is cut short
    /// (a cancelled task may take a while to complete; its later bytes are dropped).
    package func finish() {
        lock.lock()
        let first = !finished
        finished = true
        lock.unlock()
        if first { done.signal() }
    }

    package init(file: OutputFile?, bodyLimit: Int64, memoryLimit: Int) {
        self.file = file
        self.bodyLimit = bodyLimit
        self.memoryLimit = memoryLimit
    }

    package var succeeded: Bool { response.map { (200..<300).contains($0.statusCode) } ?? false }

    /// Records why the exchange is cut short (the first reason wins); true if it is the first.
    @discardableResult
    package func cut(_ reason: Abort) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if abort != nil { return false }
        abort = reason
        return true
    }

    /// Takes bytes of the body; false when the exchange must stop (``abort`` says why).
    package func take(_ data: Data) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard abort == nil else { return false }
        received += Int64(data.count)
        if succeeded, let file {
            if written + Int64(data.count) > bodyLimit {
                abort = .tooLong("the body runs past \(bodyLimit) bytes, the size the listing gives")
                return false
            }
            do {
                try data.withUnsafeBytes { try file.write($0, at: written) }
            } catch {
                abort = .local(error)
                return false
            }
            written += Int64(data.count)
        } else {
            let limit = succeeded ? Int(clamping: bodyLimit) : memoryLimit
            if body.count + data.count > limit {
                abort = .tooLong("the answer runs past \(limit) bytes")
                return false
            }
            body.append(data)
        }
        return true
    }
}

/// The session delegate: routes each task's callbacks to its ``Transfer``, streams bodies, checks
/// Content-Length against the limit before a byte of the body is read, and never follows a
/// redirect (the 3xx answer itself comes back, and the client refuses it, named): a redirect
/// would carry the request's credentials (a signature, a token) to whatever origin the server names.
// @unchecked: an NSObject subclass (not checkable); its task table takes `lock`.
package final class TransferDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var transfers: [Int: Transfer] = [:]

    package func register(_ task: URLSessionTask, _ transfer: Transfer) {
        lock.lock()
        transfers[task.taskIdentifier] = transfer
        lock.unlock()
    }

    package func forget(_ task: URLSessionTask) {
        lock.lock()
        transfers[task.taskIdentifier] = nil
        lock.unlock()
    }

    private func transfer(_ task: URLSessionTask) -> Transfer? {
        lock.lock()
        defer { lock.unlock() }
        return transfers[task.taskIdentifier]
    }

    package func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        guard let t = transfer(dataTask) else { return completionHandler(.cancel) }
        let http = response as? HTTPURLResponse
        t.lock.lock()
        t.response = http
        let declared = http?.value(forHTTPHeaderField: "Content-Length").flatMap { Int64($0) }
        if let http, (200..<300).contains(http.statusCode), let declared, declared > t.bodyLimit {
            t.abort = .tooLong("the server announces \(declared) bytes (Content-Length), more than the \(t.bodyLimit) the listing gives")
        }
        let go = t.abort == nil
        t.lock.unlock()
        completionHandler(go ? .allow : .cancel)
        if !go {
            dataTask.suspend()
            dataTask.cancel()
            t.finish()
        }
    }

    package func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let t = transfer(dataTask) else { return dataTask.cancel() }
        if !t.take(data) {
            dataTask.suspend()
            dataTask.cancel()
            t.finish()
        }
    }

    package func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        if let t = transfer(task) {
            t.lock.lock()
            t.redirect = request.url?.absoluteString ?? response.value(forHTTPHeaderField: "Location") ?? "?"
            t.lock.unlock()
        }
        completionHandler(nil)
    }

    /// A 401 with a challenge: declined (each request carries its own credentials, so a
    /// challenge means the server refused them), its 401 kept as the answer. Without this,
    /// FoundationNetworking left the task waiting on a challenge nobody answers until the speed
    /// floor cut it, attempt after attempt (WebDAV servers send `WWW-Authenticate: Basic`).
    package func urlSession(
        _ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
        completionHandler: @escaping @Sendable (URLSession.AuthChallengeDisposition, URLCredential?) -> Void
    ) {
        if let t = transfer(task), let failure = challenge.failureResponse as? HTTPURLResponse {
            t.lock.lock()
            if t.response == nil { t.response = failure }
            t.challenged = true
            t.lock.unlock()
        }
        completionHandler(.cancelAuthenticationChallenge, nil)
    }

    package func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let t = transfer(task) else { return }
        t.lock.lock()
        t.error = error
        t.lock.unlock()
        t.finish()
    }
}

/// The origin (scheme, host, port) of a URL, for telling a redirect elsewhere apart.
package func origin(_ url: URL?) -> String {
    guard let url else { return "?" }
    let scheme = url.scheme?.lowercased() ?? "?"
    let port = url.port ?? (scheme == "https" ? 443 : 80)
    return "\(scheme)://\(url.host?.lowercased() ?? "?"):\(port)"
}
