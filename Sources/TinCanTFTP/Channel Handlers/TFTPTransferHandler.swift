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
/// file chunks to a state machine, and carries out what it asks (send, read, write, set the timer,
/// finish).
///
/// - Packets from any address but the peer's get ERROR 5 and change nothing. A client starts with
///   only the server's host known (`lockPortOnFirstReply`): the first answer from that host fixes
///   the port.
/// - File reads are done in large chunks ahead of need; file writes are gathered and written in
///   large chunks, in order. While more than ``maxBufferedWriteBytes`` wait for the disk, DATA is
///   dropped, so a slow disk slows the sender (it retransmits) instead of growing memory.
/// - A receiver's outcome is reported once its file is committed; the channel closes when the state
///   machine says (after dallying on the final ACK).
final class TFTPTransferHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Bytes of the file read at once.
    static let readChunk = 256 * 1024
    /// Received bytes gathered before a write is started.
    static let writeChunk = 256 * 1024
    /// Received bytes that may wait for the disk before DATA is dropped.
    static let maxBufferedWriteBytes = 8 * 1024 * 1024

    // One of the two is set. Kept apart, not in an enum, so that each event mutates the machine in
    // place instead of copying it out and back (a measurable cost per packet).
    private var sender: TFTPSenderStateMachine?
    private var receiver: TFTPReceiverStateMachine?
    private var options: TFTPTransferOptions { self.sender?.options ?? self.receiver!.options }
    private var stats: TFTPTransferStats { self.sender?.stats ?? self.receiver!.stats }
    private let file: TFTPTransferFile
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
    private var reported = false
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

    // Source
    private var readBuffer = ByteBuffer()
    private var readInFlight = false
    private var sourceAtEnd = false
    private var wanted: Int?
    private let encoder = NetasciiEncoder()

    // Sink
    private var writeBuffer = ByteBuffer()
    private var writeInFlight = false
    private var decoder = NetasciiDecoder()
    private var receivedAll = false
    private var committing = false
    private var committed = false
    /// Packets (the final ACK) that wait for the commit.
    private var held: [TFTPPacket] = []

    init(
        machine: TFTPTransferMachine,
        file: TFTPTransferFile,
        peer: SocketAddress,
        lockPortOnFirstReply: Bool = false,
        logger: Logger,
        progress: TFTPProgress? = nil,
        ownsFile: Bool = true,
        segmentationOffload: Bool = false,
        outcome: EventLoopPromise<TFTPTransferOutcome>
    ) {
        self.ownsFile = ownsFile
        self.segmentationOffload = segmentationOffload
        switch machine {
        case .sender(let machine): self.sender = machine
        case .receiver(let machine): self.receiver = machine
        }
        self.file = file
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
        if !self.reported, !self.receivedAll {
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
            while data.readableBytes > 0, !self.stopped {
                self.handle(data.readSlice(length: min(segment, data.readableBytes))!)
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
        if case .data = packet, self.writeBuffer.readableBytes > Self.maxBufferedWriteBytes {
            // The disk is behind: drop, and let the sender's timer pace it.
            return
        }
        let now = NIODeadline.now()
        let actions: [TFTPTransferAction]
        if self.sender != nil {
            actions = self.sender!.received(packet, now: now)
        } else {
            actions = self.receiver!.received(packet, now: now)
        }
        self.perform(actions)
    }

    // MARK: carrying out actions

    private func begin() {
        guard !self.began, self.context != nil else { return }
        self.began = true
        let actions: [TFTPTransferAction]
        if self.sender != nil {
            actions = self.sender!.begin(now: .now())
        } else {
            actions = self.receiver!.begin(now: .now())
        }
        self.perform(actions)
    }

    private func perform(_ actions: [TFTPTransferAction]) {
        guard let context = self.context else { return }
        if case .sink = self.file, !self.receivedAll, actions.contains(where: { if case .complete = $0 { true } else { false } }) {
            // Set before the final ACKs come by, so that they wait for the commit.
            self.receivedAll = true
        }
        var wrote = false
        var supplyAfter = false
        for action in actions {
            switch action {
            case .send(let packet):
                if self.receivedAll, !self.committed {
                    // The final ACK says the file is safe: it waits for the commit.
                    if self.held.count < 2 { self.held.append(packet) }
                    continue
                }
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
                self.wanted = count
                supplyAfter = true
            case .write(let payload):
                self.received(payload)
            case .setTimer(let deadline):
                if self.receivedAll, !self.committed {
                    // Dallying starts when the held final ACK goes out: a dally that ran out
                    // during a slow commit would close the socket before the ACK was sent.
                    self.cancelTimer()
                } else {
                    self.setTimer(deadline)
                }
            case .complete(let stats):
                self.progress?.set(bytes: stats.bytes)
                if case .sink = self.file {
                    self.receivedAll = true
                    self.flushWrites()
                } else {
                    self.finish(error: nil, fromPeer: false)
                }
            case .close:
                self.stopped = true
                self.cancelTimer()
                self.emitBatch(context)
                if wrote { context.flush() }
                wrote = false
                context.close(promise: nil)
            case .fail(let error, let sendToPeer):
                self.emitBatch(context)
                if sendToPeer {
                    self.write(.error(error), context: context)
                    wrote = true
                }
                self.finish(error: error, fromPeer: !sendToPeer)
            }
        }
        self.emitBatch(context)
        if wrote { context.flush() }
        if let progress = self.progress, !self.reported {
            progress.set(bytes: self.stats.bytes)
            if let total = self.options.transferSize { progress.set(total: total) }
        }
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

    private func sendHeld() {
        guard let context = self.context, !self.stopped, !self.held.isEmpty else { return }
        for packet in self.held {
            if self.tracing { self.logger.trace("sent \(packet)") }
            self.write(packet, context: context)
        }
        self.held = []
        context.flush()
        if self.receiver != nil {
            self.perform(self.receiver!.finalAcknowledgmentSent(now: .now()))
        }
    }

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

    /// Ends the transfer from this side after a file error: tells the peer, reports, closes.
    private func abort(_ error: TFTPError) {
        if let context = self.context, !self.stopped {
            self.write(.error(error), context: context)
            context.flush()
            context.close(promise: nil)
        }
        self.stopped = true
        self.cancelTimer()
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
        guard Self.sameHost(address, self.peer) else { return false }
        self.peer = address
        self.peerLocked = true
        return true
    }

    static func sameHost(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): x.address.sin_addr.s_addr == y.address.sin_addr.s_addr
        case (.v6, .v6): a.ipAddress == b.ipAddress
        default: false
        }
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
        let now = NIODeadline.now()
        if now < deadline {
            self.schedule(deadline)
            return
        }
        self.timerDeadline = nil
        let actions: [TFTPTransferAction]
        if self.sender != nil {
            actions = self.sender!.timerFired(now: now)
        } else {
            actions = self.receiver!.timerFired(now: now)
        }
        self.perform(actions)
    }

    // MARK: source

    private func supplyIfReady() {
        guard let count = self.wanted, !self.stopped else { return }
        if self.readBuffer.readableBytes >= count || self.sourceAtEnd {
            self.wanted = nil
            let chunk = self.readBuffer.readSlice(length: min(count, self.readBuffer.readableBytes))!
            let atEnd = self.sourceAtEnd && self.readBuffer.readableBytes == 0
            guard self.sender != nil else { return }
            let actions = self.sender!.supply(chunk, endOfFile: atEnd, now: .now())
            self.perform(actions)
        }
        self.readAhead()
    }

    private func readAhead() {
        // Read while less than half a chunk is buffered, or less than the state machine waits for
        // (a large window asks for more than half a chunk at once).
        let chunk = max(Self.readChunk, 2 * (self.wanted ?? 0))
        guard case .source(let reader, let netascii) = self.file, !self.readInFlight, !self.sourceAtEnd,
            !self.stopped, self.readBuffer.readableBytes < max(chunk / 2, self.wanted ?? 0), let context = self.context
        else { return }
        self.readInFlight = true
        let future = context.eventLoop.makeFutureWithTask { try await reader.read(upTo: chunk) }
        future.assumeIsolated().whenComplete { result in
            self.readInFlight = false
            guard !self.stopped else { return }
            switch result {
            case .success(let data):
                if data.readableBytes == 0 {
                    self.sourceAtEnd = true
                } else if netascii {
                    self.readBuffer.discardReadBytes()
                    self.encoder.encode(data, into: &self.readBuffer)
                } else if self.readBuffer.readableBytes == 0 {
                    self.readBuffer = data
                } else {
                    var data = data
                    self.readBuffer.discardReadBytes()
                    self.readBuffer.writeBuffer(&data)
                }
                self.supplyIfReady()
            case .failure(let error):
                self.abort(error as? TFTPError ?? TFTPError(.notDefined, "read failed: \(error)"))
            }
        }
    }

    // MARK: sink

    private func received(_ payload: ByteBuffer) {
        guard case .sink(_, let netascii) = self.file else { return }
        if netascii {
            self.decoder.decode(payload, into: &self.writeBuffer)
        } else {
            var payload = payload
            self.writeBuffer.writeBuffer(&payload)
        }
        if self.writeBuffer.readableBytes >= Self.writeChunk { self.flushWrites() }
    }

    /// Starts the next write, or the commit once everything is written. Runs on after the channel
    /// has closed, since a receiver may finish dallying before the disk has caught up.
    private func flushWrites() {
        guard case .sink(let writer, let netascii) = self.file, !self.writeInFlight, !self.committing,
            !self.reported, let eventLoop = self.eventLoop
        else { return }
        if self.receivedAll, netascii { self.decoder.finish(into: &self.writeBuffer) }
        if self.writeBuffer.readableBytes > 0 {
            let chunk = self.writeBuffer
            self.writeBuffer = ByteBuffer()
            self.writeInFlight = true
            let future = eventLoop.makeFutureWithTask { try await writer.write(chunk) }
            future.assumeIsolated().whenComplete { result in
                self.writeInFlight = false
                switch result {
                case .success:
                    if self.receivedAll || self.writeBuffer.readableBytes >= Self.writeChunk { self.flushWrites() }
                case .failure(let error):
                    self.abort(error as? TFTPError ?? TFTPError(.notDefined, "write failed: \(error)"))
                }
            }
            return
        }
        guard self.receivedAll else { return }
        self.committing = true
        let future = eventLoop.makeFutureWithTask { try await writer.commit() }
        future.assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                self.fileReleased = true
                self.committed = true
                self.sendHeld()
                self.finish(error: nil, fromPeer: false)
            case .failure(let error):
                self.fileReleased = true
                let error = error as? TFTPError ?? TFTPError(.notDefined, "commit failed: \(error)")
                self.logger.error("upload could not be saved", metadata: ["error": "\(error)"])
                self.abort(error)
            }
        }
    }
}

@available(*, unavailable)
extension TFTPTransferHandler: Sendable {}
