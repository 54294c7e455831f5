import Foundation
import LiteProof

#if canImport(FoundationNetworking)
    @preconcurrency import FoundationNetworking
#endif

// One watched HTTP exchange of ``HTTPTransport`` (streamed by ``TransferDelegate``, cancelled past
// the ``TransferPolicy``'s bounds), and the whole and ranged downloads built on it.

extension HTTPTransport {
    /// Downloads an object into `destination` (replaced), streaming to disk, the file private
    /// (0600) and removed on every failure (and at exit or on a signal while it is being
    /// written). With `expectedSize` (the listing's), no more than that is read: a longer body is
    /// refused, a shorter one retried, then refused.
    package func download(
        label: String, what: String, to destination: String, expectedSize: Int64?, make: () throws -> URLRequest,
        judge: (HTTPAnswer) -> AnswerJudgement
    ) throws {
        try request(
            "GET", label: label, what: what, destination: destination, bodyLimit: expectedSize ?? Int64.max, make: make, judge: judge
        ) { answer in
            let got = answer.written
            if let declared = answer.contentLength, declared != got {
                throw Retryable(message: "the connection ended after \(got) of \(declared) bytes", transport: true)
            }
            if let expectedSize, got != expectedSize {
                throw Retryable(message: "the server sent \(got) bytes, the listing says the object has \(expectedSize)")
            }
        }
    }

    /// Downloads `length` bytes at `offset` of an object of `objectSize` bytes (as listed) into
    /// `destination` with a `Range:` GET. Returns true when the server sent the whole object
    /// instead (200 to a ranged request, as some servers answer), false for the range alone
    /// (206). A body of another length than asked is retried, then refused.
    package func download(
        label: String, what: String, range offset: Int64, length: Int64, objectSize: Int64, to destination: String,
        make: () throws -> URLRequest, judge: (HTTPAnswer) -> AnswerJudgement
    ) throws -> Bool {
        precondition(offset >= 0 && length > 0 && offset + length <= objectSize)
        let header = ("Range", "bytes=\(offset)-\(offset + length - 1)")
        return try request(
            "GET", label: label, what: what, destination: destination, bodyLimit: objectSize, extraHeaders: [header], make: make,
            judge: judge
        ) { answer in
            let got = answer.written
            switch answer.status {
            case 206:
                // `bytes FIRST-LAST/TOTAL`: the range must be the one asked for.
                let expected = "bytes \(offset)-\(offset + length - 1)/"
                if let range = answer.headers["content-range"], !range.hasPrefix(expected) {
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
                throw LiteProofError.storage(.transfer, "cannot \(what): HTTP \(answer.status) to a ranged GET")
            }
        }
    }

    /// One HTTP exchange, watched: cancelled when nothing (or too little) arrives within the
    /// policy's window or `deadline` seconds pass. Transport failures come back as ``Retryable``.
    func send(_ request: URLRequest, destination: String?, bodyLimit: Int64, deadline: TimeInterval) throws -> HTTPAnswer {
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
        let challenged = transfer.challenged
        transfer.lock.unlock()
        trafficLock.lock()
        trafficCount.requests += 1
        trafficCount.bytes += received
        trafficLock.unlock()
        // A declined redirect or challenge ends in an error, with the 3xx or 401 as the answer.
        let answered = redirectTo != nil || challenged
        let failed = abort != nil || (error != nil && !answered) || response == nil
        if failed, let destination { ScratchSpace.release(destination) }
        let name = "\(request.httpMethod ?? "GET") \(request.url?.absoluteString ?? "?")"
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
        if let error, !(redirectTo != nil && (300..<400).contains(http.statusCode)) && !(challenged && http.statusCode == 401) {
            throw Retryable(message: "\(name): \(error.localizedDescription) after \(received) bytes", transport: true)
        }
        var lower: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { lower[k.lowercased()] = v }
        }
        if let redirectTo, lower["location"] == nil { lower["location"] = redirectTo }
        return HTTPAnswer(status: http.statusCode, headers: lower, body: body, written: written)
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
                // Cut short by the delegate, which suspends and cancels the task itself and then
                // calls `finish()`: not cancelled here too. A cancel from this thread could run
                // between the delegate's suspend and the stop it queues, and FoundationNetworking
                // traps there (`_NativeProtocol.stopLoading` with no error yet on a cancelling
                // task), as a multistatus that never ends showed.
                continue
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

    package static func seconds(_ s: Double) -> String { s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s) }
}
