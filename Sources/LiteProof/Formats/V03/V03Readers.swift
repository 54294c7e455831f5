/// Readers of Litestream 0.3 files: snapshots (one LZ4 frame holding a database image) and the
/// WAL segments of one index (LZ4 frames that, concatenated by offset, form one SQLite WAL).
///
/// Both hand out findings rather than throwing on damage, so `verify` can go on; `restore`
/// stops at the first error finding.
public enum V03Readers {
    /// What reading one snapshot established.
    public struct SnapshotResult: Sendable {
        public var file: V03File
        public var header: DatabaseHeader?
        public var size: Int64 = 0
        public var findings: [Finding] = []
        /// A storage failure: the store could not produce the snapshot (missing, not a regular
        /// file, permission, transfer), or the local side failed in `sink` (the output or scratch
        /// file: ENOSPC, EFBIG, EIO). Not damage in the snapshot: the caller throws it.
        public var storageFailure: LiteProofError?
    }

    /// Decompresses a snapshot, checks its SQLite header and size, and hands each chunk to `sink`
    /// (with its offset in the database image).
    public static func readSnapshot(
        _ replica: Replica, _ file: V03File, prefetcher: SegmentPrefetcher? = nil,
        sink: ((UnsafeRawBufferPointer, Int64) throws -> Void)? = nil
    ) -> SnapshotResult {
        var result = SnapshotResult(file: file)
        var headerBytes: [UInt8] = []
        var position: Int64 = 0
        do {
            let decompress: (V03File, (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 =
                prefetcher?.decompress ?? { try LZ4Frame.decompress(try replica.open($0.path), name: $0.path, $1) }
            result.size = try decompress(file) { chunk in
                if headerBytes.count < DatabaseHeader.size {
                    headerBytes += chunk.prefix(DatabaseHeader.size - headerBytes.count)
                    if headerBytes.count == DatabaseHeader.size {
                        do {
                            result.header = try headerBytes.withUnsafeBytes { try DatabaseHeader.parse($0) }
                        } catch let p as FormatError {
                            throw LiteProofError.damaged(.error(p.code, file: file.path, offset: p.offset, p.message + " (in the decompressed database image)"))
                        }
                    }
                }
                // A snapshot may not decompress to more than its header declares (or the limit):
                // a decompression bomb is stopped here, before it is written anywhere.
                let allowed =
                    result.header.map { $0.pageCountIsValid ? Int64($0.pageCount) * Int64($0.pageSize) : Limits.maxDatabaseBytes } ?? Limits.maxDatabaseBytes
                if position + Int64(chunk.count) > allowed {
                    throw LiteProofError.damaged(
                        .error(
                            .snapshotSize, file: file.path, offset: allowed,
                            "snapshot decompresses past \(allowed) bytes, the size its header declares (or the limit)"))
                }
                try sink?(chunk, position)
                position += Int64(chunk.count)
            }
            if let h = result.header {
                if result.size % Int64(h.pageSize) != 0 {
                    result.findings.append(
                        .error(
                            .snapshotSize, file: file.path, offset: result.size,
                            "snapshot decompresses to \(result.size) bytes, not a whole number of \(h.pageSize)-byte pages"))
                } else if h.pageCountIsValid, Int64(h.pageCount) * Int64(h.pageSize) != result.size {
                    result.findings.append(
                        .error(
                            .snapshotSize, file: file.path, offset: result.size,
                            "snapshot decompresses to \(result.size) bytes; its header says \(h.pageCount) pages of \(h.pageSize) bytes (\(Int64(h.pageCount) * Int64(h.pageSize)))"
                        ))
                }
            } else {
                result.findings.append(
                    .error(
                        .snapshotHeader, file: file.path, offset: 0,
                        "snapshot decompresses to \(result.size) bytes; a database needs at least a 100-byte header"))
            }
        } catch let e as FormatError {
            result.findings.append(e.located(in: file.path).finding)
        } catch {
            let e = LiteProofError(wrapping: error)
            if let finding = e.finding, e.kind == .damaged {
                result.findings.append(finding)
            } else {
                result.storageFailure = e.isStorage ? e : .storage(.local, e.message)
            }
        }
        return result
    }

    /// What reading the WAL of one index established.
    public struct IndexResult: Sendable {
        public var index: UInt32
        public var header: WALHeader?
        /// Decompressed size of each segment read (nil where it could not be decompressed).
        public var segmentSizes: [String: Int64] = [:]
        /// Bytes of WAL read (the sum of decompressed sizes up to the first unreadable segment).
        public var walSize: Int64 = 0
        public var frames = 0
        public var commits = 0
        /// WAL offset after the last valid commit frame, and the database size then.
        public var lastCommitEnd: Int64 = 0
        public var lastCommitSize: UInt32 = 0
        /// Cumulative checksum after the last valid frame.
        public var checksum: (UInt32, UInt32) = (0, 0)
        public var findings: [Finding] = []
        /// Where the WAL stream stands after the last segment, for checking later segments of the
        /// index alone; nil once the stream could not be followed to the end.
        public var carry: WALCarry?

        public var hasErrors: Bool { findings.contains { $0.severity == .error } }
    }

    /// Reads the segments of one WAL index in offset order as one WAL stream, checking offsets
    /// (no hole, no overlap), LZ4 frames, the WAL header, salts and the checksum chain. Valid
    /// frames go to `onFrame` in order. With `failFast`, stops at the first error.
    public static func readIndex(
        _ replica: Replica, index: UInt32, segments: [V03File], expectedPageSize: Int?,
        limit: Int64? = nil, failFast: Bool = false, prefetcher: SegmentPrefetcher? = nil, resume: WALCarry? = nil,
        onFrame: @escaping (WALFrame) throws -> Void = { _ in }
    ) throws -> IndexResult {
        var result = IndexResult(index: index)
        var decoder = WALDecoder(expectedPageSize: expectedPageSize, onFrame: onFrame)
        var expected: Int64 = 0
        if let resume {
            guard let resumed = WALDecoder(resuming: resume, expectedPageSize: expectedPageSize, onFrame: onFrame) else {
                throw LiteProofError(.storage(.local), "the WAL state carried for index \(index.hex(width: 8)) does not hold together")
            }
            decoder = resumed
            expected = resume.offset
        }
        var streamOK = true  // false once the WAL stream can no longer be followed
        func add(_ f: Finding) throws {
            result.findings.append(f)
            if failFast && f.severity == .error { throw LiteProofError.damaged(f) }
        }
        if resume == nil, let first = segments.first, first.offset != 0 {
            try add(
                .error(
                    .chainMissingInitialSegment, file: first.path, offset: 0,
                    "WAL index \(index.hex(width: 8)) starts at offset \(first.offset); the segment at offset 0 (with the WAL header) is missing"))
            streamOK = false
        }
        let frames = LZ4FrameFiles()
        for seg in segments {
            if streamOK && seg.offset != expected {
                if seg.offset > expected {
                    try add(
                        .error(
                            .chainGap, file: seg.path, offset: 0,
                            "segment starts at WAL offset \(seg.offset) but the segments before it end at \(expected): \(seg.offset - expected) bytes of WAL are missing"
                        ))
                } else {
                    try add(
                        .error(
                            .chainOverlap, file: seg.path, offset: 0,
                            "segment starts at WAL offset \(seg.offset) but the segments before it end at \(expected): \(expected - seg.offset) bytes overlap"))
                }
                streamOK = false
            }
            let segmentStart = seg.offset
            var fed: Int64 = 0
            // WAL problems found in this segment are reported only once its LZ4 frame proved
            // sound: damage to the frame itself is the root cause, not the WAL it garbles.
            var walProblem: Finding?
            do {
                let consume: (UnsafeRawBufferPointer) throws -> Void = { chunk in
                    guard streamOK, walProblem == nil else { return }
                    var bytes = chunk
                    if let limit, segmentStart + fed + Int64(bytes.count) > limit {
                        bytes = UnsafeRawBufferPointer(rebasing: bytes.prefix(max(0, Int(limit - segmentStart - fed))))
                    }
                    do {
                        try decoder.feed(bytes)
                    } catch let p as FormatError {
                        walProblem = p.located(in: seg.path).finding
                    }
                    fed += Int64(bytes.count)
                    if let stop = decoder.stopped, walProblem == nil {
                        // A frame larger than a segment (a page size the header forged) stops the
                        // decoder in a later segment than the one the frame starts in: name that one.
                        let owner = segments.last { $0.offset <= decoder.stoppedAt && $0.offset <= segmentStart } ?? seg
                        let at = decoder.stoppedAt - owner.offset
                        walProblem = .error(
                            stop.code, file: owner.path, offset: at,
                            stop.message
                                + " (decompressed offset \(at) in this segment, WAL offset \(decoder.stoppedAt)); SQLite ignores every frame from here on")
                    }
                }
                let size =
                    try prefetcher?.decompress(seg, consume)
                    ?? frames.decompress(try replica.open(seg.path), name: seg.path, consume)
                result.segmentSizes[seg.path] = size
                expected = seg.offset.addingReportingOverflow(size).overflow ? .max : seg.offset + size  // offset from a name
                if let walProblem {
                    streamOK = false
                    try add(walProblem)
                }
                if streamOK { result.walSize = expected }
            } catch let e as LiteProofError where e.kind == .damaged && e.finding?.file == seg.path {
                try add(e.finding!)
                streamOK = false
            } catch let e as FormatError where e.file == seg.path {
                try add(e.finding)
                streamOK = false
            }
            // A storage failure (the segment missing, not a regular file, unreadable; the local
            // side) is thrown as it is: it says nothing about the replica's bytes.
        }
        if streamOK && decoder.header == nil && !segments.isEmpty && limit != 0 {
            try add(.error(.walHeader, file: segments[0].path, offset: 0, "WAL index \(index.hex(width: 8)) holds fewer than 32 bytes; no WAL header"))
        }
        if streamOK && decoder.partialBytes > 0, let last = segments.last {
            try add(
                .error(
                    .walPartialFrame, file: last.path, offset: (result.segmentSizes[last.path] ?? 0) - Int64(decoder.partialBytes),
                    "the WAL ends with \(decoder.partialBytes) bytes that do not make a whole frame"))
        }
        if streamOK && decoder.header != nil && decoder.lastCommitEnd < decoder.offset - Int64(decoder.partialBytes), let last = segments.last {
            let tail = decoder.offset - Int64(decoder.partialBytes) - decoder.lastCommitEnd
            result.findings.append(
                .warning(
                    .walUncommittedTail, file: last.path, offset: decoder.lastCommitEnd - last.offset,
                    "\(tail) bytes of valid frames follow the last commit frame; a restore ignores them"))
        }
        result.header = decoder.header
        result.frames = decoder.frameCount
        result.commits = decoder.commitCount
        result.lastCommitEnd = decoder.lastCommitEnd
        result.lastCommitSize = decoder.lastCommitSize
        result.checksum = decoder.checksum
        result.carry = streamOK ? decoder.carry : nil
        return result
    }
}

// MARK: - Commits

extension V03Readers {
    /// One commit of a WAL index: the state after its commit frame.
    public struct Commit: Sendable, Hashable {
        /// WAL offset just after the commit frame.
        public var end: Int64
        /// Database size in pages after the commit.
        public var pages: UInt32
    }

    /// The commits of one WAL index, in order, as read and verified by ``readIndex``.
    public struct IndexCommits: Sendable {
        public var result: IndexResult
        public var commits: [Commit]
        /// WAL offset after the last valid frame (at least the header's end when there is one).
        public var validEnd: Int64
    }

    /// Reads one WAL index and lists its commits: the one commit enumerator of 0.3 history,
    /// shared by `timeline` and ``Replayer``. Throws only with `failFast` (or when `onFrame`,
    /// which sees each valid frame after it is listed, throws).
    public static func commits(
        _ replica: Replica, index: UInt32, segments: [V03File], expectedPageSize: Int?, failFast: Bool = false,
        onFrame: ((WALFrame) throws -> Void)? = nil
    ) throws -> IndexCommits {
        let found = Locked((commits: [Commit](), validEnd: Int64(0)))
        let result = try readIndex(replica, index: index, segments: segments, expectedPageSize: expectedPageSize, failFast: failFast) { frame in
            let end = frame.walOffset + 24 + Int64(frame.page.count)
            found.withLock { f in
                f.validEnd = end
                if frame.commitSize != 0 { f.commits.append(Commit(end: end, pages: frame.commitSize)) }
            }
            try onFrame?(frame)
        }
        let (commits, validEnd) = found.current
        return IndexCommits(result: result, commits: commits, validEnd: max(validEnd, result.header != nil ? Int64(WALHeader.size) : 0))
    }

    /// Commit frames found by reading frame headers in the segments after the WAL stream of an
    /// index broke (hole, damage): frames whose salts match the index's header (when known) and
    /// that mark a commit. Their checksums cannot be verified: they are clues, not points.
    static func unverifiedCommits(
        _ replica: Replica, segments: [V03File], after read: IndexCommits, pageSize: Int
    ) -> [Commit] {
        let result = read.result
        let header = result.header
        let frameSize = Int64(24 + pageSize)
        var found: [Commit] = []
        let frames = LZ4FrameFiles()
        for seg in segments
        where (result.segmentSizes[seg.path].map { seg.offset.addingReportingOverflow($0).overflow ? .max : seg.offset + $0 } ?? .max) > read.validEnd
            && seg.offset >= result.walSize
        {
            // An offset from a name near 2^63 leaves no room for frames.
            guard seg.offset <= Int64.max / 2, let file = try? replica.open(seg.path) else { continue }
            // First frame start at or after max(segment start, end of the valid frames).
            var pos = max(seg.offset, read.validEnd, Int64(WALHeader.size))
            let rem = (pos - Int64(WALHeader.size)) % frameSize
            if rem != 0 { pos += frameSize - rem }
            // The segment is streamed: only the bytes from the next frame start on are kept, so
            // memory stays one chunk plus one frame header whatever the segment decompresses to.
            var window: [UInt8] = []
            var windowStart = seg.offset
            var candidates: [Commit] = []
            let streamed = try? frames.decompress(file, name: seg.path) { chunk in
                window += chunk
                while pos + 16 <= windowStart + Int64(window.count) {
                    let at = Int(pos - windowStart)
                    let pgno = window.u32BE(at: at), commit = window.u32BE(at: at + 4)
                    let salt1 = window.u32BE(at: at + 8), salt2 = window.u32BE(at: at + 12)
                    let saltsMatch = header.map { $0.salt1 == salt1 && $0.salt2 == salt2 } ?? true
                    if pgno != 0 && commit != 0 && saltsMatch { candidates.append(Commit(end: pos + frameSize, pages: commit)) }
                    pos += frameSize
                }
                let drop = Int(min(pos - windowStart, Int64(window.count)))
                window.removeFirst(drop)
                windowStart += Int64(drop)
            }
            guard streamed != nil else { continue }
            // A frame counts only when the segment holds all of it.
            let segEnd = windowStart + Int64(window.count)
            found += candidates.filter { $0.end <= segEnd }
        }
        return found
    }

    /// The WAL header at the start of a segment at offset 0: only its first 32 decompressed
    /// bytes are read.
    static func readWALHeader(_ replica: Replica, _ segment: V03File) throws -> WALHeader {
        // Only the frame's start is read (a range of a remote object).
        let bytes = try LZ4Frame.decompressPrefix(count: WALHeader.size, size: segment.size, name: segment.path) { offset, count in
            try replica.storage.read(segment.path, offset: offset, count: count)
        }
        guard bytes.count == WALHeader.size else {
            throw FormatError(
                .walHeader, file: segment.path, offset: Int64(bytes.count), "the WAL header is cut short: \(bytes.count) of \(WALHeader.size) bytes")
        }
        do {
            return try bytes.withUnsafeBytes { try WALHeader.parse($0) }
        } catch let e as FormatError {
            throw e.located(in: segment.path)
        }
    }
}
