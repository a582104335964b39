import Logging
import NIOCore
import NIOPosix
import TinCanCore

/// What one finished transfer looked like: for the server's log line and stats hook, and the
/// client's summary.
public struct TFTPTransferReport: Sendable, CustomStringConvertible {
    /// Which way the file went, seen from the server: a read request sends it to the client.
    public enum Direction: String, Sendable {
        case read = "RRQ"
        case write = "WRQ"
    }

    /// The other end (for the server, the client; for the client, the server's transfer port).
    public var peer: SocketAddress
    public var filename: String
    public var direction: Direction
    public var mode: TFTPMode
    /// The options in force (after negotiation, or RFC 1350 defaults).
    public var options: TFTPTransferOptions
    public var stats: TFTPTransferStats
    public var duration: Duration
    /// Nil for success.
    public var error: TFTPError?
    /// The error came in an ERROR packet from the peer.
    public var errorFromPeer: Bool
    /// The report is the client's (its summary says get/put) rather than the server's.
    public var isClient: Bool = false

    /// File bytes per second.
    public var bytesPerSecond: Double {
        self.seconds > 0 ? Double(self.stats.bytes) / self.seconds : 0
    }

    private var seconds: Double {
        Double(self.duration.components.seconds) + Double(self.duration.components.attoseconds) / 1e18
    }

    /// One line: peer, request, options, bytes, duration, rate, result.
    public var description: String {
        var options = "blksize=\(self.options.blockSize) windowsize=\(self.options.windowSize)"
        if let tsize = self.options.transferSize { options += " tsize=\(tsize)" }
        if let timeout = self.options.timeoutSeconds { options += " timeout=\(timeout)" }
        let rate = self.bytesPerSecond / 1_048_576
        let moved = (self.direction == .read) != self.isClient ? "sent" : "received"
        var line = self.isClient
            ? "\(self.direction == .read ? "get" : "put") '\(self.filename)' \(self.direction == .read ? "from" : "to") \(self.peer.endpointDescription) \(self.mode) \(options): "
            : "\(self.direction.rawValue) \(self.peer.endpointDescription) '\(self.filename)' \(self.mode) \(options): "
        line += "\(moved) \(self.stats.bytes) bytes in \(Self.fixed(self.seconds, 3)) s"
        line += " (\(Self.fixed(rate, 1)) MiB/s, \(self.stats.retransmissions) resent, \(self.stats.timeouts) timeouts)"
        if let error = self.error {
            line += self.errorFromPeer ? ", ended by the peer: \(error)" : ", failed: \(error)"
        } else {
            line += ", ok"
        }
        return line
    }

    /// `value` with `decimals` digits after the point (no Foundation).
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = String(scaled % Int(scale))
        guard decimals > 0 else { return String(whole) }
        return "\(whole)." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
}

/// Kernel batching of a windowed transfer's datagrams (Linux), used where the kernel offers it.
/// Both are on by default; switch one off to rule it out when a path misbehaves with it.
public struct TFTPOffload: Hashable, Sendable {
    /// Send a window's full blocks in one system call (UDP_SEGMENT, "GSO"). A path that refuses it
    /// at run time is detected, and the transfer falls back to one datagram per block. Default true.
    public var segmentation: Bool
    /// Receive a window's datagrams in one read (UDP_GRO), on the receiving side of a transfer with
    /// a window over 1. Default true.
    public var receive: Bool

    public init(segmentation: Bool = true, receive: Bool = true) {
        self.segmentation = segmentation
        self.receive = receive
    }
}

/// Opens the UDP socket of one transfer (its transfer ID) and runs a handler on it.
enum TFTPTransferChannel {
    /// Binds a socket to `address`, or, when `ports` is given, to the first free port of that range
    /// (starting at a random one, as tftp-hpa does).
    static func bind(
        to address: SocketAddress,
        ports: ClosedRange<Int>?,
        group: any EventLoopGroup
    ) async throws -> any Channel {
        let bootstrap = DatagramBootstrap(group: group)
            .channelOption(.maxMessagesPerRead, value: 64)
        guard let ports else {
            var address = address
            address.port = 0
            return try await bootstrap.bind(to: address).get()
        }
        let count = ports.count
        let first = Int.random(in: 0..<count)
        var lastError: (any Error)?
        for offset in 0..<count {
            var candidate = address
            candidate.port = ports.lowerBound + (first + offset) % count
            do {
                return try await bootstrap.bind(to: candidate).get()
            } catch {
                lastError = error
            }
        }
        throw lastError ?? TFTPError(.notDefined, "no free transfer port")
    }

