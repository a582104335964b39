#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TinCanCore

/// What the far side of each connection is joined to.
public enum RelayEnds: Sendable {
    /// Our own input and output (standard input and output in the CLI).
    case local(input: RelayInput, output: RelayOutput)
    /// A new `/bin/sh -c COMMAND` for each connection, its stdin and stdout joined to the socket.
    case exec(String)
}

/// The TCP side of `tincan connect`: dial, then relay until both directions end.
public enum TCPRelayClient {
    /// Connects to `endpoint` and relays between the connection and `ends`.
    ///
    /// - Throws: ``ConfigurationError`` when `settings` or `options` do not validate; ``TinCanError``
    ///   for connect failures (refused, timed out, unknown host, ...) and for connections that fail
    ///   before both directions have ended.
    public static func run(
        to endpoint: Endpoint,
        settings: SocketSettings,
        options: RelayOptions,
        ends: RelayEnds,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> RelayStats {
        try settings.validate()
        try options.validate()
        let idle = options.idleTimeout
        let (connection, address) = try await TCPDialer.connect(
            to: endpoint, settings: settings, group: group, logger: logger
        ) { channel in
            channel.eventLoop.makeCompletedFuture { try channel.makeRelayConnection(idleTimeout: idle) }
        }
        let local = connection.channel.localAddress?.endpointDescription ?? "?"
        logger.info("connected to \(address.endpointDescription) from \(local)")
        return try await relay(connection, peerName: address.endpointDescription, ends: ends, options: options, logger: logger)
    }

    /// Connects and closes at once: returns when the port accepted the connection.
    public static func probe(
        _ endpoint: Endpoint,
        settings: SocketSettings,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws {
        let (channel, address) = try await TCPDialer.connect(
            to: endpoint, settings: settings, group: group, logger: logger
        ) { channel in channel.eventLoop.makeSucceededFuture(channel) }
        try? await channel.close()
        logger.info("connection to \(endpoint) (\(address.endpointDescription)) succeeded")
    }
}

/// Relays one connection to its ends, starting the command's child when there is one.
func relay(
    _ connection: RelayConnection,
    peerName: String,
    ends: RelayEnds,
    options: RelayOptions,
    logger: Logger
) async throws -> RelayStats {
    switch ends {
    case .local(let input, let output):
        return try await ConnectionRelay.run(
            connection, input: input, output: output, options: options, peerName: peerName, logger: logger
        )
    case .exec(let command):
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(command, environment: execEnvironment(connection.channel))
        } catch {
            try? await connection.channel.close()
            throw error
        }
        logger.info("started '\(command)' (pid \(child.pid)) for \(peerName)")
        let writer = FileDescriptorWriter(fd: child.stdinFD, name: "exec stdin", closeWhenDone: true)
        let reader = FileDescriptorReader(fd: child.stdoutFD, name: "exec stdout", closeWhenDone: true)
        // The child is both ends: neither direction is dropped, and its stdout is no terminal.
        var childOptions = options
        childOptions.inputIsTerminal = false
        childOptions.sendOnly = false
        childOptions.receiveOnly = false
        let result: Result<RelayStats, any Error>
        do {
            result = .success(try await ConnectionRelay.run(
                connection, input: .reader(reader),
                output: RelayOutput(writer: writer, dropAfterFailure: true, onEnd: { writer.finish() }),
                options: childOptions, peerName: peerName, logger: logger
            ))
        } catch {
            result = .failure(error)
        }
        writer.finish()
        let status = await child.reap()
        logger.info("'\(command)' (pid \(child.pid)) exited with status \(status)")
        return try result.get()
    }
}

/// Variables an ``RelayEnds/exec(_:)`` command can read to learn who it talks to (the names ncat uses).
private func execEnvironment(_ channel: any Channel) -> [String: String] {
    var env: [String: String] = [:]
    if let remote = channel.remoteAddress {
        env["NCAT_REMOTE_ADDR"] = remote.ipAddress ?? ""
        env["NCAT_REMOTE_PORT"] = remote.port.map(String.init) ?? ""
    }
    if let local = channel.localAddress {
        env["NCAT_LOCAL_ADDR"] = local.ipAddress ?? ""
        env["NCAT_LOCAL_PORT"] = local.port.map(String.init) ?? ""
    }
    env["NCAT_PROTO"] = "TCP"
    return env
}

/// The TCP side of `tincan listen`: one connection by default; with `keepOpen`, many at once.
public struct TCPRelayListener: Sendable {
    /// Where to bind; a nil host binds every address.
    public var endpoint: Endpoint
    public var settings: SocketSettings
    public var options: RelayOptions
    /// Serve many clients at once and keep listening.
    public var keepOpen: Bool
    /// Relay what each client sends to all the others; implies `keepOpen`.
    public var broker: Bool
    /// Most clients connected at once in keep-open mode; others are closed at once.
    public var maxClients: Int
    /// In keep-open mode, a client that a write has waited on this long is disconnected,
    /// so it cannot stall the others.
    public var slowClientTimeout: TimeAmount

