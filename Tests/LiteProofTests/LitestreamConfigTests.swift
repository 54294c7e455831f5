// Litestream's configuration file as LiteProof reads it: the shapes of Litestream's own
// examples and documentation (0.3 `replicas:`, 0.5 `replica:`, top-level credentials), its
// environment expansion (Go's os.Expand), and how each replica resolves to a folder or an
// s3:// URL with the file's credentials.

import Foundation
import LiteProof
import LiteProofConfig
import LiteProofS3
import Testing

@Suite struct LitestreamConfigTests {
    /// `$VAR` and `${VAR}` as Go's os.Expand does them (with Litestream's `$PID`).
    @Test(arguments: [
        ("path: $DIR/app.db", "path: /data/app.db"),
        ("path: ${DIR}/app.db", "path: /data/app.db"),
        ("a${DIR}b$DIR.c", "a/datab/data.c"),
        ("unset: [$NOPE] [${NOPE}]", "unset: [] []"),
        ("dollar at end $", "dollar at end $"),
        ("no name $/x $ y", "no name $/x $ y"),
        ("empty ${} eaten", "empty  eaten"),
        ("unclosed ${DIR", "unclosed DIR"),
        ("special $1 $$ ${#}", "special   "),
        ("underscore $A_B1-x", "underscore ab-x"),
        ("pid $PID", "pid 4242"),
        ("secret: ${KEY}", "secret: p@ss$word"),
    ])
    func expandsTheEnvironmentAsGo(input: String, expected: String) {
        let env = ["DIR": "/data", "A_B1": "ab", "KEY": "p@ss$word"]
        #expect(LitestreamConfig.expandEnvironment(input, environment: env, pid: 4242) == expected)
    }

