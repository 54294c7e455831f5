import Foundation
import LiteProof
import LiteProofStoreAnswers

extension ObjectStorage {
    /// Whether an object of `size` bytes is downloaded in ranged parts.
    func downloadsInParts(_ size: Int64) -> Bool {
        size > max(partsAbove, max(4096, partSize)) && partsInFlight > 1
    }

    /// Downloads `object` into `local`: whole with one GET up to ``partsAbove`` bytes, else in
    /// ranged parts of ``partSize`` bytes, ``partsInFlight`` at once, each written at its offset;
    /// every GET takes one of the storage's ``concurrency`` connection slots while it runs.
    /// A per-connection bandwidth cap or a long round trip then costs a part's time, not the whole
    /// object's. Each part's length is checked against the range asked for (and the listed size) by
    /// the transport, and a part that fails is retried under the ``TransferPolicy``; one that
    /// fails for good fails the download (the other parts stop), never leaves a hole. Memory:
    /// parts go to files in the scratch folder and are copied inside the kernel (`copy_file_range`), so what the download
    /// holds is independent of the object's size. A server that answers a range with the whole
    /// object (200) gets that copy and no further parts asked for.
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
        let arrival = Arrival()
        started(arrival)
        let next = Locked(0)
        let outcome = Locked<(error: Error?, whole: String?)>((nil, nil))
        let store = self.store
        let connections = self.connections
        JoinableThread.runAll(min(partsInFlight, parts), stackSize: 512 << 10) {
            while true {
                let i = next.withLock { n -> Int in
                    n += 1
                    return n - 1
                }
                guard i < parts, outcome.withLock({ $0.error == nil && $0.whole == nil }) else { return }
                let offset = Int64(i) * partSize
                let length = min(partSize, object.size - offset)
                let part = "\(local).part-\(i)"
                do {
                    connections.wait()
                    defer { connections.signal() }
                    if try store.download(key: object.key, range: offset, length: length, objectSize: object.size, to: part) {
                        // The server ignores ranges: its whole copy is kept (a second one is not).
                        let kept = outcome.withLock { o -> Bool in
                            guard o.whole == nil else { return false }
                            o.whole = part
                            return true
                        }
                        if !kept { FS.remove(part) }
                        return
                    }
                    defer { FS.remove(part) }
                    try out.copy(from: try ReadOnlyFile(part, displayName: object.key), count: length, at: offset)
                    arrival.landed(offset..<offset + length)
                    // The transport's buffers of this part are freed: their pages go back now.
                    ProcessMemory.trimHeap()
                } catch {
                    FS.remove(part)
                    outcome.withLock { $0.error = $0.error ?? error }
                    return
                }
            }
        }
        let (error, whole) = outcome.withLock { $0 }
        if let whole {
            // Copied, not renamed over `local`: readers may have it open already.
            defer { FS.remove(whole) }
            try out.copy(from: try ReadOnlyFile(whole, displayName: object.key), count: object.size, at: 0)
        } else if let error {
            FS.remove(local)
            throw error
        }
        arrival.landed(0..<object.size)
    }
}
