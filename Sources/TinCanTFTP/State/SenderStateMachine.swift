import NIOCore

/// The sending side of a transfer (a server answering an RRQ, a client doing a put): cuts the file
/// into blocks, sends them a window at a time (RFC 7440; a window of 1 is RFC 1350's lock-step),
/// and moves on when the receiver acknowledges.
///
/// - In lock-step a duplicate ACK never causes a resend (RFC 1350; no Sorcerer's Apprentice): only
///   the timer does.
/// - With a window, a repeat of the latest ACK while later blocks are out is the receiver's gap
///   ACK (RFC 7440: it lost the first block of the window): the window is resent from there, at
///   once, but only once per acknowledged block, and only when the repeat comes at least half a
///   smoothed round trip after the ACK it repeats (a copy made by the network comes right behind
///   the original; a gap ACK a round trip after the window went out). So a duplicated ACK causes
///   at most one resend of the window, never a cascade.
/// - An ACK for a block inside the window means the receiver saw a gap after it; sending resumes
///   right after that block.
/// - A timeout resends the window from the first unacknowledged block and doubles the timeout;
///   after `maxRetries` timeouts in a row the transfer fails.
///
/// Pure: no sockets, files or clocks. Time comes in with each event.
struct TFTPSenderStateMachine {
    /// How the transfer begins.
    enum Start: Hashable, Sendable {
        /// Server, RRQ without options: DATA 1 goes out at once.
        case sendData
        /// Server, RRQ with options: OACK first, then wait for ACK 0.
        case sendOptionAck([TFTPOption])
        /// Client put: the WRQ is sent; wait for ACK 0 (no options) or an OACK for `requested`.
        case sendRequest(TFTPRequest)
    }

    private enum State: Hashable {
        case idle
        /// Waiting for ACK 0 (or an OACK) to the packet we sent first.
        case handshake(first: TFTPPacket, requested: [TFTPOption]?, sentAt: NIODeadline, resent: Bool)
        case transferring
        case finished
    }

    private var state: State = .idle
    private let start: Start
    private(set) var options: TFTPTransferOptions
    private var retransmission: RetransmissionControl
    private let numbering: BlockNumbering

    /// File bytes read but not yet cut into blocks.
    private var pending = ByteBuffer()
    /// Blocks `acked + 1 ...` that are cut, sent or not.
    private var blocks = CircularBuffer<ByteBuffer>()
    /// The last block the receiver acknowledged.
    private var acked = 0
    /// The next block to send.
    private var next = 1
    /// The index of the final block, once the file's end is known.
    private var finalBlock: Int?
    private var endOfFile = false
    private var readOutstanding = false
    /// The block whose ACK will measure a round trip (sent once, at `sampleSentAt`).
    private var sampleBlock: Int?
    private var sampleSentAt: NIODeadline = .uptimeNanoseconds(0)
    private(set) var stats = TFTPTransferStats()

    init(start: Start, options: TFTPTransferOptions, timing: TFTPTiming) {
        self.start = start
        self.options = options
        self.retransmission = RetransmissionControl(timing: timing, negotiatedSeconds: options.timeoutSeconds)
        self.numbering = BlockNumbering(rolloverTo: timing.rolloverTo)
    }

    var isFinished: Bool { self.state == .finished }

    // MARK: events

    mutating func begin(now: NIODeadline) -> [TFTPTransferAction] {
        precondition(self.state == .idle, "begin called twice")
        self.retransmission.progressed(at: now)
        var actions: [TFTPTransferAction] = [.read(self.readAhead)]
        self.readOutstanding = true
        switch self.start {
        case .sendData:
            self.state = .transferring
        case .sendOptionAck(let acknowledged):
            let packet = TFTPPacket.optionAcknowledgment(acknowledged)
            self.state = .handshake(first: packet, requested: nil, sentAt: now, resent: false)
            actions += [.send(packet), .setTimer(self.retransmission.deadline(from: now))]
        case .sendRequest(let request):
            let packet = TFTPPacket.writeRequest(request)
            self.state = .handshake(first: packet, requested: request.options, sentAt: now, resent: false)
            actions += [.send(packet), .setTimer(self.retransmission.deadline(from: now))]
        }
        return actions
    }

