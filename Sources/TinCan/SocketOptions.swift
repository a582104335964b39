#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import TinCanCore

/// Socket options, typed: what Python programs set with `setsockopt` and `settimeout`.
///
/// ```swift
/// var options = SocketOptions()
/// options.keepAlive = true
/// options.timeout = .seconds(5)
/// let client = try await TCPClient.connect(host: "example.com", port: 80, options: options)
/// ```
///
/// Options that a kind of socket does not have are ignored by it (``broadcast`` by TCP, ``noDelay``
/// and ``keepAlive`` by UDP).
public struct SocketOptions: Sendable, Hashable {
    /// `TCP_NODELAY`: send small writes at once instead of waiting to coalesce them (Nagle's
    /// algorithm off). Default true: programs that exchange lines or requests want their answer now.
    public var noDelay: Bool
    /// `SO_KEEPALIVE`: probe an idle connection so that a vanished peer is noticed. Default false.
    public var keepAlive: Bool
    /// `SO_RCVBUF` in bytes; nil leaves the system's size (and its autotuning). Default nil.
    public var receiveBufferSize: Int?
    /// `SO_SNDBUF` in bytes; nil leaves the system's size. Default nil.
    public var sendBufferSize: Int?
    /// `SO_REUSEADDR`: bind an address that a closed socket still holds (TIME_WAIT). Default false;
    /// ``TCPServer/bind(host:port:backlog:reuseAddress:options:)`` has its own argument for it.
    public var reuseAddress: Bool
    /// `SO_REUSEPORT`: let several sockets bind the same address and port (the kernel spreads
    /// connections or datagrams among them). Default false.
    public var reusePort: Bool
    /// `SO_BROADCAST`: let a UDP socket send to broadcast addresses. Default false (opt in).
    public var broadcast: Bool
    /// The default timeout of every operation on the socket (Python's `settimeout`): connect, each
    /// receive and accept, and each send that must wait for the peer to read (or, UDP, for the
    /// kernel to take the datagram). nil waits for ever (a connect: NIO's 10 seconds per address).
    /// Default nil. An operation's own `timeout:` argument takes its place.
    public var timeout: Duration?
    /// Most bytes (TCP) or datagrams' bytes (UDP) received and not yet taken by the program;
    /// past it the socket stops reading (once the read in progress is done: a few 64 KiB reads at
    /// most), so a fast sender is slowed by TCP's flow control instead of growing memory (UDP: the
    /// kernel drops what does not fit). A request for more (a long `receive(exactly:)`, a line)
    /// reads on until it is answered. Default 256 KiB.
    public var maxBufferedReceiveBytes: Int
    /// Most bytes queued for sending before `send` waits for the peer to read (the channel's high
    /// write watermark; it resumes below half of this). Default 64 KiB.
    public var maxQueuedSendBytes: Int

    /// Default for ``maxBufferedReceiveBytes``: 256 KiB.
    public static let defaultMaxBufferedReceiveBytes = 256 * 1024
    /// Default for ``maxQueuedSendBytes``: 64 KiB.
    public static let defaultMaxQueuedSendBytes = 64 * 1024

    /// Options with the defaults that each property documents.
    public init(
        noDelay: Bool = true,
        keepAlive: Bool = false,
        receiveBufferSize: Int? = nil,
        sendBufferSize: Int? = nil,
        reuseAddress: Bool = false,
        reusePort: Bool = false,
        broadcast: Bool = false,
        timeout: Duration? = nil,
        maxBufferedReceiveBytes: Int = SocketOptions.defaultMaxBufferedReceiveBytes,
        maxQueuedSendBytes: Int = SocketOptions.defaultMaxQueuedSendBytes
    ) {
        self.noDelay = noDelay
        self.keepAlive = keepAlive
        self.receiveBufferSize = receiveBufferSize
        self.sendBufferSize = sendBufferSize
        self.reuseAddress = reuseAddress
        self.reusePort = reusePort
        self.broadcast = broadcast
        self.timeout = timeout
        self.maxBufferedReceiveBytes = maxBufferedReceiveBytes
        self.maxQueuedSendBytes = maxQueuedSendBytes
    }

    /// Sets the options on a channel that is not yet connected or bound (from a channel initializer);
    /// `dualStack` clears `IPV6_V6ONLY` on a socket that binds `::` for every address.
    func apply(to channel: any Channel, kind: SocketKind, dualStack: Bool = false) throws {
        guard let options = channel.syncOptions else { throw ChannelError.operationUnsupported }
        if dualStack {
            try options.setOption(WildcardBind.dualStackOption, value: 0)
        }
        switch kind {
        case .tcp:
            try options.setOption(.tcpOption(.tcp_nodelay), value: self.noDelay ? 1 : 0)
            try options.setOption(.socketOption(.so_keepalive), value: self.keepAlive ? 1 : 0)
            try options.setOption(.allowRemoteHalfClosure, value: true)
        case .tcpListener:
            try options.setOption(.socketOption(.so_reuseaddr), value: self.reuseAddress ? 1 : 0)
        case .udp:
            try options.setOption(.socketOption(.so_reuseaddr), value: self.reuseAddress ? 1 : 0)
            try options.setOption(.socketOption(.so_broadcast), value: self.broadcast ? 1 : 0)
            try options.setOption(.recvAllocator, value: UDPLimits.receiveAllocator)
        }
        if let size = self.receiveBufferSize {
            try options.setOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(clamping: size))
        }
        if let size = self.sendBufferSize {
            try options.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(clamping: size))
        }
        if self.reusePort {
            try options.setOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
        }
        if kind != .tcpListener {
            let high = max(self.maxQueuedSendBytes, 2)
            try options.setOption(.writeBufferWaterMark, value: .init(low: high / 2, high: high))
        }
    }

    /// Throws unless the limits are positive and the timeout is more than zero.
    func validate() throws {
        if let timeout = self.timeout, timeout <= .zero {
            throw TinCanError(operation: "socket options", cause: "timeout must be more than 0")
        }
        if self.maxBufferedReceiveBytes < 1 || self.maxQueuedSendBytes < 1 {
            throw TinCanError(operation: "socket options", cause: "buffer limits must be at least 1 byte")
        }
    }
}

/// Which socket an option list is for.
enum SocketKind {
    case tcp
    case tcpListener
    case udp
}

extension Duration {
    /// The duration as NIO's time amount (a year at most, far beyond any sensible timeout).
    var timeAmount: TimeAmount {
        let year = Duration.seconds(365 * 24 * 3600)
        return TimeAmount(Swift.min(self, year))
    }
}

extension Endpoint {
    /// Throws `TinCanError` for `operation` unless `port` is valid for `role` (the one port check,
    /// ``Endpoint/checkPort(_:role:)``): NIO traps on a port that does not fit 16 bits.
    static func check(port: Int, role: EndpointRole, operation: String) throws {
        do {
            try Endpoint.checkPort(port, role: role)
        } catch {
            throw TinCanError(operation: operation, cause: error.description)
        }
    }
}
