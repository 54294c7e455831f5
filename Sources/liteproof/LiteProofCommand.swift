import ArgumentParser
import Foundation
import LiteProof

@main
struct LiteProofCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "liteproof",
        abstract: "Prove a Litestream replica is complete and byte-for-byte faithful — without Litestream.",
        discussion: """
            LiteProof reads Litestream replicas directly (0.3 generations/snapshots/WAL segments and \
            0.5 LTX files, from a file replica or a folder downloaded from S3), checks every byte, \
            restores them with its own code and compares the result with the live database.

            Start with:
              liteproof verify ./replica        check every file and the chain of files
              liteproof inspect ./replica       list generations / levels and the restorable range
              liteproof restore ./replica -o restored.db

            Exit codes (stable):
              0  success: the replica is sound (warnings allowed), the restore or check passed
              1  findings: damage that breaks a restore or the data, or a check that failed
              2  could not run: bad arguments, no such path, no replica there, I/O error
            """,
        version: LiteProofVersion.string,
        subcommands: [
            VerifyCommand.self, InspectCommand.self, RestoreCommand.self, CompareCommand.self, DigestCommand.self, CanaryCommand.self, BenchCommand.self,
            BisectCommand.self, EvidenceCommand.self, ProveCommand.self, LogsCommand.self, TimelineCommand.self, ReportCommand.self,
            FetchCommand.self,
        ])

    /// Runs the command; argument errors exit 2 ("could not run"), as documented, instead of the
    /// argument parser's 64. `--help` and `--version` still print on standard output and exit 0.
    static func main() {
        ProcessMemory.returnLargeBuffersWhenFreed()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // Help, version, and exit codes a command chose keep the parser's handling.
            if Self.exitCode(for: error) == .success || Self.message(for: error).isEmpty { Self.exit(withError: error) }
            FileHandle.standardError.write(Data((Self.fullMessage(for: error) + "\n").utf8))
            Self.exit(withError: ExitCode(2))
        }
    }
}

/// Maps library errors to the documented exit codes, printing the message on stderr.
func exitCode(for error: Error) -> ExitCode {
    if error is FormatError { return ExitCode(1) }  // damage in the replica
    if let e = error as? LiteProofError {
        switch e.kind {
        case .damaged, .checkFailed: return ExitCode(1)
        case .usage, .io: return ExitCode(2)
        }
    }
    return ExitCode(2)
}

func fail(_ error: Error, json: Bool) -> ExitCode {
    let code = exitCode(for: error)
    if json, let e = (error as? LiteProofError) ?? (error as? FormatError).map({ LiteProofError.damaged($0.finding) }) {
        print(JSONOutput.encode(ErrorReport(e)))
    } else {
        FileHandle.standardError.write(Data("liteproof: \(String(describing: error).escapedForText)\n".utf8))
    }
    return code
}

struct ErrorReport: Encodable {
    var verdict = "error"
    var error: String
    var kind: String
    var finding: Finding?

    init(_ e: LiteProofError) {
        error = e.message
        kind = e.kind.rawValue
        finding = e.finding
        if e.kind == .damaged { verdict = "damaged" }
    }
}
