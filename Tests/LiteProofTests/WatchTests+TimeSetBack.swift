import Foundation
import LiteProof
import Testing

extension WatchTests {
    /// Litestream 0.5 sets a file's time to its LTX timestamp just after writing it, so a round
    /// can list a new file with the write's time and the next with an earlier one (seen with real
    /// Litestream while an application writes): the file is read again, not `file.changed`. A
    /// byte flipped under such a time is still found, by the bytes.
    @Test func timeSetBackWithTheSameSizeIsReadAgainNotChanged() throws {
        let dir = try scratchCopy(ofDirectory: try WatchFixtures.replica(.v05))
        let w = Watcher(database: dir) { try Replica.open(dir) }
        #expect(w.round().verdict == .ok)
        let victim = try newestFile(dir)
        let path = dir + "/" + victim
        func setBack(_ seconds: Double) throws {
            let t = (FS.modificationTime(path) ?? Date().timeIntervalSince1970) - seconds
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: t)], ofItemAtPath: path)
        }
        try setBack(0.2)
        let r2 = w.round()
        #expect(r2.verdict == .ok, "\(r2.reason)")
        #expect(r2.checkedPaths == [victim])
        #expect(!r2.findings.contains { $0.code == .fileChanged }, "\(r2.findings)")
        #expect(w.round().filesChecked == 0)

        let before = FS.modificationTime(path) ?? 0
        try flipByte(path, at: fileSize(path) / 2, preserveMTime: false)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: before - 1)], ofItemAtPath: path)
        let r4 = w.round()
        #expect(r4.verdict == .damaged)
        #expect(r4.findings.contains { $0.file == victim && $0.severity == .error && $0.offset != nil }, "\(r4.findings)")
    }
}
