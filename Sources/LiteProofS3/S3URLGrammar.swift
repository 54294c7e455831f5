import Foundation
import LiteProof

/// Litestream's S3 replica URL grammar, as its command line reads a URL (`litestream restore URL`,
/// and `url:` in a configuration file), so a URL pasted from a Litestream configuration names the
/// same bucket, prefix, endpoint, region, addressing style and TLS setting here. Written from
/// how Litestream 0.5 parses (its `ParseReplicaURLWithQuery`, `s3.ParseHost`, the command line's
/// S3 client setup and the endpoint helpers), not from its code.
enum S3URLGrammar {
    /// What the host part of `s3://HOST/…` says (Litestream's `ParseHost`).
    struct Host {
        var bucket = ""
        var region: String?
        var endpoint: String?
        var pathStyle = false
    }

    /// Splits `host` the way Litestream does: `bucket.host:port` (a port and no `.com`: the
    /// endpoint is `http://host:port`, path style), AWS (`bucket.s3[.region].amazonaws.com`),
    /// DigitalOcean Spaces, Backblaze B2, Filebase and Scaleway, plus 0.3's Linode and
    /// `bucket.localhost`; anything else is the bucket.
    static func parseHost(_ host: String) -> Host {
        if host.contains(":") && !host.contains(".com") {
            guard let dot = host.firstIndex(of: ".") else {
                return Host(bucket: "", region: nil, endpoint: "http://" + host, pathStyle: true)
            }
            return Host(bucket: String(host[..<dot]), region: "us-east-1", endpoint: "http://" + host[host.index(after: dot)...], pathStyle: true)
        }
        if let m = match(#"^(.+)\.s3(?:\.([^.]+))?\.amazonaws\.com$"#, host) {
            return Host(bucket: m[0] ?? "", region: m[1], endpoint: nil, pathStyle: false)
        }
        if let m = match(#"^(?:(.+)\.)?([^.]+)\.digitaloceanspaces.com$"#, host) {
            let region = m[1] ?? ""
            return Host(bucket: m[0] ?? "", region: region, endpoint: "https://\(region).digitaloceanspaces.com", pathStyle: false)
        }
        if let m = match(#"^(?:(.+)\.)?s3.([^.]+)\.backblazeb2.com$"#, host) {
            let region = m[1] ?? ""
            return Host(bucket: m[0] ?? "", region: region, endpoint: "https://s3.\(region).backblazeb2.com", pathStyle: true)
        }
        if let m = match(#"^(?:(.+)\.)?s3.filebase.com$"#, host) {
            return Host(bucket: m[0] ?? "", region: nil, endpoint: "https://s3.filebase.com", pathStyle: false)
        }
        if let m = match(#"^(?:(.+)\.)?s3.([^.]+)\.scw\.cloud$"#, host) {
            let region = m[1] ?? ""
            return Host(bucket: m[0] ?? "", region: region, endpoint: "https://s3.\(region).scw.cloud", pathStyle: false)
        }
        // Litestream 0.3's forms that 0.5 reads as an AWS bucket named like a host (which no
        // AWS bucket is): Linode, and `bucket.localhost` without a port.
        if let m = match(#"^(?:(.+)\.)?([^.]+)\.linodeobjects\.com$"#, host) {
            let region = m[1] ?? ""
            return Host(bucket: m[0] ?? "", region: region, endpoint: "https://\(region).linodeobjects.com", pathStyle: true)
        }
        if let m = match(#"^(.+)\.localhost$"#, host) {
            return Host(bucket: m[0] ?? "", region: "us-east-1", endpoint: "http://localhost", pathStyle: true)
        }
        return Host(bucket: host)
    }

