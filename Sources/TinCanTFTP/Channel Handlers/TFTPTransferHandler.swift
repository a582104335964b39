import Logging
import NIOCore
import Synchronization

/// The file side of one transfer, as the handler sees it.
enum TFTPTransferFile {
    /// The file being sent (server RRQ, client put).
    case source(any TFTPFileReader, netascii: Bool)
    /// The file being received (server WRQ, client get).
    case sink(any TFTPFileWriter, netascii: Bool)
}

/// Where a transfer handler takes the time for its state machine and timer, and has its file read,
/// written and committed (each completing on the channel's event loop): the system clock and the
/// file's own async calls, or (in tests) a ``TFTPCustomRuntime`` that drives both by hand on an
/// `EmbeddedEventLoop`. An enum rather than an existential or a generic parameter, so that the
/// production path reads the clock directly, with no dynamic call per datagram, and the handler
/// stays one concrete type.
enum TFTPTransferRuntime {
    case system
    case custom(any TFTPCustomRuntime)

    @inline(__always)
    func now() -> NIODeadline {
        switch self {
        case .system: .now()
        case .custom(let runtime): runtime.now()
        }
    }

    func read(_ reader: any TFTPFileReader, upTo count: Int, on loop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        switch self {
        case .system: loop.makeFutureWithTask { try await reader.read(upTo: count) }
        case .custom(let runtime): runtime.read(reader, upTo: count, on: loop)
        }
    }

    func write(_ writer: any TFTPFileWriter, _ data: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<Void> {
        switch self {
        case .system: loop.makeFutureWithTask { try await writer.write(data) }
        case .custom(let runtime): runtime.write(writer, data, on: loop)
        }
    }

    func commit(_ writer: any TFTPFileWriter, on loop: any EventLoop) -> EventLoopFuture<Void> {
        switch self {
        case .system: loop.makeFutureWithTask { try await writer.commit() }
        case .custom(let runtime): runtime.commit(writer, on: loop)
        }
    }
}

/// A clock and file operations supplied from outside (tests).
protocol TFTPCustomRuntime: AnyObject {
    func now() -> NIODeadline
    func read(_ reader: any TFTPFileReader, upTo count: Int, on loop: any EventLoop) -> EventLoopFuture<ByteBuffer>
    func write(_ writer: any TFTPFileWriter, _ data: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<Void>
    func commit(_ writer: any TFTPFileWriter, on loop: any EventLoop) -> EventLoopFuture<Void>
}

/// One of the two state machines.
enum TFTPTransferMachine {
    case sender(TFTPSenderStateMachine)
    case receiver(TFTPReceiverStateMachine)

    var options: TFTPTransferOptions {
        switch self {
        case .sender(let machine): machine.options
        case .receiver(let machine): machine.options
        }
    }
}

/// How one transfer ended, as the handler reports it.
struct TFTPTransferOutcome: Sendable {
    /// Nil when every byte arrived (receiver: and was committed) or was acknowledged (sender).
    var error: TFTPError?
    /// The error came from the peer in an ERROR packet (rather than from this side).
    var errorFromPeer: Bool
    /// The options in force at the end (after any OACK).
    var options: TFTPTransferOptions
    var stats: TFTPTransferStats
    /// The peer's transfer address (for a client, the server's transfer port once known).
    var peer: SocketAddress?
}

/// Bytes moved so far, readable from any thread (for a progress display).
public final class TFTPProgress: Sendable {
    private let _bytes = Atomic<Int>(0)
    private let _total = Atomic<Int>(-1)

    public init() {}

    /// File bytes sent and acknowledged, or received.
    public var bytes: Int { self._bytes.load(ordering: .relaxed) }
    /// The file's size when known (from `tsize` or the local file), else nil.
    public var total: Int? {
        let total = self._total.load(ordering: .relaxed)
        return total >= 0 ? total : nil
    }

