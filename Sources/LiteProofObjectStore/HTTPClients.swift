import AsyncHTTPClient
import Foundation
import LiteProof
import NIOCore
import NIOSSL

/// The process's HTTP clients, one per way of connecting (certificates verified or not, the
/// proxy the environment names for the endpoint), made on first use and kept for the life of the
/// process: every transport of a run (and every round of `watch`) shares their connection pools
/// and NIO's one event-loop group, so no client is ever shut down and no thread is left behind.
///
/// Each client: at most 64 connections per host (``TransferPolicy/maxConnections``; each
/// storage uses its policy's `connections` of them, 16 unless set) kept alive between
/// requests (restores make hundreds, prefetch and ranged parts run several at once), redirects
/// never followed (the 3xx answer comes back, and ``HTTPTransport`` refuses it, named), no
/// decompression, HTTP/1.1 only, and no connection retried by the pool (``HTTPTransport``
/// retries under its policy, and a certificate refused fails at once, named).
///
/// Trust roots are the system's plus, as Go (and so Litestream) reads them, the file in
/// `SSL_CERT_FILE` and the files in the directories of `SSL_CERT_DIR` (colon-separated): a
/// private or throwaway CA works for both tools alike.
package enum HTTPClients {
    /// How a client connects: whether certificates are verified, and through which proxy.
    struct Key: Hashable {
        var verify: Bool
        var proxy: ProxyServer?
    }

    /// A proxy from `HTTPS_PROXY`/`HTTP_PROXY` (or their lower-case forms).
    package struct ProxyServer: Hashable {
        package var host: String
        package var port: Int
        package var user: String?
        package var password: String?
    }

    private static let clients = Locked([Key: HTTPClient]())

    /// The client for `key`, made on first use.
    static func client(_ key: Key) -> HTTPClient {
        clients.withLock { table in
            if let client = table[key] { return client }
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration(key))
            table[key] = client
            return client
        }
    }

    static func configuration(_ key: Key) -> HTTPClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if key.verify {
            tls.additionalTrustRoots = [.certificates(extraRoots)]
        } else {
            tls.certificateVerification = .none
        }
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: TransferPolicy.maxConnections)
        pool.retryConnectionEstablishment = false
        var c = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(), connectionPool: pool, proxy: nil,
            ignoreUncleanSSLShutdown: false, decompression: .disabled)
        c.httpVersion = .http1Only
        if let proxy = key.proxy {
            let auth = proxy.user.map { HTTPClient.Authorization.basic(username: $0, password: proxy.password ?? "") }
            c.proxy = .server(host: proxy.host, port: proxy.port, authorization: auth)
        }
        return c
    }

    /// Where swift-nio-ssl finds the system's roots itself on Linux: not parsed again when
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` names them (as environments often do), which would cost
    /// several megabytes for nothing.
    static let systemRootPlaces: Set<String> = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs"]

    /// The certificates of `SSL_CERT_FILE` and of the files in the `SSL_CERT_DIR` directories,
    /// read once; a file that holds no PEM certificate is skipped (as Go skips it), and an
    /// unreadable `SSL_CERT_FILE` is said on stderr, once.
    static let extraRoots: [NIOSSLCertificate] = {
        let environment = ProcessInfo.processInfo.environment
        var files: [String] = []
        func system(_ path: String) -> Bool {
            systemRootPlaces.contains(URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path)
        }
        if let file = environment["SSL_CERT_FILE"], !file.isEmpty, !system(file) {
            if (try? NIOSSLCertificate.fromPEMFile(file))?.isEmpty == false {
                files.append(file)
            } else {
                FileHandle.standardError.write(Data("liteproof: note: SSL_CERT_FILE=\(file) holds no readable PEM certificate; not used\n".utf8))
            }
        }
        for dir in (environment["SSL_CERT_DIR"] ?? "").split(separator: ":").map(String.init) where !system(dir) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            files += names.sorted().map { dir + "/" + $0 }
        }
        var seen = Set<String>()
        var roots: [NIOSSLCertificate] = []
        for file in files {
            // A hashed name and the file it links to are one file.
            let real = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
            guard seen.insert(real).inserted else { continue }
            roots += (try? NIOSSLCertificate.fromPEMFile(real)) ?? []
        }
        return roots
    }()

    /// The proxy the environment names for `url` (`HTTPS_PROXY` for https, `HTTP_PROXY` for
    /// http, either case), unless `NO_PROXY` covers its host (`*`, a host, or a domain suffix),
    /// as curl and Go read them. An unreadable proxy URL is ignored.
    package static func proxy(for url: URL, environment: [String: String]) -> ProxyServer? {
        func value(_ name: String) -> String? {
            let v = environment[name] ?? environment[name.lowercased()]
            return v?.isEmpty == false ? v : nil
        }
        let https = url.scheme?.lowercased() == "https"
        guard let text = value(https ? "HTTPS_PROXY" : "HTTP_PROXY"), let host = url.host?.lowercased() else { return nil }
        if let none = value("NO_PROXY") {
            for entry in none.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !entry.isEmpty {
                let name = entry.split(separator: ":").first.map(String.init) ?? entry
                let bare = name.hasPrefix(".") ? String(name.dropFirst()) : name
                if entry == "*" || host == bare || host.hasSuffix("." + bare) { return nil }
            }
        }
        guard let proxy = URL(string: text.contains("://") ? text : "http://\(text)"), let proxyHost = proxy.host else { return nil }
        return ProxyServer(
            host: proxyHost, port: proxy.port ?? (proxy.scheme == "https" ? 443 : 80), user: proxy.user?.removingPercentEncoding,
            password: proxy.password?.removingPercentEncoding)
    }
}
