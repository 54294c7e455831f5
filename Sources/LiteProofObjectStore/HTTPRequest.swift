import Foundation
import NIOHTTP1

/// One request as a back end describes it (URL, method, headers, body) for ``HTTPTransport`` to
/// send: the few parts of FoundationNetworking's `URLRequest` the back ends used, without linking
/// FoundationNetworking, which loads libcurl and some thirty libraries behind it (GnuTLS,
/// Kerberos, LDAP…) into every process: 4 MB of a restore's memory, for a type.
package struct HTTPRequest: Sendable {
    package var url: URL
    package var httpMethod: String?
    package var httpBody: Data?
    /// In the order they were set; a name appears once (``setValue(_:forHTTPHeaderField:)``).
    package private(set) var headers: [(name: String, value: String)] = []

    package init(url: URL) {
        self.url = url
    }

    /// Sets the header `field` (compared without case) to `value`, replacing it; nil removes it.
    package mutating func setValue(_ value: String?, forHTTPHeaderField field: String) {
        headers.removeAll { $0.name.caseInsensitiveCompare(field) == .orderedSame }
        if let value { headers.append((field, value)) }
    }

    /// The reason phrase of an HTTP status, in the words `HTTPURLResponse` used: NIO's phrase,
    /// or the status class's for a code NIO has no phrase for.
    package static func reason(_ status: Int) -> String {
        let phrase = HTTPResponseStatus(statusCode: status).reasonPhrase
        if !phrase.isEmpty { return phrase }
        switch status {
        case 100..<200: return "Informational"
        case 200..<300: return "Success"
        case 300..<400: return "Redirection"
        case 400..<500: return "Client Error"
        default: return "Server Error"
        }
    }
}
