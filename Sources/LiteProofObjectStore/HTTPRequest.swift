import Foundation

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

    /// The reason phrase of an HTTP status, as FoundationNetworking's
    /// `HTTPURLResponse.localizedString(forStatusCode:)` gives it.
    package static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Payload Too Large"
        case 416: "Range Not Satisfiable"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 100..<200: "Informational"
        case 200..<300: "Success"
        case 300..<400: "Redirection"
        case 400..<500: "Client Error"
        default: "Server Error"
        }
    }
}
