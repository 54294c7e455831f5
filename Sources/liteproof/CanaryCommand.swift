import ArgumentParser
import Foundation
import LiteProof

struct CanaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canary",
        abstract: "Write an identifiable row to the live database, then look for it in the replica.",
        discussion: """
            The proof-of-persistence pattern: `canary write` inserts one row into \
            _liteproof_canary(id INTEGER PRIMARY KEY, token TEXT UNIQUE, label TEXT, created_at REAL) \
            (created if missing) and prints its token as the last line; after Litestream has had \
            time to replicate, `canary check REPLICA --token T` restores the replica with \
            LiteProof's own code and exits 0 if the row is there, 1 if not. \
            `canary write` is the only LiteProof command that writes to a live database.
            """,
        subcommands: [Write.self, Check.self])

    struct Write: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Insert one canary row; print its token last.")

        @Argument(help: "The live database (opened read-write for one short transaction).")
        var database: String

        @Option(help: "A label stored with the canary (e.g. a deploy id).")
        var label: String?

        @Flag(name: .long, help: "Print a JSON object (the token is also its last line's value).")
        var json = false

        func run() throws {
            do {
                let c = try Canary.write(to: database, label: label)
                if json {
                    print(JSONOutput.encode(c))
                } else {
                    print("canary written to \(database) at \(c.createdAtText)\(c.label.map { " (\($0))" } ?? "")")
                    print(c.token)
                }
            } catch {
                throw fail(error, json: json)
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exit 0 if the replica's latest restorable state holds the canary, 1 if not.")

        @OptionGroup var options: ReplicaOptions

        @Option(help: "The token printed by `canary write`.")
        var token: String

        func run() throws {
            struct Result: Encodable { var token: String; var found: Bool; var canary: Canary?; var position: String; var newest: Canary? }
            let result: Result
            do {
                let replica = try options.open()
                let plan = try RestorePlanner(replica: replica).plan()
                let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-canary")
                defer { ScratchSpace.release(scratch) }
                let path = try Restorer(replica: replica, progress: options.progressHandler()).restoreToScratch(plan, in: scratch)
                let all = try Canary.all(in: try FilePageSource(path: path)) ?? []
                let hit = all.first { $0.token == token }
                result = Result(token: token, found: hit != nil, canary: hit, position: plan.position, newest: all.last)
            } catch {
                throw fail(error, json: options.json)
            }
            if options.json {
                print(JSONOutput.encode(result))
            } else if let c = result.canary {
                print("FOUND: canary \(token) (written \(c.createdAtText)) is in the replica at \(result.position)")
            } else {
                print("NOT FOUND: canary \(token) is not in the replica at \(result.position)")
                if let n = result.newest { print("  newest canary there: \(n.token.escapedForText) written \(n.createdAtText.escapedForText)") }
            }
            if !result.found { throw ExitCode(1) }
        }
    }
}