    /// Default most clients at once in keep-open mode.
    public static let defaultMaxClients = 100

    public init(
        endpoint: Endpoint,
        settings: SocketSettings = SocketSettings(),
        options: RelayOptions = RelayOptions(),
        keepOpen: Bool = false,
        broker: Bool = false,
        maxClients: Int = TCPRelayListener.defaultMaxClients,
        slowClientTimeout: TimeAmount = Hub.defaultSlowClientTimeout
    ) {
        self.endpoint = endpoint
        self.settings = settings
        self.options = options
        self.keepOpen = keepOpen || broker
        self.broker = broker
        self.maxClients = maxClients
        self.slowClientTimeout = slowClientTimeout
    }

    /// Checks the listener's settings against the relay's rules.
    ///
    /// - Throws: ``ConfigurationError`` for settings ``SocketSettings/validate()`` or
    ///   ``RelayOptions/validate()`` reject, `maxClients` below 1, or a `slowClientTimeout` that is
    ///   not more than 0 and at most a year.
    public func validate() throws {
        try self.settings.validate()
        try self.options.validate()
        try ConfigurationError.checkAtLeast(self.maxClients, 1, "maxClients")
        try ConfigurationError.checkDuration(self.slowClientTimeout, "slowClientTimeout")
    }

    /// Checks the listener's settings with ``validate()`` and that they suit `ends`.
    ///
    /// - Throws: ``ConfigurationError``; also when `broker` is set and `ends` is a command, which
    ///   would leave the clients nothing to relay between them.
    public func validate(for ends: RelayEnds) throws {
        try self.validate()
        if self.broker, case .exec = ends {
            throw ConfigurationError(settings: ["broker", "exec"], problem: "cannot be used together")
        }
    }

    /// Binds, reports the bound address through `onListening`, and serves until done: after the one
    /// connection by default, or, with `keepOpen`, until the task is cancelled.
    ///
    /// - Throws: ``ConfigurationError`` when ``validate(for:)`` does; ``TinCanError`` when binding
    ///   or accepting fails.
    public func run(
        ends: RelayEnds,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onListening: @Sendable (SocketAddress) async -> Void = { _ in }
    ) async throws {
        try self.validate(for: ends)
        let server = try await self.bind(group: group, logger: logger)
        if let local = server.channel.localAddress {
            logger.info("listening on \(local.endpointDescription) (tcp)")
            await onListening(local)
        }
        if !self.keepOpen {
            let first: RelayConnection?
            do {
                first = try await server.executeThenClose { inbound in
                    var iterator = inbound.makeAsyncIterator()
                    return try await iterator.next()
                }
            } catch {
                throw TinCanError(operation: "accept on \(self.endpoint)", underlying: error)
            }
            guard let connection = first else { return }
            let peer = connection.channel.remoteAddress?.endpointDescription ?? "?"
            logger.info("accepted connection from \(peer)")
            _ = try await relay(connection, peerName: peer, ends: ends, options: self.options, logger: logger)
            return
        }
        try await self.serveMany(server, ends: ends, logger: logger)
    }

