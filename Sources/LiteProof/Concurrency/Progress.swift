import Foundation

/// Progress of long work, reported to an optional observer (the CLI draws it on a terminal).
public struct Progress: Sendable {
    public var phase: String
    public var done: Int64
    public var total: Int64
}

public typealias ProgressHandler = @Sendable (Progress) -> Void

/// Thread-safe accumulation of bytes done for progress reports.
final class ProgressMeter: Sendable {
    /// Bytes done, and when the handler was last called (seconds since the epoch).
    private let state = Locked((done: Int64(0), lastReport: 0.0))
    let total: Int64
    let phase: String
    let handler: ProgressHandler?

    init(phase: String, total: Int64, handler: ProgressHandler?) {
        self.phase = phase
        self.total = total
        self.handler = handler
    }

    func add(_ n: Int64) {
        guard let handler else { return }
        let now = Date().timeIntervalSince1970
        let report: Int64? = state.withLock { s in
            s.done += n
            guard now - s.lastReport > 0.1 || s.done >= total else { return nil }
            s.lastReport = now
            return s.done
        }
        if let done = report { handler(Progress(phase: phase, done: done, total: total)) }
    }
}
