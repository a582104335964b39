import NIOCore

/// Timing of a transfer: retries, timeouts and block-number rollover, with their defaults.
public struct TFTPTiming: Hashable, Sendable {
    /// Timeouts in a row after which a transfer fails. Default 6.
    public var maxRetries: Int
    /// The timeout before any round trip has been measured. Default 1 s.
    public var initialTimeout: TimeAmount
    /// The shortest adaptive timeout. Default 20 ms: well above a LAN's round trip and scheduling
    /// jitter, far below the fixed 1-6 s that makes other implementations crawl under loss.
    public var minTimeout: TimeAmount
    /// The longest timeout, after backing off. Default 5 s.
    public var maxTimeout: TimeAmount
    /// The block number that follows 65535: 0 (the common choice, and tftp-hpa's) or 1.
    public var rolloverTo: UInt16
    /// How long a receiver keeps answering a repeated final block after its final ACK (restarted
    /// by each repeat). The sender may have backed off as far as `maxTimeout`, so a server should
    /// wait at least twice that (``serverTiming(maxRetries:initialTimeout:)`` waits three times);
    /// nil means four current timeouts, which suits a client that should exit promptly.
    /// Default nil.
    public var dally: TimeAmount?
    /// The least time without progress before a transfer fails, however many retries have been
    /// spent. Default 5 s.
    public var giveUpAfter: TimeAmount

    public init(
        maxRetries: Int = 6,
        initialTimeout: TimeAmount = .seconds(1),
        minTimeout: TimeAmount = .milliseconds(20),
        maxTimeout: TimeAmount = .seconds(5),
        rolloverTo: UInt16 = 0,
        dally: TimeAmount? = nil,
        giveUpAfter: TimeAmount = .seconds(5)
    ) {
        self.dally = dally
        self.giveUpAfter = giveUpAfter
        self.maxRetries = maxRetries
        self.initialTimeout = initialTimeout
        self.minTimeout = minTimeout
        self.maxTimeout = maxTimeout
        self.rolloverTo = rolloverTo == 1 ? 1 : 0
    }
}

/// The retransmission timeout: fixed when the peers negotiated one (RFC 2349), otherwise adapted
/// to the measured round trip the way TCP does it (RFC 6298: SRTT + 4 * RTTVAR, doubled on each
/// timeout, samples only from packets sent once).
struct RetransmissionTimer: Hashable, Sendable {
    private let timing: TFTPTiming
    private let fixed: TimeAmount?
    private var smoothed: Int64?
    private var variation: Int64 = 0
    private var backoff: Int64 = 1
    private(set) var current: TimeAmount

    init(timing: TFTPTiming, negotiatedSeconds: Int?) {
        self.timing = timing
        self.fixed = negotiatedSeconds.map { .seconds(Int64($0)) }
        self.current = self.fixed ?? timing.initialTimeout
    }

    /// The smoothed round trip so far (zero before the first sample, or with a negotiated timeout).
    var smoothedRTT: TimeAmount { .nanoseconds(self.smoothed ?? 0) }

    /// A round trip measured on a packet that was sent once.
    mutating func sample(_ rtt: TimeAmount) {
        self.backoff = 1
        guard self.fixed == nil else { return }
        let r = max(rtt.nanoseconds, 0)
        if let srtt = self.smoothed {
            self.variation = (3 * self.variation + abs(srtt - r)) / 4
            self.smoothed = (7 * srtt + r) / 8
        } else {
            self.smoothed = r
            self.variation = r / 2
        }
        self.recompute()
    }

    /// A timeout fired: wait twice as long next time.
    mutating func timedOut() {
        self.backoff = min(self.backoff * 2, 64)
        self.recompute()
    }

    /// Progress was made without a usable sample: stop backing off.
    mutating func progressed() {
        if self.backoff != 1 {
            self.backoff = 1
            self.recompute()
        }
    }

    private mutating func recompute() {
        if let fixed = self.fixed {
            self.current = fixed
            return
        }
        let base = self.smoothed.map { $0 + 4 * self.variation } ?? self.timing.initialTimeout.nanoseconds
        let clamped = min(max(base, self.timing.minTimeout.nanoseconds), self.timing.maxTimeout.nanoseconds)
        self.current = .nanoseconds(min(clamped * self.backoff, self.timing.maxTimeout.nanoseconds))
    }
}

/// Timing and retries of one transfer, the part both state machines share: the retransmission
/// timeout (``RetransmissionTimer``), when to give up (``RetryBudget``) and how long a receiver
/// dallies. A machine reports what happened (a reply measured, progress, a timeout) and asks when
/// its timer is due.
struct RetransmissionControl: Hashable, Sendable {
    let timing: TFTPTiming
    private var timer: RetransmissionTimer
    private var budget = RetryBudget()

    init(timing: TFTPTiming, negotiatedSeconds: Int?) {
        self.timing = timing
        self.timer = RetransmissionTimer(timing: timing, negotiatedSeconds: negotiatedSeconds)
    }

