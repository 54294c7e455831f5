import Foundation
import LiteProof
import LiteProofStoreAnswers

// How ``ObjectStorage`` downloads one object and records the outcome: into memory when it is
// small, else into a scratch file (whole, or in ranged parts read as they land).

extension ObjectStorage {
    /// Where a downloaded object is.
    enum LocalCopy {
        case file(String)
        /// Still downloading in parts into this file.
        case arriving(String, Arrival)
        case memory([UInt8])
    }

    /// The local copy of `path`, downloading it unless it is there or on its way; one still
    /// downloading in parts is returned at once with its ``Arrival``.
    func localCopy(_ path: String) throws -> LocalCopy {
        guard let object = object(path) else {
            throw LiteProofError.storage(.missing, "\(location)/\(path) is not in the bucket's listing")
        }
        condition.lock()
        while true {
            switch states[path] {
            case .done(let local):
                condition.unlock()
                return .file(local)
            case .held(let bytes):
                condition.unlock()
                return .memory(bytes)
            case .arriving(let local, let arrival):
                condition.unlock()
                return .arriving(local, arrival)
            case .failed(let error):
                condition.unlock()
                throw error
            case .downloading:
                condition.wait()
            case nil:
                states[path] = .downloading
                // An object that will come in parts is fetched by a thread of its own, so this
                // reader can start on it as soon as its first part lands.
                if downloadsInParts(object.size),
                    let thread = try? JoinableThread(stackSize: 512 << 10, { [unowned(unsafe) self] in self.fetchAlone(object, path) })
                {
                    threads.append(thread)
                    workers += 1
                    continue
                }
                condition.unlock()
                fetch(object, path)
                condition.lock()
            }
        }
    }

    /// ``fetch(_:_:)`` on a thread counted among the prefetch workers (which `deinit` waits for).
    func fetchAlone(_ object: RemoteObject, _ path: String) {
        fetch(object, path)
        condition.lock()
        workers -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Downloads `object` (its state claimed as `.downloading` by the caller) and records how it went.
    func fetch(_ object: RemoteObject, _ path: String) {
        let local = localName(path)
        let result: State
        do {
            if let bytes = try fetchIntoMemory(object) {
                result = .held(bytes)
            } else {
                try download(object, to: local) { arrival in
                    self.condition.lock()
                    self.states[path] = .arriving(local, arrival)
                    self.condition.broadcast()
                    self.condition.unlock()
                }
                result = .done(local)
            }
        } catch {
            result = .failed(error)
        }
        // The transport's buffers of a large object are freed: their pages go back now (for a
        // small one they are few, and trimming after each cost a fleet more than it gave back).
        if object.size > memoryObjectsUpTo { ProcessMemory.trimHeap() }
        condition.lock()
        var arrival: Arrival?
        if case .arriving(_, let a) = states[path] { arrival = a }
        states[path] = result
        if evictWhenDone.remove(path) != nil {
            states[path] = nil
            heads[path] = nil
            if case .done(let l) = result { FS.remove(l) }
            if case .held(let bytes) = result { heldBytes -= Int64(bytes.count) }
        }
        if case .failed(let error) = result {
            failed.append((path, error))
            if aheadPaths.remove(path) != nil { ahead -= object.size }
        }
        condition.broadcast()
        condition.unlock()
        // Readers waiting for bytes that never came get the failure only once ``failures``
        // holds it, so a command that ends on that error reports it as the storage's.
        if let arrival, case .failed(let error) = result { arrival.fail(error) }
    }

    /// `object` downloaded into memory when it is small enough and the objects held leave room
    /// for it (it then counts among them until evicted); nil when it goes to a file instead.
    private func fetchIntoMemory(_ object: RemoteObject) throws -> [UInt8]? {
        guard object.size <= memoryObjectsUpTo else { return nil }
        condition.lock()
        let fits = heldBytes + object.size <= memoryBudget
        if fits { heldBytes += object.size }
        condition.unlock()
        guard fits else { return nil }
        var bytes: [UInt8]?
        defer {
            if bytes == nil {
                condition.lock()
                heldBytes -= object.size
                condition.unlock()
            }
        }
        connections.wait()
        defer { connections.signal() }
        bytes = try store.bytes(key: object.key, expectedSize: object.size)
        return bytes
    }
}
