import Foundation
import LiteProof

/// How an SFTP replica is reached besides its URL: credentials kept out of the URL, the
/// known-hosts file, and the bounds on every exchange. Read from the environment
/// (``from(environment:)``), so every command that takes a replica takes them alike.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `LITEPROOF_SFTP_PASSWORD` | password, when the URL has none | none |
/// | `LITEPROOF_SFTP_KEY_PATH` | private key file, when the URL has no `key-path` | `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa` (those that exist) |
/// | `LITEPROOF_SFTP_KNOWN_HOSTS` | OpenSSH known_hosts file the host key must be in | `~/.ssh/known_hosts` |
/// | `LITEPROOF_SFTP_ACCEPT_UNKNOWN_HOST_KEY` | `1`: accept a host that is not in the file (a key that differs from the file's is still refused) | off |
/// | `LITEPROOF_SFTP_TIMEOUT` | seconds one exchange with the server may take (connect, each read) | 30 |
/// | `LITEPROOF_SFTP_ATTEMPTS` | tries per file when the connection fails (each on a new connection) | 3 |
public struct SFTPSettings: Sendable {
    public var password: String?
    /// Key files to try, in order, when the URL names none.
    public var keyPaths: [String]
    public var knownHosts: String
    public var acceptUnknownHostKey: Bool
    public var timeout: Double
    public var attempts: Int
    /// The pause before the second try; doubled for each later one.
    public var retryDelay: Double = 0.5

    public init(
        password: String? = nil, keyPaths: [String] = [], knownHosts: String, acceptUnknownHostKey: Bool = false, timeout: Double = 30,
        attempts: Int = 3
    ) {
        self.password = password
        self.keyPaths = keyPaths
        self.knownHosts = knownHosts
        self.acceptUnknownHostKey = acceptUnknownHostKey
        self.timeout = timeout
        self.attempts = attempts
    }

    /// The settings the `LITEPROOF_SFTP_*` variables give (see the table above); a value that is
    /// not a number where one is needed is a `usage` error naming the variable.
    public static func from(environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> SFTPSettings {
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        func value(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }
        func number(_ name: String, _ fallback: Double, _ range: ClosedRange<Double>) throws -> Double {
            guard let text = value(name) else { return fallback }
            guard let n = Double(text), range.contains(n) else {
                throw LiteProofError(.usage, "\(name)=\(text) is not a number in \(range.lowerBound)…\(range.upperBound)")
            }
            return n
        }
        var keys: [String] = []
        if let key = value("LITEPROOF_SFTP_KEY_PATH") {
            keys = [expandingTilde(key, home: home)]
        } else {
            keys = ["id_ed25519", "id_ecdsa", "id_rsa"].map { home + "/.ssh/" + $0 }.filter { FS.exists($0) }
        }
        let accept = value("LITEPROOF_SFTP_ACCEPT_UNKNOWN_HOST_KEY")?.lowercased()
        return SFTPSettings(
            password: value("LITEPROOF_SFTP_PASSWORD"), keyPaths: keys,
            knownHosts: value("LITEPROOF_SFTP_KNOWN_HOSTS").map { expandingTilde($0, home: home) } ?? home + "/.ssh/known_hosts",
            acceptUnknownHostKey: accept == "1" || accept == "true" || accept == "yes",
            timeout: try number("LITEPROOF_SFTP_TIMEOUT", 30, 0.1...86_400),
            attempts: Int(try number("LITEPROOF_SFTP_ATTEMPTS", 3, 1...100)))
    }

    /// `~/x` as `HOME/x`; anything else unchanged.
    static func expandingTilde(_ path: String, home: String) -> String {
        path == "~" ? home : path.hasPrefix("~/") ? home + path.dropFirst() : path
    }
}