    /// The timeout in force now.
    var timeout: TimeAmount { self.timer.current }
    /// When the timer is due for a packet sent at `now`.
    func deadline(from now: NIODeadline) -> NIODeadline { now + self.timer.current }
    /// The smoothed round trip so far (zero before the first sample, or with a negotiated timeout).
    var smoothedRTT: TimeAmount { self.timer.smoothedRTT }
    /// Timeouts since the transfer last moved.
    var retries: Int { self.budget.retries }

    /// The transfer began or moved forward: the retry budget starts over.
    mutating func progressed(at now: NIODeadline) {
        self.budget.progressed(at: now)
    }

    /// The peers agreed on options: the timeout is fixed when they negotiated one (RFC 2349), and
    /// adapts from scratch otherwise. The retry budget carries on.
    mutating func negotiated(timeoutSeconds: Int?) {
        self.timer = RetransmissionTimer(timing: self.timing, negotiatedSeconds: timeoutSeconds)
    }

    /// The answer to a packet sent at `sentAt` came: a round-trip sample unless it was sent more
    /// than once (then the answer could be to either copy).
    mutating func answered(sentAt: NIODeadline, resent: Bool, now: NIODeadline) {
        if !resent { self.timer.sample(now - sentAt) }
    }

    /// A round trip measured on a packet that was sent once.
    mutating func sample(_ rtt: TimeAmount) {
        self.timer.sample(rtt)
    }

    /// Progress without a usable sample: stop backing off.
    mutating func stopBackingOff() {
        self.timer.progressed()
    }

    /// Counts a timeout (in `stats`) and backs off; the actions that end the transfer when the
    /// budget is spent: `maxRetries` timeouts in a row and at least `patience` without progress
    /// (``TFTPTiming/giveUpAfter`` unless said otherwise).
    mutating func timedOut(
        at now: NIODeadline,
        patience: TimeAmount? = nil,
        stats: inout TFTPTransferStats
    ) -> [TFTPTransferAction]? {
        stats.timeouts += 1
        self.timer.timedOut()
        let patience = patience ?? self.timing.giveUpAfter
        guard self.budget.timedOut(at: now, maxRetries: self.timing.maxRetries, patience: patience) else { return nil }
        return TFTPTransferAction.timedOut(after: self.budget.retries - 1)
    }

    /// How long a receiver keeps answering a repeated final block: ``TFTPTiming/dally`` when set,
    /// else four current timeouts, within `minTimeout...maxTimeout`.
    var dally: TimeAmount {
        if let dally = self.timing.dally { return dally }
        let four = self.timer.current.nanoseconds * 4
        return .nanoseconds(min(max(four, self.timing.minTimeout.nanoseconds), self.timing.maxTimeout.nanoseconds))
    }
}

/// When a transfer gives up: after `maxRetries` timeouts in a row, and no sooner than a patience
/// since it last moved (adaptive timeouts can be a few milliseconds, and a run of them under heavy
/// loss is no sign that the peer has gone). Shared by both state machines.
struct RetryBudget: Hashable, Sendable {
    /// Timeouts since the transfer last moved.
    private(set) var retries = 0
    private var lastProgress: NIODeadline = .uptimeNanoseconds(0)

    /// The transfer began or moved forward.
    mutating func progressed(at now: NIODeadline) {
        self.retries = 0
        self.lastProgress = now
    }

    /// Counts a timeout; true when the transfer should give up.
    mutating func timedOut(at now: NIODeadline, maxRetries: Int, patience: TimeAmount) -> Bool {
        self.retries += 1
        return self.retries > maxRetries && now - self.lastProgress >= patience
    }
}

/// Maps absolute block indices (1, 2, 3, ...) to the 16-bit numbers on the wire and back.
///
/// With rollover to 0 the wire number is the index modulo 65536; with rollover to 1, block 65536
/// is numbered 1 again (index 0 stays 0: it is the ACK of a write request).
struct BlockNumbering: Hashable, Sendable {
    let rolloverTo: UInt16

    /// The wire number of absolute block `index`.
    func wire(_ index: Int) -> UInt16 {
        if self.rolloverTo == 0 || index == 0 { return UInt16(truncatingIfNeeded: index) }
        return UInt16((index - 1) % 65535 + 1)
    }

    /// The latest absolute index in `range` whose wire number is `number`, if any. Windows are at
    /// most 65535 blocks wide, so within one window the answer is unique.
    func absolute(_ number: UInt16, in range: ClosedRange<Int>) -> Int? {
        let upper = range.upperBound
        let candidate: Int
        if self.rolloverTo == 0 {
            candidate = upper - Self.modulo(upper - Int(number), 65536)
        } else if number == 0 {
            candidate = 0
        } else {
            candidate = upper - Self.modulo(upper - Int(number), 65535)
        }
        return range.contains(candidate) ? candidate : nil
    }

    private static func modulo(_ value: Int, _ divisor: Int) -> Int {
        let r = value % divisor
        return r < 0 ? r + divisor : r
    }
}