    /// The file bytes asked for by `.read` (all of them, or fewer at the end of the file).
    mutating func supply(_ data: ByteBuffer, endOfFile: Bool, now: NIODeadline) -> [TFTPTransferAction] {
        guard self.state != .finished else { return [] }
        self.readOutstanding = false
        var data = data
        if self.pending.readableBytes == 0 {
            self.pending = data
        } else {
            // Never append to `pending` in place: blocks cut from it share its storage, and
            // growing shared storage copies all of it, every time (quadratic over a file).
            var joined = ByteBuffer()
            joined.reserveCapacity(self.pending.readableBytes + data.readableBytes)
            joined.writeBuffer(&self.pending)
            joined.writeBuffer(&data)
            self.pending = joined
        }
        self.endOfFile = self.endOfFile || endOfFile
        self.cutBlocks()
        guard self.state == .transferring else { return self.prefetch() }
        return self.fillWindow(now: now)
    }

    mutating func received(_ packet: TFTPPacket, now: NIODeadline) -> [TFTPTransferAction] {
        switch (self.state, packet) {
        case (.finished, _), (.idle, _):
            return []
        case (_, .error(let error)):
            self.state = .finished
            return [.fail(error, sendToPeer: false), .close]
        case (.handshake(_, _, let sentAt, let resent), .acknowledgment(0)):
            self.retransmission.answered(sentAt: sentAt, resent: resent, now: now)
            self.state = .transferring
            self.gapAckFrom = now + .nanoseconds(self.retransmission.smoothedRTT.nanoseconds / 2)
            self.retransmission.progressed(at: now)
            return self.fillWindow(now: now)
        case (.handshake(_, let requested?, let sentAt, let resent), .optionAcknowledgment(let acknowledged)):
            switch TFTPNegotiation.accept(acknowledged, requested: requested) {
            case .success(let negotiated):
                self.options = negotiated
                self.retransmission.negotiated(timeoutSeconds: negotiated.timeoutSeconds)
                self.retransmission.answered(sentAt: sentAt, resent: resent, now: now)
                self.state = .transferring
                self.gapAckFrom = now + .nanoseconds(self.retransmission.smoothedRTT.nanoseconds / 2)
                self.retransmission.progressed(at: now)
                // Blocks already cut used the default size; cut again with the negotiated one.
                self.recut()
                return self.fillWindow(now: now)
            case .failure(let error):
                self.state = .finished
                return [.fail(error, sendToPeer: true), .close]
            }
        case (.transferring, .acknowledgment(let number)):
            return self.acknowledged(number, now: now)
        default:
            // Stray packets of the wrong kind from the right peer are ignored, not fatal.
            return []
        }
    }

    mutating func timerFired(now: NIODeadline) -> [TFTPTransferAction] {
        switch self.state {
        case .idle, .finished:
            return []
        case .handshake(let first, let requested, _, _):
            guard let failure = self.countTimeout(now: now) else {
                self.state = .handshake(first: first, requested: requested, sentAt: now, resent: true)
                self.stats.retransmissions += 1
                return [.send(first), .setTimer(self.retransmission.deadline(from: now))]
            }
            return failure
        case .transferring:
            if let failure = self.countTimeout(now: now) { return failure }
            // Go back to the first unacknowledged block and send the window again.
            self.next = self.acked + 1
            self.sampleBlock = nil
            return self.fillWindow(now: now, resending: true)
        }
    }

    /// Reading the file failed: the peer is told, and the transfer ends.
    mutating func fileFailed(_ error: TFTPError) -> [TFTPTransferAction] {
        guard self.state != .finished, self.state != .idle else { return [] }
        self.state = .finished
        return [.fail(error, sendToPeer: true), .close]
    }

    // MARK: internals

    private var blockSize: Int { self.options.blockSize }
    /// Blocks kept ready beyond those in flight: two windows, and at least 16 KiB worth, so that
    /// lock-step with small blocks asks for the file once per dozens of blocks instead of once per
    /// block or two (each ask is a round through the handler: measurable at 512 bytes a block).
    private var readyBlocks: Int { max(2 * self.options.windowSize, 16384 / self.options.blockSize, 2) }
    private var readAhead: Int { self.readyBlocks * self.options.blockSize * 2 }

    /// Counts a timeout and backs off; the failure to carry out when the ``RetryBudget`` is spent.
    private mutating func countTimeout(now: NIODeadline) -> [TFTPTransferAction]? {
        guard let failure = self.retransmission.timedOut(at: now, stats: &self.stats) else { return nil }
        self.state = .finished
        return failure
    }

