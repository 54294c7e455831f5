import Foundation

/// Progress of long work, reported to an optional observer (the CLI draws it on a terminal).
public struct Progress: Sendable {
    public var phase: String
    public var done: Int64
    public var total: Int64
}

public typealias ProgressHandler = @Sendable (Progress) -> Void

/// Thread-safe accumulation of bytes done for progress reports.
final class ProgressMeter: @unchecked Sendable {
    private let lock = NSLock()
    private var done: Int64 = 0
    private var lastReport: Double = 0
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
        lock.lock()
        done += n
        let now = Date().timeIntervalSince1970
        let report = now - lastReport > 0.1 || done >= total
        if report { lastReport = now }
        let d = done
        lock.unlock()
        if report { handler(Progress(phase: phase, done: d, total: total)) }
    }
}
