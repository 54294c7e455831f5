import Foundation

/// A failure that stops a command: the one error type every layer throws.
///
/// Damage found inside a replica is usually a ``Finding`` collected in a report; a parser of
/// outside bytes throws a ``FormatError``, which becomes a finding where findings are collected.
/// This type is for the cases where the work cannot go on. Its ``Kind`` is a closed set, matched
/// by pattern, and ``outcome`` maps each kind to its verdict word and exit code (see ``Outcome``).
public struct LiteProofError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, from a closed set. Each maps to one ``Outcome``.
    public enum Kind: Sendable, Hashable {
        /// An argument the user gave is unusable: no such path, no replica there, a bad option
        /// (exit 2, `usage`).
        case usage
        /// The store could not produce a file, or the local side failed (exit 2, `unreadable`).
        /// Never damage: nothing was learnt about the replica's bytes.
        case storage(StorageFailure)
        /// The replica's bytes are damaged in a way that stops the work: ``finding`` says where
        /// (exit 1, `damaged`).
        case damaged
        /// A check on the result failed: SQLite's check of a restore, a target past the replica's
        /// end (exit 1, `failed`).
        case checkFailed
        /// The evidence cannot decide, e.g. which generation is the newest: ``finding`` says why
        /// and the message says how to decide (exit 2, `undecided`).
        case undecided
    }

    public var kind: Kind
    public var message: String
    /// The finding behind a `.damaged` or `.undecided` error, when there is one.
    public var finding: Finding?
    /// The file involved, for a storage failure: a replica file (relative or as the store names
    /// it), or a local output, scratch or temporary file for `.storage(.local)`.
    public var path: String?

    public init(_ kind: Kind, _ message: String, finding: Finding? = nil, path: String? = nil) {
        self.kind = kind
        self.message = message
        self.finding = finding
        self.path = path
    }

    public static func damaged(_ finding: Finding) -> LiteProofError {
        LiteProofError(.damaged, finding.description, finding: finding)
    }

    public static func undecided(_ finding: Finding, _ message: String) -> LiteProofError {
        LiteProofError(.undecided, message, finding: finding)
    }

    public static func storage(_ failure: StorageFailure, _ message: String, path: String? = nil) -> LiteProofError {
        LiteProofError(.storage(failure), message, path: path)
    }

    /// The store's failure kind, when this is a storage failure.
    public var storageFailure: StorageFailure? {
        if case .storage(let f) = kind { return f }
        return nil
    }

    /// A storage failure of any kind: says nothing about the replica's bytes.
    public var isStorage: Bool { storageFailure != nil }

    /// A failure of the local side (an output, scratch or temporary file: ENOSPC, EFBIG, EIO;
    /// a thread or decoder that could not be made).
    public var isLocal: Bool { storageFailure == .local }

    public var description: String { message }

    /// The same failure said twice (a read some caller shrugged off, then met again): the same
    /// file when both name one, else the same words.
    public func isSameFailure(as other: LiteProofError) -> Bool {
        if let path, let otherPath = other.path { return path == otherPath && kind == other.kind }
        return message == other.message
    }
}

/// Why a store could not produce a file: the closed set every back end reports in.
public enum StorageFailure: String, Codable, Sendable, CaseIterable {
    /// The file is not there (gone since the listing, a dangling link, NoSuchKey).
    case missing
    /// Something other than a regular file stands in its place (a FIFO, a device, a folder).
    case notRegularFile = "not-a-regular-file"
    /// Access was refused (EACCES, AccessDenied).
    case permission
    /// Reading from the store failed: a network or server error, a short or cut-off answer, a
    /// read error of the disk under a file replica.
    case transfer
    /// Our own side failed: the output, scratch or temporary files (disk full, file too large),
    /// or a resource (a thread, a decoder).
    case local
}

/// Failure of a system call on a replica file or an input, carrying `errno`'s text and the path:
/// a storage failure whose kind follows `errno` (missing, permission, else transfer).
func posixError(_ what: String, path: String, errno code: Int32 = errno) -> LiteProofError {
    let failure: StorageFailure
    switch code {
    case ENOENT, ENOTDIR, ELOOP: failure = .missing
    case EACCES, EPERM: failure = .permission
    case EISDIR: failure = .notRegularFile
    default: failure = .transfer
    }
    return .storage(failure, "\(what) \(path): \(String(cString: strerror(code)))", path: path)
}

/// Failure of a system call on a local output, scratch or temporary file: `.storage(.local)`
/// naming the local path, reported as "could not run", never as damage in the replica.
func localError(_ what: String, path: String, errno code: Int32 = errno) -> LiteProofError {
    .storage(.local, "\(what) \(path): \(String(cString: strerror(code)))", path: path)
}
