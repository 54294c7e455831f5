import AsyncHTTPClient
import Foundation
import LiteProof
import NIOCore
import NIOHTTP1
import NIOPosix

// One watched HTTP exchange of ``HTTPTransport`` (streamed through ``Transfer``, cancelled past
// the ``TransferPolicy``'s bounds), and the whole and ranged downloads built on it.

extension HTTPTransport {
    /// Downloads an object into `destination` (replaced), streaming to disk, the file private
    /// (0600) and removed on every failure (and at exit or on a signal while it is being
    /// written). With `expectedSize` (the listing's), no more than that is read: a longer body is
    /// refused, a shorter one retried, then refused.
    package func download(
        label: String, what: String, to destination: String, expectedSize: Int64?, make: () throws -> HTTPRequest,
        judge: (HTTPAnswer) -> AnswerJudgement
    ) throws {
        try request(
            "GET", label: label, what: what, destination: destination, bodyLimit: expectedSize ?? Int64.max, make: make, judge: judge
        ) { answer in
            try Self.checkWhole(answer, got: answer.written, expectedSize: expectedSize)
        }
    }

    /// Downloads a small object (`expectedSize` bytes, the listing's) into memory: the same
    /// exchange and checks as a download into a file, with no file made or removed (a fleet's
    /// objects are a few KiB each, and creating and removing a scratch file cost more than the
    /// transfer).
    package func bytes(
        label: String, what: String, expectedSize: Int64, make: () throws -> HTTPRequest, judge: (HTTPAnswer) -> AnswerJudgement
    ) throws -> [UInt8] {
        try request("GET", label: label, what: what, bodyLimit: expectedSize, make: make, judge: judge) { answer in
            try Self.checkWhole(answer, got: Int64(answer.body.count), expectedSize: expectedSize)
            return [UInt8](answer.body)
        }
    }

    /// A whole object's body of `got` bytes must be as long as the answer declared and the
    /// listing says; a short one is retried (then refused).
    private static func checkWhole(_ answer: HTTPAnswer, got: Int64, expectedSize: Int64?) throws {
        if let declared = answer.contentLength, declared != got {
            throw Retryable(message: "the connection ended after \(got) of \(declared) bytes", transport: true)
        }
        if let expectedSize, got != expectedSize {
            throw Retryable(message: "the server sent \(got) bytes, the listing says the object has \(expectedSize)")
        }
    }