    func set(bytes: Int) { self._bytes.store(bytes, ordering: .relaxed) }
    func set(total: Int?) { self._total.store(total ?? -1, ordering: .relaxed) }
}

/// Drives one transfer on its own UDP socket (the RFC's transfer ID): feeds packets, timeouts and
/// file results to a state machine, and carries out what it asks (send, read, write, commit, set
/// the timer, finish, close). The rules of the transfer (when the final ACK goes out, how many
/// copies, when dallying starts) are the state machine's; read-ahead and write-behind are
/// ``TFTPReadAhead`` and ``TFTPWriteBehind``.
///
/// - Packets from any address but the peer's get ERROR 5 and change nothing. A client starts with
///   only the server's host known (`lockPortOnFirstReply`): the first answer from that host fixes
///   the port.
/// - While ``TFTPWriteBehind/isFull``, DATA is dropped, so a slow disk slows the sender (it
///   retransmits) instead of growing memory.
/// - The outcome is reported on `.complete` or `.fail`; the channel closes when the state machine
///   says (a receiver after dallying on the final ACK).
final class TFTPTransferHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    // One of the two is set. Kept apart, not in an enum, so that each event mutates the machine in
    // place (through optional chaining) instead of copying it out and back (a measurable cost per
    // packet).
    private var sender: TFTPSenderStateMachine?
    private var receiver: TFTPReceiverStateMachine?
    private var options: TFTPTransferOptions { self.sender?.options ?? self.receiver?.options ?? TFTPTransferOptions() }
    private var stats: TFTPTransferStats { self.sender?.stats ?? self.receiver?.stats ?? TFTPTransferStats() }
    private let file: TFTPTransferFile
    private let runtime: TFTPTransferRuntime
    private var peer: SocketAddress
    private var peerLocked: Bool
    private let logger: Logger
    /// Read once: asking the logger per packet costs more than the rest of a lock-step block.
    private let tracing: Bool
    private let progress: TFTPProgress?
    private let ownsFile: Bool
    private let outcome: EventLoopPromise<TFTPTransferOutcome>
    private var context: ChannelHandlerContext?
    private var eventLoop: (any EventLoop)?
    private var began = false
    /// The outcome is reported.
    private var reported = false
    /// The socket is closed or closing: nothing more is sent.
    private var stopped = false
    private var fileReleased = false

    // Sending
    /// DATA packets of this event, sent together: one GSO send (UDP_SEGMENT) per run of full
    /// blocks where the kernel offers it, so a window costs one system call instead of one each.
    private var batch: [(block: UInt16, payload: ByteBuffer)] = []
    private var segmentationOffload: Bool
    /// Reused for each single datagram: once the socket has taken the bytes, the storage is ours
    /// alone again, so writing the next packet allocates nothing. (Two writes before one flush
    /// simply copy on write.)
    private var scratch = ByteBuffer()

    // Timer
    private var timerDeadline: NIODeadline?
    private var scheduled: Scheduled<Void>?
    private var scheduledFor: NIODeadline = .distantFuture

    // File
    private var readAhead: TFTPReadAhead
    private var writeBehind: TFTPWriteBehind

    init(
        machine: TFTPTransferMachine,
        file: TFTPTransferFile,
        peer: SocketAddress,
        lockPortOnFirstReply: Bool = false,
        logger: Logger,
        progress: TFTPProgress? = nil,
        ownsFile: Bool = true,
        segmentationOffload: Bool = false,
        runtime: TFTPTransferRuntime = .system,
        outcome: EventLoopPromise<TFTPTransferOutcome>
    ) {
        self.ownsFile = ownsFile
        self.segmentationOffload = segmentationOffload
        switch machine {
        case .sender(let machine): self.sender = machine
        case .receiver(let machine): self.receiver = machine
        }
        self.file = file
        switch file {
        case .source(_, let netascii):
            self.readAhead = TFTPReadAhead(netascii: netascii)
            self.writeBehind = TFTPWriteBehind(netascii: false)
        case .sink(_, let netascii):
            self.readAhead = TFTPReadAhead(netascii: false)
            self.writeBehind = TFTPWriteBehind(netascii: netascii)
        }
        self.runtime = runtime
        self.peer = peer
        self.peerLocked = !lockPortOnFirstReply
        self.logger = logger
        self.tracing = logger.logLevel <= .trace
        self.progress = progress
        self.outcome = outcome
    }

    /// The outcome is reported and the socket stays open only to answer a repeated final block.
    var isDallying: Bool { self.reported }

