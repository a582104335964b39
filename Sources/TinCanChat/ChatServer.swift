#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import TinCanCore
import TinCanIRC

/// The chat server: IRC over TCP (RFC 1459/2812 as practised today, with IRCv3 capabilities), a
/// lobby every client joins, private messages, presence. A swift-service-lifecycle `Service`.
///
/// Every connection and the shared state (``ChatCore``) live on one event loop, as in ngircd: no
/// locks, and a message fanned out to a thousand clients is written once and noted a thousand
/// times; each client gets its slices in one write once the loop has read everything that was ready.
public final class ChatServer: Service, Sendable {
    /// The version in RPL_YOURHOST and RPL_MYINFO.
    public static let version = "tincan-chat-0.1"
    /// Unsent bytes past which a client counts as backed up (NIO's write-buffer high-water mark;
    /// the low one is half): small, so that a burst fanned out to many clients who cannot keep up
    /// pauses input long before it costs much memory (``ChatCore/writabilityChanged(_:writable:)``).
    static let backlogMark = 8 * 1024

    /// Read buffers start at 512 bytes (a whole IRC line without tags) and grow for clients that
    /// send more: each connection keeps its read buffer, and NIO's default of 2 KiB would be a
    /// third of an idle client's memory.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 64 * 1024)

    private let configuration: ChatServerConfiguration
    private let loop: any EventLoop
    private let logger: Logger
    private let onServerRunning: @Sendable (Addresses) async -> Void
    private let core: NIOLoopBound<ChatCore>

    /// - Parameters:
    ///   - group: the server takes one event loop of it for all its connections.
    ///   - onServerRunning: called once listening, with the bound addresses (port 0 in tests).
    public init(
        configuration: ChatServerConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Addresses) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.loop = group.next()
        self.logger = logger
        self.onServerRunning = onServerRunning
        let loop = self.loop
        self.core = try! loop.submit {
            let core = ChatCore(configuration: configuration, logger: logger)
            let bound = NIOLoopBound(core, eventLoop: loop)
            core.onFirstDirty = { loop.assumeIsolated().execute { bound.value.flushDirty() } }
            return bound
        }.wait()
    }

    /// Where the server listens.
    public struct Addresses: Sendable {
        public var plain: SocketAddress
        public var tls: SocketAddress?
    }

    public func run() async throws {
        // The TLS files are read first, so that a bad one stops the server before it listens.
        let tls = try self.configuration.tls.map(Self.makeTLSContext)
        let listener = try await self.bind(port: self.configuration.port, tls: nil)
        let secure: (any Channel)?
        do {
            secure = try await self.configuration.tlsPort.asyncMap { port in try await self.bind(port: port, tls: tls) }
        } catch {
            try? await listener.close()
            throw error
        }
        let addresses = Addresses(plain: listener.localAddress!, tls: secure?.localAddress)
        self.logger.info("chat listening on \(addresses.plain.endpointDescription) (irc)")
        if let address = addresses.tls { self.logger.info("chat listening on \(address.endpointDescription) (irc over tls)") }
        let liveness = self.loop.scheduleRepeatedTask(
            initialDelay: .seconds(1), delay: Self.livenessTick(self.configuration)
        ) { [core] _ in core.value.checkLiveness() }
        await self.onServerRunning(addresses)
        await withTaskCancellationOrGracefulShutdownHandler {
            try? await listener.closeFuture.get()
            try? await secure?.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            listener.close(promise: nil)
            secure?.close(promise: nil)
        }
        listener.close(promise: nil)
        secure?.close(promise: nil)
        liveness.cancel()
        let core = self.core
        let open = try await self.loop.submit {
            let channels = core.value.clients.count
            core.value.shutDown(reason: "Server shutting down")
            return channels
        }.get()
        self.logger.info("chat stopped; closed \(open) connections")
    }

    /// How often idle clients are checked: often enough for the ping settings, at most every 5 s.
    static func livenessTick(_ configuration: ChatServerConfiguration) -> TimeAmount {
        let shortest = min(configuration.pingInterval, configuration.pingTimeout)
        return max(.milliseconds(100), min(.seconds(5), .nanoseconds(shortest.nanoseconds / 2)))
    }

    static func makeTLSContext(_ files: ChatTLSFiles) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
            let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TinCanError(operation: "chat tls with \(files.certificate) and \(files.privateKey)", cause: "\(error)")
        }
    }

    private func bind(port: Int, tls: NIOSSLContext?) async throws -> any Channel {
        let endpoint = Endpoint(host: self.configuration.host, port: port)
        let address = try await Resolver.resolve(endpoint, family: .any, transport: .tcp)[0]
        let core = self.core
        let high = Self.backlogMark
        do {
            return try await ServerBootstrap(group: self.loop, childGroup: self.loop)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: .init(low: high / 2, high: high))
                .childChannelOption(.recvAllocator, value: Self.receiveBuffers)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                        try sync.addHandler(ByteToMessageHandler(IRCLineDecoder()))
                        try sync.addHandler(ChatConnectionHandler(core: core.value))
                    }
                }
                .bind(to: address)
                .get()
        } catch {
            throw TinCanError(operation: "chat listen on \(endpoint)\(tls == nil ? "" : " (tls)")", underlying: error)
        }
    }
}