    /// The capture groups of `pattern` matching the whole of `s` (nil for a group that took no
    /// part), or nil when it does not match.
    static func match(_ pattern: String, _ s: String) -> [String?]? {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return nil }
        let ns = s as NSString
        guard let m = re.firstMatch(in: s, range: NSRange(location: 0, length: ns.length)) else { return nil }
        return (1..<m.numberOfRanges).map { i in
            let r = m.range(at: i)
            return r.location == NSNotFound ? nil : ns.substring(with: r)
        }
    }

    /// The host of an endpoint, lower-cased, with its port (Litestream's `extractEndpointHost`).
    static func endpointHost(_ endpoint: String) -> String {
        let e = endpoint.trimmingCharacters(in: .whitespaces).lowercased()
        if e.hasPrefix("http://") || e.hasPrefix("https://"), let url = URLComponents(string: e), let host = url.host, !host.isEmpty {
            return url.port.map { "\(host):\($0)" } ?? host
        }
        return e
    }

    /// localhost, 127.0.0.1, private networks, `.local`, `.localhost`: Litestream means http for
    /// these when the endpoint has no scheme, https for the rest.
    static func isLocal(_ endpoint: String) -> Bool {
        var host = endpointHost(endpoint)
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        if host == "localhost" || host == "127.0.0.1" || host.hasSuffix(".local") || host.hasSuffix(".localhost") { return true }
        let privatePrefixes = ["192.168.", "10.", "172.16.", "172.17.", "172.18.", "172.19.", "172.2", "172.30.", "172.31."]
        return privatePrefixes.contains { host.hasPrefix($0) }
    }

    /// An endpoint with its scheme: as given, else http for local hosts and https for the rest.
    static func withScheme(_ endpoint: String) -> String {
        if endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") { return endpoint }
        return (isLocal(endpoint) ? "http://" : "https://") + endpoint
    }

    /// Endpoints for which Litestream always uses path-style requests, whatever the URL says:
    /// Filebase, Backblaze B2, Supabase, and any host with a port that is not a known cloud
    /// (MinIO, SeaweedFS, a local test server).
    static func forcesPathStyle(_ endpoint: String) -> Bool {
        let host = endpointHost(endpoint)
        if host.isEmpty { return false }
        if host == "s3.filebase.com" || host.hasSuffix(".backblazeb2.com") || host.hasSuffix(".supabase.co") { return true }
        guard host.contains(":") else { return false }
        let clouds = [
            ".amazonaws.com", ".digitaloceanspaces.com", ".backblazeb2.com", ".filebase.com", ".scw.cloud", ".r2.cloudflarestorage.com", "tigris.dev",
            "t3.storage.dev", ".supabase.co",
        ]
        return !clouds.contains { host.contains($0) }
    }

    /// `path.Clean` of Go on `/` + `p`, without the leading `/` ("" for the root): `a//b`, `./a`,
    /// `a/../b` and a trailing `/` are cleaned as Litestream cleans them.
    static func cleanPath(_ p: String) -> String {
        var out: [Substring] = []
        for segment in p.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": if !out.isEmpty { out.removeLast() }
            default: out.append(segment)
            }
        }
        return out.joined(separator: "/")
    }

    /// Percent-decoding of a query key or value as Go's `url.QueryUnescape` does it (`+` is a
    /// space); nil for a malformed escape.
    static func queryUnescape(_ s: some StringProtocol) -> String? {
        String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The region of an access point ARN (`arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME`).
    static func arnRegion(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        return parts.count >= 4 && !parts[3].isEmpty ? String(parts[3]) : nil
    }

    /// `arn:…:accesspoint/NAME[/PATH]` split into the access point ARN and the cleaned path.
    static func splitAccessPoint(_ s: String, url: String) throws -> (arn: String, path: String) {
        guard let marker = s.range(of: ":accesspoint/", options: .caseInsensitive), marker.upperBound < s.endIndex else {
            throw LiteProofError(.usage, "cannot read the access point ARN in \(url) (expected s3://arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/PATH)")
        }
        let rest = s[marker.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return (s, "") }
        return (String(s[..<slash]), cleanPath(String(rest[rest.index(after: slash)...])))
    }

    /// The access point's own host (`NAME-ACCOUNT.s3-accesspoint.REGION.amazonaws.com`), where
    /// requests for an access point ARN go, as AWS's SDKs send them.
    static func accessPointEndpoint(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[2] == "s3", !parts[3].isEmpty, !parts[4].isEmpty else { return nil }
        let resource = parts[5]
        guard resource.lowercased().hasPrefix("accesspoint/") else { return nil }
        let name = resource.dropFirst("accesspoint/".count)
        let dnsSuffix = parts[1] == "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com"
        return "https://\(name)-\(parts[4]).s3-accesspoint.\(parts[3]).\(dnsSuffix)"
    }
}
