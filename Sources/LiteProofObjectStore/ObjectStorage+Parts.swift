import Foundation
import LiteProof
import LiteProofStoreAnswers

extension ObjectStorage {
    /// Whether an object of `size` bytes is downloaded in ranged parts.
    func downloadsInParts(_ size: Int64) -> Bool {
        size > max(partsAbove, max(4096, partSize)) && partsInFlight > 1
    }

    /// Downloads `object` into `local`: whole with one GET up to ``partsAbove`` bytes, else in
    /// ranged parts of ``partSize`` bytes, ``partsInFlight`` at once, each written straight into
    /// `local` at its offset; every GET takes one of the storage's ``concurrency`` connection
    /// slots while it runs. A per-connection bandwidth cap or a long round trip then costs a part's
    /// time, not the whole object's. Each part's length is checked against the range asked for by
    /// the transport (a longer body is cut before it reaches the next part's bytes), and a part
    /// that fails is retried under the ``TransferPolicy``; one that fails for good fails the
    /// download (the other parts stop), never leaves a hole. Memory: what the download holds is
    /// the transport's buffer per part in flight, independent of the object's size. A server that
    /// answers a range with the whole object (200) is not asked for more parts: the object is
    /// downloaded whole into a file of its own, and the parts not landed are copied from it
    /// (`copy_file_range`): no byte a reader may have read already is written twice.
    ///
    /// A download in parts calls `started` with the ``Arrival`` of `local` once the file exists,
    /// then marks each part as it lands (in the file), so readers need not wait for the last part;
    /// the caller fails it when this throws (after recording the failure).
    func download(_ object: RemoteObject, to local: String, started: (Arrival) -> Void = { _ in }) throws {
        let partSize = max(4096, self.partSize)
        guard downloadsInParts(object.size) else {
            connections.wait()
            defer { connections.signal() }
            try store.download(key: object.key, to: local, expectedSize: object.size)
            return
        }
        let parts = Int((object.size + partSize - 1) / partSize)
        FS.remove(local)
        let out = try ScratchSpace.createFile(local, mode: 0o600)
        // A scratch copy is read and removed within seconds: its pages need never reach the disk
        // (the writeback an output starts every 64 MiB would write a large object out for nothing).
        out.writebackEvery = .max
        let arrival = Arrival()
        started(arrival)
        let next = Locked(0)
        let outcome = Locked<(error: Error?, rangeIgnored: Bool, landed: Set<Int>)>((nil, false, []))
        let store = self.store
        let connections = self.connections
        JoinableThread.runAll(min(partsInFlight, parts), stackSize: 512 << 10) {
            while true {
                let i = next.withLock { n -> Int in
                    n += 1
                    return n - 1
                }
                guard i < parts, outcome.withLock({ $0.error == nil && !$0.rangeIgnored }) else { return }
                let offset = Int64(i) * partSize
                let length = min(partSize, object.size - offset)
                do {
                    connections.wait()
                    defer { connections.signal() }
                    try store.download(key: object.key, range: offset, length: length, objectSize: object.size, into: out)
                    outcome.withLock { _ = $0.landed.insert(i) }
                    arrival.landed(offset..<offset + length)
                    // The transport's buffers of this part are freed: their pages go back now.
                    ProcessMemory.trimHeap()
                } catch is RangeIgnored {
                    outcome.withLock { $0.rangeIgnored = true }
                    return
                } catch {
                    outcome.withLock { $0.error = $0.error ?? error }
                    return
                }
            }
        }
        var (error, rangeIgnored, landed) = outcome.withLock { $0 }
        if error == nil && rangeIgnored {
            // The parts not landed, copied from the whole: not renamed over `local`, which
            // readers may have open already.
            let whole = local + ".whole"
            defer { FS.remove(whole) }
            do {
                connections.wait()
                defer { connections.signal() }
                try store.download(key: object.key, to: whole, expectedSize: object.size)
                let copy = try ReadOnlyFile(whole, displayName: object.key)
                for i in 0..<parts where !landed.contains(i) {
                    let offset = Int64(i) * partSize
                    try out.copy(from: copy, at: offset, count: min(partSize, object.size - offset), at: offset)
                }
            } catch let e {
                error = e
            }
        }
        if let error {
            FS.remove(local)
            throw error
        }
        arrival.landed(0..<object.size)
    }
}