/// Joins one TCP connection to the ``ChatCore``: lines in, bytes out.
final class ChatConnectionHandler: ChannelInboundHandler, ChatConnection {
    typealias InboundIn = IRCInboundLine
    typealias OutboundOut = ByteBuffer

    private let core: ChatCore
    private var context: ChannelHandlerContext?
    private var client: ChatClient?
    // Lines wait here, while the socket is not read, when they are over the client's flood rate
    // or while the server is overloaded (``ChatCore/writabilityChanged(_:writable:)``).
    private var bucket: FloodBucket?
    private let floodLimit: ChatFloodLimit?
    // Capacity 1 to start with: most clients never wait, and a thousand idle ones should not
    // each hold room for sixteen lines.
    private var waiting = CircularBuffer<IRCInboundLine>(initialCapacity: 1)
    private var resume: Scheduled<Void>?
    private var overloadPaused = false

    init(core: ChatCore) {
        self.core = core
        self.floodLimit = core.configuration.floodLimit
        self.bucket = self.floodLimit.map(FloodBucket.init)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        let host = Self.hostText(context.channel.remoteAddress?.ipAddress)
        let (client, refusal) = self.core.connected(self, host: host)
        if let refusal {
            var buffer = context.channel.allocator.buffer(capacity: 64)
            buffer.writeIRCMessage(IRCMessage(command: "ERROR", parameters: ["Closing Link: \(host) (\(refusal))"]))
            context.writeAndFlush(self.wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            self.core.logger.notice("refused \(host): \(refusal)")
            return
        }
        self.client = client
        context.fireChannelActive()
    }

    /// The client's address as it appears in `nick!user@host`: an IPv4 client of a dual-stack
    /// socket as plain IPv4, and an IPv6 address that would begin with `:` (which would read as a
    /// trailing parameter in WHO replies) with a `0` in front, as other servers write it.
    static func hostText(_ address: String?) -> String {
        guard var address else { return "unknown" }
        if address.hasPrefix("::ffff:"), address.contains(".") { address.removeFirst(7) }
        if address.hasPrefix(":") { address = "0" + address }
        return address
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.resume?.cancel()
        self.resume = nil
        self.waiting.removeAll()
        if let client = self.client { self.core.disconnected(client, reason: "Connection closed") }
        self.client = nil
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let client = self.client else { return }
        let line = self.unwrapInboundIn(data)
        var floodWait: TimeAmount?
        if self.waiting.isEmpty, !self.overloadPaused {
            floodWait = self.floodWait(client)
            if floodWait == nil {
                self.core.received(line, from: client)
                return
            }
        }
        self.waiting.append(line)
        if self.waiting.count > (self.floodLimit?.maxWaitingLines ?? Int.max) {
            self.waiting.removeAll()
            self.core.drop(client, reason: "Excess Flood")
            return
        }
        // The first line over the flood rate: stop reading until the bucket has a token for it.
        // (Otherwise a drain is already scheduled, or the core resumes us after an overload.)
        if let floodWait {
            self.setReading(false)
            self.scheduleDrain(context, after: floodWait)
        }
    }

    /// Registration is never slowed down; after it, each line takes a token: nil when it may go
    /// now, otherwise how long until it may.
    private func floodWait(_ client: ChatClient) -> TimeAmount? {
        guard client.registered, self.bucket != nil else { return nil }
        return self.bucket!.take(now: .now())
    }

    private func scheduleDrain(_ context: ChannelHandlerContext, after delay: TimeAmount) {
        self.resume = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { self.drain() }
    }

    private func drain() {
        self.resume = nil
        guard let context = self.context else { return }
        while let line = self.waiting.first {
            guard let client = self.client else {
                self.waiting.removeAll()
                return
            }
            if self.overloadPaused { return }
            if let wait = self.floodWait(client) {
                return self.scheduleDrain(context, after: wait)
            }
            self.waiting.removeFirst()
            self.core.received(line, from: client)
        }
        if !self.overloadPaused { self.setReading(true) }
    }

    /// Reading is on unless flood control or overload holds it.
    private func setReading(_ on: Bool) {
        guard let context = self.context, let options = context.channel.syncOptions else { return }
        try? options.setOption(.autoRead, value: on)
        if on { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let client = self.client {
            self.core.writabilityChanged(client, writable: context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let client = self.client {
            // The reason others see in the QUIT: "Connection reset by peer", as other servers say.
            let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "Read error"
            self.core.disconnected(client, reason: reason)
            self.client = nil
        }
        context.close(promise: nil)
    }

    // MARK: ChatConnection

    func send(_ bytes: ByteBuffer) {
        self.context?.write(self.wrapOutboundOut(bytes), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    var isWritable: Bool { self.context?.channel.isWritable ?? true }

    var queuedBytes: Int {
        (try? self.context?.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    func pauseForOverload(_ paused: Bool) {
        guard paused != self.overloadPaused, let context = self.context else { return }
        self.overloadPaused = paused
        if paused {
            self.setReading(false)
        } else if self.resume == nil {
            // Not from inside the core's call: lines held back are handled on the next turn.
            self.resume = context.eventLoop.assumeIsolated().scheduleTask(in: .zero) { self.drain() }
        }
    }

    func close() {
        guard let context = self.context else { return }
        self.client = nil
        context.flush()
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ChatConnectionHandler: Sendable {}
