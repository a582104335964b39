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
/// - The final (short) block asks for a `commit`; the final ACK goes out only when the driver says
///   the file is `committed`, since that ACK tells the sender the file is safe. It is sent
///   ``finalAckCopies`` times: nothing acknowledges it, and a sender that misses it may give up
///   after we have gone. While the commit runs, repeats of the final block and timers are ignored
///   (the ACK they would repeat is not out yet).
/// - After the final ACK the receiver dallies, answering a repeated final block, so a lost final
///   ACK does not fail the sender. The dally counts from the final ACK, not from the final block,
///   so a slow commit does not eat into it.
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
        /// The final block is in; the file is being committed and the final ACK waits for it.
        case committing
        case dallying(until: NIODeadline)
        case finished
    }

    private var state: State = .idle
    private let start: Start
    private(set) var options: TFTPTransferOptions
    private var retransmission: RetransmissionControl
    private let numbering: BlockNumbering

    /// The next block wanted.
    private var expected = 1
    private var inWindow = 0
    /// The packet that acknowledges what we have (ACK n, or the OACK before DATA 1).
    private var lastAck: TFTPPacket = .acknowledgment(block: 0)
    private var lastAckSentAt: NIODeadline = .uptimeNanoseconds(0)
    private var lastAckResent = false
    private var gapAcknowledged = false
    private(set) var stats = TFTPTransferStats()

    init(start: Start, options: TFTPTransferOptions, timing: TFTPTiming) {
        self.start = start
        self.options = options
        self.retransmission = RetransmissionControl(timing: timing, negotiatedSeconds: options.timeoutSeconds)
        self.numbering = BlockNumbering(rolloverTo: timing.rolloverTo)
    }

    /// Copies of the final ACK sent when the file is committed. One more than RFC 1350 asks:
    /// nothing acknowledges the final ACK, and a process that exits at once (the CLI's get) has no
    /// dally to answer a repeated final block; the sender ignores the copy.
    static let finalAckCopies = 2

    var isFinished: Bool { self.state == .finished }
    /// Every block is in and the file is being committed (the final ACK is not out yet).
    var isCommitting: Bool { self.state == .committing }

    // MARK: events

    mutating func begin(now: NIODeadline) -> [TFTPTransferAction] {
        precondition(self.state == .idle, "begin called twice")
        self.retransmission.progressed(at: now)
        switch self.start {
        case .sendAck:
            self.state = .receiving
            return self.sendAck(.acknowledgment(block: 0), now: now)
        case .sendOptionAck(let acknowledged):
            self.state = .receiving
            return self.sendAck(.optionAcknowledgment(acknowledged), now: now)
        case .sendRequest(let request):
            self.state = .requested(request, sentAt: now, resent: false)
            return [.send(.readRequest(request)), .setTimer(self.retransmission.deadline(from: now))]
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
        case (.dallying, _), (.committing, _):
            // While committing, a repeated final block finds no ACK to repeat yet, and an ERROR
            // comes too late to matter: every byte is in.
            return []
        case (_, .error(let error)):
            self.state = .finished
            return [.fail(error, sendToPeer: false), .close]
        case (.requested(let request, let sentAt, let resent), .optionAcknowledgment(let acknowledged)):
            switch TFTPNegotiation.accept(acknowledged, requested: request.options) {
            case .success(let negotiated):
                self.options = negotiated
                self.retransmission.negotiated(timeoutSeconds: negotiated.timeoutSeconds)
                self.retransmission.answered(sentAt: sentAt, resent: resent, now: now)
                self.state = .receiving
                return self.sendAck(.acknowledgment(block: 0), now: now)
            case .failure(let error):
                self.state = .finished
                return [.fail(error, sendToPeer: true), .close]
            }
        case (.requested(_, let sentAt, let resent), .data):
            // The server ignored our options (or we asked for none): plain RFC 1350.
            self.options = TFTPTransferOptions()
            self.retransmission.negotiated(timeoutSeconds: nil)
            self.retransmission.answered(sentAt: sentAt, resent: resent, now: now)
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
        case .idle, .finished, .committing:
            // While committing no timer is set; one set before the final block may still fire.
            return []
        case .dallying(let until):
            guard now >= until else { return [.setTimer(until)] }
            self.state = .finished
            return [.close]
        case .requested(let request, _, _):
            if let failure = self.countTimeout(now: now) { return failure }
            self.state = .requested(request, sentAt: now, resent: true)
            self.stats.retransmissions += 1
            return [.send(.readRequest(request)), .setTimer(self.retransmission.deadline(from: now))]
        case .receiving:
            if let failure = self.countTimeout(now: now, patient: true) { return failure }
            self.stats.retransmissions += 1
            // Before DATA 1 the OACK (or ACK 0) is what the sender is missing; after, the ACK of
            // the last block in order, even mid-window.
            let ack = self.expected == 1 ? self.lastAck : .acknowledgment(block: self.numbering.wire(self.expected - 1))
            return self.sendAck(ack, now: now, resent: true)
        }
    }

    /// The file asked for by `.commit` is committed: the final ACK goes out, and the dally starts.
    mutating func committed(now: NIODeadline) -> [TFTPTransferAction] {
        guard self.state == .committing else { return [] }
        let until = now + self.retransmission.dally
        self.state = .dallying(until: until)
        var actions = [TFTPTransferAction](repeating: .send(self.lastAck), count: Self.finalAckCopies)
        actions += [.complete(self.stats), .setTimer(until)]
        return actions
    }

    /// A write or the commit failed: the peer is told, and the transfer ends.
    mutating func fileFailed(_ error: TFTPError) -> [TFTPTransferAction] {
        switch self.state {
        case .idle, .finished, .dallying:
            return []
        case .requested, .receiving, .committing:
            self.state = .finished
            return [.fail(error, sendToPeer: true), .close]
        }
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
            if self.inWindow == 0, !self.lastAckResent {
                self.retransmission.sample(now - self.lastAckSentAt)
            } else {
                self.retransmission.stopBackingOff()
            }
            self.retransmission.progressed(at: now)
            self.gapAcknowledged = false
            self.stats.bytes += payload.readableBytes
            self.stats.blocks += 1
            let block = self.expected
            self.expected += 1
            self.inWindow += 1
            var actions: [TFTPTransferAction] = [.write(payload)]
            if payload.readableBytes < self.options.blockSize {
                // The final ACK waits for `committed`.
                self.lastAck = .acknowledgment(block: self.numbering.wire(block))
                self.state = .committing
                actions.append(.commit)
                return actions
            }
            if self.inWindow >= window {
                actions += self.sendAck(.acknowledgment(block: self.numbering.wire(block)), now: now)
            } else {
                actions.append(.setTimer(self.retransmission.deadline(from: now)))
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
        return [.send(packet), .setTimer(self.retransmission.deadline(from: now))]
    }

    /// Counts a timeout and backs off; the failure to carry out when the ``RetryBudget`` is spent.
    ///
    /// Once data flows (`patient`), a receiver waits two longest timeouts longer than a sender: the
    /// sender may be backing off as far as `maxTimeout` between tries, and a receiver that gives up
    /// first (its ERROR may be lost too) leaves the sender retrying into a closed port.
    private mutating func countTimeout(now: NIODeadline, patient: Bool = false) -> [TFTPTransferAction]? {
        let timing = self.retransmission.timing
        let patience = patient ? timing.giveUpAfter + timing.maxTimeout + timing.maxTimeout : timing.giveUpAfter
        guard let failure = self.retransmission.timedOut(at: now, patience: patience, stats: &self.stats) else { return nil }
        self.state = .finished
        return failure
    }

    /// How long to keep answering a repeated final block (``TFTPTiming/dally``).
    private var dally: TimeAmount { self.retransmission.dally }
}
