import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a loopback server sent back to one request: the status code (nil when it closed the
/// connection without a status line) and the body, as text.
struct HTTPReply {
    var status: Int?
    var headers: String
    var body: String
}

/// Sends `request` (raw bytes) to 127.0.0.1:`port` and reads the reply until the server closes
/// the connection or `timeout` passes (a test client: the server under test is NIO's).
func httpExchange(port: Int, _ request: [UInt8], timeout: TimeInterval = 10) throws -> HTTPReply {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RigError(message: "socket failed") }
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw RigError(message: "cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
    // The server may answer and close before the whole request is sent (an oversized one):
    // a failed send is not the test's failure, the reply is.
    var sent = 0
    while sent < request.count {
        let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { break }
        sent += n
    }
    var reply: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let n = recv(fd, &chunk, chunk.count, 0)
        if n <= 0 { break }
        reply += chunk[0..<n]
        if reply.count > 16 << 20 { break }
    }
    let text = String(decoding: reply, as: UTF8.self)
    let parts = text.components(separatedBy: "\r\n\r\n")
    let head = parts.first ?? ""
    let statusLine = head.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
    let fields = statusLine.split(separator: " ")
    let status = statusLine.hasPrefix("HTTP/") && fields.count >= 2 ? Int(fields[1]) : nil
    return HTTPReply(status: status, headers: head, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
}

/// `METHOD path` on 127.0.0.1:`port`, one request per connection.
func http(_ method: String = "GET", port: Int, _ path: String, timeout: TimeInterval = 10) throws -> HTTPReply {
    try httpExchange(port: port, Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8), timeout: timeout)
}

/// The value of the sample `name{labels}` in Prometheus text (labels as the text writes them,
/// e.g. `database="/x"`; a sample whose labels contain all of them matches).
func sample(_ text: String, _ name: String, _ labels: [String] = []) -> Double? {
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard line.hasPrefix(name + "{") || line.hasPrefix(name + " ") else { continue }
        guard labels.allSatisfy({ line.contains($0) }), let value = line.split(separator: " ").last else { continue }
        return Double(value)
    }
    return nil
}

/// Connects `count` sockets to 127.0.0.1:`port` and sends nothing (close them with `close`).
func idleConnections(port: Int, count: Int) throws -> [Int32] {
    var fds: [Int32] = []
    for _ in 0..<count {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { break }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            fds.forEach { close($0) }
            throw RigError(message: "cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        fds.append(fd)
    }
    return fds
}

/// How many of `fds` the peer has closed (a read would return end of file), without waiting.
func closedByPeer(_ fds: [Int32]) -> Int {
    var byte: UInt8 = 0
    return fds.filter { recv($0, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0 }.count
}