    private func bind(
        group: any EventLoopGroup,
        logger: Logger
    ) async throws -> NIOAsyncChannel<RelayConnection, Never> {
        let addresses = try await Resolver.resolve(self.endpoint, family: self.settings.family, transport: .tcp)
        do {
            if self.endpoint.host == nil, self.settings.family == .any {
                // Every address: the dual-stack wildcard, or IPv4's where IPv6 is missing.
                return try await WildcardBind.bind(port: self.endpoint.port) { address in
                    if address.protocol == .inet {
                        logger.debug("IPv6 unavailable, binding \(address.endpointDescription)")
                    }
                    return try await self.bind(to: address, group: group)
                }
            }
            var lastError: (any Error)?
            for address in addresses {
                do {
                    return try await self.bind(to: address, group: group)
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? TinCanError(operation: "", cause: "no address")
        } catch {
            throw TinCanError(operation: "listen on \(self.endpoint)", underlying: error)
        }
    }

    private func bind(
        to address: SocketAddress,
        group: any EventLoopGroup
    ) async throws -> NIOAsyncChannel<RelayConnection, Never> {
        let idle = self.options.idleTimeout
        var bootstrap = ServerBootstrap(group: group)
        if address.protocol == .inet6, self.settings.family == .ipv6 {
            // `-6` means IPv6 only, even on the wildcard address.
            bootstrap = bootstrap.serverChannelOption(WildcardBind.dualStackOption, value: 1)
        } else if address.protocol == .inet6, self.endpoint.host == nil {
            // The wildcard takes IPv4 too, whatever the system's default.
            bootstrap = bootstrap.serverChannelOption(WildcardBind.dualStackOption, value: 0)
        }
        return try await bootstrap
            .serverChannelOption(.backlog, value: self.settings.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: self.settings.reuseAddress ? 1 : 0)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.recvAllocator, value: RelayTuning.receiveAllocator)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(to: address) { channel in
                channel.eventLoop.makeCompletedFuture { try channel.makeRelayConnection(idleTimeout: idle) }
            }
    }

    private func serveMany(
        _ server: NIOAsyncChannel<RelayConnection, Never>,
        ends: RelayEnds,
        logger: Logger
    ) async throws {
        let hub = Hub(broker: self.broker, slowClientTimeout: self.slowClientTimeout, logger: logger)
        let options = self.options
        let maxClients = self.maxClients
        try await withThrowingDiscardingTaskGroup { group in
            if case .local(let input, _) = ends, !options.receiveOnly {
                group.addTask {
                    do {
                        for try await buffer in input.makeChunks() {
                            for write in hub.broadcast(buffer, except: nil) { try? await write.get() }
                        }
                        logger.info("end of input: nothing more will be sent to clients")
                    } catch {
                        logger.error("\(error)")
                    }
                }
            }
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    let peer = connection.channel.remoteAddress?.endpointDescription ?? "?"
                    guard let id = hub.admit(connection.channel, limit: maxClients) else {
                        logger.info("refused \(peer): \(maxClients) clients already connected", metadata: .setting("maxClients"))
                        connection.channel.close(promise: nil)
                        continue
                    }
                    logger.info("accepted connection from \(peer) (\(hub.count) connected)")
                    group.addTask {
                        defer { hub.remove(id) }
                        do {
                            switch ends {
                            case .exec:
                                _ = try await relay(connection, peerName: peer, ends: ends, options: options, logger: logger)
                            case .local(_, let output):
                                try await hub.serve(
                                    connection, id: id, output: options.sendOnly ? .discard : output,
                                    peerName: peer, logger: logger
                                )
                            }
                        } catch {
                            logger.info("\(error)")
                        }
                    }
                }
            }
        }
    }
}

/// The clients of a keep-open listener: what our input says goes to all of them, and with
/// `broker` what each says goes to all the others.
///
/// A client that stops reading is disconnected, so that one slow reader can neither stall the
/// others for long nor grow our memory: when more than 4 MiB wait for it, or when a write to it has
/// waited the listener's ``TCPRelayListener/slowClientTimeout``.
public final class Hub: Sendable {
    /// Bytes that may wait for one client before it is disconnected.
    static let maxQueuedBytesPerClient = 4 << 20
    /// How long one write may wait for a client, by default, before it is disconnected.
    public static let defaultSlowClientTimeout = TimeAmount.seconds(10)

