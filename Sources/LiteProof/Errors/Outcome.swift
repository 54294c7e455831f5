import Foundation

/// What a piece of work comes to, in one word, with its exit code: the one mapping from verdicts
/// and failures to what LiteProof says and how it exits. Every command, `verify --all`, `report`
/// and the metrics go through it.
///
/// | outcome | exit | meaning |
/// |---|---|---|
/// | `ok` | 0 | sound (warnings allowed) and the latest position restores; the restore or check passed |
/// | `inconclusive` | 3 | nothing wrong seen, nothing proven either (`compare`: `lagging-unproven`) |
/// | `failed` | 1 | a check on the result failed |
/// | `damaged` | 1 | findings about the replica's bytes that break a restore or the data |
/// | `undecided` | 2 | the evidence cannot decide (which generation is the newest) |
/// | `unreadable` | 2 | the store could not produce a file (missing, not a regular file, permission, transfer) or the local side failed |
/// | `usage` | 2 | bad arguments, no such path, no replica there |
///
/// Outcomes are ordered by precedence: where several apply (a fleet, a report), the greatest
/// wins. A storage failure outranks damage: the check did not see every byte, so it cannot
/// promise anything about the rest.
public enum Outcome: String, Codable, Sendable, CaseIterable, Comparable {
    case ok
    case inconclusive
    case failed
    case damaged
    case undecided
    case unreadable
    case usage

    /// The documented, stable exit code.
    public var exitCode: Int32 {
        switch self {
        case .ok: return 0
        case .failed, .damaged: return 1
        case .undecided, .unreadable, .usage: return 2
        case .inconclusive: return 3
        }
    }

    var rank: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (a: Outcome, b: Outcome) -> Bool { a.rank < b.rank }

    /// The outcome of a failure of `kind`.
    public init(_ kind: LiteProofError.Kind) {
        switch kind {
        case .usage: self = .usage
        case .storage: self = .unreadable
        case .damaged: self = .damaged
        case .checkFailed: self = .failed
        case .undecided: self = .undecided
        }
    }

    /// The outcome of any thrown error (see ``LiteProofError/init(wrapping:)``).
    public init(of error: Error) { self.init(LiteProofError(wrapping: error).kind) }

    /// The exit codes, as `--help` and the README state them.
    public static let exitCodeHelp = """
        Exit codes (stable):
          0  ok: the replica is sound (warnings allowed) and its latest
             position restores; the restore or check passed
          1  damaged: findings that break a restore or the data, or a check
             that failed
          2  could not decide: a usage error; a file the store could not
             produce (unreadable: missing, not a regular file, permission,
             transfer, or the local disk); or an undecided state (e.g. which
             generation: pass --generation)
          3  inconclusive (compare only): lagging-unproven
        """
}

extension LiteProofError {
    /// Any error as a ``LiteProofError``: itself; a ``FormatError`` as the damage it reports;
    /// anything else (a system error from a library) as a failure of the local side.
    public init(wrapping error: Error) {
        switch error {
        case let e as LiteProofError: self = e
        case let e as FormatError: self = .damaged(e.finding)
        default: self = .storage(.local, "\(error)")
        }
    }

    /// This failure's verdict word and exit code.
    public var outcome: Outcome { Outcome(kind) }
}

/// A failure as `--json` prints it: the verdict word, the kind, the storage failure's kind and
/// file, the finding, the message and the exit code.
public struct FailureReport: Codable, Sendable {
    public var verdict: Outcome
    /// `usage`, `storage`, `damaged`, `checkFailed` or `undecided`.
    public var kind: String
    /// For a storage failure: `missing`, `not-a-regular-file`, `permission`, `transfer` or `local`.
    public var storage: StorageFailure?
    /// For a storage failure: the file involved.
    public var file: String?
    public var finding: Finding?
    public var error: String
    public var exitCode: Int32

    public init(_ error: Error) {
        let e = LiteProofError(wrapping: error)
        verdict = e.outcome
        switch e.kind {
        case .usage: kind = "usage"
        case .storage: kind = "storage"
        case .damaged: kind = "damaged"
        case .checkFailed: kind = "checkFailed"
        case .undecided: kind = "undecided"
        }
        storage = e.storageFailure
        file = e.path
        finding = e.finding
        self.error = e.message
        exitCode = e.outcome.exitCode
    }

    /// The failure again, as an error to throw (`path` names the file when the report did not).
    public func error(path: String? = nil) -> LiteProofError {
        let k: LiteProofError.Kind
        switch kind {
        case "usage": k = .usage
        case "damaged": k = .damaged
        case "checkFailed": k = .checkFailed
        case "undecided": k = .undecided
        default: k = .storage(storage ?? .transfer)
        }
        return LiteProofError(k, error, finding: finding, path: file ?? path)
    }
}
