#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import Synchronization
import TinCanCore

/// A listening TCP socket: `bind`, `listen` and `accept` in one.
///
/// ```swift
/// let server = try await TCPServer.bind(port: 0)
/// print("listening on port \(server.port)")
/// try await withThrowingDiscardingTaskGroup { group in
///     for try await connection in server.connections {
///         group.addTask {
///             for try await line in connection.lines {
///                 try await connection.send(line.uppercased() + "\n")
///             }
///             try await connection.close()
///         }
///     }
/// }
/// ```
///
/// Connections are accepted as the program takes them: while it takes none, a few wait here and the
/// rest in the kernel's backlog.
public final class TCPServer: Sendable {
    typealias Bridge = BridgeHandle<QueueStore<TCPConnection>>

    /// The listening channel; internal for tests.
    let channel: any Channel
    private let bridge: Bridge
    private let defaultTimeout: Mutex<Duration?>

    /// Connections accepted but not yet taken before the server stops accepting more.
    static let acceptQueueLimit = 16

    /// The address the server is bound to, with the port the kernel chose for port 0.
    public let localAddress: SocketAddress
    /// The port the server is bound to (the kernel's choice for port 0).
    public var port: Int { self.localAddress.port ?? 0 }

    /// The default timeout of each ``accept(timeout:)`` that does not name its own (Python's
    /// `settimeout` on a listening socket); nil waits for ever. It starts as `options.timeout`.
    /// ``connections`` waits for ever regardless.
    public var timeout: Duration? {
        get { self.defaultTimeout.withLock { $0 } }
        set { self.defaultTimeout.withLock { $0 = newValue } }
    }

    private init(channel: any Channel, bridge: Bridge, timeout: Duration?) {
        self.channel = channel
        self.bridge = bridge
        self.defaultTimeout = Mutex(timeout)
        // A bound socket always has an address.
        self.localAddress = channel.localAddress!
    }

    /// A server that nobody holds any more stops listening.
    deinit {
        if self.channel.isActive { self.channel.close(promise: nil) }
    }

    /// Binds and listens.
    ///
    /// - Parameters:
    ///   - host: the address to listen on, or a name that resolves to it; nil for every address,
    ///     IPv6 and IPv4 (`::`, or `0.0.0.0` on a machine without IPv6).
    ///   - port: 0 lets the kernel choose; read it from ``port``.
    ///   - backlog: connections the kernel may hold until they are accepted (`listen(2)`).
    ///   - reuseAddress: `SO_REUSEADDR`, so that a restarted server can bind at once while
    ///     connections of its last run are in TIME_WAIT. Default true.
    ///   - options: options for the accepted connections (and `reusePort` for the listener);
    ///     `options.timeout` becomes each connection's ``TCPConnection/timeout``, and the server's
    ///     ``timeout``: the limit of each ``accept(timeout:)`` without its own.
    /// - Throws: `TinCanError`: `TinCanError.Kind.addressInUse`, `TinCanError.Kind.unknownHost`...
    public static func bind(
        host: String? = nil,
        port: Int = 0,
        backlog: Int = 128,
        reuseAddress: Bool = true,
        options: SocketOptions = SocketOptions()
    ) async throws -> TCPServer {
        let endpoint = Endpoint(host: host, port: port)
        try Endpoint.check(port: port, role: .listen, operation: "listen on \(endpoint)")
        try options.validate()
        var listenerOptions = options
        listenerOptions.reuseAddress = reuseAddress
        do {
            guard host != nil else {
                // The dual-stack wildcard; where IPv6 is missing, IPv4's.
                return try await WildcardBind.bind(port: port) { address in
                    try await Self.bind(
                        to: address, dualStack: address.protocol == .inet6, backlog: backlog,
                        listenerOptions: listenerOptions, options: options
                    )
                }
            }
            // A named host: its first address (binding one address of several would be arbitrary
            // anyway, and the first is the one the system prefers).
            guard let address = try await Resolver.resolve(endpoint, family: .any, transport: .tcp).first else {
                throw ChannelError.unknownLocalAddress
            }
            return try await Self.bind(
                to: address, dualStack: false, backlog: backlog, listenerOptions: listenerOptions, options: options
            )
        } catch {
            throw TinCanError(operation: "listen on \(endpoint)", underlying: error)
        }
    }