    private final class Client: Sendable {
        let channel: any Channel
        let queued = Atomic<Int>(0)
        init(_ channel: any Channel) { self.channel = channel }
    }

    private struct State {
        var nextID = 0
        var clients: [Int: Client] = [:]
    }

    private let state = Mutex(State())
    private let broker: Bool
    private let slowClientTimeout: TimeAmount
    private let logger: Logger

    init(broker: Bool, slowClientTimeout: TimeAmount, logger: Logger) {
        self.broker = broker
        self.slowClientTimeout = slowClientTimeout
        self.logger = logger
    }

    var count: Int { self.state.withLock { $0.clients.count } }

    /// Registers a client, or returns nil when `limit` are already connected.
    func admit(_ channel: any Channel, limit: Int) -> Int? {
        self.state.withLock { state in
            guard state.clients.count < limit else { return nil }
            state.nextID += 1
            state.clients[state.nextID] = Client(channel)
            return state.nextID
        }
    }

    func remove(_ id: Int) {
        _ = self.state.withLock { $0.clients.removeValue(forKey: id) }
    }

    /// Queues `buffer` for every client but `except`, disconnecting any client that has more than
    /// ``maxQueuedBytesPerClient`` waiting.
    ///
    /// Returns the writes' futures; the source waits for them, so the clients pace it, and a
    /// client that stops reading holds it up for at most the slow-client timeout.
    @discardableResult
    func broadcast(_ buffer: ByteBuffer, except: Int?) -> [EventLoopFuture<Void>] {
        let targets = self.state.withLock { state in state.clients.filter { $0.key != except }.map(\.value) }
        let count = buffer.readableBytes
        var writes: [EventLoopFuture<Void>] = []
        for client in targets {
            let queued = client.queued.add(count, ordering: .relaxed).newValue
            if queued > Self.maxQueuedBytesPerClient {
                client.queued.subtract(count, ordering: .relaxed)
                let peer = client.channel.remoteAddress?.endpointDescription ?? "?"
                self.logger.info("disconnecting \(peer): it is not reading (more than \(Self.maxQueuedBytesPerClient) bytes waiting)")
                client.channel.close(promise: nil)
                continue
            }
            let channel = client.channel
            let logger = self.logger
            let timeout = self.slowClientTimeout
            let watchdog = channel.eventLoop.scheduleTask(in: timeout) {
                let peer = channel.remoteAddress?.endpointDescription ?? "?"
                logger.info("disconnecting \(peer): a write waited \(TinCanError.seconds(timeout)), it is not reading")
                channel.close(promise: nil)
            }
            let write = channel.writeAndFlush(buffer)
            write.whenComplete { _ in
                watchdog.cancel()
                client.queued.subtract(count, ordering: .relaxed)
            }
            writes.append(write)
        }
        return writes
    }

    /// Copies what the client sends to `output` (and to the other clients with `broker`) until it
    /// closes; then closes our side too.
    func serve(_ connection: RelayConnection, id: Int, output: RelayOutput, peerName: String, logger: Logger) async throws {
        var received = 0
        do {
            for try await buffer in connection.inbound {
                received += buffer.readableBytes
                // Our output first, then the other clients: a client can answer only what it has
                // received, so our output keeps the conversation's order (an answer never shows
                // before what it answers, which a CI run caught when the other clients came first).
                try await output.write(buffer)
                if self.broker {
                    for write in self.broadcast(buffer, except: id) { try? await write.get() }
                }
            }
            logger.info("\(peerName) half-closed the connection (FIN received)")
        } catch is IdleTimeoutError {
            logger.info("closing \(peerName): idle too long", metadata: .setting("idleTimeout"))
        } catch {
            logger.info("\(TinCanError(operation: "receive from \(peerName)", underlying: error))")
        }
        try? await connection.channel.close()
        logger.info("closed connection with \(peerName): \(received) bytes received")
    }
}
