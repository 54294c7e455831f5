import Foundation
import LiteProof
import Testing

/// `watch` on 0.3: a new WAL segment is checked from the stream state the state file carries,
/// reading that segment alone; what a carry cannot decide (a carry that lies, a damaged new
/// segment) is decided by reading the whole index, as `verify` does.
@Suite struct WatchCarryTests {
    /// A copy of the example 0.3 replica (made by Litestream 0.3.13) whose last WAL segment is
    /// held back, so it can "arrive" after the first round; the state file beside it.
    func heldBack() throws -> (dir: String, held: String, last: String, state: String) {
        let dir = try scratchCopy(ofDirectory: Fixtures.example("0.3").replica)
        let last = Fixtures.v03Segment("00018260")
        let held = try rigTempDir("held") + "/segment"
        try FileManager.default.moveItem(atPath: dir + "/" + last, toPath: held)
        return (dir, held, last, try rigTempDir("watch-carry") + "/state.json")
    }

    @Test func aNewSegmentIsReadAloneFromTheCarry() throws {
        let (dir, held, last, state) = try heldBack()
        let w1 = Watcher(database: dir, stateFile: state) { try Replica.open(dir) }
        let r1 = w1.round()
        #expect(r1.verdict == .ok, "\(r1.reason)")
        #expect(w1.state.carries?.count == 1)
        try FileManager.default.moveItem(atPath: held, toPath: dir + "/" + last)
        // A restarted watcher: the carry comes from the state file.
        let w2 = Watcher(database: dir, stateFile: state) { try Replica.open(dir) }
        let r2 = w2.round()
        #expect(r2.verdict == .ok, "\(r2.reason)")
        #expect(r2.checkedPaths == [last])
        #expect(r2.bytesRead == Int64(fileSize(dir + "/" + last)))
        #expect(w2.state.carries?.values.first?.through == last)
        // The same verdict and position as a full verify.
        let full = Verifier(replica: try Replica.open(dir)).run()
        #expect(full.verdict == .ok && full.latest?.position == r2.latest?.position)
    }

    /// A state file whose carry lies (another running checksum) makes no false verdict: the
    /// error it causes is checked against the whole index, which is sound.
    @Test func aCarryThatLiesIsOverruledByTheWholeIndex() throws {
        let (dir, held, last, state) = try heldBack()
        let w1 = Watcher(database: dir, stateFile: state) { try Replica.open(dir) }
        #expect(w1.round().verdict == .ok)
        var saved = try JSONDecoder().decode(WatchState.self, from: Data(contentsOf: URL(fileURLWithPath: state)))
        let key = try #require(saved.carries?.keys.first)
        saved.carries?[key]?.carry.checksum1 ^= 0x8000
        try saved.save(to: state)
        try FileManager.default.moveItem(atPath: held, toPath: dir + "/" + last)
        let w2 = Watcher(database: dir, stateFile: state) { try Replica.open(dir) }
        let r2 = w2.round()
        #expect(r2.verdict == .ok, "\(r2.reason)")
        #expect(r2.checkedPaths.count == 7, "the whole index read again: \(r2.checkedPaths)")
        #expect(r2.findings.isEmpty, "\(r2.findings)")
    }

    /// A new segment that is damaged is found and named from the carry's read.
    @Test func aDamagedNewSegmentIsNamed() throws {
        let (dir, held, last, state) = try heldBack()
        let w = Watcher(database: dir, stateFile: state) { try Replica.open(dir) }
        #expect(w.round().verdict == .ok)
        try FileManager.default.moveItem(atPath: held, toPath: dir + "/" + last)
        try flipByte(dir + "/" + last, at: fileSize(dir + "/" + last) / 2, preserveMTime: false)
        let r2 = w.round()
        #expect(r2.verdict == .damaged)
        #expect(r2.findings.contains { $0.file == last && $0.severity == .error && $0.offset != nil }, "\(r2.findings)")
        #expect(w.state.carries?.values.first?.through != last, "no carry after a damaged segment")
    }

    /// A round that finds nothing new does not rewrite the state file (its cost was a third of an
    /// idle round on a large replica); one that reads a new file does.
    @Test func anIdleRoundLeavesTheStateFileAlone() throws {
        let (dir, held, last, state) = try heldBack()
        let w = Watcher(database: dir, stateFile: state) { try Replica.open(dir) }
        #expect(w.round().verdict == .ok)
        let written = try Data(contentsOf: URL(fileURLWithPath: state))
        #expect(w.round().filesChecked == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: state)) == written, "an idle round rewrote the state")
        // A watch that ends keeps the counters (SIGTERM, --rounds).
        #expect(w.saveState() == nil)
        #expect(try JSONDecoder().decode(WatchState.self, from: Data(contentsOf: URL(fileURLWithPath: state))).rounds == 2)
        try FileManager.default.moveItem(atPath: held, toPath: dir + "/" + last)
        #expect(w.round().checkedPaths == [last])
        let after = try JSONDecoder().decode(WatchState.self, from: Data(contentsOf: URL(fileURLWithPath: state)))
        #expect(after.files[last] != nil && after.rounds == 3)
    }
}
