import Foundation

/// A value shared between threads behind a lock.
// @unchecked: every access to `value` holds `lock`; Synchronization's Mutex needs macOS 15 (we support 13).
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    @discardableResult func update<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// The current value (a copy).
    var current: T { update { $0 } }
}

/// A one-way switch a thread can poll: off until `set()`.
struct Flag: Sendable {
    private let state = Locked(false)
    var isSet: Bool { state.current }
    func set() { state.update { $0 = true } }
}
