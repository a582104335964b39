import NIOCore

/// The receiving side of a transfer (a server answering a WRQ, a client doing a get): takes DATA
/// blocks in order, writes them out, and acknowledges each window (RFC 7440; a window of 1 is
/// RFC 1350's lock-step).
///
/// - A block beyond the next expected one means a gap: the last in-order block is acknowledged at
///   once (once per gap), so the sender resumes from there without waiting for its timer.
/// - A repeat of the block acknowledged last means that ACK was lost: it is sent again.
/// - A silent peer gets the last ACK again on each timeout, and the transfer fails after
///   `maxRetries` timeouts in a row.
/// - After the final (short) block the receiver dallies, answering a repeated final block, so a
///   lost final ACK does not fail the sender.
///
/// Pure: no sockets, files or clocks. Time comes in with each event.
struct TFTPReceiverStateMachine {
    /// How the transfer begins.
    enum Start: Hashable, Sendable {
        /// Server, WRQ without options: ACK 0 goes out, then DATA 1 is awaited.
        case sendAck
        /// Server, WRQ with options: OACK goes out, then DATA 1 is awaited.
        case sendOptionAck([TFTPOption])
        /// Client get: the RRQ is sent; the answer is an OACK for `requested`, or DATA 1.
        case sendRequest(TFTPRequest)
    }

    private enum State: Hashable {
        case idle
        /// Client get: the request is out, no answer yet.
        case requested(TFTPRequest, sentAt: NIODeadline, resent: Bool)
        case receiving
        case dallying(until: NIODeadline)
        case finished
    }

    private var state: State = .idle
    private let start: Start
    private let timing: TFTPTiming
    private(set) var options: TFTPTransferOptions
    private var timer: RetransmissionTimer
    private let numbering: BlockNumbering

    /// The next block wanted.
    private var expected = 1
    private var inWindow = 0
    /// The packet that acknowledges what we have (ACK n, or the OACK before DATA 1).
    private var lastAck: TFTPPacket = .acknowledgment(block: 0)
    private var lastAckSentAt: NIODeadline = .uptimeNanoseconds(0)
    private var lastAckResent = false
    private var gapAcknowledged = false
    private var budget = RetryBudget()
    private(set) var stats = TFTPTransferStats()

    init(start: Start, options: TFTPTransferOptions, timing: TFTPTiming) {
        self.start = start
        self.options = options
        self.timing = timing
        self.timer = RetransmissionTimer(timing: timing, negotiatedSeconds: options.timeoutSeconds)
        self.numbering = BlockNumbering(rolloverTo: timing.rolloverTo)
    }

    var isFinished: Bool { self.state == .finished }

    // MARK: events

    mutating func begin(now: NIODeadline) -> [TFTPTransferAction] {
        precondition(self.state == .idle, "begin called twice")
        self.budget.progressed(at: now)
        switch self.start {
        case .sendAck:
            self.state = .receiving
            return self.sendAck(.acknowledgment(block: 0), now: now)
        case .sendOptionAck(let acknowledged):
            self.state = .receiving
            return self.sendAck(.optionAcknowledgment(acknowledged), now: now)
        case .sendRequest(let request):
            self.state = .requested(request, sentAt: now, resent: false)
            return [.send(.readRequest(request)), .setTimer(now + self.timer.current)]
        }
    }

    mutating func received(_ packet: TFTPPacket, now: NIODeadline) -> [TFTPTransferAction] {
        switch (self.state, packet) {
        case (.finished, _), (.idle, _):
            return []
        case (.dallying, .data(let number, _)):
            // Our final ACK was lost: say it again, and stay a while longer, since that one may be
            // lost too.
            if case .acknowledgment(let last) = self.lastAck, number == last {
                self.stats.retransmissions += 1
                let until = now + self.dally
                self.state = .dallying(until: until)
                return [.send(self.lastAck), .setTimer(until)]
            }
            return []
        case (.dallying, _):
            return []
        case (_, .error(let error)):
            self.state = .finished
            return [.fail(error, sendToPeer: false), .close]
        case (.requested(let request, let sentAt, let resent), .optionAcknowledgment(let acknowledged)):
            switch TFTPNegotiation.accept(acknowledged, requested: request.options) {
            case .success(let negotiated):
                self.options = negotiated
                self.timer = RetransmissionTimer(timing: self.timing, negotiatedSeconds: negotiated.timeoutSeconds)
                if !resent { self.timer.sample(now - sentAt) }
                self.state = .receiving
                return self.sendAck(.acknowledgment(block: 0), now: now)
            case .failure(let error):
                self.state = .finished
                return [.fail(error, sendToPeer: true), .close]
            }
        case (.requested(_, let sentAt, let resent), .data):
            // The server ignored our options (or we asked for none): plain RFC 1350.
            self.options = TFTPTransferOptions()
            self.timer = RetransmissionTimer(timing: self.timing, negotiatedSeconds: nil)
            if !resent { self.timer.sample(now - sentAt) }
            self.state = .receiving
            self.lastAckResent = true  // no ACK of ours to time against this block
            return self.data(packet, now: now)
        case (.receiving, .data):
            return self.data(packet, now: now)
        default:
            return []
        }
    }

