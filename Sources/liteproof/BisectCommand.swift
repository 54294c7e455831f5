import ArgumentParser
import Foundation
import LiteProof

struct BisectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bisect",
        abstract: "Find the first point in a replica's history where a query's result changes.",
        discussion: """
            For forensics after suspected data loss: when did a row vanish or a value change? \
            The points are every commit of every WAL index of a generation (0.3) or every TXID \
            along the finest chain of LTX files (0.5). LiteProof applies the replica forward \
            into a scratch database, evaluating the query (read-only, with SQLite) only at the \
            points a binary search needs, and steps back with an undo log instead of restoring \
            from scratch. Reports the point, its time, the file holding the change, and the \
            result before and after.

            Example:
              liteproof bisect ./replica --sql "SELECT count(*) FROM orders WHERE id = 42"
              liteproof bisect ./replica --sql "SELECT status FROM orders WHERE id = 42" --expect paid

            Exit codes: 0 a change was found; 1 no change (the query gives the baseline \
            everywhere); 2 could not run (bad query, damaged replica before any change).
            """)

    @OptionGroup var options: ReplicaOptions

    @Option(help: "The query (read-only) whose result is compared at each point.")
    var sql: String

    @Option(help: "Compare with this result instead of the result at the earliest point (rows as lines, columns joined by |).")
    var expect: String?

    func run() throws {
        let report: Bisect.Report
        do {
            var bisect = Bisect(replica: try options.open(), generation: options.generation)
            if !options.json && !options.quiet && isatty(2) == 1 {
                bisect.progress = { FileHandle.standardError.write(Data("\r\($0)\u{1B}[K".utf8)) }
            }
            report = try bisect.run(sql: sql, expect: expect)
            if bisect.progress != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        } catch {
            throw fail(error, json: options.json)
        }
        print(options.json ? JSONOutput.encode(report) : report.renderText())
        if !report.found { throw ExitCode(1) }
    }
}
