import ArgumentParser
import Foundation
import LiteProof
import LiteProofObjectStore

@main
struct LiteProofCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "liteproof",
        abstract: "Prove a Litestream replica is complete and byte-for-byte faithful — without Litestream.",
        discussion: """
            LiteProof reads Litestream replicas directly (0.3 generations/snapshots/WAL segments and \
            0.5 LTX files), checks every byte, restores them with its own code and compares the \
            result with the live database. A replica is a file replica's folder, a copy of one \
            (a folder, .tar or .tar.zst), or the store Litestream writes to, by the URL Litestream \
            takes: s3://, gs://, webdav:// or webdavs://, sftp://.

            Start with:
              liteproof verify ./replica        check every file and the chain of files
              liteproof inspect ./replica       list generations / levels and the restorable range
              liteproof restore ./replica -o restored.db
              liteproof verify 's3://bucket/db?region=eu-west-1'   straight from the bucket

            \(Outcome.exitCodeHelp)

            Object stores: credentials as Litestream reads them (AWS_ACCESS_KEY_ID, \
            GOOGLE_APPLICATION_CREDENTIALS, …). Every transfer is bounded, and a store that \
            fails ends the command with exit 2, never a verdict. These variables tune the bounds:
            \(TransferPolicy.variables.map { "  \($0.name): \($0.help)" }.joined(separator: "\n"))
            """,
        version: LiteProofVersion.string,
        subcommands: [
            VerifyCommand.self, InspectCommand.self, RestoreCommand.self, CompareCommand.self, DigestCommand.self, CanaryCommand.self, BenchCommand.self,
            BisectCommand.self, EvidenceCommand.self, ProveCommand.self, LogsCommand.self, TimelineCommand.self, ReportCommand.self,
            FetchCommand.self, WatchCommand.self,
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

/// The documented exit code of a failure (``Outcome``).
func exitCode(for error: Error) -> ExitCode {
    ExitCode(Outcome(of: error).exitCode)
}

/// Reports a failure (stderr, or one JSON object on stdout with `--json`) and returns its exit
/// code: the words and the code come from the one mapping, ``Outcome``.
func fail(_ error: Error, json: Bool) -> ExitCode {
    let report = FailureReport(error)
    if json {
        print(JSONOutput.encode(report))
    } else {
        // Escaped whole: a name taken from the replica must not start a line of its own.
        FileHandle.standardError.write(Data("liteproof: \(report.error.escapedForText)\n".utf8))
    }
    return ExitCode(report.exitCode)
}
