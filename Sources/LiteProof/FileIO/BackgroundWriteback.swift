import Foundation

/// Starts writeback of ranges of an output file from a thread of its own (``OutputFile/startWriteback(_:)``):
/// `sync_file_range` submits the pages on the calling thread, so a caller that is the bottleneck
/// of its work hands the ranges here instead. A hint only: nothing waits for it, and errors
/// surface at the file's fsync. Without a thread (none could start) it does nothing.
// @unchecked: the range queue and the stop flag take `condition`; the output file is Sendable.
final class BackgroundWriteback: @unchecked Sendable {
    private let out: OutputFile
    private let condition = NSCondition()
    private var ranges: [Range<Int64>] = []
    private var stopping = false
    private var thread: JoinableThread?
    /// Ranges started by every instance so far (for tests).
    static var rangesStarted: Int { counter.current }
    private static let counter = Locked(0)

    init(_ out: OutputFile) {
        self.out = out
        thread = try? JoinableThread(stackSize: 256 << 10) { [unowned self] in self.run() }
    }

    deinit { stop() }

    private func run() {
        condition.lock()
        while true {
            while ranges.isEmpty && !stopping { condition.wait() }
            guard !ranges.isEmpty else { break }
            let range = ranges.removeFirst()
            condition.unlock()
            out.startWriteback(range)
            Self.counter.withLock { $0 += 1 }
            condition.lock()
        }
        condition.unlock()
    }

    /// Queues `range` (returns at once).
    func start(_ range: Range<Int64>) {
        guard thread != nil, !range.isEmpty else { return }
        condition.lock()
        ranges.append(range)
        condition.signal()
        condition.unlock()
    }

    /// Starts what is still queued (the fsync that follows would write it anyway), then ends the
    /// thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        thread?.join()
        thread = nil
    }
}
