import Foundation

/// A mutex with two condition variables (Foundation's `NSCondition` has one per lock).
// @unchecked: pthread primitives, made for use from several threads.
final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let reader = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let workers = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(reader, nil)
        pthread_cond_init(workers, nil)
    }

    deinit {
        pthread_cond_destroy(workers)
        pthread_cond_destroy(reader)
        pthread_mutex_destroy(mutex)
        workers.deallocate()
        reader.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func wait(_ condition: UnsafeMutablePointer<pthread_cond_t>) { pthread_cond_wait(condition, mutex) }
    func signal(_ condition: UnsafeMutablePointer<pthread_cond_t>) { pthread_cond_signal(condition) }
    func broadcast(_ condition: UnsafeMutablePointer<pthread_cond_t>) { pthread_cond_broadcast(condition) }
}
