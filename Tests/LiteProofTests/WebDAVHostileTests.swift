// WebDAV answers no server should send, from a server of the test's own: each is refused
// clearly (exit 2, naming what was wrong), in bounded time and memory, leaving nothing behind.
// Also the URL grammar and the multistatus reader, without a server.

import Foundation
import LiteProof
import Testing

@testable import LiteProofStoreAnswers
@testable import LiteProofWebDAV

@Suite struct WebDAVHostileTests {
    @Test(arguments: [
        ("outside", "/etc/passwd"), ("otherhost", "on another server"), ("deep", "nested deeper than 16"),
        ("endless", "runs past"), ("doctype", "document type"), ("notdav", "not 207 Multi-Status"), ("loop", "folders deep"),
    ])
    func hostilePropfindIsRefused(mode: String, expected: String) throws {
        let server = try HostileDAV(mode)
        defer { server.stop() }
        let r = try runHostile(["verify", "webdav://127.0.0.1:\(server.port)/db"], timeout: 60)
        #expect(r.status == 2 && r.signal == nil, "\(mode): \(r.output)")
        #expect(r.output.contains(expected) && r.output.contains("127.0.0.1:\(server.port)"), "\(mode): \(r.output)")
        // An endless body, sent as fast as loopback goes, is refused at 16 MiB, and the process's
        // peak memory stays near its baseline (~45 MB) plus that limit: the transport reads the
        // next part only once it has taken the last. URLSession, used before, queued what arrived
        // without backpressure: 165 to 200 MB here, up to 10 GB under load (issue 24).
        let memoryBound = 120_000
        #expect(r.seconds < 30 && r.peakKiB < memoryBound && r.litter.isEmpty, "\(mode): \(r.seconds) s, \(r.peakKiB) KiB, \(r.litter)")
    }

    @Test func urlGrammar() throws {
        let a = try WebDAVLocation(url: "webdav://alice:p%40ss@host.example:8080/a//b/./c/")
        #expect(a.host == "host.example:8080" && a.prefix == "a/b/c" && a.username == "alice" && a.password == "p@ss")
        #expect(a.display == "webdav://host.example:8080/a/b/c" && a.endpoint.absoluteString == "http://host.example:8080")
        let s = try WebDAVLocation(url: "WEBDAVS://h/r%20x")
        #expect(s.endpoint.absoluteString == "https://h" && s.prefix == "r x" && s.username == nil)
        #expect(throws: LiteProofError.self) { try WebDAVLocation(url: "webdav:///path") }
        #expect(throws: LiteProofError.self) { try WebDAVLocation(url: "webdav://h/p?user=x") }
        #expect(throws: LiteProofError.self) { try WebDAVLocation(url: "webdav://h/p%zz") }
    }

    @Test func multistatusReader() throws {
        let body = """
            <?xml version="1.0" encoding="utf-8"?>
            <d:multistatus xmlns:d="DAV:"><d:response><d:href>/r/ltx/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>
            </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat><d:propstat><d:prop><d:getcontentlength/></d:prop>
            <d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>
            <d:response><d:href>/r/ltx/a%20b.ltx</d:href><d:propstat><d:prop><d:resourcetype/><d:getcontentlength>42</d:getcontentlength>
            <d:getlastmodified>Sun, 06 Dec 2026 20:59:04 GMT</d:getlastmodified><d:getetag>"e1"</d:getetag></d:prop>
            <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>
            """
        let entries = try Multistatus.parse(Data(body.utf8), maxEntries: 10)
        #expect(
            entries == [
                DAVEntry(href: "/r/ltx/", collection: true),
                DAVEntry(href: "/r/ltx/a%20b.ltx", size: "42", modified: "Sun, 06 Dec 2026 20:59:04 GMT", etag: "\"e1\""),
            ])
        #expect(HTTPDate.parse("Sun, 06 Dec 2026 20:59:04 GMT") == 1_796_590_744)
        #expect(throws: Multistatus.Refusal.self) { try Multistatus.parse(Data(body.utf8), maxEntries: 1) }
        #expect(throws: Multistatus.Refusal.self) { try Multistatus.parse(Data("<html></html>".utf8), maxEntries: 1) }

        let client = WebDAVClient(location: try WebDAVLocation(url: "webdav://h:1/r"))
        #expect(try client.child("/r/ltx/", of: "/r/ltx/") == nil)
        #expect(try client.child("http://h:1/r/ltx/a%20b.ltx", of: "/r/ltx/") == "/r/ltx/a b.ltx")
        #expect(throws: LiteProofError.self) { try client.child("/r/ltx/x%2Fy", of: "/r/ltx/") }
        #expect(throws: LiteProofError.self) { try client.child("/r/ltx/../../etc/x", of: "/r/ltx/") }
        #expect(throws: LiteProofError.self) { try client.child("/r/other/x", of: "/r/ltx/") }
        #expect(throws: LiteProofError.self) { try client.child("http://evil:1/r/ltx/x", of: "/r/ltx/") }
    }
}