    // MARK: channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.eventLoop = context.eventLoop
        if context.channel.isActive { self.begin() }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.begin()
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelTimer()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.cancelTimer()
        self.stopped = true
        // A receiver whose every block is in goes on to commit (and reports then): the file is
        // whole, and only its final ACK can no longer be sent.
        if !self.reported, !(self.receiver?.isCommitting ?? false) {
            self.finish(error: TFTPError(.notDefined, "transfer socket closed"), fromPeer: false)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An unconnected UDP socket's errors (ICMP, a full send buffer) are not fatal: the timer
        // decides.
        self.logger.debug("transfer socket error", metadata: ["error": "\(error)"])
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        guard !self.stopped else { return }
        if !self.isPeer(envelope.remoteAddress) {
            self.logger.debug("packet from unknown transfer ID", metadata: ["from": "\(envelope.remoteAddress)"])
            self.write(.error(TFTPError(.unknownTransferID, "unknown transfer ID")), to: envelope.remoteAddress, context: context)
            context.flush()
            return
        }
        // With receive offload (UDP_GRO) one read may carry several datagrams of `segmentSize`.
        if let segment = envelope.metadata?.segmentSize, segment > 0, envelope.data.readableBytes > segment {
            var data = envelope.data
            while data.readableBytes > 0, !self.stopped,
                let datagram = data.readSlice(length: min(segment, data.readableBytes))
            {
                self.handle(datagram)
            }
        } else {
            self.handle(envelope.data)
        }
    }

    private func handle(_ datagram: ByteBuffer) {
        var payload = datagram
        let packet: TFTPPacket
        do {
            packet = try payload.readTFTPPacket()
        } catch {
            self.logger.debug("malformed packet from peer ignored", metadata: ["error": "\(error)"])
            return
        }
        if self.tracing { self.logger.trace("received \(packet)") }
        if case .data = packet, self.writeBehind.isFull {
            // The disk is behind: drop, and let the sender's timer pace it.
            return
        }
        let now = self.runtime.now()
        let actions = self.sender?.received(packet, now: now) ?? self.receiver?.received(packet, now: now) ?? []
        self.perform(actions)
    }

    // MARK: carrying out actions

    private func begin() {
        guard !self.began, self.context != nil else { return }
        self.began = true
        let now = self.runtime.now()
        self.perform(self.sender?.begin(now: now) ?? self.receiver?.begin(now: now) ?? [])
    }

    private func perform(_ actions: [TFTPTransferAction]) {
        // After the socket closed, a receiver's commit may still complete or fail: nothing is sent
        // then, but the outcome is reported.
        let context = self.stopped ? nil : self.context
        var wrote = false
        var supplyAfter = false
        var writeAfter = false
        for action in actions {
            switch action {
            case .send(let packet):
                guard let context else { continue }
                if self.tracing { self.logger.trace("sent \(packet)") }
                if case .data(let block, let payload) = packet {
                    self.batch.append((block, payload))
                    wrote = true
                    continue
                }
                self.emitBatch(context)
                self.write(packet, context: context)
                wrote = true
            case .read(let count):
                self.readAhead.want(count)
                supplyAfter = true
            case .write(let payload):
                self.writeBehind.append(payload)
                writeAfter = true
            case .commit:
                self.writeBehind.finish()
                writeAfter = true
            case .setTimer(let deadline):
                self.setTimer(deadline)
            case .complete(let stats):
                self.progress?.set(bytes: stats.bytes)
                self.finish(error: nil, fromPeer: false)
            case .close:
                self.stopped = true
                self.cancelTimer()
                if let context {
                    self.emitBatch(context)
                    if wrote { context.flush() }
                    wrote = false
                    context.close(promise: nil)
                }
            case .fail(let error, let sendToPeer):
                if sendToPeer, let context {
                    self.emitBatch(context)
                    self.write(.error(error), context: context)
                    wrote = true
                }
                self.finish(error: error, fromPeer: !sendToPeer)
            }
        }
        if let context, !self.stopped {
            self.emitBatch(context)
            if wrote { context.flush() }
        }
        if let progress = self.progress, !self.reported {
            progress.set(bytes: self.stats.bytes)
            if let total = self.options.transferSize { progress.set(total: total) }
        }
        if writeAfter { self.startWriteOrCommit() }
        if supplyAfter { self.supplyIfReady() }
    }

