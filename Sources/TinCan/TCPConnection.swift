import Logging
import NIOCore
import NIOPosix
import Synchronization
import TinCanCore

/// The connecting side's name for ``TCPConnection``: `TCPClient.connect(host:port:)`.
public typealias TCPClient = TCPConnection

/// A TCP connection: one you opened with ``connect(host:port:timeout:options:)``, or one that a
/// ``TCPServer`` accepted.
///
/// ```swift
/// let client = try await TCPClient.connect(host: "localhost", port: 7007)
/// try await client.send("hello\n")
/// if let reply = try await client.receive(upTo: 1024) {
///     print(String(buffer: reply))
/// }
/// try await client.close()
/// ```
///
/// Each direction ends on its own: ``shutdownWrite(timeout:)`` sends end-of-stream (FIN) and the
/// peer can still answer; ``receive(upTo:timeout:)`` returns nil once the peer has ended its direction.
///
/// A connection may be used from several tasks: one that reads while another writes, say. Receives
/// are answered in the order they were asked; sends go out in the order they were made.
///
/// Every failure is a `TinCanError` whose `kind` tells `TinCanError.Kind.refused`,
/// `TinCanError.Kind.reset`, `TinCanError.Kind.timedOut` and the others apart.
public final class TCPConnection: Sendable {
    typealias Bridge = BridgeHandle<StreamStore>

    /// The connection's channel; internal for tests.
    let channel: any Channel
    private let bridge: Bridge
    private let defaultTimeout: Mutex<Duration?>
    /// `host:port` as the user named the peer, for messages.
    private let peerName: String

    /// The address at this end.
    public var localAddress: SocketAddress? { self.channel.localAddress }
    /// The address at the other end (Python's `getpeername`).
    public var peerAddress: SocketAddress? { self.channel.remoteAddress }

    /// The default timeout of each operation that does not name its own (Python's `settimeout`);
    /// nil waits for ever.
    public var timeout: Duration? {
        get { self.defaultTimeout.withLock { $0 } }
        set { self.defaultTimeout.withLock { $0 = newValue } }
    }

    /// The connection's event loop as a task executor. A task that serves this connection and
    /// prefers it (`group.addTask(executorPreference: connection.executor) { ... }`) runs on the
    /// thread that does the connection's I/O, so that receiving and sending need no thread switches
    /// (Benchmarks/echo: about 1.7 times the round trips of a task on Swift's global executor at 16
    /// connections). Such a task must not block that thread: it serves every socket of that loop.
    public let executor: EventLoopExecutor

    /// Wraps a channel whose pipeline is being set up; call on its event loop.
    init(channel: any Channel, options: SocketOptions, peerName: String? = nil) throws {
        let bridge = InboundBridge(store: StreamStore(), limit: options.maxBufferedReceiveBytes)
        try channel.pipeline.syncOperations.addHandler(StreamBridgeHandler(bridge))
        self.channel = channel
        self.executor = EventLoopExecutor(channel.eventLoop)
        self.bridge = Bridge(bridge, eventLoop: channel.eventLoop)
        self.defaultTimeout = Mutex(options.timeout)
        self.peerName = peerName ?? channel.remoteAddress?.endpointDescription ?? "peer"
    }

    /// A connection that nobody holds any more is closed, as Python closes a collected socket.
    deinit {
        if self.channel.isActive { self.channel.close(promise: nil) }
    }

    // MARK: connecting

    /// Connects to `host` and `port`, trying each address that `host` resolves to in turn.
    ///
    /// - Parameters:
    ///   - host: a name (`example.com`, `localhost`) or an IPv4 or IPv6 address (`::1`, without brackets).
    ///   - port: 1 to 65535.
    ///   - timeout: how long each address may take to answer; nil for `options.timeout`, and NIO's
    ///     default of 10 seconds per address when that is nil too (not the system's limit, which is
    ///     minutes).
    ///   - options: socket options; `options.timeout` also becomes the connection's ``timeout``.
    /// - Throws: `TinCanError`: `TinCanError.Kind.refused`, `TinCanError.Kind.timedOut`,
    ///   `TinCanError.Kind.unreachable`, `TinCanError.Kind.unknownHost`..., for the last address tried.
    public static func connect(
        host: String,
        port: Int,
        timeout: Duration? = nil,
        options: SocketOptions = SocketOptions()
    ) async throws -> TCPConnection {
        let endpoint = Endpoint(host: host, port: port)
        try Endpoint.check(port: port, role: .connect, operation: "connect to \(endpoint)")
        try options.validate()
        let name = endpoint.description
        let (connection, _) = try await TCPDialer.connect(
            to: endpoint, timeout: (timeout ?? options.timeout)?.timeAmount, logger: quietLogger
        ) { channel in
            channel.eventLoop.makeCompletedFuture {
                try options.apply(to: channel, kind: .tcp)
                return try TCPConnection(channel: channel, options: options, peerName: name)
            }
        }
        return connection
    }

    // MARK: sending

