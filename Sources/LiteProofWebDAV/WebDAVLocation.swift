import Foundation
import LiteProof

/// Where a replica lives on a WebDAV server, from a replica URL as Litestream 0.5 names it:
/// `webdav://[USER[:PASSWORD]@]HOST[:PORT]/PATH` (http) or `webdavs://…` (https). The path is
/// cleaned as Litestream cleans it; the credentials are sent as basic auth and never printed
/// (``display`` leaves them out). A WebDAV URL takes no query parameters.
public struct WebDAVLocation: Sendable, Equatable {
    /// `webdav` or `webdavs`, as written (lower case).
    public var scheme: String
    /// `HOST[:PORT]` as written (an IPv6 host in brackets).
    public var host: String
    /// The replica's folder below the server's root, percent-decoded, without leading or trailing
    /// `/` ("" for the root).
    public var prefix: String
    public var username: String?
    public var password: String?

    public init(scheme: String = "webdav", host: String, prefix: String, username: String? = nil, password: String? = nil) {
        self.scheme = scheme
        self.host = host
        self.prefix = prefix
        self.username = username
        self.password = password
    }

    /// The replica's name in reports: `webdav://HOST:PORT/PATH`, without the credentials.
    public var display: String { "\(scheme)://\(host)" + (prefix.isEmpty ? "" : "/\(prefix)") }

    /// The server's root: `http://HOST:PORT` for `webdav://`, `https://…` for `webdavs://`, as
    /// Litestream maps them.
    public var endpoint: URL { URL(string: (scheme == "webdavs" ? "https" : "http") + "://" + host)! }

    /// True for the URLs this module reads (`webdav://…`, `webdavs://…`).
    public static func isWebDAVURL(_ s: String) -> Bool {
        let lower = s.lowercased()
        return lower.hasPrefix("webdav://") || lower.hasPrefix("webdavs://")
    }

    /// Parses `webdav://[USER[:PASSWORD]@]HOST[:PORT]/PATH` or `webdavs://…`.
    public init(url: String) throws {
        guard Self.isWebDAVURL(url), let colon = url.firstIndex(of: ":") else {
            throw LiteProofError(.usage, "not a webdav:// or webdavs:// URL")
        }
        scheme = url[..<colon].lowercased()
        var rest = String(url[url.index(colon, offsetBy: 3)...])
        if let hash = rest.firstIndex(of: "#") { rest = String(rest[..<hash]) }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = String(rest[..<slash])
        var path = String(rest[slash...])
        // Credentials first: a password may hold `?` or `/` only percent-encoded, as in any URL.
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            authority = String(authority[authority.index(after: at)...])
            let parts = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = parts[0].removingPercentEncoding, let pass = (parts.count > 1 ? String(parts[1]) : "").removingPercentEncoding else {
                throw LiteProofError(.usage, "cannot read the credentials of the \(scheme):// URL (a malformed %-escape)")
            }
            username = user
            password = parts.count > 1 ? pass : nil
        }
        let shown = "\(scheme)://\(authority)\(path)"
        if let q = path.firstIndex(of: "?") {
            if !path[path.index(after: q)...].isEmpty {
                throw LiteProofError(
                    .usage, "\(shown) has query parameters; Litestream's WebDAV URLs take none (credentials go in the URL: \(scheme)://USER:PASSWORD@HOST/PATH)"
                )
            }
            path = String(path[..<q])
        }
        guard !authority.isEmpty else { throw LiteProofError(.usage, "\(shown) names no host (expected \(scheme)://HOST[:PORT]/PATH)") }
        guard URL(string: "http://" + authority)?.host != nil, !authority.contains(where: { $0 == " " || $0 == "\\" }) else {
            throw LiteProofError(.usage, "\(authority) in \(shown) is not HOST[:PORT]")
        }
        host = authority
        guard let decoded = path.removingPercentEncoding else {
            throw LiteProofError(.usage, "cannot read the path of \(shown) (a malformed %-escape)")
        }
        prefix = Self.cleanPath(decoded)
    }

    /// Go's `path.Clean` without the leading `/`: empty and `.` segments dropped, `..` removes the
    /// segment before it (none above the root).
    static func cleanPath(_ path: String) -> String {
        var out: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = out.popLast()
            default: out.append(segment)
            }
        }
        return out.joined(separator: "/")
    }
}
