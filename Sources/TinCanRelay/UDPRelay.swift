#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TinCanCore

/// A UDP socket wrapped for async use.
typealias DatagramConnection = NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>

/// The relay's UDP defaults, beside the limits it shares with the `TinCan` library (``UDPLimits``
/// in TinCanCore: `maxDatagram`, the largest payload, is what each read of the input is cut to;
/// `receiveAllocator` leaves room for the largest datagram).
extension UDPLimits {
    /// How long a UDP client waits for replies after its input ends, when `SocketSettings.wait` is nil.
    public static let defaultLinger = TimeAmount.seconds(1)

    /// `chunk` cut into datagrams of at most ``maxDatagram`` bytes (slices, not copies).
    static func datagrams(of chunk: ByteBuffer) -> [ByteBuffer] {
        var rest = chunk
        var datagrams: [ByteBuffer] = []
        // readSlice returns nil only when fewer bytes are readable than asked, never here.
        while rest.readableBytes > 0, let datagram = rest.readSlice(length: min(rest.readableBytes, maxDatagram)) {
            datagrams.append(datagram)
        }
        return datagrams
    }

    /// The one-line failure for a UDP socket error, worded the same on the send and receive paths.
    static func failure(_ endpoint: Endpoint, _ error: any Error) -> TinCanError {
        if let error = error as? TinCanError { return error }
        var cause = TinCanError.cause(of: error)
        if TinCanError.errno(of: error) == ECONNREFUSED { cause += " (ICMP port unreachable: nothing listens there)" }
        return TinCanError(operation: "udp to \(endpoint)", cause: cause, errno: TinCanError.errno(of: error))
    }
}

/// The UDP side of `tincan connect -u`: each read of the input is sent as one datagram; replies are
/// written out; after the input ends, replies are awaited until none has come for the linger time.
public enum UDPRelayClient {
    public static func run(
        to endpoint: Endpoint,
        settings: SocketSettings,
        options: RelayOptions,
        input: RelayInput,
        output: RelayOutput,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> RelayStats {
        try settings.validate()
        try options.validate()
        let addresses = try await Resolver.resolve(endpoint, family: settings.family, transport: .udp)
        let address = addresses[0]
        let peer = address.endpointDescription
        let socket: DatagramConnection
        do {
            socket = try await DatagramBootstrap(group: group)
                .channelOption(.recvAllocator, value: UDPLimits.receiveAllocator)
                .connect(to: address) { channel in
                    channel.eventLoop.makeCompletedFuture { try DatagramConnection(wrappingChannelSynchronously: channel) }
                }
        } catch {
            throw TinCanError(operation: "udp to \(endpoint)", underlying: error)
        }
        let local = socket.channel.localAddress?.endpointDescription ?? "?"
        logger.info("sending datagrams to \(peer) from \(local) (udp)")
        let linger = settings.wait ?? UDPLimits.defaultLinger
        let clock = ContinuousClock()
        let lastActivity = LockedInstant(clock.now)
        let counters = RelayCounters()
        let sendInput = !options.receiveOnly
        let sink = options.sendOnly ? RelayOutput.discard : output

        do {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    do {
                        for try await envelope in socket.inbound {
                            counters.received.add(envelope.data.readableBytes, ordering: .relaxed)
                            lastActivity.withLock { $0 = clock.now }
                            try await sink.write(envelope.data)
                        }
                    } catch {
                        throw UDPLimits.failure(endpoint, error)
                    }
                    return false
                }
                if sendInput {
                    group.addTask {
                        for try await chunk in input.makeChunks() {
                            for datagram in UDPLimits.datagrams(of: chunk) {
                                do {
                                    try await socket.channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: datagram))
                                } catch {
                                    throw UDPLimits.failure(endpoint, error)
                                }
                                counters.sent.add(datagram.readableBytes, ordering: .relaxed)
                            }
                        }
                        lastActivity.withLock { $0 = clock.now }
                        logger.info("end of input; waiting \(TinCanError.seconds(linger)) for more replies")
                        // Replies keep the socket open: wait until the line has been quiet for `linger`.
                        while true {
                            let quietUntil = lastActivity.withLock { $0 } + .nanoseconds(linger.nanoseconds)
                            if clock.now >= quietUntil { break }
                            try await Task.sleep(until: quietUntil, clock: clock)
                        }
                        return true
                    }
                }
                while let done = try await group.next() {
                    if done { break }
                }
                group.cancelAll()
                try? await socket.channel.close()
            }
        } catch {
            try? await socket.channel.close()
            throw error
        }
        try await sink.end()
        let stats = counters.stats
        logger.info("closed: \(stats.sent) bytes sent, \(stats.received) bytes received")
        return stats
    }
}

/// The time of the last datagram, shared between the sending and receiving tasks.
final class LockedInstant: Sendable {
    private let value: Mutex<ContinuousClock.Instant>
    init(_ instant: ContinuousClock.Instant) { self.value = Mutex(instant) }
    func withLock<R>(_ body: (inout ContinuousClock.Instant) -> R) -> R { self.value.withLock { body(&$0) } }
}

/// The UDP side of `tincan listen -u`: every datagram is written out; the input goes to the last
/// sender, or with `keepOpen` to every peer heard from (the most recent `maxClients` of them).
public struct UDPRelayListener: Sendable {
    public var endpoint: Endpoint
    public var settings: SocketSettings
    public var options: RelayOptions
    /// Remember and answer many peers instead of only the last sender.
    public var keepOpen: Bool
    /// Most peers remembered in keep-open mode; the least recently heard is forgotten first.
    public var maxClients: Int