    /// Sends all of `bytes` (Python's `sendall`).
    ///
    /// Returns once the bytes are queued and fewer than ``SocketOptions/maxQueuedSendBytes`` wait
    /// for the peer: a sender that outpaces its peer waits here, instead of queueing without bound.
    /// The bytes then reach the peer unless the connection fails; ``close()`` sends what is queued.
    ///
    /// - Parameters:
    ///   - bytes: what to send, all of it.
    ///   - timeout: how long to wait for the peer to read; nil for ``timeout``. When it runs out the
    ///     bytes stay queued and `TinCanError.Kind.timedOut` is thrown.
    /// - Throws: `TinCanError`: `TinCanError.Kind.reset` when the peer has gone,
    ///   `TinCanError.Kind.closed` after ``shutdownWrite(timeout:)`` or ``close()``.
    public func send(_ bytes: ByteBuffer, timeout: Duration? = nil) async throws {
        do {
            try await self.bridge.write(bytes, timeout: self.timeAmount(timeout), awaitCompletion: false)
        } catch {
            throw self.failure("send to", error)
        }
    }

    /// Sends the UTF-8 bytes of `text`.
    public func send(_ text: String, timeout: Duration? = nil) async throws {
        try await self.send(ByteBuffer(string: text), timeout: timeout)
    }

    /// Sends `bytes`.
    public func send(_ bytes: some Sequence<UInt8>, timeout: Duration? = nil) async throws {
        try await self.send(ByteBuffer(bytes: bytes), timeout: timeout)
    }

    /// Ends this direction (Python's `shutdown(SHUT_WR)`): what was sent is delivered, then the
    /// peer reads end-of-stream. Receiving goes on until the peer ends its own direction.
    ///
    /// Waits until the bytes still queued are in the kernel first (NIO would fail them when the peer
    /// has already ended its direction, since ending both directions closes the socket).
    ///
    /// - Parameter timeout: how long the queued bytes may take; nil for ``timeout``, and 10 seconds
    ///   when that is nil too, as for ``close()``. When it runs out, `TinCanError`
    ///   `TinCanError.Kind.timedOut` is thrown and the direction is not yet ended: the bytes stay
    ///   queued.
    public func shutdownWrite(timeout: Duration? = nil) async throws {
        do {
            // An empty write completes once every write before it has.
            try await self.bridge.write(
                ByteBuffer(), timeout: self.timeAmount(timeout) ?? .seconds(10), awaitCompletion: true
            )
            try await self.channel.close(mode: .output)
        } catch ChannelError.outputClosed {
            return
        } catch {
            throw self.failure("shut down the connection to", error)
        }
    }

    // MARK: receiving

    /// Receives what has arrived, at most `maxBytes` of it (Python's `recv(n)`), waiting for at
    /// least one byte.
    ///
    /// - Returns: 1 to `maxBytes` bytes, or nil once the peer has ended its direction (EOF).
    /// - Throws: `TinCanError`: `TinCanError.Kind.timedOut` when `timeout` (or ``timeout``) runs
    ///   out, which leaves the connection as it was; `TinCanError.Kind.reset`;
    ///   `TinCanError.Kind.closed` after ``close()``.
    public func receive(upTo maxBytes: Int = 65536, timeout: Duration? = nil) async throws -> ByteBuffer? {
        precondition(maxBytes > 0, "maxBytes must be at least 1")
        return try await self.receive(.upTo(maxBytes), timeout: timeout)
    }

    /// Receives exactly `count` bytes, waiting until they have all arrived.
    ///
    /// - Returns: `count` bytes, or nil when the peer ended its direction before sending any more.
    /// - Throws: `TinCanError.Kind.closed` when the peer ended its direction after
    ///   some but not all of them; otherwise as ``receive(upTo:timeout:)``.
    public func receive(exactly count: Int, timeout: Duration? = nil) async throws -> ByteBuffer? {
        precondition(count > 0, "count must be at least 1")
        return try await self.receive(.exactly(count), timeout: timeout)
    }

    /// Receives one line: the bytes up to LF, without it (and without a CR before it).
    ///
    /// - Returns: the line, or nil at end of stream; a last line without LF is returned as a line.
    /// - Throws: `TinCanError.Kind.lineTooLong` for a line longer than `maxLength`
    ///   bytes (then the connection's framing is lost: close it); otherwise as ``receive(upTo:timeout:)``.
    public func receiveLine(
        maxLength: Int = TCPConnection.defaultMaxLineLength,
        timeout: Duration? = nil
    ) async throws -> String? {
        precondition(maxLength > 0, "maxLength must be at least 1")
        let line = try await self.receive(.line(maxLength: Self.clamp(maxLength)), timeout: timeout)
        return line.map { String(buffer: $0) }
    }

    /// The longest line that ``lines`` and ``receiveLine(maxLength:timeout:)`` accept by default: 8 KiB.
    public static let defaultMaxLineLength = 8192

    /// What arrives, chunk by chunk, until the peer ends its direction.
    ///
    /// ```swift
    /// for try await chunk in connection.chunks {
    ///     try await connection.send(chunk)   // an echo server
    /// }
    /// ```
    public var chunks: Chunks { Chunks(connection: self) }

