import NIOCore
import TinCanCore

/// How a relay treats the two directions of a connection. The defaults are what `tincan connect` and
/// `tincan listen` do without flags.
public struct RelayOptions: Sendable {
    /// Ignore what the peer sends: it is read and dropped, never written out.
    public var sendOnly: Bool
    /// Never read the local input, and never half-close on our own.
    public var receiveOnly: Bool
    /// The local input is a terminal: once the peer has closed, a person at a prompt is done, so the
    /// relay ends as soon as the output is written instead of waiting for the input's end of file.
    public var inputIsTerminal: Bool
    /// Close a connection after this long with nothing sent or received; nil for never.
    public var idleTimeout: TimeAmount?

    /// - Parameters:
    ///   - sendOnly: drop what the peer sends. Default false.
    ///   - receiveOnly: never read the input. Default false.
    ///   - inputIsTerminal: the input is a person at a terminal. Default false.
    ///   - idleTimeout: idle limit per connection. Default nil (none).
    public init(
        sendOnly: Bool = false,
        receiveOnly: Bool = false,
        inputIsTerminal: Bool = false,
        idleTimeout: TimeAmount? = nil
    ) {
        self.sendOnly = sendOnly
        self.receiveOnly = receiveOnly
        self.inputIsTerminal = inputIsTerminal
        self.idleTimeout = idleTimeout
    }

    /// Checks the options against the relay's rules.
    ///
    /// - Throws: ``ConfigurationError`` when `sendOnly` and `receiveOnly` are both set (nothing would
    ///   be relayed), or `idleTimeout` is not more than 0 and at most a year.
    public func validate() throws {
        if self.sendOnly, self.receiveOnly {
            throw ConfigurationError(settings: ["sendOnly", "receiveOnly"], problem: "cannot be used together")
        }
        try ConfigurationError.checkDuration(self.idleTimeout, "idleTimeout")
    }
}

/// Socket-level settings shared by the client and the listener.
public struct SocketSettings: Sendable {
    /// The IP family to use.
    public var family: AddressFamily
    /// Connect timeout for TCP; for UDP clients, how long to wait for replies after the input ends.
    public var wait: TimeAmount?
    /// Pending-connection queue length for `listen(2)`. Default 128.
    public var backlog: Int32
    /// `SO_REUSEADDR` on listening sockets, so a restarted server can bind at once. Default on.
    public var reuseAddress: Bool

    public init(family: AddressFamily = .any, wait: TimeAmount? = nil, backlog: Int32 = 128, reuseAddress: Bool = true) {
        self.family = family
        self.wait = wait
        self.backlog = backlog
        self.reuseAddress = reuseAddress
    }

    /// Checks the settings against the relay's rules.
    ///
    /// - Throws: ``ConfigurationError`` when `wait` is not more than 0 and at most a year, or
    ///   `backlog` is negative.
    public func validate() throws {
        try ConfigurationError.checkDuration(self.wait, "wait")
        try ConfigurationError.checkAtLeast(self.backlog, 0, "backlog")
    }
}

/// Totals for one connection.
public struct RelayStats: Sendable, Equatable {
    /// Bytes written to the socket.
    public var sent: Int = 0
    /// Bytes read from the socket.
    public var received: Int = 0
    /// The peer half-closed (sent FIN) before the relay ended.
    public var peerFinished = false

    public init(sent: Int = 0, received: Int = 0, peerFinished: Bool = false) {
        self.sent = sent
        self.received = received
        self.peerFinished = peerFinished
    }
}

/// Where a relay's outgoing bytes come from.
public enum RelayInput: Sendable {
    /// Read a descriptor (standard input, a file, a child's stdout) until end of file.
    case reader(FileDescriptorReader)
    /// Send these bytes and then end.
    case bytes(ByteBuffer)
    /// Nothing to send; the relay never half-closes on its own (as with `receiveOnly`).
    case none

    func makeChunks() -> InputChunks { InputChunks(input: self) }
}

/// The chunks of a ``RelayInput`` as one async sequence.
struct InputChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let input: RelayInput

    struct AsyncIterator: AsyncIteratorProtocol {
        var reader: FileDescriptorReader.Chunks.AsyncIterator?
        var bytes: ByteBuffer?

        mutating func next() async throws -> ByteBuffer? {
            if let bytes = self.bytes {
                self.bytes = nil
                return bytes
            }
            return try await self.reader?.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        switch self.input {
        case .reader(let reader): AsyncIterator(reader: reader.chunks.makeAsyncIterator(), bytes: nil)
        case .bytes(let bytes): AsyncIterator(reader: nil, bytes: bytes.readableBytes > 0 ? bytes : nil)
        case .none: AsyncIterator(reader: nil, bytes: nil)
        }
    }
}

/// Where a relay's incoming bytes go.
public struct RelayOutput: Sendable {
    private let writer: FileDescriptorWriter?
    private let closeOnEnd: (@Sendable () -> Void)?
    private let dropAfterFailure: Bool

    /// Write to `writer`; `onEnd` runs once the peer's stream has ended and everything is written
    /// (the exec relay closes the child's standard input there).
    ///
    /// - Parameter dropAfterFailure: once a write fails (a child that exited and closed its input),
    ///   drop the rest instead of failing the connection.
    public init(writer: FileDescriptorWriter, dropAfterFailure: Bool = false, onEnd: (@Sendable () -> Void)? = nil) {
        self.writer = writer
        self.closeOnEnd = onEnd
        self.dropAfterFailure = dropAfterFailure
    }

    private init() {
        self.writer = nil
        self.closeOnEnd = nil
        self.dropAfterFailure = false
    }

    /// Drop everything (what ``RelayOptions/sendOnly`` does with the peer's bytes).
    public static let discard = RelayOutput()

    func write(_ buffer: ByteBuffer) async throws {
        do {
            try await self.writer?.write(buffer)
        } catch where self.dropAfterFailure {
            return
        }
    }

    func end() async throws {
        do {
            try await self.writer?.drain()
        } catch where self.dropAfterFailure {}
        self.closeOnEnd?()
    }
}

/// Buffer sizes of the relay's hot path, chosen with `Benchmarks/bulk/run.sh`.
enum RelayTuning {
    /// Reads from a relayed socket grow up to 256 KiB (NIO's default stops at 64 KiB), so a bulk
    /// transfer costs fewer reads, hops and writes per byte; an interactive one still reads small.
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 * 1024)
}
