import NIOCore
import NIOPosix
import Synchronization
import TinCanCore

/// A datagram and the address it came from (Python's `recvfrom` result).
public typealias Datagram = (data: ByteBuffer, sender: SocketAddress)

/// A UDP socket: datagrams to and from any address, or, once connected, to and from one peer.
///
/// ```swift
/// let socket = try await UDPSocket.bind(host: "127.0.0.1", port: 0)
/// for try await (data, sender) in socket.datagrams {
///     try await socket.send(data, to: sender)   // an echo server
/// }
/// ```
///
/// Each datagram arrives whole, up to ``maxDatagramSize`` bytes. UDP does not wait for the peer:
/// a datagram that finds the peer's buffer full is lost, and so is one that arrives while this
/// socket already holds ``SocketOptions/maxBufferedReceiveBytes`` unread.
public final class UDPSocket: Sendable {
    typealias Store = QueueStore<AddressedEnvelope<ByteBuffer>>
    typealias Bridge = BridgeHandle<Store>

    /// The largest UDP payload over IPv4 (65,535 less the IP and UDP headers): 65,507 bytes.
    public static let maxDatagramSize = UDPLimits.maxDatagram

    /// The socket's channel; internal for tests.
    let channel: any Channel
    private let bridge: Bridge
    private let defaultTimeout: Mutex<Duration?>

    /// The address this socket is bound to, with the port the kernel chose for port 0.
    public var localAddress: SocketAddress? { self.channel.localAddress }
    /// The peer a connected socket talks to; nil until ``connect(to:)``.
    public var peerAddress: SocketAddress? { self.channel.remoteAddress }
    /// The port this socket is bound to.
    public var port: Int { self.localAddress?.port ?? 0 }

    /// The default timeout of each receive and send that does not name its own (Python's
    /// `settimeout`); nil waits for ever.
    public var timeout: Duration? {
        get { self.defaultTimeout.withLock { $0 } }
        set { self.defaultTimeout.withLock { $0 = newValue } }
    }

    private init(channel: any Channel, bridge: Bridge, timeout: Duration?) {
        self.channel = channel
        self.executor = EventLoopExecutor(channel.eventLoop)
        self.bridge = bridge
        self.defaultTimeout = Mutex(timeout)
    }

    /// A socket that nobody holds any more is closed.
    deinit {
        if self.channel.isActive { self.channel.close(promise: nil) }
    }

    /// Opens a socket bound to `host` and `port`.
    ///
    /// - Parameters:
    ///   - host: the address to receive on, or a name that resolves to it; nil for every address
    ///     (`::`, which takes IPv4 too, or `0.0.0.0` on a machine without IPv6).
    ///   - port: 0 lets the kernel choose; read it from ``port``.
    ///   - options: `broadcast` to send to broadcast addresses, `reuseAddress`, `reusePort`,
    ///     buffer sizes; `timeout` becomes the socket's ``timeout``.
    /// - Throws: `TinCanError`: `TinCanError.Kind.addressInUse`, `TinCanError.Kind.unknownHost`...
    public static func bind(
        host: String? = nil,
        port: Int = 0,
        options: SocketOptions = SocketOptions()
    ) async throws -> UDPSocket {
        let endpoint = Endpoint(host: host, port: port)
        try Endpoint.check(port: port, role: .listen, operation: "udp bind \(endpoint)")
        try options.validate()
        do {
            guard host != nil else {
                // The dual-stack wildcard; where IPv6 is missing (and only then), IPv4's.
                return try await WildcardBind.bind(port: port) { address in
                    try await Self.bind(to: address, dualStack: address.protocol == .inet6, options: options)
                }
            }
            guard let address = try await Resolver.resolve(endpoint, family: .any, transport: .udp).first else {
                throw ChannelError.unknownLocalAddress
            }
            return try await Self.bind(to: address, dualStack: false, options: options)
        } catch {
            throw TinCanError(operation: "udp bind \(endpoint)", underlying: error)
        }
    }

    /// Opens a socket connected to `host` and `port`, bound to a port the kernel chooses: it sends
    /// with ``send(_:timeout:)-(ByteBuffer,_)`` and receives from that peer only.
    ///
    /// - Throws: `TinCanError.Kind.unknownHost`...
    public static func connect(
        host: String,
        port: Int,
        options: SocketOptions = SocketOptions()
    ) async throws -> UDPSocket {
        let endpoint = Endpoint(host: host, port: port)
        try Endpoint.check(port: port, role: .connect, operation: "udp connect to \(endpoint)")
        let peer = try await Resolver.resolve(endpoint, family: .any, transport: .udp)[0]
        let socket = try await Self.bind(host: peer.protocol == .inet6 ? "::" : "0.0.0.0", port: 0, options: options)
        do {
            try await socket.connect(to: peer)
        } catch {
            try? await socket.close()
            throw error
        }
        return socket
    }