    /// What arrives, line by line (Python's `makefile().readline()`), lines of at most
    /// ``defaultMaxLineLength`` bytes.
    public var lines: Lines { Lines(connection: self, maxLength: Self.defaultMaxLineLength) }

    /// What arrives, line by line, lines of at most `maxLength` bytes.
    public func lines(maxLength: Int) -> Lines {
        precondition(maxLength > 0, "maxLength must be at least 1")
        return Lines(connection: self, maxLength: Self.clamp(maxLength))
    }

    /// Line limits past any real buffer, clamped so that the limit plus CR LF cannot overflow.
    private static func clamp(_ maxLength: Int) -> Int { min(maxLength, 1 << 40) }

    /// The chunks of a connection's input (``TCPConnection/chunks``): each as it arrived, at most 64 KiB.
    ///
    /// The sequence ends at the peer's end-of-stream, and when the connection is closed by this side.
    public struct Chunks: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        let connection: TCPConnection

        /// Iterates the chunks.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let connection: TCPConnection
            /// The next chunk; nil at the end.
            public mutating func next() async throws -> ByteBuffer? {
                try await self.connection.receiveEndingQuietly(.upTo(65536))
            }
        }

        /// Makes an iterator.
        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(connection: self.connection) }
    }

    /// The lines of a connection's input (``TCPConnection/lines``), without their ends.
    ///
    /// The sequence ends at the peer's end-of-stream, and when the connection is closed by this side;
    /// it throws `TinCanError.Kind.lineTooLong` for a line over its limit.
    public struct Lines: AsyncSequence, Sendable {
        public typealias Element = String
        let connection: TCPConnection
        let maxLength: Int

        /// Iterates the lines.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let connection: TCPConnection
            let maxLength: Int
            /// The next line; nil at the end.
            public mutating func next() async throws -> String? {
                let line = try await self.connection.receiveEndingQuietly(.line(maxLength: self.maxLength))
                return line.map { String(buffer: $0) }
            }
        }

        /// Makes an iterator.
        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(connection: self.connection, maxLength: self.maxLength)
        }
    }

    // MARK: closing

    /// Closes the connection: queued bytes are sent first (for at most ``timeout``, or 10 seconds
    /// when there is none, since a peer that does not read could hold them for ever), then the socket
    /// is closed. Waiting receives throw `TinCanError.Kind.closed`. Closing twice does nothing.
    public func close() async throws {
        guard self.channel.isActive else {
            // Closed by itself (both directions ended): receives from now on say closed all the same.
            self.bridge.markClosedLocally()
            return
        }
        // An empty write completes once every write before it has: then everything is in the kernel.
        try? await self.bridge.write(ByteBuffer(), timeout: self.timeAmount(nil) ?? .seconds(10), awaitCompletion: true)
        do {
            try await self.bridge.close(self.channel)
        } catch ChannelError.alreadyClosed {
            return
        } catch {
            throw self.failure("close the connection to", error)
        }
    }

    /// Closes at once, dropping what is queued; for when there is no task to await ``close()``.
    public func abort() {
        self.bridge.abort(self.channel)
    }

    // MARK: internals

    /// Whether the channel takes more writes now (false while `send` would wait); for tests.
    var isWritable: Bool { self.channel.isWritable }

    /// Bytes queued in the channel and not yet taken by the kernel; for tests.
    func queuedSendBytes() async throws -> Int {
        try await self.channel.getOption(.bufferedWritableBytes).get()
    }

    /// Writers waiting in the bridge (for room, or for their write to complete); for tests.
    func writeWaiterCount() async throws -> Int { try await self.bridge.writeWaiterCount() }

    /// Bytes received and not yet taken by the program; for tests.
    func bufferedReceiveBytes() async throws -> Int {
        let bridge = self.bridge.bridge
        return try await bridge.eventLoop.submit { bridge.value.bufferedCost }.get()
    }

    private func timeAmount(_ timeout: Duration?) -> TimeAmount? {
        (timeout ?? self.timeout)?.timeAmount
    }

    private func receive(_ request: StreamRequest, timeout: Duration?) async throws -> ByteBuffer? {
        do {
            return try await self.bridge.receive(request, timeout: self.timeAmount(timeout))
        } catch {
            throw self.failure("receive from", error)
        }
    }

    /// For the sequences: a connection closed by this side ends them instead of failing them.
    fileprivate func receiveEndingQuietly(_ request: StreamRequest) async throws -> ByteBuffer? {
        do {
            return try await self.receive(request, timeout: nil)
        } catch let error as TinCanError where error.kind == .closed && !self.channel.isActive {
            return nil
        }
    }

    private func failure(_ operation: String, _ error: any Error) -> any Error {
        if error is CancellationError { return error }
        return TinCanError(operation: "\(operation) \(self.peerName)", underlying: error)
    }
}

extension TCPConnection: QueueItem {
    var queueCost: Int { 1 }
    func discard() { self.abort() }
}

/// The library reports failures by throwing them; it logs nothing of its own.
let quietLogger = Logger(label: "tincan.sockets") { _ in SwiftLogNoOpLogHandler() }
