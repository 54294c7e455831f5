import CSSH2
import Foundation
import LiteProof

/// Whether the key an SFTP server presented is the server's: against the URL's `host-key`
/// (Litestream 0.5's pinned key) when it has one, else against an OpenSSH known_hosts file
/// (`libssh2_knownhost_checkp`, plain and hashed names, `[HOST]:PORT` for other ports).
///
/// A key that differs from the one on record is always refused. A host with no key on record is
/// refused unless ``SFTPSettings/acceptUnknownHostKey`` is set. Refusals are `usage` errors
/// (exit 2) that say what was presented and how to record it.
struct SFTPHostKeyCheck {
    let location: SFTPLocation
    let settings: SFTPSettings

    func check(session: OpaquePointer, key: [UInt8], type: Int32, fingerprint: String) throws {
        let name = Self.typeName(type)
        if let pinned = location.hostKey {
            let fields = pinned.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let blob = Data(base64Encoded: String(fields[1])) else {
                throw LiteProofError(.usage, "\(location.display): host-key is not a public key line (\"ssh-ed25519 AAAA…\", as in a .pub file)")
            }
            guard [UInt8](blob) == key else {
                throw LiteProofError(
                    .usage,
                    "\(location.display): HOST KEY MISMATCH: \(location.knownHostsName) presented \(name) \(fingerprint), not the host-key given in the URL; refusing to connect"
                )
            }
            return
        }
        guard let hosts = libssh2_knownhost_init(session) else { throw LiteProofError.storage(.local, "libssh2_knownhost_init failed") }
        defer { libssh2_knownhost_free(hosts) }
        let file = settings.knownHosts
        if FS.exists(file) && liteproof_ssh2_knownhost_readfile(hosts, file) < 0 {
            throw LiteProofError(.usage, "cannot read the known-hosts file \(file) (OpenSSH's known_hosts format expected)")
        }
        let typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | Self.knownHostBits(type)
        let result = key.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) {
                libssh2_knownhost_checkp(hosts, location.host, Int32(location.port), $0.baseAddress, key.count, typemask, nil)
            }
        }
        switch result {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            return
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            throw LiteProofError(
                .usage,
                "\(location.display): HOST KEY MISMATCH: \(location.knownHostsName) presented \(name) \(fingerprint), which differs from its key in \(file); refusing to connect (someone may be intercepting the connection, or the server's key changed: check, then fix \(file))"
            )
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            if settings.acceptUnknownHostKey { return }
            let scan = location.port == 22 ? "ssh-keyscan \(location.host)" : "ssh-keyscan -p \(location.port) \(location.host)"
            throw LiteProofError(
                .usage,
                "\(location.display): the host key of \(location.knownHostsName) (\(name) \(fingerprint)) is not in \(file): add it after checking the fingerprint (\(scan) >> \(file)), point LITEPROOF_SFTP_KNOWN_HOSTS at a file that has it, or set LITEPROOF_SFTP_ACCEPT_UNKNOWN_HOST_KEY=1 to accept it unchecked"
            )
        default:
            throw LiteProofError(.usage, "\(location.display): cannot check the host key of \(location.knownHostsName) against \(file)")
        }
    }

    /// The `LIBSSH2_KNOWNHOST_KEY_*` bits for a `LIBSSH2_HOSTKEY_TYPE_*`, so only entries of
    /// the presented key's type are compared (OpenSSH keeps one line per key type).
    static func knownHostBits(_ type: Int32) -> Int32 {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA
        case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519
        default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN
        }
    }

    static func typeName(_ type: Int32) -> String {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa"
        case LIBSSH2_HOSTKEY_TYPE_DSS: return "ssh-dss"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521"
        case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519"
        default: return "key type \(type)"
        }
    }
}
