import Foundation

/// A failure that stops a command: the input cannot be read or the request cannot be carried out.
///
/// Damage found inside a replica is usually a ``Finding`` instead, and a parser of outside bytes
/// throws a ``FormatError`` (which becomes a finding where findings are collected); this type is
/// for the cases where there is nothing sensible left to do (no such folder, no replica in it,
/// output already exists) and for damage that stops a restore as a whole.
public struct LiteProofError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// A path or argument the user gave is unusable (exit code 2).
        case usage
        /// An operating-system call failed (exit code 2).
        case io
        /// The replica is damaged in a way that stops the requested work (exit code 1).
        case damaged
        /// A check on the result failed, e.g. an integrity check (exit code 1).
        case checkFailed
    }

    public var kind: Kind
    public var message: String
    /// The finding behind a `.damaged` error, when there is one.
    public var finding: Finding?
    /// For an `.io` error on the local side — an output, a scratch or temporary file (ENOSPC,
    /// EFBIG, EIO) — the local path. Such a failure means "could not run", never damage in the
    /// replica: readers of replica files pass it on instead of turning it into a finding.
    public var localPath: String?

    public init(_ kind: Kind, _ message: String, finding: Finding? = nil, localPath: String? = nil) {
        self.kind = kind
        self.message = message
        self.finding = finding
        self.localPath = localPath
    }

    /// Whether this is a failure of the local side (see ``localPath``).
    public var isLocal: Bool { localPath != nil }

    public static func damaged(_ finding: Finding) -> LiteProofError {
        LiteProofError(.damaged, finding.description, finding: finding)
    }

    public var description: String { message }
}

/// Failure of a system call, carrying `errno`'s text and the path involved.
func posixError(_ what: String, path: String, errno code: Int32 = errno) -> LiteProofError {
    LiteProofError(.io, "\(what) \(path): \(String(cString: strerror(code)))")
}

/// Failure of a system call on a local output, scratch or temporary file: `.io` with
/// ``LiteProofError/localPath`` set, so it is reported as "could not run" naming the local path.
func localError(_ what: String, path: String, errno code: Int32 = errno) -> LiteProofError {
    LiteProofError(.io, "\(what) \(path): \(String(cString: strerror(code)))", localPath: path)
}
