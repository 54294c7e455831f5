import Foundation

/// A value behind a lock: the one box for state that threads share (as SwiftNIO's
/// `NIOLockedValueBox`). Every read and write goes through ``withLock(_:)``.
public final class Locked<Value> {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    /// Runs `body` with the value, under the lock; what `body` returns is returned.
    @discardableResult
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// A copy of the value, read under the lock.
    public var current: Value { withLock { $0 } }
}

// @unchecked: every access to `value` holds `lock`, so the box is as Sendable as its value.
extension Locked: @unchecked Sendable where Value: Sendable {}

extension Locked where Value == Int {
    /// Hands out 0, 1, 2, … to the threads that ask: a shared work index.
    func increment() -> Int {
        withLock { v in
            defer { v += 1 }
            return v
        }
    }
}