    private static func bind(
        to address: SocketAddress,
        dualStack: Bool,
        options: SocketOptions
    ) async throws -> UDPSocket {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try options.apply(to: channel, kind: .udp, dualStack: dualStack)
                    let bridge = InboundBridge(
                        store: Store(), limit: options.maxBufferedReceiveBytes, errors: .handedToOneReceive
                    )
                    try channel.pipeline.syncOperations.addHandler(DatagramBridgeHandler(bridge))
                }
            }
            .bind(to: address)
            .get()
        let bridge = try await channel.eventLoop.submit {
            Bridge(
                try channel.pipeline.syncOperations.handler(type: DatagramBridgeHandler.self).bridge,
                eventLoop: channel.eventLoop
            )
        }.get()
        return UDPSocket(channel: channel, bridge: bridge, timeout: options.timeout)
    }

    // MARK: connected mode

    /// Connects the socket to `address`: from then on ``send(_:timeout:)-(ByteBuffer,_)`` sends there, and only
    /// datagrams from there are received. A datagram to a port where nothing listens makes the
    /// next receive throw `TinCanError.Kind.refused` (the ICMP answer that only a connected
    /// socket hears).
    public func connect(to address: SocketAddress) async throws {
        do {
            try await self.channel.connect(to: address)
        } catch {
            throw TinCanError(operation: "udp connect to \(address.endpointDescription)", underlying: error)
        }
    }

    /// Connects the socket to `host` and `port`; see ``connect(to:)``.
    public func connect(host: String, port: Int) async throws {
        let endpoint = Endpoint(host: host, port: port)
        try Endpoint.check(port: port, role: .connect, operation: "udp connect to \(endpoint)")
        let address = try await Resolver.resolve(endpoint, family: self.family, transport: .udp)[0]
        try await self.connect(to: address)
    }

    /// The socket's event loop as a task executor: a task that prefers it sends and receives
    /// without thread switches (see ``TCPConnection/executor``). It must not block that thread.
    public let executor: EventLoopExecutor

    // MARK: sending

    /// Sends `data` as one datagram to `address` (Python's `sendto`).
    ///
    /// Returns once the kernel has taken the datagram; that it arrives, UDP does not promise.
    ///
    /// - Parameters:
    ///   - data: the datagram, sent whole.
    ///   - address: where to; the `sender` of a received ``Datagram``, say.
    ///   - timeout: how long the kernel may take to make room for it; nil for ``timeout``. When it
    ///     runs out the datagram stays queued and `TinCanError.Kind.timedOut` is thrown.
    /// - Throws: `TinCanError`: `TinCanError.Kind.other` for a datagram over ``maxDatagramSize``
    ///   (`message too long`), `TinCanError.Kind.unreachable`, `TinCanError.Kind.closed`,
    ///   `TinCanError.Kind.timedOut`.
    public func send(_ data: ByteBuffer, to address: SocketAddress, timeout: Duration? = nil) async throws {
        do {
            let envelope = AddressedEnvelope(remoteAddress: address, data: data)
            try await self.bridge.write(envelope, timeout: (timeout ?? self.timeout)?.timeAmount, awaitCompletion: true)
        } catch {
            throw Self.failure("udp send to \(address.endpointDescription)", error)
        }
    }

    /// Sends the UTF-8 bytes of `text` as one datagram to `address`.
    public func send(_ text: String, to address: SocketAddress, timeout: Duration? = nil) async throws {
        try await self.send(ByteBuffer(string: text), to: address, timeout: timeout)
    }

    /// Sends `bytes` as one datagram to `address`.
    public func send(_ bytes: some Sequence<UInt8>, to address: SocketAddress, timeout: Duration? = nil) async throws {
        try await self.send(ByteBuffer(bytes: bytes), to: address, timeout: timeout)
    }

    /// Sends `data` as one datagram to `host` and `port` (1 to 65535), resolving `host` first.
    public func send(_ data: ByteBuffer, to host: String, port: Int, timeout: Duration? = nil) async throws {
        let endpoint = Endpoint(host: host, port: port)
        try Endpoint.check(port: port, role: .connect, operation: "udp send to \(endpoint)")
        let address = try await Resolver.resolve(endpoint, family: self.family, transport: .udp)[0]
        try await self.send(data, to: address, timeout: timeout)
    }

    /// Sends `data` as one datagram to the connected peer (Python's `send` on a connected socket).
    ///
    /// - Throws: `TinCanError`: as ``send(_:to:timeout:)-(ByteBuffer,_,_)``;
    ///   `TinCanError.Kind.refused` when an earlier datagram found no listener;
    ///   `TinCanError.Kind.closed` on a socket not connected.
    public func send(_ data: ByteBuffer, timeout: Duration? = nil) async throws {
        guard let peer = self.peerAddress else {
            throw TinCanError(
                operation: "udp send", cause: "the socket is not connected: use send(_:to:)", kind: .closed
            )
        }
        do {
            try await self.bridge.write(data, timeout: (timeout ?? self.timeout)?.timeAmount, awaitCompletion: true)
        } catch {
            throw Self.failure("udp send to \(peer.endpointDescription)", error)
        }
    }

    /// Sends the UTF-8 bytes of `text` as one datagram to the connected peer.
    public func send(_ text: String, timeout: Duration? = nil) async throws {
        try await self.send(ByteBuffer(string: text), timeout: timeout)
    }

    /// Sends `bytes` as one datagram to the connected peer.
    public func send(_ bytes: some Sequence<UInt8>, timeout: Duration? = nil) async throws {
        try await self.send(ByteBuffer(bytes: bytes), timeout: timeout)
    }

    // MARK: receiving

    /// Receives the next datagram and its sender (Python's `recvfrom`).
    ///
    /// - Throws: `TinCanError`: `TinCanError.Kind.timedOut` when `timeout` (or ``timeout``) runs
    ///   out, which leaves the socket as it was; `TinCanError.Kind.refused` on a connected socket
    ///   whose peer has no listener; `TinCanError.Kind.closed` after ``close()``.
    public func receiveFrom(timeout: Duration? = nil) async throws -> Datagram {
        do {
            // The socket's input never ends but by closing, which throws.
            let wait = (timeout ?? self.timeout)?.timeAmount
            guard let envelope = try await self.bridge.receive(NextItem(), timeout: wait) else {
                throw ChannelError.ioOnClosedChannel
            }
            return (envelope.data, envelope.remoteAddress)
        } catch {
            throw Self.failure("udp receive on \(self.localAddress?.endpointDescription ?? "?")", error)
        }
    }

    /// Receives the next datagram's bytes (Python's `recv`), from the connected peer or anyone.
    ///
    /// - Throws: as ``receiveFrom(timeout:)``.
    public func receive(timeout: Duration? = nil) async throws -> ByteBuffer {
        try await self.receiveFrom(timeout: timeout).data
    }

    /// The datagrams that arrive, with their senders, until the socket is closed.
    public var datagrams: Datagrams { Datagrams(socket: self) }

    /// The datagrams a ``UDPSocket`` receives (``UDPSocket/datagrams``).
    ///
    /// The sequence ends when the socket is closed by this side. An ICMP error on a connected socket
    /// (`TinCanError.Kind.refused`) is thrown, and ends a `for` loop, as any error does.
    public struct Datagrams: AsyncSequence, Sendable {
        public typealias Element = Datagram
        let socket: UDPSocket

        /// Iterates the datagrams.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let socket: UDPSocket
            /// The next datagram; nil once the socket is closed.
            public mutating func next() async throws -> Datagram? {
                do {
                    return try await self.socket.receiveFrom()
                } catch let error as TinCanError where error.kind == .closed && !self.socket.channel.isActive {
                    return nil
                }
            }
        }

        /// Makes an iterator.
        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(socket: self.socket) }
    }

    // MARK: closing

    /// Closes the socket; waiting receives throw `TinCanError.Kind.closed` and ``datagrams`` ends.
    /// Closing twice does nothing.
    public func close() async throws {
        do {
            try await self.bridge.close(self.channel)
        } catch ChannelError.alreadyClosed {
            return
        } catch {
            throw Self.failure("udp close", error)
        }
    }

    // MARK: internals

    /// Bytes of datagrams received and not yet taken by the program; for tests.
    func bufferedReceiveBytes() async throws -> Int {
        let bridge = self.bridge.bridge
        return try await bridge.eventLoop.submit { bridge.value.bufferedCost }.get()
    }

    /// Writers waiting in the bridge; for tests.
    func writeWaiterCount() async throws -> Int { try await self.bridge.writeWaiterCount() }

    /// A channel option's value; for tests.
    func channelOption<Option: ChannelOption>(_ option: Option) async throws -> Option.Value {
        try await self.channel.getOption(option).get()
    }

    private var family: AddressFamily {
        // A socket bound to an IPv4 address can reach only IPv4 peers; `::` reaches both.
        self.localAddress?.protocol == .inet ? .ipv4 : .any
    }

    private static func failure(_ operation: String, _ error: any Error) -> any Error {
        if error is CancellationError { return error }
        return TinCanError(operation: operation, underlying: error)
    }
}