    private static func bind(
        to address: SocketAddress,
        dualStack: Bool,
        backlog: Int,
        listenerOptions: SocketOptions,
        options: SocketOptions
    ) async throws -> TCPServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: Int32(clamping: backlog))
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try listenerOptions.apply(to: channel, kind: .tcpListener, dualStack: dualStack)
                    // After an accept error that NIO survives (EMFILE, ENFILE, ENOBUFS, ENOMEM,
                    // ECONNABORTED), accept again a second later rather than at once and in vain;
                    // the bridge drops the error, so the server goes on.
                    let backoff = AcceptBackoffHandler(shouldForwardIOErrorCaught: true)
                    try channel.pipeline.syncOperations.addHandler(backoff)
                    let queue = InboundBridge(
                        store: QueueStore<TCPConnection>(), limit: Self.acceptQueueLimit, consumesReads: false,
                        errors: .dropped
                    )
                    try channel.pipeline.syncOperations.addHandler(ListenerBridgeHandler(queue))
                }
            }
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try options.apply(to: child, kind: .tcp)
                    let connection = try TCPConnection(channel: child, options: options)
                    guard let parent = child.parent else { throw ChannelError.ioOnClosedChannel }
                    // NIO registers an accepted channel after this initializer: hand the connection
                    // over once it is active, so that its first send finds it open. The accept queue
                    // lives on the listener's event loop.
                    try child.pipeline.syncOperations.handler(type: StreamBridgeHandler.self).bridge.onActive = {
                        parent.eventLoop.execute {
                            do {
                                try parent.pipeline.syncOperations
                                    .handler(type: ListenerBridgeHandler.self).bridge
                                    .push(connection)
                            } catch {
                                connection.abort()
                            }
                        }
                    }
                }
            }
            .bind(to: address)
            .get()
        let bridge = try await channel.eventLoop.submit {
            Bridge(
                try channel.pipeline.syncOperations.handler(type: ListenerBridgeHandler.self).bridge,
                eventLoop: channel.eventLoop
            )
        }.get()
        return TCPServer(channel: channel, bridge: bridge, timeout: options.timeout)
    }

    /// Waits for the next connection (Python's `accept`).
    ///
    /// An accept error that the listener survives (out of file descriptors, a connection aborted
    /// before it was accepted) is not thrown: the server accepts again a second later.
    ///
    /// - Parameter timeout: how long to wait; nil for ``timeout``, and for ever when that is nil too.
    /// - Returns: the connection, or nil once the server is closed.
    /// - Throws: `TinCanError.Kind.timedOut` when the timeout runs out (the server
    ///   goes on accepting).
    public func accept(timeout: Duration? = nil) async throws -> TCPConnection? {
        try await self.accept(waiting: (timeout ?? self.timeout)?.timeAmount)
    }

    private func accept(waiting timeout: TimeAmount?) async throws -> TCPConnection? {
        do {
            return try await self.bridge.receive(NextItem(), timeout: timeout)
        } catch let error as ChannelError where error == .ioOnClosedChannel {
            return nil
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw TinCanError(operation: "accept on \(self.localAddress.endpointDescription)", underlying: error)
        }
    }

    /// The accepted connections, one by one, until the server is closed.
    public var connections: Connections { Connections(server: self) }

    /// The connections a ``TCPServer`` accepts (``TCPServer/connections``).
    public struct Connections: AsyncSequence, Sendable {
        public typealias Element = TCPConnection
        let server: TCPServer

        /// Iterates the connections.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let server: TCPServer
            /// The next connection; nil once the server is closed. Waits for ever, whatever the
            /// server's ``TCPServer/timeout``.
            public mutating func next() async throws -> TCPConnection? {
                try await self.server.accept(waiting: nil)
            }
        }

        /// Makes an iterator.
        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(server: self.server) }
    }

    /// Stops listening: no more connections are accepted, ``connections`` ends, and connections
    /// accepted but not yet taken are closed. Connections already taken stay open: they are the
    /// program's to close. Closing twice does nothing.
    public func close() async throws {
        do {
            try await self.bridge.close(self.channel)
        } catch ChannelError.alreadyClosed {
            return
        } catch {
            throw TinCanError(
                operation: "close the server on \(self.localAddress.endpointDescription)", underlying: error
            )
        }
    }
}
