import ArgumentParser
import LiteProof

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List what a replica holds and what a restore would choose (reads names and headers only).")

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