    /// Downloads `length` bytes at `offset` of an object of `objectSize` bytes (as listed) into
    /// `destination` with a `Range:` GET. Returns true when the server sent the whole object
    /// instead (200 to a ranged request, as some servers answer), false for the range alone
    /// (206). A body of another length than asked is retried, then refused.
    package func download(
        label: String, what: String, range offset: Int64, length: Int64, objectSize: Int64, to destination: String,
        make: () throws -> HTTPRequest, judge: (HTTPAnswer) -> AnswerJudgement
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
                try Self.checkPart(answer, header: header, offset: offset, length: length)
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

    /// Downloads `length` bytes at `offset` of an object of `objectSize` bytes (as listed)
    /// straight into `file` at the same offset, with a `Range:` GET: a part of a download in
    /// parts, with no file of its own to copy from. The body must be the range asked for, no
    /// longer (refused before it reaches the neighbouring part) nor shorter (retried); a server
    /// that answers with the whole object instead throws ``RangeIgnored`` before writing a byte.
    package func download(
        label: String, what: String, range offset: Int64, length: Int64, objectSize: Int64, into file: OutputFile,
        make: () throws -> HTTPRequest, judge: (HTTPAnswer) -> AnswerJudgement
    ) throws {
        precondition(offset >= 0 && length > 0 && offset + length <= objectSize)
        let header = ("Range", "bytes=\(offset)-\(offset + length - 1)")
        try request(
            "GET", label: label, what: what, region: (file, offset), bodyLimit: length, extraHeaders: [header], make: make, judge: judge
        ) { answer in
            try Self.checkPart(answer, header: header, offset: offset, length: length)
        }
    }

    /// A 206 answer must carry the range asked for, all of it.
    private static func checkPart(_ answer: HTTPAnswer, header: (String, String), offset: Int64, length: Int64) throws {
        // `bytes FIRST-LAST/TOTAL`: the range must be the one asked for.
        let expected = "bytes \(offset)-\(offset + length - 1)/"
        if let range = answer.headers["content-range"], !range.hasPrefix(expected) {
            throw Retryable(message: "asked for \(header.1), the server sent \(range)")
        }
        if answer.written != length {
            throw Retryable(message: "the server sent \(answer.written) bytes of the \(length) asked for at offset \(offset)")
        }
    }

    /// One HTTP exchange, watched: cancelled when nothing (or too little) arrives within the
    /// policy's window or `deadline` seconds pass. Transport failures come back as ``Retryable``.
    func send(
        _ request: HTTPRequest, destination: String?, region: (file: OutputFile, at: Int64)? = nil, bodyLimit: Int64, deadline: TimeInterval
    ) throws -> HTTPAnswer {
        let method = request.httpMethod ?? "GET"
        let name = "\(method) \(request.url.absoluteString)"
        let outgoing: HTTPClient.Request
        do {
            outgoing = try Self.clientRequest(request)
        } catch {
            throw LiteProofError(.usage, "cannot send \(name): \(error)")
        }
        var file: OutputFile?
        if let destination {
            FS.remove(destination)
            do {
                file = try ScratchSpace.createFile(destination, mode: 0o600)
            } catch {
                throw LiteProofError(wrapping: error)
            }
        }
        if let region { file = region.file }
        let transfer = Transfer(
            file: file, at: region?.at ?? 0, rangeOnly: region != nil, bodyLimit: bodyLimit, memoryLimit: policy.maxAnswerBytes)
        file = nil
        // The client's own deadline only backs up the watchdog's.
        let backstop = NIODeadline.now() + .milliseconds(Int64((deadline + policy.window) * 1000))
        let task = client.execute(request: outgoing, delegate: TransferDelegate(transfer: transfer), deadline: backstop)
        watch(transfer, task, deadline: deadline)

        trafficLock.lock()
        trafficCount.requests += 1
        trafficCount.bytes += transfer.received
        trafficLock.unlock()
        let failed = transfer.abort != nil || !transfer.complete || transfer.head == nil
        if failed, let destination { ScratchSpace.release(destination) }
        switch transfer.abort {
        case .tooLong(let why)?:
            throw Retryable(message: "\(name): \(why); refused", refused: true)
        case .tooSlow(let why)?:
            throw Retryable(message: "\(name): \(why)", transport: true)
        case .deadline(let why)?:
            throw Retryable(message: "\(name): \(why)", transport: true, final: true)
        case .local(let e)?:
            throw LiteProofError(wrapping: e)
        case .wholeInstead?:
            throw RangeIgnored()
        case nil:
            break
        }
        if let error = transfer.error {
            if let refusal = TLSFailure.refusal(error, endpoint: endpoint) {
                throw Retryable(message: "\(name): \(refusal)", refused: true)
            }
            let after = transfer.head == nil ? "" : " after \(transfer.received) bytes"
            throw Retryable(message: "\(name): \(Self.describe(error))\(after)", transport: true)
        }
        guard let head = transfer.head, transfer.complete else {
            throw Retryable(message: "\(name): no HTTP response", transport: true)
        }
        var lower: [String: String] = [:]
        for (k, v) in head.headers {
            let key = k.lowercased()
            lower[key] = lower[key].map { "\($0), \(v)" } ?? v
        }
        return HTTPAnswer(status: Int(head.status.code), headers: lower, body: transfer.body, written: transfer.written)
    }

    /// The client's request for an ``HTTPRequest`` (URL, method, headers, body).
    static func clientRequest(_ request: HTTPRequest) throws -> HTTPClient.Request {
        let url = request.url
        var headers = HTTPHeaders()
        for (k, v) in request.headers { headers.add(name: k, value: v) }
        let body = request.httpBody.map { HTTPClient.Body.byteBuffer(ByteBuffer(bytes: $0)) }
        return try HTTPClient.Request(url: url, method: HTTPMethod(rawValue: request.httpMethod ?? "GET"), headers: headers, body: body)
    }

    /// A transport failure in words (the client's errors describe themselves tersely).
    static func describe(_ error: Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .remoteConnectionClosed: return "the server closed the connection"
            case .connectTimeout: return "no connection within the time allowed"
            case .readTimeout: return "nothing arrived within the time allowed"
            case .deadlineExceeded: return "the request's deadline passed"
            case .cancelled: return "cancelled"
            default: return "\(e)"
            }
        }
        if let e = error as? IOError { return "\(String(cString: strerror(e.errnoCode))) (errno \(e.errnoCode))" }
        if let e = error as? NIOConnectionError, let first = e.connectionErrors.first?.error { return describe(first) }
        return String(describing: error)
    }

    /// Waits for `transfer` to end, taking what arrives as it arrives (the body written before
    /// the next part is read), cancelling it when the policy's bounds pass: no answer or fewer
    /// than `minSpeed × window` bytes within any window, or the deadline.
    private func watch(_ transfer: Transfer, _ task: HTTPClient.Task<Void>, deadline: TimeInterval) {
        let start = Date()
        var windowStart = start
        var windowBytes: Int64 = 0
        var answered = false
        let tick = min(0.1, policy.window / 4)
        while true {
            _ = transfer.wake.wait(timeout: .now() + tick)
            if transfer.collect() {
                if transfer.abort != nil { break }
                return
            }
            let now = Date()
            let hasResponse = transfer.head != nil
            let received = transfer.received
            if hasResponse && !answered {
                // The body's first window starts with the answer.
                answered = true
                windowStart = now
                windowBytes = received
            }
            if now.timeIntervalSince(start) >= deadline {
                transfer.cut(
                    .deadline(
                        "the object's deadline of \(Self.seconds(policy.deadline)) passed (LITEPROOF_STORE_DEADLINE), \(received) bytes into this attempt"
                    ))
                break
            } else if now.timeIntervalSince(windowStart) >= policy.window {
                let got = received - windowBytes
                if !hasResponse {
                    transfer.cut(.tooSlow("no answer within \(Self.seconds(policy.window)) (LITEPROOF_STORE_STALL)"))
                    break
                } else if Double(got) < policy.minSpeed * policy.window {
                    transfer.cut(
                        .tooSlow(
                            "\(got) bytes in \(Self.seconds(policy.window)), under the floor of \(Int(policy.minSpeed)) bytes/s (LITEPROOF_STORE_MIN_SPEED)"
                        ))
                    break
                } else {
                    windowStart = now
                    windowBytes = received
                }
            }
        }
        // Cut short: later parts are refused, and the client ends the exchange (not waited for).
        transfer.abandon()
        task.cancel()
    }

    package static func seconds(_ s: Double) -> String { s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s) }
}
