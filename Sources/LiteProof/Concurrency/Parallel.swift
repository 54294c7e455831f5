import Foundation

/// Runs `body` over `items` on all cores, results in input order. The workers are threads of
/// their own (joined before returning), not Dispatch's shared pool: a body that waits on the
/// network (an S3 read) would otherwise hold the pool's threads while whatever delivers the
/// reply needs one of them, and every such wait would last until Dispatch added a thread.
func parallelMap<T, R>(_ items: [T], _ body: (T) throws -> R) rethrows -> [R] {
    if items.count <= 1 { return try items.map(body) }
    let results = UnsafeMutableBufferPointer<Result<R, Error>?>.allocate(capacity: items.count)
    results.initialize(repeating: nil)
    defer { results.deinitialize(); results.deallocate() }
    try withoutActuallyEscaping(body) { body in
        // The workers share the inputs, the body and the result slots; each slot is written by
        // exactly one worker (the counter hands out each index once) and read after all finish.
        let shared = UncheckedSendable((items: items, body: body, results: results))
        let next = Locked(0)
        let workers = min(items.count, ProcessInfo.processInfo.activeProcessorCount)
        JoinableThread.runAll(workers) {
            let (items, body, results) = shared.value
            while true {
                let i = next.increment()
                if i >= items.count { break }
                results[i] = Result { try body(items[i]) }
            }
        }
        _ = try results.map { try $0!.get() }
    }
    return try results.map { try $0!.get() }
}

/// Carries a value across a concurrency boundary where the caller guarantees exclusive use
/// (each worker touches disjoint parts, and the owner waits for all of them).
// @unchecked: the caller guarantees exclusive use (see above).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
