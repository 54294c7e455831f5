import Foundation
import LiteProof

/// An `sftp://` replica URL as Litestream names it, `sftp://USER[:PASSWORD]@HOST[:PORT]/PATH`,
/// with what Litestream keeps in its configuration file beside the URL given as query parameters.
///
/// Litestream (0.3.13 and 0.5.x) takes the host, user, password and path from the URL and reads
/// the private key (`key-path`) and 0.5's pinned host key (`host-key`) from the replica's
/// configuration only; here both can ride on the URL under the same names:
///
/// ```
/// sftp://backup@db.example.com:2222/srv/replicas/app?key-path=~/.ssh/id_ed25519
/// sftp://backup@db.example.com/srv/replicas/app?host-key=ssh-ed25519%20AAAAC3Nz…
/// ```
///
/// The path is the folder Litestream writes to, as Litestream uses it: absolute on the server
/// (`/srv/replicas/app`). Any other query parameter is refused with its name.
public struct SFTPLocation: Sendable, Equatable {
    public var user: String
    /// From the URL, else `LITEPROOF_SFTP_PASSWORD` (see ``SFTPSettings``). Never printed.
    public var password: String?
    public var host: String
    public var port: Int
    /// The replica's folder on the server, without a trailing `/` (`/` for the root, `.` for the
    /// login folder when the URL has no path).
    public var path: String
    /// `key-path`: a private key file (OpenSSH or PEM format) for public key authentication.
    public var keyPath: String?
    /// `host-key`: the server's public key as an `authorized_keys` line (`ssh-ed25519 AAAA…`),
    /// Litestream 0.5's `host-key`. When given, the server must present exactly this key and
    /// the known-hosts file is not consulted.
    public var hostKey: String?

    /// The query parameters read here; anything else is refused.
    public static let parameters = ["key-path", "host-key"]

    /// True for text that names an SFTP replica (`sftp://…`).
    public static func isSFTPURL(_ text: String) -> Bool {
        text.lowercased().hasPrefix("sftp://")
    }

    /// Parses `url`. Throws a `usage` error naming what is wrong (no user, no host, a bad port,
    /// an unknown parameter).
    public init(url: String) throws {
        guard Self.isSFTPURL(url), let c = URLComponents(string: url) else {
            throw LiteProofError(.usage, "\(Self.redacted(url)) is not an sftp:// URL (sftp://USER[:PASSWORD]@HOST[:PORT]/PATH)")
        }
        guard let host = c.host, !host.isEmpty else {
            throw LiteProofError(.usage, "\(Self.redacted(url)): host required for an sftp replica (sftp://USER@HOST/PATH)")
        }
        guard let user = c.user, !user.isEmpty else {
            throw LiteProofError(.usage, "\(Self.redacted(url)): user required for an sftp replica (sftp://USER@HOST/PATH)")
        }
        let port = c.port ?? 22
        guard (1...65535).contains(port) else { throw LiteProofError(.usage, "\(Self.redacted(url)): port \(port) is out of range") }
        self.user = user
        self.password = c.password.flatMap { $0.isEmpty ? nil : $0 }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = port
        // No path: the login folder, as Litestream joins an empty path.
        var path = c.path.isEmpty ? "." : c.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        self.path = path
        for item in c.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "key-path": keyPath = value.isEmpty ? nil : value
            case "host-key": hostKey = value.isEmpty ? nil : value
            default:
                throw LiteProofError(
                    .usage,
                    "\(Self.redacted(url)): unknown parameter \"\(item.name)\" (an sftp:// URL takes \(Self.parameters.joined(separator: ", ")))")
            }
        }
    }

    /// The URL to show in reports: no password, no query.
    public var display: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "sftp://\(user)@\(h)\(port == 22 ? "" : ":\(port)")\(path == "." ? "" : path)"
    }

    /// The server as OpenSSH's known_hosts names it: `HOST` on port 22, else `[HOST]:PORT`.
    public var knownHostsName: String { port == 22 ? host : "[\(host)]:\(port)" }

    /// `url` with any password replaced by `***`, for error messages.
    public static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}
