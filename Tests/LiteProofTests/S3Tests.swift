// The S3 pieces that need no server: SigV4 signing against AWS's published vectors, replica URLs,
// and where credentials, region and endpoint come from.

import Foundation
import LiteProof
import LiteProofS3
import Testing

@Suite struct S3SigningTests {
    /// The credentials, time, region and service of AWS's Signature Version 4 test suite.
    static let suite = SigV4Signer(
        credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service")
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    /// The S3 examples of "Authenticating Requests: Using the Authorization Header" (2013-05-24).
    static let s3 = SigV4Signer(
        credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "s3")
    static let s3Date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    @Test func getVanilla() {
        let s = Self.suite.sign(method: "GET", host: "example.amazonaws.com", path: "/", date: Self.suiteDate)
        #expect(
            s.canonicalRequest
                == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        #expect(
            s.stringToSign
                == "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        )
        #expect(
            s.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
        #expect(s.headers.contains { $0.0 == "X-Amz-Date" && $0.1 == "20150830T123600Z" })
    }

    @Test func postVanilla() {
        let s = Self.suite.sign(method: "POST", host: "example.amazonaws.com", path: "/", date: Self.suiteDate)
        #expect(s.signature == "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
    }

    @Test func queryParametersAreSortedByKey() {
        let s = Self.suite.sign(
            method: "GET", host: "example.amazonaws.com", path: "/", query: [("Param2", "value2"), ("Param1", "value1")], date: Self.suiteDate)
        #expect(s.signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test func s3GetObjectWithRange() {
        let s = Self.s3.sign(
            method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt",
            headers: [("Range", "bytes=0-9"), ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)], date: Self.s3Date)
        #expect(
            s.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    @Test func s3ListObjects() {
        let s = Self.s3.sign(
            method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/", query: [("max-keys", "2"), ("prefix", "J")],
            headers: [("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)], date: Self.s3Date)
        #expect(s.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func sessionTokenIsSignedAndSent() {
        var signer = Self.suite
        signer.credentials.sessionToken = "TOKEN"
        let s = signer.sign(method: "GET", host: "example.amazonaws.com", path: "/", date: Self.suiteDate)
        #expect(s.authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"))
        #expect(s.headers.contains { $0.0 == "X-Amz-Security-Token" && $0.1 == "TOKEN" })
        #expect(s.signature != "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func uriEncodingKeepsUnreservedAndPathSlashes() {
        #expect(SigV4Signer.uriEncode("a b~c/d+e=", slash: false) == "a%20b~c/d%2Be%3D")
        #expect(SigV4Signer.uriEncode("db/0000", slash: true) == "db%2F0000")
        #expect(SigV4Signer.uriEncode("é", slash: true) == "%C3%A9")
    }
}

@Suite struct S3ConfigTests {
    @Test func urlForms() throws {
        let plain = try S3Location(url: "s3://bucket/path/to/db")
        #expect(plain == S3Location(bucket: "bucket", prefix: "path/to/db"))
        let root = try S3Location(url: "s3://bucket")
        #expect(root.prefix == "" && root.display == "s3://bucket")
        let full = try S3Location(url: "s3://b/db/?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true")
        #expect(full == S3Location(bucket: "b", prefix: "db", endpoint: "http://127.0.0.1:9000", region: "eu-west-1", forcePathStyle: true))
        #expect(throws: LiteProofError.self) { try S3Location(url: "s3:///db") }
        let typo = #expect(throws: LiteProofError.self) { try S3Location(url: "s3://b/db?endpiont=x") }
        #expect(typo?.message.contains("endpiont") == true)
        // Litestream's command line reads every forcePathStyle but `true` as false; so does LiteProof, and says so.
        let yes = try S3Location(url: "s3://b/db?forcePathStyle=yes")
        #expect(yes.forcePathStyle == nil && yes.notes.count == 1)
    }

    @Test func environmentCredentialsRegionAndEndpoint() throws {
        let env = [
            "HOME": "/nonexistent", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "ST",
            "AWS_REGION": "eu-central-1", "AWS_ENDPOINT_URL_S3": "http://localhost:9000",
        ]
        let c = try S3Config.resolve(S3Location(bucket: "b", prefix: "db"), environment: env)
        #expect(c.credentials == S3Credentials(accessKeyID: "AK", secretAccessKey: "SK", sessionToken: "ST"))
        #expect(c.region == "eu-central-1")
        #expect(c.endpoint.absoluteString == "http://localhost:9000")
        #expect(c.pathStyle)
        // The URL's parameters win over the environment.
        let u = try S3Config.resolve(S3Location(url: "s3://b/db?region=ap-south-1&endpoint=https://r2.example.com"), environment: env)
        #expect(u.region == "ap-south-1" && u.endpoint.host == "r2.example.com")
        // AWS itself: virtual-hosted addressing in the bucket's region.
        let aws = try S3Config.resolve(S3Location(bucket: "b", prefix: ""), environment: ["HOME": "/nonexistent", "AWS_REGION": "us-west-2"])
        #expect(aws.endpoint.absoluteString == "https://s3.us-west-2.amazonaws.com" && !aws.pathStyle && aws.credentials == nil)
    }

    @Test func profilesFromTheAWSFiles() throws {
        let home = try rigTempDir("s3-home")
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        try """
        [default]
        aws_access_key_id = DEFAULTKEY
        aws_secret_access_key = defaultsecret

        [work]
        aws_access_key_id = WORKKEY
        aws_secret_access_key = worksecret
        aws_session_token = worktoken
        """.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        try """
        [default]
        region = eu-north-1

        [profile work]
        region = sa-east-1
        endpoint_url = https://storage.example.net

        [sso-session corp]
        region = us-east-2
        """.write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
        let loc = S3Location(bucket: "b", prefix: "db")
        let d = try S3Config.resolve(loc, environment: ["HOME": home])
        #expect(d.credentials == S3Credentials(accessKeyID: "DEFAULTKEY", secretAccessKey: "defaultsecret"))
        #expect(d.region == "eu-north-1")
        let w = try S3Config.resolve(loc, environment: ["HOME": home, "AWS_PROFILE": "work"])
        #expect(w.credentials == S3Credentials(accessKeyID: "WORKKEY", secretAccessKey: "worksecret", sessionToken: "worktoken"))
        #expect(w.region == "sa-east-1" && w.endpoint.host == "storage.example.net")
        // Environment keys win over the profile; AWS_NO_SIGN_REQUEST means anonymous.
        let e = try S3Config.resolve(loc, environment: ["HOME": home, "AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "envsecret"])
        #expect(e.credentials?.accessKeyID == "ENV")
        #expect(try S3Config.resolve(loc, environment: ["HOME": home, "AWS_NO_SIGN_REQUEST": "true"]).credentials == nil)
        let missing = #expect(throws: LiteProofError.self) {
            try S3Config.resolve(loc, environment: ["HOME": home, "AWS_PROFILE": "nope"])
        }
        #expect(missing?.message.contains("nope") == true)
    }
}
