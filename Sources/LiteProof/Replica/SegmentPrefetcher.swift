import Foundation

/// Decompresses a list of LZ4-frame files on background threads, ahead of the reader: file `k`
/// goes to lane `k mod lanes`, each lane a thread with its own fixed pool of buffers, so the
/// cores decompress the next files while the reader applies the current one. A lane never waits
/// for another's buffers, so the reader taking files in order cannot deadlock.
/// Memory is `lanes × buffers × 4 MiB` whatever the files' sizes.
public final class SegmentPrefetcher: @unchecked Sendable {
    let files: [V03File]
    private let lanes: [SegmentPrefetchLane]
    private var nextFile = 0

    init(replica: Replica, files: [V03File], lanes: Int = 2, buffers: Int = 2) {
        self.files = files
        let n = max(1, min(lanes, files.count))
        self.lanes = (0..<n).map { lane in
            SegmentPrefetchLane(replica: replica, files: stride(from: lane, to: files.count, by: n).map { files[$0] }, buffers: buffers)
        }
    }

    /// Stops the producers and waits for them.
    func cancel() {
        for l in lanes { l.cancel() }
    }

    /// Hands the decompressed chunks of `file` (the next file in order) to `body`; returns its
    /// decompressed size, or throws the file's damage as ``LZ4Frame/decompress`` would. A file out
    /// of order is decompressed here, on the caller's thread.
    func decompress(_ file: V03File, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        guard nextFile < files.count, files[nextFile] == file, !lanes.isEmpty else {
            return try LZ4Frame.decompress(try lanes[0].replica.open(file.path), name: file.path, body)
        }
        let lane = lanes[nextFile % lanes.count]
        nextFile += 1
        return try lane.decompress(file, body)
    }
}

/// One decompressing thread of a ``SegmentPrefetcher``, with its own buffers.
final class SegmentPrefetchLane: @unchecked Sendable {
    enum Item {
        case chunk(file: Int, buffer: Int, count: Int)
        case end(file: Int, size: Int64)
        case failed(file: Int, Error)
    }

    let replica: Replica
    let files: [V03File]
    let pool: [UnsafeMutableRawBufferPointer]
    private var free: [Int]
    private var queue: [Item] = []
    private var head = 0
    private var cancelled = false
    private let condition = NSCondition()
    private var thread: Thread?
    private var done = false

    init(replica: Replica, files: [V03File], buffers: Int = 4) {
        self.replica = replica
        self.files = files
        pool = (0..<buffers).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: LZ4Frame.outputChunk, alignment: 64) }
        free = Array(0..<buffers)
        let t = Thread { [unowned self] in self.produce() }
        t.stackSize = 1 << 20
        thread = t
        t.start()
    }

    deinit {
        cancel()
        for b in pool { b.deallocate() }
    }

    /// Stops the producer and waits for it.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while !done { condition.wait() }
        condition.unlock()
    }

    private func push(_ item: Item) {
        condition.lock()
        queue.append(item)
        condition.broadcast()
        condition.unlock()
    }

    private func takeBuffer() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty && !cancelled { condition.wait() }
        return cancelled ? nil : free.removeLast()
    }

    private func produce() {
        defer {
            condition.lock()
            done = true
            condition.broadcast()
            condition.unlock()
        }
        // One decoder for all the lane's files: its buffers are allocated once.
        var decoder: LZ4FrameStream?
        for (i, f) in files.enumerated() {
            do {
                let file = try replica.open(f.path)
                let stream: LZ4FrameStream
                if let d = decoder {
                    d.restart(file, name: f.path)
                    stream = d
                } else {
                    stream = try LZ4FrameStream(file, name: f.path)
                    decoder = stream
                }
                while true {
                    guard let b = takeBuffer() else { return }
                    let n = try stream.read(into: pool[b])
                    if n == 0 {
                        condition.lock(); free.append(b); condition.unlock()
                        break
                    }
                    push(.chunk(file: i, buffer: b, count: n))
                }
                push(.end(file: i, size: stream.produced))
            } catch {
                push(.failed(file: i, error))
            }
            condition.lock()
            let stop = cancelled
            condition.unlock()
            if stop { return }
        }
    }

    private func pop() -> Item {
        condition.lock()
        defer { condition.unlock() }
        while head == queue.count { condition.wait() }
        let item = queue[head]
        head += 1
        if head > 64 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return item
    }

    private func release(_ b: Int) {
        condition.lock()
        free.append(b)
        condition.broadcast()
        condition.unlock()
    }

    private var nextFile = 0

    /// Hands the decompressed chunks of `file` (the next file in order) to `body`; returns its
    /// decompressed size, or throws the file's damage as ``LZ4Frame/decompress`` would.
    func decompress(_ file: V03File, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        guard nextFile < files.count, files[nextFile] == file else {
            return try LZ4Frame.decompress(try replica.open(file.path), name: file.path, body)
        }
        let index = nextFile
        nextFile += 1
        while true {
            switch pop() {
            case .chunk(let f, let b, let n):
                precondition(f == index)
                defer { release(b) }
                try body(UnsafeRawBufferPointer(rebasing: pool[b][0..<n]))
            case .end(let f, let size):
                precondition(f == index)
                return size
            case .failed(let f, let error):
                precondition(f == index)
                throw error
            }
        }
    }
}
