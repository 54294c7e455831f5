import Foundation
import LiteProof
import Testing

/// A 0.3 WAL index read in two goes, the second going on from the first's ``WALCarry``, must
/// check exactly as one read of every segment does: the carry holds the chain, not a shortcut
/// around it.
@Suite struct WALCarryTests {
    /// The example replica's index 0 (seven segments written by Litestream 0.3.13).
    func index0() throws -> (Replica, [V03File]) {
        let replica = try Replica.open(Fixtures.example("0.3").replica)
        let g = try #require(replica.v03?.generations.first)
        let segs = g.segments(of: 0)
        try #require(segs.count >= 3)
        return (replica, segs)
    }

    @Test func resumingGivesWhatOneReadGives() throws {
        let (replica, segs) = try index0()
        let whole = try V03Readers.readIndex(replica, index: 0, segments: segs, expectedPageSize: nil)
        #expect(whole.findings.isEmpty)
        for cut in 1..<segs.count {
            let first = try V03Readers.readIndex(replica, index: 0, segments: Array(segs[..<cut]), expectedPageSize: nil)
            let carry = try #require(first.carry)
            #expect(carry.offset == segs[cut].offset, "the carry ends where segment \(cut) starts")
            let rest = try V03Readers.readIndex(replica, index: 0, segments: Array(segs[cut...]), expectedPageSize: nil, resume: carry)
            #expect(rest.findings.isEmpty, "\(rest.findings)")
            #expect(rest.frames == whole.frames && rest.commits == whole.commits)
            #expect(rest.checksum == whole.checksum && rest.lastCommitEnd == whole.lastCommitEnd && rest.walSize == whole.walSize)
            #expect(rest.carry == whole.carry)
        }
    }

    /// A carried checksum that is not the chain's makes the next frame fail its check: the new
    /// segment really is checked against the carry.
    @Test func aWrongCarriedChecksumIsFound() throws {
        let (replica, segs) = try index0()
        var carry = try #require(try V03Readers.readIndex(replica, index: 0, segments: [segs[0]], expectedPageSize: nil).carry)
        carry.checksum1 ^= 1
        let rest = try V03Readers.readIndex(replica, index: 0, segments: Array(segs[1...]), expectedPageSize: nil, resume: carry)
        let f = try #require(rest.findings.first)
        #expect(f.code == .walChecksumMismatch && f.file == segs[1].path && f.offset == 0)
    }

    /// A segment that does not start where the carry ends is a gap or an overlap, named.
    @Test func aSegmentNotWhereTheCarryEndsIsNamed() throws {
        let (replica, segs) = try index0()
        let carry = try #require(try V03Readers.readIndex(replica, index: 0, segments: [segs[0]], expectedPageSize: nil).carry)
        let gap = try V03Readers.readIndex(replica, index: 0, segments: Array(segs[2...]), expectedPageSize: nil, resume: carry)
        #expect(gap.findings.first?.code == .chainGap && gap.findings.first?.file == segs[2].path)
    }

    /// A carry from outside that does not hold together is refused, never followed.
    @Test func aCarryThatDoesNotHoldTogetherIsRefused() throws {
        let (replica, segs) = try index0()
        let good = try #require(try V03Readers.readIndex(replica, index: 0, segments: Array(segs[..<2]), expectedPageSize: nil).carry)
        #expect(good.holdsTogether)
        var bad: [WALCarry] = []
        var c = good
        c.header[20] ^= 1  // salt: the header checksum no longer holds
        bad.append(c)
        c = good
        c.header = Array(c.header.prefix(31))
        bad.append(c)
        c = good
        c.offset += 1  // not on a frame boundary
        bad.append(c)
        c = good
        c.frames += 1
        bad.append(c)
        c = good
        c.pending = [UInt8](repeating: 0, count: 70_000)  // more than a frame
        bad.append(c)
        c = good
        c.lastCommitEnd = c.offset + 4096 + 24
        bad.append(c)
        c = good
        c.commits = -1
        bad.append(c)
        for b in bad {
            #expect(!b.holdsTogether)
            #expect(WALDecoder(resuming: b) { _ in } == nil)
            #expect(throws: LiteProofError.self) {
                try V03Readers.readIndex(replica, index: 0, segments: Array(segs[2...]), expectedPageSize: nil, resume: b)
            }
        }
        #expect(WALDecoder(resuming: good, expectedPageSize: 8192) { _ in } == nil, "another page size than the snapshot's")
    }
}
