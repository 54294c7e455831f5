import CLZ4
import CPlatform
import Foundation

/// Decompresses a list of LZ4-frame files (a 0.3 snapshot and WAL segments) on background
/// threads, ahead of a reader that takes them in order, *block by block*: the frames Litestream
/// writes have independent blocks (up to 4 MiB each), so both cores decode blocks of the same file
/// at once, while the content checksum (XXH32, a serial hash) is carried through the blocks in
/// order by whichever worker finishes a block next. A whole-file scheme leaves one core idle
/// whenever a file is larger than what the other may buffer ahead, which on update-heavy replicas
/// (segments of 10–40 MB) is most of the time.
///
/// Only the frame shape Litestream writes takes this path: version 1, independent blocks, no block
/// checksums, no content size, no dictionary. Anything else, and anything unexpected in a file (a
/// bad header checksum, a block that does not decode, a truncated file, a content checksum that
/// does not match, bytes after the end mark), hands the file to liblz4's frame decoder on the
/// reader's thread, from the first byte not yet handed over: the reader sees the same bytes and the
/// same damage, with the same words, as ``LZ4Frame/decompress(_:name:_:)`` gives.
///
/// Memory is fixed: `slots` blocks, each as large as the largest block size the files declare
/// (4 MiB for Litestream's) and LZ4's in-place margin (16 KiB), allocated when a block first
/// needs it. A compressed block is read into the end of its slot and decoded in place (see
/// ``decodeBlock``), so no worker needs a buffer of its own: two compressed-block buffers were up
/// to 8 MiB of a restore's 64. Three slots (the reader's block and one per worker) keep both cores
/// busy: a fourth made no restore faster and cost 4 MiB.
// @unchecked: its mutable state is guarded by `lock` (a ``Monitor``); a slot's buffer belongs
// to whoever holds the slot number.
public final class SegmentPrefetcher: @unchecked Sendable {
    let replica: Replica
    let files: [V03File]

    /// The decompressed blocks' buffers; an element belongs to whoever holds its slot number
    /// (a worker decoding into it, the hash, the reader), so it is grown without the lock.
    private let slots: UnsafeMutableBufferPointer<UnsafeMutableRawBufferPointer>
    private var freeSlots: [Int]
    /// One lock; the reader and the workers wait on separate conditions, and each is woken only
    /// when someone waits (a wake-up that finds nothing to do costs the reader its core).
    private let lock = Monitor()
    private var readerWaiting = false
    private var workersWaiting = 0
    private var cancelled = false
    private var workers: [JoinableThread] = []
    private var items: [Item] = []
    /// Items removed from the front of `items` so far (an item's sequence number minus this is its index).
    private var removed = 0
    /// The reader's next item, and the in-order hash's next item (indexes into `items`).
    private var head = 0
    private var hashedUpTo = 0
    private var hashing = false
    private var hashFile = -1
    private var hashFailed = false
    private var hashedBytes: Int64 = 0
    private var hashState = liteproof_xxh32_state()
    private var feeding = false
    private var cursor = Cursor()
    /// The reader's next file.
    private var nextFile = 0
    private var parallelBlocks = 0

    /// Blocks decoded on the workers so far (the rest of the bytes came from liblz4's frame decoder).
    public var blocksDecodedInParallel: Int {
        lock.lock()
        defer { lock.unlock() }
        return parallelBlocks
    }

    /// Whether the content checksums are computed and compared (see ``init``).
    let checksContent: Bool
    /// Each file is evicted from the replica's storage once the reader has all of it (a restore
    /// that reads every file once: a remote storage's scratch copies then follow the read-ahead,
    /// not the replica's size).
    public var evictsReadFiles = false