    /// Litestream 0.3's documented shape: top-level keys, a `replicas:` list with a URL and an
    /// S3 replica by fields; retention and sync settings ignored.
    @Test func readsThe03Shape() throws {
        let c = try LitestreamConfig.parse(
            """
            access-key-id: AKIAEXAMPLE
            secret-access-key: ${SECRET}
            addr: ":9090"
            dbs:
              - path: /var/lib/app.db
                monitor-interval: 1s
                replicas:
                  - url: s3://mybkt.litestream.io/db
                  - name: backup
                    type: s3
                    bucket: other
                    path: app/db
                    region: eu-west-1
                    endpoint: http://127.0.0.1:9000
                    force-path-style: true
                    retention: 72h
                    sync-interval: 1s
                  - path: /backup/app
              - path: sqlite:///var/lib/two.db?_busy_timeout=5000
                replicas: [{ type: file, path: ./rel }]
            """, file: "ls.yml", environment: ["SECRET": "s3cr3t"])
        #expect(c.databases.map(\.path) == ["/var/lib/app.db", "/var/lib/two.db"])
        let rs = c.databases[0].replicas
        #expect(rs.map(\.displayName) == ["s3", "backup", "file"])
        #expect(rs.allSatisfy { $0.accessKeyID == "AKIAEXAMPLE" && $0.secretAccessKey == "s3cr3t" })
        #expect(try rs[0].resolve(database: "db") == .s3(url: "s3://mybkt.litestream.io/db", credentials: Self.keys))
        #expect(
            try rs[1].resolve(database: "db")
                == .s3(url: "s3://other/app/db?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true", credentials: Self.keys))
        #expect(try rs[2].resolve(database: "db") == .file("/backup/app"))
        let cwd = FileManager.default.currentDirectoryPath
        #expect(try c.databases[1].replicas[0].resolve(database: "db") == .file(URL(fileURLWithPath: cwd + "/rel").standardizedFileURL.path))
        // Credentials are never part of a description.
        #expect(!"\(rs[1])".contains("s3cr3t") && !"\(rs[1])".contains("AKIA"))
        #expect(!"\(Self.keys)".contains("s3cr3t"))
        // The database by path, as `litestream restore -config` finds it.
        #expect(try c.database("/var/lib/../lib/two.db").position == "dbs[1]")
        #expect(throws: LiteProofError.self) { try c.database(nil) }
        #expect(throws: LiteProofError.self) { try c.database("/elsewhere.db") }
    }

    /// Litestream 0.5's shape (etc/litestream.yml, the Fly.io and MinIO guides): one
    /// `replica:`, compaction levels, snapshot settings and an `exec:` ignored; a URL's own
    /// parameters kept after the fields, which win.
    @Test func readsThe05Shape() throws {
        let c = try LitestreamConfig.parse(
            """
            exec: ./myapp -addr :8080
            levels:
              - interval: 5m
            snapshot:
              interval: 24h
              retention: 72h
            region: auto
            dbs:
              - path: ~/app.db
                replica:
                  url: s3://${BUCKET_NAME}/app.db?endpoint=fly.storage.tigris.dev&region=x
              - path: /srv/minio.db
                replica:
                  url: s3://mybkt.localhost:9000/db
                  skip-verify: true
            """, file: "ls.yml", environment: ["BUCKET_NAME": "tigris-bkt"])
        #expect(c.databases[0].path == URL(fileURLWithPath: NSHomeDirectory() + "/app.db").standardizedFileURL.path)
        #expect(
            try c.databases[0].replicas[0].resolve(database: "db")
                == .s3(url: "s3://tigris-bkt/app.db?region=auto&endpoint=fly.storage.tigris.dev&region=x", credentials: nil))
        #expect(
            try c.databases[1].replicas[0].resolve(database: "db") == .s3(url: "s3://mybkt.localhost:9000/db?region=auto&skipVerify=true", credentials: nil))
        let location = try S3Location(url: "s3://tigris-bkt/app.db?region=auto&endpoint=fly.storage.tigris.dev&region=x")
        #expect(location.region == "auto" && location.endpoint == "https://fly.storage.tigris.dev")
    }

    /// The configuration's keys reach the S3 client as AWS_* would, over the environment's.
    @Test func configuredKeysWinOverTheEnvironment() throws {
        let env = ["AWS_ACCESS_KEY_ID": "from-env", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "tok", "AWS_CONFIG_FILE": "/nonexistent"]
        let config = try S3Config.resolve(try S3Location(url: "s3://b/p"), environment: Self.keys.applied(to: env))
        #expect(config.credentials == S3Credentials(accessKeyID: "AKIAEXAMPLE", secretAccessKey: "s3cr3t"))
    }

    /// Shapes that are not Litestream's configuration, and back ends LiteProof does not read:
    /// a usage error naming where, never a crash.
    @Test(arguments: [
        ("[1, 2]", "is a list; expected a mapping"),
        ("dbs: /var/lib/db", "dbs (line 1) is the value \"/var/lib/db\"; expected a list of databases"),
        ("dbs:\n  - replica: {path: /r}", "dbs[0] has no path:"),
        ("dbs:\n  - path: /db", "has no replica: or replicas:"),
        ("dbs:\n  - path: /db\n    replica: {path: /r}\n    replicas: [{path: /r}]", "has both replica: and replicas:"),
        ("dbs:\n  - path: /db\n    replica: [/r]", "dbs[0].replica (line 3) is a list; expected a mapping"),
        ("dbs:\n  - path: /db\n    replica:\n      path: {a: b}", "dbs[0].replica.path (line 4) is a mapping; expected a single value"),
        ("dbs:\n  - path: /db\n    replica:\n      path: /r\n      skip-verify: maybe", "skip-verify is maybe; expected true or false"),
        ("dbs:\n  - path: /db\n    replica: {path: /r}\n    path: /other", "appears twice"),
        ("", "is empty"),
        ("addr: :9090", "has no dbs: list"),
    ])
    func refusesOtherShapes(text: String, message: String) {
        #expect {
            try LitestreamConfig.parse(text, file: "ls.yml")
        } throws: { error in
            let e = error as? LiteProofError
            return e?.kind == .usage && e?.message.contains(message) == true && e?.message.contains("ls.yml") == true
        }
    }

    @Test(arguments: [
        ("type: gs\n      path: db", "a gs replica needs bucket:"),
        ("url: abs://account@container/db", "the replica type abs, which LiteProof does not read yet"),
        ("type: sftp\n      path: db", "a sftp replica is read from its url:"),
        ("type: webdav\n      path: db", "a webdav replica is read from its url:"),
        ("type: ftp\n      path: /x", "unknown replica type \"ftp\""),
        ("type: s3\n      path: db", "needs bucket:"),
        ("url: s3://b/db\n      bucket: b", "url: and bucket: are both set"),
        ("url: file:///r\n      path: /r", "url: and path: are both set"),
        ("type: s3\n      bucket: b\n      access-key-id: AKIA", "secret-access-key: is not"),
    ])
    func refusesReplicasItCannotRead(fields: String, message: String) throws {
        let c = try LitestreamConfig.parse("dbs:\n  - path: /data/app.db\n    replica:\n      \(fields)\n", file: "ls.yml")
        let r = c.databases[0].replicas[0]
        #expect {
            try r.resolve(database: c.databases[0].path)
        } throws: { error in
            let text = "\(error)"
            return text.contains(message) && text.contains("/data/app.db in ls.yml") && text.contains("dbs[0].replica")
        }
    }

    /// A gs replica resolves to the gs:// URL LiteProof's GCS reader takes, from `url:` or from
    /// `bucket:` and `path:`.
    @Test func gsReplicasResolve() throws {
        for (fields, url) in [
            ("url: gs://b/db/x", "gs://b/db/x"), ("type: gs\n      bucket: b\n      path: db/x", "gs://b/db/x"), ("url: gcs://b/db", "gcs://b/db"),
        ] {
            let c = try LitestreamConfig.parse("dbs:\n  - path: /data/app.db\n    replica:\n      \(fields)\n", file: "ls.yml")
            #expect(try c.databases[0].replicas[0].resolve(database: "/data/app.db") == .gcs(url: url))
        }
    }

    static let keys = ConfiguredCredentials(accessKeyID: "AKIAEXAMPLE", secretAccessKey: "s3cr3t")
}
