import Foundation

/// A thread of our own that is waited for: ``join()`` returns once the thread has ended
/// completely — its closure released with everything it captured, its thread-local destructors
/// run.
///
/// Foundation's `Thread` is detached. A worker that says "done" (a semaphore, a group) still runs
/// for a moment: it releases its closure, maybe the last reference to what the closure captured,
/// then runs its thread-local destructors (libdispatch's caches, malloc's tcache). When the
/// process exits in that moment, `exit()` runs the atexit handlers and the libraries' destructors
/// beside it. That race aborted `verify --all s3://…` about one run in ten (glibc: "unaligned
/// tcache chunk detected" at thread shutdown): a fleet worker held the last reference to the S3
/// storage, whose deinit removed the scratch folder and tore down the URL session on the dying
/// thread while the main thread was already in `exit()`. Threads joined before their starter
/// returns cannot outlive it.
// @unchecked: wraps a `pthread_t` that only `join()` uses, once.
public final class JoinableThread: @unchecked Sendable {
    #if canImport(Darwin)
        private var handle: pthread_t?
    #else
        private var handle = pthread_t()
    #endif
    private let lock = NSLock()
    private var joined = false

    /// Starts `body` on a new thread with a stack of `stackSize` bytes.
    public init(stackSize: Int = 8 << 20, _ body: @escaping @Sendable () -> Void) throws {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, max(stackSize, 64 << 10))
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        let status = pthread_create(&handle, &attributes, { JoinableThread.start($0) }, context)
        guard status == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            joined = true
            throw LiteProofError.storage(.local, "cannot start a thread: \(String(cString: strerror(status)))")
        }
    }

    /// Runs `work` on `count` threads at once and returns when every one has ended (runs it on
    /// the calling thread when none can start).
    public static func runAll(_ count: Int, stackSize: Int = 8 << 20, _ work: @escaping @Sendable () -> Void) {
        var threads: [JoinableThread] = []
        for _ in 0..<max(1, count) {
            guard let thread = try? JoinableThread(stackSize: stackSize, work) else { break }
            threads.append(thread)
        }
        if threads.isEmpty { work() }
        for thread in threads { thread.join() }
    }

    /// Waits until the thread has ended (at once if it has been joined already).
    public func join() {
        lock.lock()
        defer { lock.unlock() }
        guard !joined else { return }
        joined = true
        #if canImport(Darwin)
            pthread_join(handle!, nil)
        #else
            pthread_join(handle, nil)
        #endif
    }

    /// A thread is never left running behind the object that names it.
    deinit { join() }

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private static func start(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        guard let context else { return nil }
        // Released before the thread ends, so whatever the closure captured goes away here,
        // before `join()` returns.
        let body = Unmanaged<Body>.fromOpaque(context).takeRetainedValue()
        body.run()
        return nil
    }
}
