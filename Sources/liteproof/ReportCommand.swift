import ArgumentParser
import Foundation
import LiteProof

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Merge the JSON Lines of `verify --all --json` runs (e.g. shards) into one table.",
        discussion: """
            Reads the outputs of `liteproof verify --all ROOT --json` (one file per shard, or \
            concatenated; - reads stdin), prints one line per database and a summary, and exits as \
            `verify --all` would: 0 every database sound, 1 a database is damaged, 2 a database \
            could not be read. Inputs that do not add up to one whole check (a shard missing, a run \
            with no summary line, a database twice) are listed and exit 2; a line that is not a \
            database or summary object is refused with its file and line number (exit 2).
            """)

    @Argument(help: ArgumentHelp("JSON Lines files written by `verify --all --json` (- for stdin).", valueName: "file"))
    var files: [String]

    @Flag(name: .long, help: "Print the merged database lines and one summary as JSON Lines instead of text.")
    var json = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one file written by `liteproof verify --all --json`") }
    }

    func run() throws {
        var inputs: [(name: String, text: String)] = []
        for file in files {
            let data: Data?
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                data = FileManager.default.contents(atPath: file)
            }
            guard let data else { throw fail(LiteProofError(.usage, "cannot read \(file)"), json: json) }
            guard let text = String(data: data, encoding: .utf8) else {
                throw fail(LiteProofError(.usage, "\(file) is not UTF-8 text; expected the JSON Lines of `liteproof verify --all --json`"), json: json)
            }
            inputs.append((file == "-" ? "stdin" : file, text))
        }
        let report: FleetReport
        do { report = try FleetReport.read(inputs) } catch { throw fail(error, json: json) }
        if json {
            for e in report.entries { print(JSONLines.encode(e)) }
            print(JSONLines.encode(MergedSummary(report)))
        } else {
            print(report.renderText())
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

/// The last line of `report --json`.
struct MergedSummary: Encodable {
    var type = "report"
    var databases: Int
    var ok: Int
    var damaged: Int
    var unreadable: Int
    var undecided: Int
    var runs: Int
    var problems: [String]
    var exitCode: Int32

    init(_ r: FleetReport) {
        databases = r.entries.count
        let counts = VerdictCounts(r.entries)
        ok = counts.ok
        damaged = counts.damaged
        unreadable = counts.unreadable
        undecided = counts.undecided
        runs = r.summaries.count
        problems = r.problems
        exitCode = r.exitCode
    }
}