    /// Writes the queued DATA packets: runs of full blocks (the last of a run may be short) go out
    /// as one GSO datagram when offload is on, in one buffer each otherwise.
    private func emitBatch(_ context: ChannelHandlerContext) {
        guard !self.batch.isEmpty else { return }
        let segment = self.options.blockSize + 4
        var index = 0
        while index < self.batch.count {
            var count = 0
            var bytes = 0
            while index + count < self.batch.count, count < Self.maxSegments {
                let size = 4 + self.batch[index + count].payload.readableBytes
                guard self.segmentationOffload || count == 0, bytes + size <= Self.maxOffloadBytes || count == 0 else { break }
                count += 1
                bytes += size
                if size != segment { break }
            }
            if count == 1 {
                let (block, payload) = self.batch[index]
                self.scratch.clear(minimumCapacity: bytes)
                self.scratch.writeInteger(TFTPOpcode.data.rawValue)
                self.scratch.writeInteger(block)
                self.scratch.writeImmutableBuffer(payload)
                context.write(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: self.peer, data: self.scratch)), promise: nil)
            } else {
                var buffer = context.channel.allocator.buffer(capacity: bytes)
                for (block, payload) in self.batch[index..<(index + count)] {
                    buffer.writeInteger(TFTPOpcode.data.rawValue)
                    buffer.writeInteger(block)
                    buffer.writeImmutableBuffer(payload)
                }
                let promise = context.eventLoop.makePromise(of: Void.self)
                promise.futureResult.assumeIsolated().whenFailure { error in
                    // No GSO on this path after all (a device without checksum offload says EIO):
                    // send one datagram per block from now on; the timer resends what was lost.
                    self.logger.debug("segmentation offload failed; sending datagrams one by one", metadata: ["error": "\(error)"])
                    self.segmentationOffload = false
                }
                let metadata = AddressedEnvelope<ByteBuffer>.Metadata(ecnState: .transportNotCapable, packetInfo: nil, segmentSize: segment)
                context.write(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: self.peer, data: buffer, metadata: metadata)), promise: promise)
            }
            index += count
        }
        self.batch.removeAll(keepingCapacity: true)
    }

    /// Linux's limits on one GSO send: 64 segments, and a UDP datagram's 65507 bytes.
    static let maxSegments = 64
    static let maxOffloadBytes = 65507

    /// Encodes and queues one packet (to the peer unless said otherwise); the caller flushes.
    private func write(_ packet: TFTPPacket, to address: SocketAddress? = nil, context: ChannelHandlerContext) {
        let capacity: Int
        switch packet {
        case .data(_, let payload): capacity = 4 + payload.readableBytes
        case .acknowledgment: capacity = 4
        case .error(let error): capacity = 5 + error.message.utf8.count
        default: capacity = 128
        }
        self.scratch.clear(minimumCapacity: capacity)
        self.scratch.writeTFTPPacket(packet)
        context.write(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: address ?? self.peer, data: self.scratch)), promise: nil)
    }

    /// A file operation failed: the state machine decides what follows.
    private func fileFailed(_ error: any Error, _ what: String) {
        let error = error as? TFTPError ?? TFTPError(.notDefined, "\(what) failed: \(error)")
        let actions = self.sender?.fileFailed(error) ?? self.receiver?.fileFailed(error) ?? []
        self.perform(actions)
        // Reported even when the machine had already ended (a failure after a timeout).
        self.finish(error: error, fromPeer: false)
    }

    private func finish(error: TFTPError?, fromPeer: Bool) {
        guard !self.reported else { return }
        self.reported = true
        self.releaseFile(failed: error != nil)
        self.outcome.succeed(
            TFTPTransferOutcome(error: error, errorFromPeer: fromPeer, options: self.options, stats: self.stats, peer: self.peer)
        )
    }

    /// Closes the source, or throws away a sink that was not committed (unless the caller owns the
    /// file, to try again with it).
    private func releaseFile(failed: Bool) {
        guard !self.fileReleased, self.ownsFile else { return }
        self.fileReleased = true
        switch self.file {
        case .source(let reader, _):
            Task { await reader.close() }
        case .sink(let writer, _):
            if failed { Task { await writer.abort() } }
        }
    }

    private func isPeer(_ address: SocketAddress) -> Bool {
        if self.peerLocked { return address == self.peer }
        guard TFTPTransferPeer.sameHost(address, self.peer) else { return false }
        self.peer = address
        self.peerLocked = true
        return true
    }

    // MARK: timer

    private func setTimer(_ deadline: NIODeadline) {
        self.timerDeadline = deadline
        // A later deadline is picked up when the scheduled task fires; only an earlier one needs a
        // new task. This keeps one scheduled task per transfer instead of one per packet.
        if self.scheduled != nil, self.scheduledFor <= deadline { return }
        self.scheduled?.cancel()
        self.schedule(deadline)
    }

    private func schedule(_ deadline: NIODeadline) {
        guard let context = self.context else { return }
        self.scheduledFor = deadline
        self.scheduled = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timerFires()
        }
    }

    private func cancelTimer() {
        self.scheduled?.cancel()
        self.scheduled = nil
        self.timerDeadline = nil
    }

    private func timerFires() {
        self.scheduled = nil
        guard let deadline = self.timerDeadline, !self.stopped else { return }
        let now = self.runtime.now()
        if now < deadline {
            self.schedule(deadline)
            return
        }
        self.timerDeadline = nil
        self.perform(self.sender?.timerFired(now: now) ?? self.receiver?.timerFired(now: now) ?? [])
    }

    // MARK: source

    /// Hands the sender what it asked for once it is read, and reads on ahead.
    private func supplyIfReady() {
        guard !self.stopped, self.readAhead.isWanted else { return }
        if let (data, endOfFile) = self.readAhead.take() {
            self.perform(self.sender?.supply(data, endOfFile: endOfFile, now: self.runtime.now()) ?? [])
        }
        guard !self.stopped, case .source(let reader, _) = self.file, let eventLoop = self.eventLoop,
            let size = self.readAhead.nextRead()
        else { return }
        let future = self.runtime.read(reader, upTo: size, on: eventLoop)
        future.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let data):
                self.readAhead.readFinished(data)
                self.supplyIfReady()
            case .failure(let error):
                self.readAhead.readFailed()
                guard !self.stopped else { return }
                self.fileFailed(error, "read")
            }
        }
    }

    // MARK: sink

    /// Starts the next write, or the commit once everything is written. Runs on after the channel
    /// has closed: a receiver whose every block is in still commits.
    private func startWriteOrCommit() {
        guard !self.reported, let eventLoop = self.eventLoop else { return }
        let step = self.writeBehind.next()
        if case .none = step { return }
        guard case .sink(let writer, _) = self.file else { return }
        switch step {
        case .none:
            return
        case .write(let chunk):
            let future = self.runtime.write(writer, chunk, on: eventLoop)
            future.assumeIsolated().whenComplete { result in
                self.writeBehind.writeFinished()
                switch result {
                case .success: self.startWriteOrCommit()
                case .failure(let error): self.fileFailed(error, "write")
                }
            }
        case .commit:
            let future = self.runtime.commit(writer, on: eventLoop)
            future.assumeIsolated().whenComplete { result in
                // Committed or given up by the writer itself: nothing to abort either way.
                self.fileReleased = true
                switch result {
                case .success:
                    self.perform(self.receiver?.committed(now: self.runtime.now()) ?? [])
                case .failure(let error):
                    self.logger.error("upload could not be saved", metadata: ["error": "\(error)"])
                    self.fileFailed(error, "commit")
                }
            }
        }
    }
}

/// Who a transfer's packets may come from.
enum TFTPTransferPeer {
    /// The same IP address (any port).
    static func sameHost(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): x.address.sin_addr.s_addr == y.address.sin_addr.s_addr
        case (.v6, .v6): a.ipAddress == b.ipAddress
        default: false
        }
    }
}

@available(*, unavailable)
extension TFTPTransferHandler: Sendable {}
