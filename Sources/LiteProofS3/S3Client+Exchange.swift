import Foundation
import LiteProof

#if canImport(FoundationNetworking)
    @preconcurrency import FoundationNetworking
#endif

// One watched HTTP exchange of ``S3Client``: signed, streamed by ``TransferDelegate``, cancelled
// past the ``TransferPolicy``'s bounds.

extension S3Client {
    /// One HTTP exchange, watched: cancelled when nothing (or too little) arrives within the
    /// policy's window or `deadline` seconds pass. Transport failures come back as ``Retryable``.
    /// `extraHeaders` are sent unsigned (SigV4 signs only the headers it lists; `Range` need not
    /// be among them).
    func send(
        _ method: String, key: String?, query: [(String, String)], destination: String?, bodyLimit: Int64, deadline: TimeInterval,
        extraHeaders: [(String, String)] = []
    ) throws -> Response {
        let (url, host, path) = target(key: key, query: query)
        var request = URLRequest(url: url)
        request.httpMethod = method
        var headers: [(String, String)] = [("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)]
        if let credentials = config.credentials {
            let signed = SigV4Signer(credentials: credentials, region: config.region)
                .sign(method: method, host: host, path: path, query: query, headers: headers, date: Date(), encodedPath: true)
            headers += signed.headers
        } else {
            headers = []
        }
        for (name, value) in headers + extraHeaders { request.setValue(value, forHTTPHeaderField: name) }

        var file: OutputFile?
        if let destination {
            FS.remove(destination)
            do {
                file = try ScratchSpace.createFile(destination, mode: 0o600)
            } catch {
                throw LiteProofError(wrapping: error)
            }
        }
        let transfer = Transfer(file: file, bodyLimit: bodyLimit, memoryLimit: policy.maxAnswerBytes)
        let task = session.dataTask(with: request)
        delegate.register(task, transfer)
        defer { delegate.forget(task) }
        task.resume()
        watch(transfer, task, deadline: deadline)
        file = nil

        transfer.lock.lock()
        let (response, body, written, received, abort, error, redirectTo) = (
            transfer.response, transfer.body, transfer.written, transfer.received, transfer.abort, transfer.error, transfer.redirect
        )
        transfer.lock.unlock()
        trafficLock.lock()
        trafficCount.requests += 1
        trafficCount.bytes += received
        trafficLock.unlock()
        let failed = abort != nil || (error != nil && redirectTo == nil) || response == nil
        if failed, let destination { ScratchSpace.release(destination) }
        let name = "\(method) \(url.absoluteString)"
        switch abort {
        case .tooLong(let why)?:
            throw Retryable(message: "\(name): \(why); refused", refused: true)
        case .tooSlow(let why)?:
            throw Retryable(message: "\(name): \(why)", transport: true)
        case .deadline(let why)?:
            throw Retryable(message: "\(name): \(why)", transport: true, final: true)
        case .local(let e)?:
            throw LiteProofError(wrapping: e)
        case nil:
            break
        }
        guard let http = response else {
            throw Retryable(message: "\(name): \(error?.localizedDescription ?? "no HTTP response")", transport: true)
        }
        if let error, redirectTo == nil || !(300..<400).contains(http.statusCode) {
            throw Retryable(message: "\(name): \(error.localizedDescription) after \(received) bytes", transport: true)
        }
        var lower: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { lower[k.lowercased()] = v }
        }
        if let redirectTo, lower["location"] == nil { lower["location"] = redirectTo }
        return Response(status: http.statusCode, headers: lower, body: body, written: written)
    }

    /// Waits for `transfer` to finish, cancelling it when the policy's bounds pass: no answer or
    /// fewer than `minSpeed × window` bytes within any window, or the deadline.
    private func watch(_ transfer: Transfer, _ task: URLSessionTask, deadline: TimeInterval) {
        let start = Date()
        var windowStart = start
        var windowBytes: Int64 = 0
        var answered = false
        let tick = min(0.1, policy.window / 4)
        while transfer.done.wait(timeout: .now() + tick) == .timedOut {
            let now = Date()
            transfer.lock.lock()
            let hasResponse = transfer.response != nil
            let received = transfer.received
            let aborted = transfer.abort != nil
            transfer.lock.unlock()
            if aborted {
                // Cut short by the delegate: its bytes are no longer taken.
                task.cancel()
                return
            }
            if hasResponse && !answered {
                // The body's first window starts with the answer.
                answered = true
                windowStart = now
                windowBytes = received
            }
            var reason: Transfer.Abort?
            if now.timeIntervalSince(start) >= deadline {
                reason = .deadline(
                    "the object's deadline of \(Self.seconds(policy.deadline)) passed (LITEPROOF_S3_DEADLINE), \(received) bytes into this attempt")
            } else if now.timeIntervalSince(windowStart) >= policy.window {
                let got = received - windowBytes
                if !hasResponse {
                    reason = .tooSlow("no answer within \(Self.seconds(policy.window)) (LITEPROOF_S3_STALL)")
                } else if Double(got) < policy.minSpeed * policy.window {
                    reason = .tooSlow(
                        "\(got) bytes in \(Self.seconds(policy.window)), under the floor of \(Int(policy.minSpeed)) bytes/s (LITEPROOF_S3_MIN_SPEED)")
                } else {
                    windowStart = now
                    windowBytes = received
                }
            }
            if let reason, transfer.cut(reason) {
                // A cancelled task may take a while to complete: not waited for (its later
                // bytes are dropped, and the task is forgotten).
                task.cancel()
                return
            }
        }
    }

    static func seconds(_ s: Double) -> String { s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s) }
}
