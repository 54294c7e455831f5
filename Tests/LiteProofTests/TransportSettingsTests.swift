// The object-store transport's settings from the environment, without a server: the transfer
// policy's variables (new names and their older aliases) and the proxy chosen for an endpoint.

import Foundation
import LiteProof
import LiteProofObjectStore
import Testing

@Suite struct TransportSettingsTests {
    @Test func policyVariablesAndTheirAliases() throws {
        let new = try TransferPolicy.from(environment: ["LITEPROOF_STORE_ATTEMPTS": "2", "LITEPROOF_STORE_STALL": "3"])
        #expect(new.attempts == 2 && new.window == 3)
        let old = try TransferPolicy.from(environment: ["LITEPROOF_S3_ATTEMPTS": "4", "LITEPROOF_S3_MAX_KEYS": "9"])
        #expect(old.attempts == 4 && old.maxKeys == 9)
        let both = try TransferPolicy.from(environment: ["LITEPROOF_STORE_DEADLINE": "7", "LITEPROOF_S3_DEADLINE": "8"])
        #expect(both.deadline == 7)
        #expect(TransferPolicy.variables.allSatisfy { $0.name.hasPrefix("LITEPROOF_STORE_") })
        do {
            _ = try TransferPolicy.from(environment: ["LITEPROOF_S3_MIN_SPEED": "fast"])
            Issue.record("a value that is not a number was accepted")
        } catch let e as LiteProofError {
            #expect(e.message.contains("LITEPROOF_S3_MIN_SPEED=fast"), "\(e.message)")
        }
        #expect(throws: LiteProofError.self) { try TransferPolicy.from(environment: ["LITEPROOF_STORE_ATTEMPTS": "1.5"]) }
        // Objects held in memory: 0 (none) is allowed here, as is any size up to 16 MiB.
        #expect(try TransferPolicy.from(environment: [:]).memoryObjectBytes == 64 << 10)
        #expect(try TransferPolicy.from(environment: ["LITEPROOF_STORE_MEMORY_OBJECTS": "0"]).memoryObjectBytes == 0)
        #expect(try TransferPolicy.from(environment: ["LITEPROOF_S3_MEMORY_OBJECTS": "4096"]).memoryObjectBytes == 4096)
        for bad in ["-1", "1.5", "16777217", "lots"] {
            #expect(throws: LiteProofError.self) { try TransferPolicy.from(environment: ["LITEPROOF_STORE_MEMORY_OBJECTS": bad]) }
        }
    }

    /// Requests in flight per storage: 16 unless the environment says otherwise, never more than
    /// the connections the HTTP clients keep per host; a storage takes the policy's number unless
    /// told otherwise.
    @Test func connectionsPerReplica() throws {
        #expect(try TransferPolicy.from(environment: [:]).connections == 16)
        #expect(try TransferPolicy.from(environment: ["LITEPROOF_STORE_CONNECTIONS": "3"]).connections == 3)
        #expect(try TransferPolicy.from(environment: ["LITEPROOF_S3_CONNECTIONS": "64"]).connections == 64)
        for bad in ["0", "65", "1.5", "-2", "many"] {
            #expect(throws: LiteProofError.self) { try TransferPolicy.from(environment: ["LITEPROOF_STORE_CONNECTIONS": bad]) }
        }
        let folder = NSTemporaryDirectory() + "liteproof-connections-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try FolderStore(folder: folder)
        let prefix = "liteproof-connections"
        #expect(try ObjectStorage(store: store, location: "folder", prefix: "", scratchPrefix: prefix).concurrency == 16)
        store.policy.connections = 3
        #expect(try ObjectStorage(store: store, location: "folder", prefix: "", scratchPrefix: prefix).concurrency == 3)
        #expect(try ObjectStorage(store: store, location: "folder", prefix: "", concurrency: 5, scratchPrefix: prefix).concurrency == 5)
    }

    @Test func proxyFromTheEnvironment() throws {
        let https = URL(string: "https://s3.example.com")!, http = URL(string: "http://10.0.0.5:9000")!
        let env = ["HTTPS_PROXY": "http://user:p%40ss@proxy.example:3128", "http_proxy": "proxy.example:8080", "NO_PROXY": ".internal, 10.0.0.5"]
        let p = try #require(HTTPClients.proxy(for: https, environment: env))
        #expect(p.host == "proxy.example" && p.port == 3128 && p.user == "user" && p.password == "p@ss")
        #expect(HTTPClients.proxy(for: http, environment: env) == nil)  // NO_PROXY names it
        #expect(HTTPClients.proxy(for: URL(string: "http://a.b.internal")!, environment: env) == nil)
        #expect(HTTPClients.proxy(for: URL(string: "http://other:1")!, environment: env)?.port == 8080)
        #expect(HTTPClients.proxy(for: https, environment: ["HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"]) == nil)
        #expect(HTTPClients.proxy(for: https, environment: [:]) == nil)
    }
}
