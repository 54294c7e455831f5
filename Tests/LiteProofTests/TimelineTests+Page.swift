import Foundation
import LiteProof
import Testing

extension TimelineTests {
    // MARK: CLI and page

    @Test func cliJSONAndExitCodes() throws {
        let clean = try runLiteProof(["timeline", Fixtures.example("0.5").replica, "--json"])
        #expect(clean.status == 0, "\(clean.stderr)")
        let obj = try json(clean.stdout)
        for key in ["points", "lanes", "gaps", "damaged", "summary"] { #expect(obj[key] != nil, "\(key)") }
        let points = try #require(obj["points"] as? [[String: Any]])
        #expect(points.count == 7)
        for p in points {
            for key in ["position", "kind", "time", "file", "restorable"] { #expect(p[key] != nil, "\(key)") }
        }
        #expect(points.allSatisfy { $0["restorable"] as? Bool == true })
        let summary = try #require(obj["summary"] as? [String: Any])
        #expect((summary["lastClean"] as? [String: Any])?["position"] as? String == 7.hex(width: 16))

        let dir = try exampleCopy("0.3")
        try FileManager.default.removeItem(atPath: dir + "/" + Fixtures.v03Segment("0000c140"))
        let page = try rigTempDir("timeline-cli") + "/timeline.html"
        let broken = try runLiteProof(["timeline", dir, "--html", page])
        #expect(broken.status == 1)
        #expect(broken.stdout.hasPrefix("BROKEN"))
        #expect(broken.stdout.contains("GAP  WAL offsets 49472–65952"))
        #expect(broken.stdout.contains("last clean restore      \(Fixtures.v03Generation)/00000000:49472"))
        #expect(!broken.stdout.contains(":8272"), "one line per commit only with --commits")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        expectSelfContained(html)
        let commits = try runLiteProof(["timeline", dir, "--commits"])
        #expect(commits.stdout.contains("\(Fixtures.v03Generation)/00000000:8272  "))
    }

    /// Renders the page of a damaged replica with headless Chromium and checks the screenshot.
    @Test(.enabled(if: TimelineBrowser.path != nil, "no headless Chromium (chromium-headless-shell or chromium): .ci/setup installs chromium-headless-shell"))
    func screenshot() throws {
        let browser = try #require(TimelineBrowser.path)
        let dir = try exampleCopy("0.3")
        try FileManager.default.removeItem(atPath: dir + "/" + Fixtures.v03Segment("0000c140"))
        let seg = Fixtures.v03Segment("00004080")
        try flipByte(dir + "/" + seg, at: fileSize(dir + "/" + seg) - 2)
        let out = try rigTempDir("timeline-shot")
        for (name, replica) in [("v03", dir), ("v05", Fixtures.example("0.5").replica)] {
            let page = "\(out)/\(name).html", png = "\(out)/\(name).png"
            try Data(try timeline(replica).renderHTML().utf8).write(to: URL(fileURLWithPath: page))
            let (status, output) = try runProcess(
                browser,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                    "--user-data-dir=\(out)/profile-\(name)", "--screenshot=\(png)", "--window-size=1400,900",
                    URL(fileURLWithPath: page).absoluteString,
                ], timeout: 90)
            #expect(status == 0, "\(browser) failed: \(output)")
            let b = try bytes(of: png)
            #expect(b.count > 30_000, "screenshot is only \(b.count) bytes")
            #expect(Array(b.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            #expect(Array(b[12..<16]) == Array("IHDR".utf8))
            #expect(u32(b, 16) == 1400 && u32(b, 20) == 900)
        }
    }
}

/// A headless Chromium on this machine, if any.
enum TimelineBrowser {
    static let path: String? = {
        let names = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"]
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/lib/chromium"]
        for name in names {
            for dir in dirs where FileManager.default.isExecutableFile(atPath: dir + "/" + name) { return dir + "/" + name }
        }
        return nil
    }()
}