    mutating func timerFired(now: NIODeadline) -> [TFTPTransferAction] {
        switch self.state {
        case .idle, .finished:
            return []
        case .dallying(let until):
            guard now >= until else { return [.setTimer(until)] }
            self.state = .finished
            return [.close]
        case .requested(let request, _, _):
            if let failure = self.countTimeout(now: now) { return failure }
            self.state = .requested(request, sentAt: now, resent: true)
            self.stats.retransmissions += 1
            return [.send(.readRequest(request)), .setTimer(now + self.timer.current)]
        case .receiving:
            if let failure = self.countTimeout(now: now, patient: true) { return failure }
            self.stats.retransmissions += 1
            // Before DATA 1 the OACK (or ACK 0) is what the sender is missing; after, the ACK of
            // the last block in order, even mid-window.
            let ack = self.expected == 1 ? self.lastAck : .acknowledgment(block: self.numbering.wire(self.expected - 1))
            return self.sendAck(ack, now: now, resent: true)
        }
    }

    /// The final ACK went out only now (a handler holds it until the file is committed, which may
    /// take longer than the dally): the dally counts from here, so the sender gets its full time to
    /// repeat the last block.
    mutating func finalAcknowledgmentSent(now: NIODeadline) -> [TFTPTransferAction] {
        guard case .dallying = self.state else { return [] }
        let until = now + self.dally
        self.state = .dallying(until: until)
        return [.setTimer(until)]
    }

    // MARK: internals

    private mutating func data(_ packet: TFTPPacket, now: NIODeadline) -> [TFTPTransferAction] {
        guard case .data(let number, let payload) = packet else { return [] }
        let window = self.options.windowSize
        if number == self.numbering.wire(self.expected) {
            guard payload.readableBytes <= self.options.blockSize else {
                self.state = .finished
                let error = TFTPError(.illegalOperation, "DATA block of \(payload.readableBytes) bytes exceeds blksize \(self.options.blockSize)")
                return [.fail(error, sendToPeer: true), .close]
            }
            if self.inWindow == 0, !self.lastAckResent { self.timer.sample(now - self.lastAckSentAt) } else { self.timer.progressed() }
            self.budget.progressed(at: now)
            self.gapAcknowledged = false
            self.stats.bytes += payload.readableBytes
            self.stats.blocks += 1
            let block = self.expected
            self.expected += 1
            self.inWindow += 1
            var actions: [TFTPTransferAction] = [.write(payload)]
            if payload.readableBytes < self.options.blockSize {
                let dallyUntil = now + self.dally
                self.lastAck = .acknowledgment(block: self.numbering.wire(block))
                self.state = .dallying(until: dallyUntil)
                // Nothing acknowledges this ACK, and a sender that misses it may give up after we
                // have gone: send it twice (the sender ignores the copy).
                actions += [.send(self.lastAck), .send(self.lastAck), .complete(self.stats), .setTimer(dallyUntil)]
                return actions
            }
            if self.inWindow >= window {
                actions += self.sendAck(.acknowledgment(block: self.numbering.wire(block)), now: now)
            } else {
                actions.append(.setTimer(now + self.timer.current))
            }
            return actions
        }
        let lastInOrder = self.expected - 1
        if window > 1, self.numbering.absolute(number, in: self.expected...(self.expected + window - 1)) != nil {
            // A block from further on: the ones between were lost. Say where we are, once.
            guard !self.gapAcknowledged else { return [] }
            self.gapAcknowledged = true
            self.stats.retransmissions += 1
            return self.sendAck(.acknowledgment(block: self.numbering.wire(lastInOrder)), now: now)
        }
        if lastInOrder > 0, number == self.numbering.wire(lastInOrder) {
            // The sender repeats our last block in order: our ACK was lost, or it timed out and is
            // sending its window again. Either way, tell it where we are.
            self.stats.retransmissions += 1
            return self.sendAck(.acknowledgment(block: number), now: now, resent: true)
        }
        return []
    }

    private mutating func sendAck(_ packet: TFTPPacket, now: NIODeadline, resent: Bool = false) -> [TFTPTransferAction] {
        self.lastAck = packet
        self.lastAckSentAt = now
        self.lastAckResent = resent
        self.inWindow = 0
        return [.send(packet), .setTimer(now + self.timer.current)]
    }

    /// Counts a timeout and backs off; the failure to carry out when the ``RetryBudget`` is spent.
    ///
    /// Once data flows (`patient`), a receiver waits two longest timeouts longer than a sender: the
    /// sender may be backing off as far as `maxTimeout` between tries, and a receiver that gives up
    /// first (its ERROR may be lost too) leaves the sender retrying into a closed port.
    private mutating func countTimeout(now: NIODeadline, patient: Bool = false) -> [TFTPTransferAction]? {
        self.stats.timeouts += 1
        self.timer.timedOut()
        var patience = self.timing.giveUpAfter
        if patient { patience = patience + self.timing.maxTimeout + self.timing.maxTimeout }
        guard self.budget.timedOut(at: now, maxRetries: self.timing.maxRetries, patience: patience) else { return nil }
        self.state = .finished
        return TFTPTransferAction.timedOut(after: self.budget.retries - 1)
    }

    /// How long to keep answering a repeated final block (``TFTPTiming/dally``).
    private var dally: TimeAmount {
        if let dally = self.timing.dally { return dally }
        let four = self.timer.current.nanoseconds * 4
        return .nanoseconds(min(max(four, self.timing.minTimeout.nanoseconds), self.timing.maxTimeout.nanoseconds))
    }
}