    /// Sizes the socket for a transfer's options, adds the handler (which starts the transfer) and
    /// waits for its outcome.
    static func run(
        on channel: any Channel,
        machine: TFTPTransferMachine,
        file: TFTPTransferFile,
        peer: SocketAddress,
        lockPortOnFirstReply: Bool,
        receiveBlockSize: Int,
        windowSize: Int,
        offload: TFTPOffload,
        logger: Logger,
        progress: TFTPProgress?,
        ownsFile: Bool = true
    ) async -> TFTPTransferOutcome {
        let promise = channel.eventLoop.makePromise(of: TFTPTransferOutcome.self)
        do {
            try await channel.eventLoop.submit {
                let isReceiver = if case .receiver = machine { true } else { false }
                let segmentation = try Self.configure(
                    channel,
                    receiveBlockSize: receiveBlockSize,
                    windowSize: windowSize,
                    isReceiver: isReceiver,
                    offload: offload
                )
                let handler = TFTPTransferHandler(
                    machine: machine,
                    file: file,
                    peer: peer,
                    lockPortOnFirstReply: lockPortOnFirstReply,
                    logger: logger,
                    progress: progress,
                    ownsFile: ownsFile,
                    segmentationOffload: segmentation && !isReceiver,
                    outcome: promise
                )
                try channel.pipeline.syncOperations.addHandler(handler)
            }.get()
        } catch {
            promise.succeed(TFTPTransferOutcome(
                error: TFTPError(.notDefined, "could not start the transfer: \(error)"),
                errorFromPeer: false,
                options: machine.options,
                stats: TFTPTransferStats()
            ))
        }
        do {
            return try await promise.futureResult.get()
        } catch {
            // The handler only ever succeeds the promise; should that change, this is the answer.
            return TFTPTransferOutcome(
                error: TFTPError(.notDefined, "transfer ended without an outcome: \(error)"),
                errorFromPeer: false,
                options: machine.options,
                stats: TFTPTransferStats()
            )
        }
    }

    /// Receive buffers: one datagram of the block size per read (or, for a receiver where the
    /// kernel offers UDP_GRO, up to 64 KiB of coalesced datagrams), and a socket buffer that holds a
    /// full window (the default one overflows at large windows, which is what makes some peers
    /// collapse). The kernel caps the socket buffer at `net.core.rmem_max`.
    ///
    /// - Returns: whether segmentation offload (GSO) may be used for sending.
    static func configure(
        _ channel: any Channel,
        receiveBlockSize: Int,
        windowSize: Int,
        isReceiver: Bool,
        offload: TFTPOffload
    ) throws -> Bool {
        let datagram = max(receiveBlockSize, TFTPWireLimits.defaultBlockSize) + 4
        guard let options = channel.syncOptions else {
            throw TFTPError(.notDefined, "the transfer socket does not take options synchronously")
        }
        var capacity = datagram + 1
        if isReceiver, windowSize > 1, offload.receive, System.supportsUDPReceiveOffload {
            do {
                try options.setOption(.datagramReceiveOffload, value: true)
                try options.setOption(.datagramReceiveSegmentSize, value: true)
                capacity = 65536
            } catch {
                // Not on this kernel: one datagram per read.
            }
        }
        try options.setOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: capacity))
        // Each queued datagram costs about twice its size in kernel memory.
        let wanted = min(windowSize * datagram * 2 * 2, 16 * 1024 * 1024)
        if wanted > 212_992 {
            try? options.setOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(wanted))
        }
        return offload.segmentation && System.supportsUDPSegmentationOffload
    }
}
