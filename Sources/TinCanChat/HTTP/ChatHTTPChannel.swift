import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOSSL
import NIOWebSocket

/// One connection to the HTTP port: HTTP/1.1 requests for Hummingbird's responder, or, when the
/// first request asks to upgrade `/socket` to a WebSocket, an IRC session.
///
/// The bridge: the WebSocket's pipeline ends in a ``ChatWebSocketFramer`` (frames to lines and
/// back) in front of the same ``ChatConnectionHandler`` as a TCP client's, and every HTTP
/// connection lives on the chat server's one event loop (a channel cannot change loops after
/// it is accepted). So a WebSocket user is an ordinary session that the driver drives as it
/// drives TCP ones: per-address limits with the peer's IP, flood control by pausing reads,
/// backpressure by the socket's writability and its unsent bytes, SendQ, liveness, the same
/// writes of a round's slices, without a line of that logic twice. An async bridge
/// (hummingbird-websocket's handler: a task per connection reading an `AsyncSequence` of
/// frames) would need all of that again across a hop between the task and the loop for every
/// line, and would hide the socket's writability behind the async writer. The cost is that HTTP
/// requests (file transfers included) are parsed on the chat loop too; their file I/O is not
/// (NIOFileSystem's thread pool), and transfers are bounded (``ChatHTTPConfiguration``).
struct ChatHTTPChannel: ServerChildChannel, HTTPChannelHandler {
    /// Frames larger than this close the WebSocket (1009); a message may still be longer in
    /// fragments, and anything over the line limit is answered 417 (``ChatWebSocketFramer``).
    static let maxFrameSize = 16 * 1024

    enum Negotiated: Sendable {
        case webSocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// An upgrade this port does not make; NIO does not hand its request on, so the answer
        /// is written here.
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, HTTPResponse.Status)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    /// The driver, once the server has made it (after this port is bound, since the core's
    /// ISUPPORT names this port's URL).
    let driver: EventLoopFuture<NIOLoopBound<ChatDriver>>
    let origins: ChatOriginPolicy
    let tls: NIOSSLContext?
    /// Closes an HTTP connection idle this long between requests (``ChatHTTPConfiguration/idleTimeout``).
    let idleTimeout: Duration

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            if let tls = self.tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
            let refusal = NIOLoopBoundBox<HTTPResponse.Status?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                maxFrameSize: Self.maxFrameSize,
                shouldUpgrade: { (channel: any Channel, head: HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?> in
                    switch self.upgrade(head) {
                    case .upgrade(let headers):
                        return channel.eventLoop.makeSucceededFuture(headers)
                    case .refuse(let status):
                        refusal.value = status
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                },
                upgradePipelineHandler: { (channel: any Channel, head: HTTPRequestHead) -> EventLoopFuture<Negotiated> in
                    self.driver.flatMapThrowing { driver in
                        let mode = ChatWebSocketMode.negotiate(head.headers[canonicalForm: "sec-websocket-protocol"].map(String.init)).mode
                        try Self.joinChat(channel, mode: mode, driver: driver.value)
                        return .webSocket
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration(
                upgradeConfiguration: NIOTypedHTTPServerUpgradeConfiguration(upgraders: [upgrader]) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: self.tls != nil))
                        try sync.addHandler(HTTPConnectionStateHandler(idleTimeout: self.idleTimeout, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        return refusal.value.map { .refused(http, $0) } ?? .http(http)
                    }
                }
            )
            // Hummingbird answers the requests one at a time and validates its own headers.
            configuration.enablePipelining = false
            configuration.enableErrorHandling = false
            configuration.enableResponseHeaderValidation = false
            return Value(negotiated: try sync.configureUpgradableHTTPServerPipeline(configuration: configuration), channel: channel)
        }
    }

    enum UpgradeAnswer {
        /// Upgrade, with these extra headers.
        case upgrade(HTTPHeaders)
        case refuse(HTTPResponse.Status)
    }

    /// The upgrade's extra headers, or why there is none: a WebSocket only at `/socket` or `/`
    /// (404 elsewhere), and only from an allowed page (403 before upgrading). `/` upgrades as
    /// well because IRC WebSocket clients that are given only a host and port (irctest, some
    /// bouncers) ask for it there; a plain GET of `/` is still the page.
    private func upgrade(_ head: HTTPRequestHead) -> UpgradeAnswer {
        let path = head.uri.split(separator: "?", maxSplits: 1).first ?? ""
        guard path == "/socket" || path == "/" else { return .refuse(.notFound) }
        guard self.origins.allows(origin: head.headers.first(name: "origin"), host: head.headers.first(name: "host")) else {
            return .refuse(.forbidden)
        }
        var headers = HTTPHeaders()
        let offered = head.headers[canonicalForm: "sec-websocket-protocol"].map(String.init)
        if let subprotocol = ChatWebSocketMode.negotiate(offered).subprotocol {
            headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol)
        }
        return .upgrade(headers)
    }

    /// Makes the upgraded channel a chat connection, on the chat loop.
    static func joinChat(_ channel: any Channel, mode: ChatWebSocketMode, driver: ChatDriver) throws {
        if let options = channel.syncOptions {
            // As the IRC port's connections have them (``ChatServer/bind``).
            let high = ChatServer.backlogMark
            try options.setOption(.writeBufferWaterMark, value: .init(low: high / 2, high: high))
            try options.setOption(.recvAllocator, value: ChatServer.receiveBuffers)
            try options.setOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        let sync = channel.pipeline.syncOperations
        let framer = ChatWebSocketFramer(mode: mode)
        try sync.addHandler(framer)
        try sync.addHandler(ChatConnectionHandler(driver: driver))
        // The channel has been active since before the upgrade: the chat handler learns it now.
        try sync.context(handler: framer).fireChannelActive()
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http(let http):
                await self.handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let status):
                try await http.executeThenClose { _, outbound in
                    let text = status == .forbidden ? "Origin not allowed\n" : "No WebSocket here: IRC over WebSocket is at /socket\n"
                    let head = HTTPResponse(
                        status: status,
                        headerFields: [.connection: "close", .contentType: "text/plain; charset=utf-8", .contentLength: String(text.utf8.count)]
                    )
                    try await outbound.write(contentsOf: [.head(head), .body(ByteBuffer(string: text)), .end(nil)])
                }
            case .webSocket:
                // The chat server closes it when it stops (``ChatDriver/shutDown(reason:)``).
                try await value.channel.closeFuture.get()
            }
        } catch {
            logger.debug("http connection ended", metadata: ["error": "\(error)"])
        }
    }
}