    private mutating func acknowledged(_ number: UInt16, now: NIODeadline) -> [TFTPTransferAction] {
        guard let block = self.numbering.absolute(number, in: self.acked...(self.next - 1)) else { return [] }
        if block == self.acked {
            // The same ACK again while blocks after it are out: the receiver saw a gap at the start
            // of the window (RFC 7440). Resend from there, but once per acknowledged block: a copy
            // of an ACK never causes more than that one resend (no Sorcerer's Apprentice), and in
            // lock-step a duplicate ACK is ignored as RFC 1350 asks; the timer decides.
            // A copy made by the network arrives right behind the original; a receiver's gap ACK
            // comes a round trip after the window went out. Only the latter counts.
            guard self.options.windowSize > 1, self.next > self.acked + 1, self.duplicateResend != self.acked,
                now >= self.gapAckFrom
            else {
                return []
            }
            self.duplicateResend = self.acked
            self.next = self.acked + 1
            self.sampleBlock = nil
            return self.fillWindow(now: now, resending: true)
        }
        if block == self.sampleBlock {
            self.retransmission.sample(now - self.sampleSentAt)
        } else {
            self.retransmission.stopBackingOff()
        }
        if let sample = self.sampleBlock, sample <= block { self.sampleBlock = nil }
        for _ in self.acked..<block {
            let sent = self.blocks.removeFirst()
            self.stats.bytes += sent.readableBytes
            self.stats.blocks += 1
        }
        self.acked = block
        self.gapAckFrom = now + .nanoseconds(self.retransmission.smoothedRTT.nanoseconds / 2)
        self.retransmission.progressed(at: now)
        if block == self.finalBlock {
            self.state = .finished
            return [.complete(self.stats), .close]
        }
        // An ACK short of what was sent means a gap: resume right after it (RFC 7440).
        if self.next > block + 1 {
            self.next = block + 1
            self.sampleBlock = nil
        }
        return self.fillWindow(now: now)
    }

    private mutating func fillWindow(now: NIODeadline, resending: Bool = false) -> [TFTPTransferAction] {
        var actions: [TFTPTransferAction] = []
        let windowEnd = self.acked + self.options.windowSize
        while self.next <= windowEnd {
            let offset = self.next - self.acked - 1
            guard offset < self.blocks.count else { break }
            let block = self.blocks[self.blocks.index(self.blocks.startIndex, offsetBy: offset)]
            actions.append(.send(.data(block: self.numbering.wire(self.next), payload: block)))
            if resending || self.next <= self.highestSent {
                self.stats.retransmissions += 1
            } else {
                self.highestSent = self.next
                if self.sampleBlock == nil {
                    self.sampleBlock = self.next
                    self.sampleSentAt = now
                }
            }
            if self.next == self.finalBlock {
                self.next += 1
                break
            }
            self.next += 1
        }
        actions += self.prefetch()
        actions.append(.setTimer(self.retransmission.deadline(from: now)))
        return actions
    }

    private var highestSent = 0
    /// The acknowledged block a duplicate ACK last made us resend after.
    private var duplicateResend = -1
    /// When a repeat of the current ACK may be a gap ACK: half a round trip after it came.
    private var gapAckFrom: NIODeadline = .uptimeNanoseconds(0)

    /// Asks for more of the file while fewer than ``readyBlocks`` are ready.
    private mutating func prefetch() -> [TFTPTransferAction] {
        guard !self.endOfFile, !self.readOutstanding else { return [] }
        let unsentBlocks = self.blocks.count - (self.next - self.acked - 1)
        guard unsentBlocks < self.readyBlocks else { return [] }
        self.readOutstanding = true
        return [.read(self.readAhead)]
    }

    private mutating func cutBlocks() {
        // The slices cannot fail: each asks for no more than is readable.
        while self.pending.readableBytes >= self.blockSize {
            self.blocks.append(self.pending.readSlice(length: self.blockSize)!)
        }
        if self.endOfFile, self.finalBlock == nil {
            // The last block is shorter than a full one, and empty when the size is a multiple.
            self.blocks.append(self.pending.readSlice(length: self.pending.readableBytes)!)
            self.finalBlock = self.acked + self.blocks.count
        }
    }

    /// Before any block is sent (handshake), re-cuts the read-ahead with the negotiated size.
    private mutating func recut() {
        guard self.acked == 0, self.next == 1 else { return }
        var all = ByteBuffer()
        for var block in self.blocks { all.writeBuffer(&block) }
        all.writeBuffer(&self.pending)
        self.blocks.removeAll()
        self.pending = all
        self.finalBlock = nil
        self.cutBlocks()
    }
}
