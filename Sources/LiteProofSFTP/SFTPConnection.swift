import CSSH2
import Foundation
import LiteProof

#if canImport(Glibc)
    import Glibc
#endif

/// One SSH connection with its SFTP channel, through libssh2: the owner of the socket, the
/// `LIBSSH2_SESSION` and the `LIBSSH2_SFTP` handle, made by a throwing initializer (which
/// connects, checks the host key, authenticates) and released in `deinit`.
///
/// libssh2 runs in blocking mode with ``SFTPSettings/timeout`` on every call
/// (`libssh2_session_set_timeout`), and the TCP connect is bounded by the same time, so a stalled
/// server ends in a `transfer` failure instead of a hang. After any failure other than an SFTP
/// status the connection is spent: ``isBroken`` says so and the owner makes a new one.
final class SFTPConnection {
    let location: SFTPLocation
    let settings: SFTPSettings
    private var fd: Int32 = -1
    private var session: OpaquePointer?
    private var sftp: OpaquePointer?
    /// A failure left the session in an unknown state; it must not be used again.
    private(set) var isBroken = false

    /// `libssh2_init`, once per process.
    private static let initialized: Bool = libssh2_init(0) == 0

    /// Connects to the location's server, checks its host key (``checkHostKey()``),
    /// authenticates and starts SFTP. Throws `usage` for a host key that is refused,
    /// `storage(.permission)` when authentication fails, `storage(.transfer)` for the rest.
    init(location: SFTPLocation, settings: SFTPSettings) throws {
        self.location = location
        self.settings = settings
        guard Self.initialized else { throw LiteProofError.storage(.local, "libssh2_init failed") }
        do {
            fd = try Self.connect(host: location.host, port: location.port, timeout: settings.timeout)
            guard let s = liteproof_ssh2_session_init() else { throw LiteProofError.storage(.local, "libssh2_session_init failed") }
            session = s
            libssh2_session_set_blocking(s, 1)
            libssh2_session_set_timeout(s, Int(settings.timeout * 1000))
            if libssh2_session_handshake(s, fd) != 0 { throw failure("the SSH handshake with \(server) failed") }
            try checkHostKey()
            try authenticate()
            guard let channel = libssh2_sftp_init(s) else { throw failure("\(server) did not start SFTP") }
            sftp = channel
        } catch var e as LiteProofError {
            isBroken = true
            close()
            if !e.message.hasPrefix(location.display) { e.message = "\(location.display): " + e.message }
            throw e
        } catch {
            isBroken = true
            close()
            throw error
        }
    }

    deinit { close() }

    /// `HOST:PORT`, for messages.
    var server: String { location.knownHostsName.hasPrefix("[") ? location.knownHostsName : "\(location.host):\(location.port)" }

