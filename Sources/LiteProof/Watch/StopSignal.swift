import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// SIGTERM and SIGINT as a request to stop: the handler only writes a byte to a pipe
/// (async-signal-safe); the watcher checks ``stopRequested`` between rounds and sleeps with
/// ``wait(seconds:)``, which returns as soon as a signal arrives, so a stop never waits for the
/// interval. The round under way (and its state write) finishes first.
///
/// Installed for the process once; it replaces the default action of both signals (so
/// ``ScratchSpace`` leaves them alone, and its recorded paths go at the normal exit).
///
/// SIGHUP, once ``handleReload()`` is called, is a request to re-read the configuration: it
/// wakes ``wait(seconds:)`` early (returning false) and sets ``takeReload()``'s flag.
public final class StopSignal: Sendable {
    public static let signals: [Int32] = [SIGTERM, SIGINT]
    private let readEnd: Int32
    private let stopped = Locked(false)
    private let reload = Locked(false)
    private let reloadInstalled = Locked(false)

    /// Installs the handlers (once per process; later calls return the same instance).
    public static func install() -> StopSignal { shared }

    private static let shared: StopSignal = {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { preconditionFailure("cannot make the signal pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        stopSignalPipe = fds[1]
        for sig in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = stopSignalHandler
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
        // A parent may start us with the signals blocked (Foundation's Process does): unblock
        // them on this thread, so they are delivered rather than left pending.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for sig in signals { sigaddset(&unblock, sig) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        return StopSignal(readEnd: fds[0])
    }()

    private init(readEnd: Int32) { self.readEnd = readEnd }

    /// Makes SIGHUP a request to reload (see the type's summary) instead of its default action,
    /// which ends the process. Idempotent.
    public func handleReload() {
        let first = reloadInstalled.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = stopSignalHandler
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGHUP, &action, nil)
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }

    /// Whether SIGHUP arrived since the last call (and clears it).
    public func takeReload() -> Bool {
        _ = stopRequested  // drains the pipe, so a SIGHUP written to it is seen
        return reload.withLock { r in
            defer { r = false }
            return r
        }
    }

    /// Whether SIGTERM or SIGINT has arrived.
    public var stopRequested: Bool {
        if stopped.current { return true }
        return wait(seconds: 0)
    }

    /// Sleeps up to `seconds`; returns true at once when a stop was requested (before or during),
    /// false early when a reload was (SIGHUP, with ``handleReload()``).
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        if stopped.current { return true }
        let deadline = Date().addingTimeInterval(max(0, seconds))
        while true {
            let left = deadline.timeIntervalSinceNow
            var p = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let n = poll(&p, 1, Int32(max(0, min(left, 3600)) * 1000))
            if n > 0 {
                var byte: UInt8 = 0
                var stop = false
                var hup = false
                while read(readEnd, &byte, 1) == 1 {
                    if Int32(byte) == SIGHUP { hup = true } else { stop = true }
                }
                if hup { reload.withLock { $0 = true } }
                if stop {
                    stopped.withLock { $0 = true }
                    return true
                }
                if hup { return false }
            }
            if n < 0 && errno != EINTR { return false }
            if deadline.timeIntervalSinceNow <= 0 { return false }
        }
    }
}

/// Write end of the stop pipe (set once, before the handlers are installed).
// nonisolated(unsafe): written once before the handler is installed, then only read.
nonisolated(unsafe) private var stopSignalPipe: Int32 = -1

/// Async-signal-safe: writes one byte to the stop pipe.
private func stopSignalHandler(_ sig: Int32) {
    var byte = UInt8(truncatingIfNeeded: sig)
    _ = write(stopSignalPipe, &byte, 1)
}