    public init(
        endpoint: Endpoint,
        settings: SocketSettings = SocketSettings(),
        options: RelayOptions = RelayOptions(),
        keepOpen: Bool = false,
        maxClients: Int = TCPRelayListener.defaultMaxClients
    ) {
        self.endpoint = endpoint
        self.settings = settings
        self.options = options
        self.keepOpen = keepOpen
        self.maxClients = maxClients
    }

    /// Checks the listener's settings against the relay's rules.
    ///
    /// - Throws: ``ConfigurationError`` for settings ``SocketSettings/validate()`` or
    ///   ``RelayOptions/validate()`` reject, or `maxClients` below 1.
    public func validate() throws {
        try self.settings.validate()
        try self.options.validate()
        try ConfigurationError.checkAtLeast(self.maxClients, 1, "maxClients")
    }

    /// Serves until the task is cancelled or the socket fails.
    ///
    /// - Throws: ``ConfigurationError`` when ``validate()`` does; ``TinCanError`` when the socket fails.
    public func run(
        input: RelayInput,
        output: RelayOutput,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onListening: @Sendable (SocketAddress) async -> Void = { _ in }
    ) async throws {
        try self.validate()
        let addresses = try await Resolver.resolve(self.endpoint, family: self.settings.family, transport: .udp)
        let settings = self.settings
        let wildcard = self.endpoint.host == nil
        @Sendable func bind(to address: SocketAddress) async throws -> DatagramConnection {
            var bootstrap = DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: settings.reuseAddress ? 1 : 0)
                .channelOption(.recvAllocator, value: UDPLimits.receiveAllocator)
            if address.protocol == .inet6, settings.family == .ipv6 {
                // `-6` means IPv6 only, even on the wildcard address.
                bootstrap = bootstrap.channelOption(WildcardBind.dualStackOption, value: 1)
            } else if address.protocol == .inet6, wildcard {
                // The wildcard takes IPv4 too, whatever the system's default.
                bootstrap = bootstrap.channelOption(WildcardBind.dualStackOption, value: 0)
            }
            return try await bootstrap
                .bind(to: address) { channel in
                    channel.eventLoop.makeCompletedFuture { try DatagramConnection(wrappingChannelSynchronously: channel) }
                }
        }
        let socket: DatagramConnection
        do {
            if wildcard, settings.family == .any {
                // Every address: the dual-stack wildcard, or IPv4's where IPv6 is missing.
                socket = try await WildcardBind.bind(port: self.endpoint.port, bind)
            } else {
                socket = try await bind(to: addresses[0])
            }
        } catch {
            throw TinCanError(operation: "listen on \(self.endpoint) (udp)", underlying: error)
        }
        if let local = socket.channel.localAddress {
            logger.info("listening on \(local.endpointDescription) (udp)")
            await onListening(local)
        }
        let peers = PeerList(limit: self.keepOpen ? self.maxClients : 1)
        let sink = self.options.sendOnly ? RelayOutput.discard : output
        let sendInput = !self.options.receiveOnly
        defer { socket.channel.close(promise: nil) }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            let endpoint = self.endpoint
            group.addTask {
                defer { peers.cancelWaiters() }
                do {
                    try await Self.receive(socket, peers: peers, sink: sink, logger: logger)
                } catch {
                    throw TinCanError(operation: "udp on \(endpoint)", underlying: error)
                }
                return true
            }
            if sendInput {
                group.addTask {
                    guard await peers.waitForFirst() else { return false }
                    for try await chunk in input.makeChunks() {
                        for datagram in UDPLimits.datagrams(of: chunk) {
                            for peer in peers.current {
                                try? await socket.channel.writeAndFlush(AddressedEnvelope(remoteAddress: peer, data: datagram))
                            }
                        }
                    }
                    logger.info("end of input: nothing more will be sent")
                    return false
                }
            }
            // The listener ends when its socket does (the first task to finish); the input
            // ending is not a reason to stop.
            while let socketEnded = try await group.next(), !socketEnded {}
            group.cancelAll()
        }
    }

    private static func receive(_ socket: DatagramConnection, peers: PeerList, sink: RelayOutput, logger: Logger) async throws {
        for try await envelope in socket.inbound {
            if peers.heard(envelope.remoteAddress) {
                logger.info("datagrams from \(envelope.remoteAddress.endpointDescription)")
            }
            try await sink.write(envelope.data)
        }
    }
}

/// The peers a UDP listener answers, most recent last.
final class PeerList: Sendable {
    private struct State {
        var peers: [SocketAddress] = []
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var cancelled = false
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) { self.limit = max(1, limit) }

    /// Records a datagram from `peer`; true when the peer is new.
    func heard(_ peer: SocketAddress) -> Bool {
        let (isNew, waiters) = self.state.withLock { state -> (Bool, [CheckedContinuation<Bool, Never>]) in
            let isNew: Bool
            if let index = state.peers.firstIndex(of: peer) {
                state.peers.remove(at: index)
                isNew = false
            } else {
                isNew = true
            }
            state.peers.append(peer)
            if state.peers.count > self.limit { state.peers.removeFirst(state.peers.count - self.limit) }
            let waiters = state.waiters
            state.waiters.removeAll()
            return (isNew, waiters)
        }
        for waiter in waiters { waiter.resume(returning: true) }
        return isNew
    }

    var current: [SocketAddress] { self.state.withLock { $0.peers } }

    /// Waits until a first peer is heard from; false when cancelled or the socket ended first.
    func waitForFirst() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let ready: Bool? = self.state.withLock { state in
                    if state.cancelled { return false }
                    if !state.peers.isEmpty { return true }
                    state.waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            self.cancelWaiters()
        }
    }

    /// Releases every waiter with `false`, now and later.
    func cancelWaiters() {
        let waiters = self.state.withLock { state in
            state.cancelled = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }
}
