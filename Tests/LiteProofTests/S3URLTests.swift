// Replica URLs as Litestream's command line reads them: the S3 URLs of Litestream's own URL
// tests (cmd/litestream/main_test.go, 0.5), each with what Litestream resolves it to (bucket,
// path, endpoint, region, path style, skipVerify), plus the host styles and spellings of the
// issue. Needs no server.

import Foundation
import LiteProof
import LiteProofS3
import Testing

@Suite struct S3URLTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var url: String
        var bucket: String
        var prefix: String
        var endpoint: String? = nil
        var region: String? = nil
        var pathStyle = false
        var skipVerify = false
        var testDescription: String { url }
    }

    /// The URLs of Litestream's tests that name reader-side settings, with Litestream's expected
    /// values (an endpoint as its client ends up using it: with a scheme).
    static let litestreamCases: [Case] =
        [
            // TestNewS3ReplicaFromConfig
            Case(url: "s3://foo/bar", bucket: "foo", prefix: "bar"),
            Case(url: "s3://foo.localhost:9000/bar", bucket: "foo", prefix: "bar", endpoint: "http://localhost:9000", region: "us-east-1", pathStyle: true),
            Case(
                url: "s3://foo.s3.us-west-000.backblazeb2.com/bar", bucket: "foo", prefix: "bar", endpoint: "https://s3.us-west-000.backblazeb2.com",
                region: "us-west-000", pathStyle: true),
            Case(
                url: "s3://arn:aws:s3:us-east-2:123456789012:accesspoint/stream-replica",
                bucket: "arn:aws:s3:us-east-2:123456789012:accesspoint/stream-replica",
                prefix: "", region: "us-east-2"),
            Case(
                url: "s3://arn:aws:s3:us-west-1:123456789012:accesspoint/stream-replica/backups/primary",
                bucket: "arn:aws:s3:us-west-1:123456789012:accesspoint/stream-replica", prefix: "backups/primary", region: "us-west-1"),
            // TestParseReplicaURL_AccessPoint
            Case(
                url: "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/db-access/backups/prod",
                bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/db-access",
                prefix: "backups/prod", region: "us-east-1"),
            // TestParseReplicaURLWithQuery
            Case(
                url: "s3://mybucket/path/to/db?endpoint=localhost:9000&region=us-east-1&forcePathStyle=true", bucket: "mybucket", prefix: "path/to/db",
                endpoint: "http://localhost:9000", region: "us-east-1", pathStyle: true),
            Case(url: "s3://mybucket/path/to/db", bucket: "mybucket", prefix: "path/to/db"),
            Case(
                url: "s3://mybucket/path/to/db?endpoint=localhost:9000", bucket: "mybucket", prefix: "path/to/db", endpoint: "http://localhost:9000",
                pathStyle: true),
            Case(
                url: "s3://mybucket/db?endpoint=fly.storage.tigris.dev&region=auto", bucket: "mybucket", prefix: "db",
                endpoint: "https://fly.storage.tigris.dev",
                region: "auto", pathStyle: true),
            Case(
                url: "s3://mybucket/db?endpoint=self-signed.local&skipVerify=true", bucket: "mybucket", prefix: "db", endpoint: "http://self-signed.local",
                pathStyle: true, skipVerify: true),
            // TestNewS3ReplicaClientFromConfig
            Case(
                url: "s3://mybucket/path/to/db?endpoint=localhost:9000&region=us-west-2&forcePathStyle=true&skipVerify=true&storage-class=ONEZONE_IA",
                bucket: "mybucket", prefix: "path/to/db", endpoint: "http://localhost:9000", region: "us-west-2", pathStyle: true, skipVerify: true),
            Case(url: "s3://mybucket.s3.amazonaws.com/path/to/db", bucket: "mybucket", prefix: "path/to/db"),
            Case(
                url: "s3://mybucket/path?endpoint=from-query&region=us-east-1&storage-class=ONEZONE_IA", bucket: "mybucket", prefix: "path",
                endpoint: "https://from-query", region: "us-east-1", pathStyle: true),
            Case(
                url: "s3://my-tigris-bucket/db.sqlite?endpoint=fly.storage.tigris.dev&region=auto", bucket: "my-tigris-bucket", prefix: "db.sqlite",
                endpoint: "https://fly.storage.tigris.dev", region: "auto", pathStyle: true),
            Case(
                url: "s3://mybucket/path?endpoint=https://secure.storage.com&region=us-east-1", bucket: "mybucket", prefix: "path",
                endpoint: "https://secure.storage.com", region: "us-east-1", pathStyle: true),
            Case(url: "s3://bucket/db?sign-payload=true&require-content-md5=false", bucket: "bucket", prefix: "db"),
            Case(url: "s3://bucket/db?sign-payload=false&require-content-md5=true", bucket: "bucket", prefix: "db"),
            Case(url: "s3://mybucket/path?part-size=10485760&concurrency=4", bucket: "mybucket", prefix: "path"),
            Case(url: "s3://mybucket/path?partSize=8388608", bucket: "mybucket", prefix: "path"),
            Case(url: "s3://mybucket/path?partSize=8388608&part-size=1048576", bucket: "mybucket", prefix: "path"),
            Case(url: "s3://mybucket/path?part-size=1048576&concurrency=2", bucket: "mybucket", prefix: "path"),
            Case(
                url: "s3://bucket/db?endpoint=https://accountid.r2.cloudflarestorage.com&concurrency=5", bucket: "bucket", prefix: "db",
                endpoint: "https://accountid.r2.cloudflarestorage.com", pathStyle: true),
            Case(
                url: "s3://mybucket/path?endpoint=http://localhost:9000&part-size=8388608&concurrency=4", bucket: "mybucket", prefix: "path",
                endpoint: "http://localhost:9000", pathStyle: true),
            // TestReadConfigFile, TestNewDBsFromDirectoryConfig_*
            Case(url: "s3://test-bucket/backups", bucket: "test-bucket", prefix: "backups"),
            Case(url: "s3://legacy-bucket/base", bucket: "legacy-bucket", prefix: "base"),
        ]
        // ProviderDefaultsParity: every provider endpoint, region us-east-1; path style throughout.
        + [
            "https://fly.storage.tigris.dev", "https://nyc3.digitaloceanspaces.com", "https://s3.us-west-002.backblazeb2.com", "https://s3.filebase.com",
            "https://s3.fr-par.scw.cloud", "https://accountid.r2.cloudflarestorage.com", "http://localhost:9000",
            "https://myproject.supabase.co/storage/v1/s3", "https://fsn1.your-objectstorage.com",
        ].map { (e: String) in
            Case(
                url: "s3://mybucket/path?endpoint=\(e)&region=us-east-1", bucket: "mybucket", prefix: "path", endpoint: e, region: "us-east-1", pathStyle: true)
        }

    /// The S3 URLs of the tests of Litestream's library URL factory (replica_url_test.go,
    /// s3/replica_client_test.go). LiteProof resolves a URL as Litestream's command line does (it
    /// wrote the replica, and `litestream restore URL` reads it so); where the library resolves
    /// otherwise, its value is in the comment.
    static let libraryCases: [Case] =
        [
            Case(url: "s3://mybucket/path/to/db", bucket: "mybucket", prefix: "path/to/db"),
            Case(
                url: "s3://mybucket/db?endpoint=localhost:9000&region=us-west-2", bucket: "mybucket", prefix: "db", endpoint: "http://localhost:9000",
                region: "us-west-2", pathStyle: true),
            Case(
                url: "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/db-access/backups", bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/db-access",
                prefix: "backups", region: "us-east-1"),
            Case(
                url: "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/db-access/backups?sign-payload=false",
                bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/db-access", prefix: "backups", region: "us-east-1"),
            Case(
                url: "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point",
                bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point",
                prefix: "", region: "us-east-1"),
            Case(
                url: "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point/backups/db",
                bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point", prefix: "backups/db", region: "us-east-1"),
            Case(
                url: "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point?sign-payload=true",
                bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point", prefix: "", region: "us-east-1"),
            Case(
                url: "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point?sign-payload=false&region=us-west-2",
                bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point", prefix: "", region: "us-west-2"),
            Case(
                url: "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point/backups?sign-payload=true",
                bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point", prefix: "backups", region: "us-east-1"),
            Case(
                url: "S3://arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point",
                bucket: "arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point",
                prefix: "", region: "us-east-1"),
            Case(
                url: "s3://mybucket/path?endpoint=https://account123.r2.cloudflarestorage.com&sign-payload=false", bucket: "mybucket", prefix: "path",
                endpoint: "https://account123.r2.cloudflarestorage.com", pathStyle: true),
            // Library: path style false (set explicitly); the command line always uses path style for B2.
            Case(
                url: "s3://mybucket/path?endpoint=https://s3.us-west-002.backblazeb2.com&forcePathStyle=false", bucket: "mybucket", prefix: "path",
                endpoint: "https://s3.us-west-002.backblazeb2.com", pathStyle: true),
            Case(
                url: "s3://mybucket/path?endpoint=https://fly.storage.tigris.dev&require-content-md5=true", bucket: "mybucket", prefix: "path",
                endpoint: "https://fly.storage.tigris.dev", pathStyle: true),
            Case(url: "s3://mybucket/path?forcePathStyle=true", bucket: "mybucket", prefix: "path", pathStyle: true),
            // Library: path style true; the command line does not read force-path-style.
            Case(url: "s3://mybucket/path?force-path-style=true", bucket: "mybucket", prefix: "path"),
            // Library: path style false; the command line does not read force-path-style, and an
            // endpoint with a port is path style.
            Case(
                url: "s3://mybucket/path?endpoint=http://localhost:9000&force-path-style=false", bucket: "mybucket", prefix: "path",
                endpoint: "http://localhost:9000", pathStyle: true),
            Case(url: "s3://mybucket/path?skipVerify=true", bucket: "mybucket", prefix: "path", skipVerify: true),
            // Library: skipVerify true; the command line does not read skip-verify.
            Case(url: "s3://mybucket/path?skip-verify=true", bucket: "mybucket", prefix: "path"),
            Case(url: "s3://mybucket/path?concurrency=3", bucket: "mybucket", prefix: "path"),
            Case(url: "s3://mybucket/path?part-size=10485760", bucket: "mybucket", prefix: "path"),
            Case(url: "s3://mybucket/path?partSize=10485760", bucket: "mybucket", prefix: "path"),
            Case(url: "s3://mybucket/path?storage-class=ONEZONE_IA", bucket: "mybucket", prefix: "path"),
            Case(url: "s3://mybucket/path?storageClass=GLACIER_IR", bucket: "mybucket", prefix: "path"),
            // Library: path style and skipVerify true; the command line reads neither spelling.
            Case(
                url: "s3://mybucket/path?force-path-style=true&skip-verify=true&concurrency=4&part-size=8388608&storage-class=ONEZONE_IA", bucket: "mybucket",
                prefix: "path"),
            Case(url: "s3://mybucket/path?endpoint=http://other:9000", bucket: "mybucket", prefix: "path", endpoint: "http://other:9000", pathStyle: true),
            Case(url: "s3://mybucket/path?force-path-style=false", bucket: "mybucket", prefix: "path"),
        ]
        // The provider table of replica_url_test.go: path style for every custom endpoint.
        + [
            "https://account123.r2.cloudflarestorage.com", "https://s3.us-west-002.backblazeb2.com", "https://sfo3.digitaloceanspaces.com",
            "https://s3.fr-par.scw.cloud", "https://s3.filebase.com", "https://fly.storage.tigris.dev", "http://localhost:9000",
            "https://fsn1.your-objectstorage.com",
        ].map { (e: String) in Case(url: "s3://mybucket/path?endpoint=\(e)", bucket: "mybucket", prefix: "path", endpoint: e, pathStyle: true) }

    /// The host styles and spellings of the issue that Litestream's tests leave out, resolved as
    /// Litestream's code resolves them.
    static let moreCases: [Case] = [
        Case(url: "s3://bucket.s3.us-west-2.amazonaws.com/db", bucket: "bucket", prefix: "db", region: "us-west-2"),
        Case(url: "s3://my.dotted.bucket.s3.eu-west-1.amazonaws.com/db", bucket: "my.dotted.bucket", prefix: "db", region: "eu-west-1"),
        Case(
            url: "s3://bucket.nyc3.digitaloceanspaces.com/db", bucket: "bucket", prefix: "db", endpoint: "https://nyc3.digitaloceanspaces.com", region: "nyc3"),
        Case(url: "s3://bucket.s3.filebase.com/db", bucket: "bucket", prefix: "db", endpoint: "https://s3.filebase.com", pathStyle: true),
        Case(url: "s3://bucket.s3.fr-par.scw.cloud/db", bucket: "bucket", prefix: "db", endpoint: "https://s3.fr-par.scw.cloud", region: "fr-par"),
        // Litestream 0.3's Linode and port-less localhost forms.
        Case(
            url: "s3://bucket.us-east-1.linodeobjects.com/db", bucket: "bucket", prefix: "db", endpoint: "https://us-east-1.linodeobjects.com",
            region: "us-east-1", pathStyle: true),
        Case(url: "s3://bucket.localhost/db", bucket: "bucket", prefix: "db", endpoint: "http://localhost", region: "us-east-1", pathStyle: true),
        // A bare local endpoint means http; private networks too; other hosts https.
        Case(url: "s3://b/db?endpoint=127.0.0.1:9000", bucket: "b", prefix: "db", endpoint: "http://127.0.0.1:9000", pathStyle: true),
        Case(url: "s3://b/db?endpoint=10.0.0.5:9000", bucket: "b", prefix: "db", endpoint: "http://10.0.0.5:9000", pathStyle: true),
        Case(url: "s3://b/db?endpoint=minio.internal:9000", bucket: "b", prefix: "db", endpoint: "https://minio.internal:9000", pathStyle: true),
        // forcePathStyle: only `true` is true; an endpoint with a port that is no known cloud
        // (MinIO, SeaweedFS) is path style whatever the URL says.
        Case(url: "s3://b/db?endpoint=https://s3.example.com&forcePathStyle=false", bucket: "b", prefix: "db", endpoint: "https://s3.example.com"),
        Case(url: "s3://b/db?endpoint=https://s3.example.com&forcePathStyle=1", bucket: "b", prefix: "db", endpoint: "https://s3.example.com"),
        Case(url: "s3://b/db?endpoint=127.0.0.1:9000&forcePathStyle=false", bucket: "b", prefix: "db", endpoint: "http://127.0.0.1:9000", pathStyle: true),
        Case(url: "s3://b/db?endpoint=127.0.0.1:9000&forcePathStyle=yes", bucket: "b", prefix: "db", endpoint: "http://127.0.0.1:9000", pathStyle: true),
        Case(url: "s3://b/db?forcePathStyle=true", bucket: "b", prefix: "db", pathStyle: true),
        // Paths cleaned as Litestream cleans them.
        Case(url: "s3://b//a//db/", bucket: "b", prefix: "a/db"),
        Case(url: "s3://b/./a/./db", bucket: "b", prefix: "a/db"),
        Case(url: "s3://b/a/x/../db", bucket: "b", prefix: "a/db"),
        Case(url: "s3://b", bucket: "b", prefix: ""),
        Case(url: "s3://b/my%20db", bucket: "b", prefix: "my db"),
        Case(url: "S3://b/db", bucket: "b", prefix: "db"),
        // The first of a repeated parameter counts; empty ones say nothing.
        Case(url: "s3://b/db?region=eu-west-1&region=us-west-2&endpoint=", bucket: "b", prefix: "db", region: "eu-west-1"),
    ]

    @Test(arguments: litestreamCases + libraryCases + moreCases)
    func resolvesAsLitestreamDoes(_ c: Case) throws {
        let l = try S3Location(url: c.url)
        #expect(l.bucket == c.bucket)
        #expect(l.prefix == c.prefix)
        #expect(l.endpoint == c.endpoint)
        #expect(l.region == c.region)
        #expect((l.forcePathStyle ?? false) == c.pathStyle)
        #expect(l.skipVerify == c.skipVerify)
    }

    @Test(arguments: [
        // TestNewS3ReplicaClientFromConfig/InvalidUploadParams: refused, naming the parameter.
        ("s3://mybucket/path?part-size=abc", "part-size"), ("s3://mybucket/path?part-size=0", "part-size"),
        ("s3://mybucket/path?part-size=-1", "part-size"), ("s3://mybucket/path?concurrency=abc", "concurrency"),
        ("s3://mybucket/path?concurrency=0", "concurrency"),
        // TestParseReplicaURL_AccessPoint/Invalid
        ("s3://arn:aws:s3:us-east-1:123456789012:accesspoint/", "access point"),
        // A parameter Litestream does not know, by name; no bucket; credentials in the URL.
        ("s3://b/db?endpiont=x", "endpiont"), ("s3://b/db?sseCustomerKey=x", "server-side encryption"), ("s3://b/db?sse-kms-key-id=k", "sse-kms-key-id"),
        ("s3://localhost:9000/db", "no bucket"),
        ("s3:///db", "no bucket"), ("s3://key:secret@b/db", "credentials"),
        // replica_url_test.go, s3/replica_client_test.go: no bucket, bad upload settings, an
        // empty parameter Litestream does not know (ignored there, refused here by name).
        ("s3:///path", "no bucket"), ("s3://mybucket/path?concurrency=-1", "concurrency"),
        ("s3://arn:aws:s3:us-east-1:123456789012:accesspoint/my-access-point?key=", "unknown parameter key"),
    ])
    func refused(_ url: String, _ says: String) {
        let e = #expect(throws: LiteProofError.self) { try S3Location(url: url) }
        #expect(e?.kind == .usage)
        #expect(e?.message.contains(says) == true, "\(e?.message ?? "")")
    }

    @Test func writeSideParametersAreAcceptedAndSaidToBeIgnored() throws {
        let l = try S3Location(url: "s3://b/db?storageClass=GLACIER_IR&sign-payload=false&requireContentMD5=false&partSize=5242880&concurrency=4")
        for key in ["storageClass", "sign-payload", "requireContentMD5", "partSize", "concurrency"] {
            #expect(l.notes.contains { $0.hasPrefix(key + "=") && $0.contains("ignores it") }, "\(key): \(l.notes)")
        }
        let spelled = try S3Location(url: "s3://b/db?endpoint=https://s3.example.com&force-path-style=false&skip-verify=true")
        #expect(spelled.forcePathStyle == true && !spelled.skipVerify)
        #expect(spelled.notes.count == 2 && spelled.notes.allSatisfy { $0.contains("ignored") })
        #expect(try S3Location(url: "s3://b/db").notes.isEmpty)
    }

    @Test func resolvedEndpointsRegionsAndAddressing() throws {
        let env = ["HOME": "/nonexistent", "AWS_REGION": "eu-central-1", "LITESTREAM_ACCESS_KEY_ID": "LK", "LITESTREAM_SECRET_ACCESS_KEY": "LS"]
        // MinIO style: the host's endpoint, path style, us-east-1; Litestream's key variables.
        let minio = try S3Config.resolve(S3Location(url: "s3://bucket.localhost:9000/db"), environment: env)
        #expect(minio.endpoint.absoluteString == "http://localhost:9000" && minio.pathStyle && minio.region == "us-east-1")
        #expect(minio.credentials == S3Credentials(accessKeyID: "LK", secretAccessKey: "LS"))
        // An endpoint from the URL without a region is signed for us-east-1, as Litestream signs.
        let custom = try S3Config.resolve(S3Location(url: "s3://b/db?endpoint=127.0.0.1:9000"), environment: env)
        #expect(custom.endpoint.absoluteString == "http://127.0.0.1:9000" && custom.region == "us-east-1" && custom.pathStyle)
        // AWS keys win over Litestream's.
        let both = try S3Config.resolve(
            S3Location(url: "s3://b/db"), environment: env.merging(["AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "AS"]) { $1 })
        #expect(both.credentials?.accessKeyID == "AK" && both.region == "eu-central-1" && !both.pathStyle)
        // Virtual-hosted on a custom endpoint when the URL says so.
        let hosted = try S3Config.resolve(S3Location(url: "s3://b/db?endpoint=https://s3.example.com&forcePathStyle=false"), environment: env)
        #expect(!hosted.pathStyle && hosted.endpoint.host == "s3.example.com")
        // An access point: its own host, no bucket in the request.
        let ap = try S3Config.resolve(S3Location(url: "s3://arn:aws:s3:us-west-1:123456789012:accesspoint/stream-replica/backups"), environment: env)
        #expect(ap.endpoint.absoluteString == "https://stream-replica-123456789012.s3-accesspoint.us-west-1.amazonaws.com")
        #expect(ap.accessPoint && ap.region == "us-west-1" && ap.location.prefix == "backups")
        // skipVerify is said on stderr (certificates not verified for the endpoint); on http it is moot.
        let tls = try S3Config.resolve(S3Location(url: "s3://b/db?endpoint=https://s3.example.com&skipVerify=true"), environment: env)
        #expect(tls.notes.contains { $0.contains("skipVerify=true") && $0.contains("s3.example.com") })
        let plain = try S3Config.resolve(S3Location(url: "s3://b/db?endpoint=127.0.0.1:9000&skipVerify=true"), environment: env)
        #expect(plain.notes.contains { $0.contains("no effect") })
    }
}
