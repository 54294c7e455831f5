import ArgumentParser
import LiteProof

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List what a replica holds and what a restore would choose (reads names and headers only).",
        discussion: """
            With Litestream's configuration: `liteproof inspect --config /etc/litestream.yml \
            /data/app.db` inspects the replica the file names for that database.
            """)

    @OptionGroup var options: ReplicaOptions

    func run() throws {
        do {
            let replica = try options.open()
            let inventory = try Inventory.make(replica)
            print(options.json ? JSONOutput.encode(inventory) : inventory.renderText())
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail(error, json: options.json)
        }
    }
}