    private func close() {
        // A spent connection is let go without waiting for the server: nothing blocks.
        if isBroken, let session { libssh2_session_set_blocking(session, 0) }
        if let sftp { libssh2_sftp_shutdown(sftp) }
        sftp = nil
        if let session {
            if !isBroken { _ = liteproof_ssh2_session_disconnect(session, "liteproof done") }
            libssh2_session_free(session)
        }
        session = nil
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// A TCP connection to `host:port` made within `timeout` seconds (non-blocking connect and
    /// `poll`), then put back in blocking mode for libssh2.
    private static func connect(host: String, port: Int, timeout: Double) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw LiteProofError.storage(.transfer, "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let ai = node {
            node = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var ok = Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0
            if !ok && errno == EINPROGRESS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&p, 1, Int32(min(timeout * 1000, Double(Int32.max))))
                var soError: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                if ready == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len) == 0 {
                    ok = soError == 0
                    if !ok { lastError = String(cString: strerror(soError)) }
                } else {
                    lastError = ready == 0 ? "no answer within \(timeout) s" : String(cString: strerror(errno))
                }
            } else if !ok {
                lastError = String(cString: strerror(errno))
            }
            if ok {
                _ = fcntl(fd, F_SETFL, flags)
                return fd
            }
            Glibc.close(fd)
        }
        throw LiteProofError.storage(.transfer, "cannot connect to \(host):\(port): \(lastError)")
    }

    /// libssh2's last error as a failure: an SFTP status (`libssh2_sftp_last_error`) keeps the
    /// connection usable and maps to `missing` or `permission` where it says so; anything else
    /// (a timeout, a closed socket) is a `transfer` failure and breaks the connection.
    func failure(_ what: String, path: String? = nil) -> LiteProofError {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = session.map { libssh2_session_last_error($0, &message, &length, 0) } ?? 0
        let words = message.map { String(cString: $0) } ?? "no message"
        if code == LIBSSH2_ERROR_SFTP_PROTOCOL, let sftp {
            let status = libssh2_sftp_last_error(sftp)
            let (kind, name) = Self.status(status)
            return .storage(kind, "\(what): the server answered \(name) (SFTP status \(status))", path: path)
        }
        isBroken = true
        let detail = code == LIBSSH2_ERROR_TIMEOUT ? "no answer within \(settings.timeout) s (\(words))" : words
        return .storage(.transfer, "\(what): \(detail) (libssh2 error \(code))", path: path)
    }

    /// The failure kind and name of an SFTP status code (draft-ietf-secsh-filexfer-02, as
    /// OpenSSH's sftp-server answers).
    static func status(_ code: UInt) -> (StorageFailure, String) {
        switch code {
        case LIBSSH2_FX_NO_SUCH_FILE: return (.missing, "SSH_FX_NO_SUCH_FILE (no such file)")
        case LIBSSH2_FX_NO_SUCH_PATH: return (.missing, "SSH_FX_NO_SUCH_PATH (no such path)")
        case LIBSSH2_FX_PERMISSION_DENIED: return (.permission, "SSH_FX_PERMISSION_DENIED (permission denied)")
        case LIBSSH2_FX_EOF: return (.transfer, "SSH_FX_EOF (end of file)")
        case LIBSSH2_FX_FAILURE: return (.transfer, "SSH_FX_FAILURE (failure)")
        case LIBSSH2_FX_BAD_MESSAGE: return (.transfer, "SSH_FX_BAD_MESSAGE (bad message)")
        case LIBSSH2_FX_OP_UNSUPPORTED: return (.transfer, "SSH_FX_OP_UNSUPPORTED (operation unsupported)")
        default: return (.transfer, "status \(code)")
        }
    }

    /// The SFTP channel, or a `transfer` failure when the connection is spent.
    func channel() throws -> OpaquePointer {
        guard let sftp, !isBroken else { throw LiteProofError.storage(.transfer, "the connection to \(server) is closed") }
        return sftp
    }

    // MARK: - Authentication

    /// Public key authentication with the URL's `key-path` (else the settings' key files), then
    /// the password if there is one (`libssh2_userauth_publickey_fromfile_ex`,
    /// `libssh2_userauth_password_ex`).
    private func authenticate() throws {
        guard let s = session else { return }
        let user = location.user
        let ulen = UInt32(user.utf8.count)
        var tried: [String] = []
        var last = ""
        let keys = location.keyPath.map { [SFTPSettings.expandingTilde($0, home: NSHomeDirectory())] } ?? settings.keyPaths
        for key in keys {
            guard FS.exists(key) else {
                throw LiteProofError(.usage, "\(location.display): key-path \(key) does not exist")
            }
            tried.append("key \(key)")
            if liteproof_ssh2_publickey_fromfile(s, user, ulen, nil, key, nil) == 0 { return }
            last = lastMessage()
        }
        if let password = location.password ?? settings.password {
            tried.append("password")
            if liteproof_ssh2_password(s, user, ulen, password, UInt32(password.utf8.count)) == 0 { return }
            last = lastMessage()
        }
        if tried.isEmpty {
            throw LiteProofError(
                .usage,
                "\(location.display): no way to log in as \(user): give key-path=FILE in the URL, LITEPROOF_SFTP_KEY_PATH, a password in the URL or LITEPROOF_SFTP_PASSWORD"
            )
        }
        throw LiteProofError.storage(
            .permission, "\(location.display): \(server) refused \(user) (tried \(tried.joined(separator: ", "))): \(last)")
    }

    private func lastMessage() -> String {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        guard let session else { return "" }
        _ = libssh2_session_last_error(session, &message, &length, 0)
        return message.map { String(cString: $0) } ?? ""
    }

    /// The raw host key the server presented, its type (`LIBSSH2_HOSTKEY_TYPE_*`) and its
    /// SHA-256 fingerprint as OpenSSH prints it.
    func hostKey() -> (key: [UInt8], type: Int32, fingerprint: String)? {
        guard let s = session else { return nil }
        var length = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(s, &length, &type), length > 0 else { return nil }
        let key = raw.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        var fingerprint = "?"
        if let hash = libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256) {
            let bytes = hash.withMemoryRebound(to: UInt8.self, capacity: 32) { Array(UnsafeBufferPointer(start: $0, count: 32)) }
            fingerprint = "SHA256:" + Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
        }
        return (key, type, fingerprint)
    }

    /// Checks the server's host key (``SFTPHostKeyCheck``), closing nothing: the caller does.
    private func checkHostKey() throws {
        guard let s = session, let presented = hostKey() else { throw failure("\(server) presented no host key") }
        try SFTPHostKeyCheck(location: location, settings: settings).check(
            session: s, key: presented.key, type: presented.type, fingerprint: presented.fingerprint)
    }
}

// The libssh2 session is used by one thread at a time: ``SFTPStorage`` holds it under its lock.
@available(*, unavailable) extension SFTPConnection: Sendable {}
