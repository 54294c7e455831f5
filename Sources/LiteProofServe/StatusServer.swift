import LiteProof
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a route answers: a status code, a content type and a body.
public struct StatusResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: String

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// A small HTTP/1.1 server for a watcher's status (`/metrics`, `/healthz`), on SwiftNIO's
/// HTTP/1 codec and its own event loop thread, so it answers while rounds run elsewhere.
///
/// - `GET` and `HEAD` only (others: 405, with `Allow`); a path `routes` does not know: 404.
/// - Request bodies are discarded as they arrive, never kept; a request the codec cannot parse
///   (garbage, a header block over its limit) gets 400 and the connection is closed
///   (NIO's `HTTPServerProtocolErrorHandler`); a connection idle for `idleTimeout` is closed, and
///   one past `maxConnections` open at once is closed as it is accepted.
public final class StatusServer: Sendable {
    /// The address actually bound: `HOST:PORT` (`[HOST]:PORT` for IPv6), the port chosen by the
    /// system when 0 was asked for.
    public let address: String
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    /// Binds `host:port` and starts serving; `routes` answers a path (query string removed) with
    /// a response, or nil for 404. It runs on the server's thread: it must be quick and Sendable.
    /// A port in use or an address that cannot be bound is a usage error naming it.
    public init(
        host: String, port: Int, idleTimeout: TimeAmount = .seconds(30), maxConnections: Int = 128,
        routes: @escaping @Sendable (String) -> StatusResponse?
    ) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let open = Locked(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                // Past the limit a connection is closed at once: the descriptors stay the rounds'.
                let admitted = open.withLock { n in
                    guard n < maxConnections else { return false }
                    n += 1
                    return true
                }
                guard admitted else { return channel.eventLoop.makeFailedFuture(TooManyConnections()) }
                channel.closeFuture.whenComplete { _ in open.withLock { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try ops.configureHTTPServerPipeline(withErrorHandling: true)
                    try ops.addHandler(StatusHandler(routes: routes))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 1)
        let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            let inUse = (error as? IOError)?.errnoCode == EADDRINUSE
            let reason = inUse ? "the address is already in use (another process listens there; pick another port, or :0 for any free one)" : "\(error)"
            throw LiteProofError(.usage, "cannot listen on \(shown): \(reason)")
        }
        self.group = group
        let bound = channel.localAddress
        self.port = bound?.port ?? port
        let ip = bound?.ipAddress ?? host
        address = ip.contains(":") ? "[\(ip)]:\(self.port)" : "\(ip):\(self.port)"
    }

    /// Stops listening, closes the connections and ends the server's thread.
    public func shutdown() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// A connection refused because `maxConnections` are open.
private struct TooManyConnections: Error {}

/// Answers each request with ``StatusServer``'s routes; one per connection, on its event loop.
private final class StatusHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: @Sendable (String) -> StatusResponse?
    private var head: HTTPRequestHead?

    init(routes: @escaping @Sendable (String) -> StatusResponse?) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break  // discarded: no route reads a body
        case .end:
            guard let h = head else { return }
            head = nil
            respond(to: h, context: context)
        }
    }

    private func respond(to h: HTTPRequestHead, context: ChannelHandlerContext) {
        var response: StatusResponse
        var headers = HTTPHeaders()
        if h.method != .GET && h.method != .HEAD {
            response = StatusResponse(status: 405, body: "only GET and HEAD are served\n")
            headers.add(name: "Allow", value: "GET, HEAD")
        } else {
            let path = String(h.uri.prefix { $0 != "?" && $0 != "#" })
            response = routes(path) ?? StatusResponse(status: 404, body: "not found: try /metrics or /healthz\n")
        }
        let body = Array(response.body.utf8)
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        let keepAlive = h.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
        if h.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