    /// `workers` threads decode ahead of the reader; with none (or when no thread can start),
    /// the reader decodes each block itself when it needs it, through the same code.
    /// `checksContent: false` skips the content checksums of the frames this decoder decodes
    /// itself, for files that were just decoded in full and found sound (`verify`'s trial
    /// restore); a file that goes to liblz4 is still checked there.
    public init(replica: Replica, files: [V03File], workers: Int = 2, slots: Int = 3, checksContent: Bool = true) {
        self.replica = replica
        self.files = files
        self.checksContent = checksContent
        self.slots = .allocate(capacity: max(slots, workers + 1))
        self.slots.initialize(repeating: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        freeSlots = Array(self.slots.indices)
        guard !files.isEmpty else { return }
        for _ in 0..<workers {
            guard
                let thread = try? JoinableThread(
                    stackSize: 1 << 20,
                    { [unowned self] in self.work() })
            else { break }
            self.workers.append(thread)
        }
    }

    deinit {
        cancel()
        for s in slots { s.deallocate() }
        slots.deallocate()
    }

    /// Stops the workers and waits for them.
    public func cancel() {
        lock.lock()
        cancelled = true
        lock.broadcast(lock.workers)
        lock.unlock()
        for w in workers { w.join() }
    }

    /// Hands the decompressed chunks of `file` to `body` in order; returns its decompressed size,
    /// or throws the file's damage as ``LZ4Frame/decompress(_:name:_:)`` would. A file the
    /// prefetcher does not hold next (out of order, or not in its list) is decompressed here, on
    /// the caller's thread.
    public func decompress(_ file: V03File, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        guard let k = files[nextFile...].firstIndex(of: file) else {
            return try LZ4Frame.decompress(try replica.open(file.path), name: file.path, body)
        }
        nextFile = k + 1
        var delivered: Int64 = 0
        while true {
            lock.lock()
            while head == items.count || !items[head].ready {
                if workers.isEmpty {
                    // No worker threads: the reader feeds and decodes the next block itself.
                    lock.unlock()
                    let progressed = step(waiting: false)
                    lock.lock()
                    precondition(progressed, "an inline prefetcher always has the next block to decode")
                    continue
                }
                readerWaiting = true
                lock.wait(lock.reader)
                readerWaiting = false
            }
            let item = items[head]
            head += 1
            if head > 64 && head * 2 > items.count {
                items.removeFirst(head)
                removed += head
                hashedUpTo -= head
                head = 0
            }
            lock.unlock()
            // Items of files the reader skipped or stopped reading early.
            if item.file < k {
                if case .block(let slot, _, _) = item.kind { release(slot) }
                continue
            }
            precondition(item.file == k, "the prefetcher's files are read in order")
            switch item.kind {
            case .block(let slot, let count, _):
                defer { release(slot) }
                try body(UnsafeRawBufferPointer(rebasing: slots[slot][0..<count]))
                delivered += Int64(count)
            case .end:
                if evictsReadFiles { replica.storage.evict([file.path]) }
                return delivered
            case .fallback(let from):
                let n = try Self.decompressDirectly(try replica.open(file.path), name: file.path, skipping: from, body)
                if evictsReadFiles { replica.storage.evict([file.path]) }
                return n
            case .skip:
                continue
            }
        }
    }

    private func release(_ slot: Int) {
        lock.lock()
        freeSlots.append(slot)
        wakeWorkers()
        lock.unlock()
    }

    /// With the lock held.
    private func wakeWorkers() {
        if workersWaiting > 0 { lock.broadcast(lock.workers) }
    }

    // MARK: - Workers

    private func work() {
        while step(waiting: true) {}
    }

    /// Feeds the next item and decodes it when it is a block; false when there is nothing to do
    /// (every file fed, or cancelled; without `waiting`, also when the feeder's turn or a slot is
    /// taken).
    private func step(waiting: Bool) -> Bool {
        // Take the feeder's turn and a free slot, then read the next block's header.
        lock.lock()
        while waiting && !cancelled && cursor.file < files.count && (feeding || freeSlots.isEmpty) {
            workersWaiting += 1
            lock.wait(lock.workers)
            workersWaiting -= 1
        }
        if cancelled || cursor.file >= files.count || feeding || freeSlots.isEmpty {
            lock.unlock()
            return false
        }
        feeding = true
        let slot = freeSlots.removeLast()
        var c = cursor
        lock.unlock()

        let next = feed(&c)

        lock.lock()
        feeding = false
        let fileIndex = c.file
        var decode: (offset: Int64, size: Int, raw: Bool, handle: ReadOnlyFile, blockMax: Int)?
        switch next {
        case .block(let offset, let size, let raw):
            items.append(Item(file: fileIndex, kind: .block(slot: slot, count: 0, failed: false), decoded: false, ready: false))
            decode = (offset, size, raw, c.handle!, c.blockMax)
        case .end(let checksum):
            items.append(Item(file: fileIndex, kind: .end(checksum: checksum), decoded: true, ready: false))
            freeSlots.append(slot)
            c = Cursor(file: fileIndex + 1)
        case .fallback:
            items.append(Item(file: fileIndex, kind: .fallback(delivered: 0), decoded: true, ready: false))
            freeSlots.append(slot)
            c = Cursor(file: fileIndex + 1)
        }
        let sequence = removed + items.count - 1
        cursor = c
        wakeWorkers()
        if decode == nil { advanceHash() }
        lock.unlock()

        guard let d = decode else { return true }
        Self.reserve(&slots[slot], Self.slotSize(d.blockMax))
        let count = Self.decodeBlock(d.handle, at: d.offset, size: d.size, raw: d.raw, blockMax: d.blockMax, into: slots[slot])

        lock.lock()
        let i = sequence - removed
        items[i].kind = .block(slot: slot, count: max(count ?? 0, 0), failed: count == nil)
        items[i].decoded = true
        advanceHash()
        lock.unlock()
        return true
    }

    private enum Next {
        case block(offset: Int64, size: Int, raw: Bool)
        case end(checksum: UInt32?)
        case fallback
    }

    /// Reads the next block header of the cursor's file (opening the file and checking its frame
    /// header first). Runs outside the lock, one worker at a time.
    private func feed(_ c: inout Cursor) -> Next {
        do {
            if c.handle == nil {
                let h = try replica.open(files[c.file].path)
                c.handle = h
                let header = try h.read(count: 7, at: 0)
                guard header.count == 7 else { return .fallback }
                let magic = header.withUnsafeBytes { $0.u32LE(at: 0) }
                let flags = header[4]
                let bd = header[5]
                // Version 01, independent blocks, no block checksum, no content size, no
                // dictionary, reserved bits clear; a block size id of 4–7 (64 KiB–4 MiB).
                guard magic == 0x184D_2204, flags & 0b1111_1011 == 0b0110_0000, bd & 0b1000_1111 == 0,
                    (4...7).contains(bd >> 4)
                else { return .fallback }
                let hc = UInt8(truncatingIfNeeded: XXH32.hash(Array(header[4..<6])) >> 8)
                guard hc == header[6] else { return .fallback }
                c.blockMax = 1 << (8 + 2 * Int(bd >> 4))
                c.checksummed = flags & 0b100 != 0
                c.offset = 7
            }
            let h = c.handle!
            guard let word = try Self.readWord(h, at: c.offset) else { return .fallback }
            if word == 0 {
                var end = c.offset + 4
                var checksum: UInt32?
                if c.checksummed {
                    guard let sum = try Self.readWord(h, at: end) else { return .fallback }
                    checksum = sum
                    end += 4
                }
                return end == h.size ? .end(checksum: checksum) : .fallback
            }
            let size = Int(word & 0x7FFF_FFFF)
            guard size <= c.blockMax, c.offset + 4 + Int64(size) <= h.size else { return .fallback }
            let offset = c.offset + 4
            // liblz4 reads the next block's size with this block and fails both when it is too
            // large: so does this path, so a reader gets exactly the bytes liblz4 would give.
            if let next = try Self.readWord(h, at: offset + Int64(size)), Int(next & 0x7FFF_FFFF) > c.blockMax {
                return .fallback
            }
            c.offset = offset + Int64(size)
            return .block(offset: offset, size: size, raw: word & 0x8000_0000 != 0)
        } catch {
            return .fallback  // the reader's own decode reports it
        }
    }

    /// Carries the content hash through every decoded item in order and marks them ready; called
    /// with the lock held, by one worker at a time (it drops the lock while hashing).
    private func advanceHash() {
        guard !hashing else { return }
        hashing = true
        defer { hashing = false }
        while hashedUpTo < items.count && items[hashedUpTo].decoded {
            let i = hashedUpTo
            let item = items[i]
            if item.file != hashFile {
                hashFile = item.file
                hashFailed = false
                hashedBytes = 0
                liteproof_xxh32_reset(&hashState, 0)
            }
            var kind = item.kind
            if hashFailed {
                if case .block(let slot, _, _) = kind { freeSlots.append(slot) }
                kind = .skip
            } else {
                switch kind {
                case .block(let slot, let count, let failed):
                    if failed {
                        freeSlots.append(slot)
                        kind = .fallback(delivered: hashedBytes)
                        hashFailed = true
                    } else {
                        if checksContent {
                            lock.unlock()
                            liteproof_xxh32_update(&hashState, slots[slot].baseAddress!, count)
                            lock.lock()
                        }
                        hashedBytes += Int64(count)
                        parallelBlocks += 1
                    }
                case .end(let checksum):
                    if checksContent, let checksum, liteproof_xxh32_digest(&hashState) != checksum {
                        kind = .fallback(delivered: hashedBytes)
                        hashFailed = true
                    }
                case .fallback:
                    kind = .fallback(delivered: hashedBytes)
                    hashFailed = true
                case .skip:
                    break
                }
            }
            // The reader may have compacted `items` while the lock was dropped.
            let j = hashedUpTo
            items[j].kind = kind
            items[j].ready = true
            hashedUpTo += 1
            if readerWaiting { lock.signal(lock.reader) }
        }
        wakeWorkers()  // slots freed by failed or skipped blocks
    }
}
