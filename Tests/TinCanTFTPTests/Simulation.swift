import NIOCore

@testable import TinCanTFTP

/// A seeded random source (SplitMix64): the same seed gives the same run.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What the simulated network does to each packet.
struct Link {
    var loss = 0.0
    var duplication = 0.0
    /// One-way delay; a random extra up to `jitter` reorders packets.
    var delay: TimeAmount = .microseconds(500)
    var jitter: TimeAmount = .zero
    /// Drops the n-th packet (1-based) sent in this direction, on top of random loss.
    var dropExactly: Set<Int> = []
}

/// Runs a client and a server state machine against each other over a lossy, reordering,
/// duplicating link with a virtual clock. No sockets, no sleeping.
struct Simulation {
    enum Direction: Int { case toServer = 0, toClient = 1 }

    var random: SeededRandom
    var links: [Link]
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let file: ByteBuffer
    var readOffset = 0
    var received = ByteBuffer()
    /// The sending and the receiving machine; which one is the server depends on the direction.
    var sender: TFTPSenderStateMachine?
    var receiver: TFTPReceiverStateMachine?
    /// True for downloads (the server sends), false for uploads.
    let serverSends: Bool
    let makeServer: (TFTPPacket) -> Bool
    var timers: [NIODeadline?] = [nil, nil]
    var closed = [false, false]
    var completed: [TFTPTransferStats?] = [nil, nil]
    var failures: [TFTPError?] = [nil, nil]
    var sentCount = [0, 0]
    var dataPacketsSent = 0
    var commits = 0
    /// How long the receiver's disk takes to commit the file.
    var commitDelay: TimeAmount = .zero
    /// A commit under way: which side, and when it completes.
    var commitDue: (side: Int, at: NIODeadline)?
    /// When the receiver asked for the commit.
    var commitStartedAt: NIODeadline?
    /// With `logSends`, every packet sent: when, by which side.
    var logSends = false
    var sent: [(time: NIODeadline, side: Int, packet: TFTPPacket)] = []
    var events: [(time: NIODeadline, order: Int, direction: Direction, packet: TFTPPacket)] = []
    var trace: [String]? = nil
    enum NewServer { case sender(TFTPSenderStateMachine), receiver(TFTPReceiverStateMachine) }
    var serverFactory: (TFTPPacket) -> NewServer? = { _ in nil }
    var serverStarted = false

    /// Side 0 is the server, side 1 the client; this says whether a side is the sending one.
    func isSender(_ side: Int) -> Bool { (side == 0) == self.serverSends }
    var order = 0

    /// A download (RRQ): the client receives, the server sends `file`.
    static func download(
        file: ByteBuffer, options: [TFTPOption], limits: TFTPOptionLimits = TFTPOptionLimits(maxBlockSize: 65464),
        timing: TFTPTiming = TFTPTiming(), links: [Link], seed: UInt64
    ) -> Simulation {
        let request = TFTPRequest(filename: "f", mode: .octet, options: options)
        var simulation = Simulation(random: SeededRandom(seed: seed), links: links, file: file, serverSends: true) { _ in false }
        simulation.receiver = TFTPReceiverStateMachine(start: .sendRequest(request), options: TFTPTransferOptions(), timing: timing)
        simulation.serverFactory = { packet in
            guard case .readRequest(let request) = packet else { return nil }
            let (acknowledged, negotiated) = try! TFTPNegotiation.negotiate(
                request.options, isRead: true, fileSize: file.readableBytes, limits: limits
            ).get()
            return .sender(TFTPSenderStateMachine(
                start: acknowledged.isEmpty ? .sendData : .sendOptionAck(acknowledged), options: negotiated, timing: timing
            ))
        }
        return simulation
    }

    /// An upload (WRQ): the client sends `file`, the server receives.
    static func upload(
        file: ByteBuffer, options: [TFTPOption], limits: TFTPOptionLimits = TFTPOptionLimits(maxBlockSize: 65464),
        timing: TFTPTiming = TFTPTiming(), links: [Link], seed: UInt64
    ) -> Simulation {
        let request = TFTPRequest(filename: "f", mode: .octet, options: options)
        var simulation = Simulation(random: SeededRandom(seed: seed), links: links, file: file, serverSends: false) { _ in false }
        simulation.sender = TFTPSenderStateMachine(start: .sendRequest(request), options: TFTPTransferOptions(), timing: timing)
        simulation.serverFactory = { packet in
            guard case .writeRequest(let request) = packet else { return nil }
            let (acknowledged, negotiated) = try! TFTPNegotiation.negotiate(
                request.options, isRead: false, fileSize: nil, limits: limits
            ).get()
            return .receiver(TFTPReceiverStateMachine(
                start: acknowledged.isEmpty ? .sendAck : .sendOptionAck(acknowledged), options: negotiated, timing: timing
            ))
        }
        return simulation
    }

    /// Runs until both sides are closed or `limit` of virtual time has passed.
    mutating func run(limit: TimeAmount = .seconds(3600)) {
        let end = self.now + limit
        self.step(1) { sender, receiver, now in
            sender != nil ? sender!.begin(now: now) : receiver!.begin(now: now)
        }
        while !(self.closed[0] && self.closed[1]), self.now < end {
            // The next thing to happen: a packet arriving or a timer firing.
            // `events` is kept sorted latest first, so the next one is the last.
            var nextTimer: (Int, NIODeadline)?
            for side in 0...1 {
                if let deadline = self.timers[side], nextTimer == nil || deadline < nextTimer!.1 { nextTimer = (side, deadline) }
            }
            if let due = self.commitDue, nextTimer.map({ due.at <= $0.1 }) ?? true,
                self.events.last.map({ due.at < $0.time }) ?? true
            {
                self.now = max(self.now, due.at)
                self.commitDue = nil
                self.trace?.append("\((self.now.uptimeNanoseconds - 1_000_000_000) / 1000)us committed side \(due.side)")
                self.step(due.side) { _, receiver, now in receiver!.committed(now: now) }
            } else if let event = self.events.last, nextTimer == nil || event.time <= nextTimer!.1 {
                self.events.removeLast()
                self.now = max(self.now, event.time)
                self.trace?.append("\((self.now.uptimeNanoseconds - 1_000_000_000) / 1000)us -> \(event.direction) \(event.packet)")
                self.deliver(event.packet, to: event.direction == .toServer ? 0 : 1)
            } else if let (side, deadline) = nextTimer {
                self.now = max(self.now, deadline)
                self.timers[side] = nil
                self.trace?.append("\((self.now.uptimeNanoseconds - 1_000_000_000) / 1000)us timer side \(side)")
                self.fire(side: side)
            } else {
                // Nothing pending: a side that has not closed is stuck.
                break
            }
        }
    }

    private mutating func deliver(_ packet: TFTPPacket, to side: Int) {
        guard !self.closed[side] else { return }
        if side == 0, !self.serverStarted {
            guard let server = self.serverFactory(packet) else { return }
            self.serverStarted = true
            switch server {
            case .sender(let machine): self.sender = machine
            case .receiver(let machine): self.receiver = machine
            }
            self.step(0) { sender, receiver, now in sender != nil ? sender!.begin(now: now) : receiver!.begin(now: now) }
            return
        }
        if side == 0, case .readRequest = packet { return }
        if side == 0, case .writeRequest = packet { return }
        self.step(side) { sender, receiver, now in
            sender != nil ? sender!.received(packet, now: now) : receiver!.received(packet, now: now)
        }
    }

    private mutating func fire(side: Int) {
        self.step(side) { sender, receiver, now in
            sender != nil ? sender!.timerFired(now: now) : receiver!.timerFired(now: now)
        }
    }

    /// Runs one event on `side`'s machine, mutated in place (a copy would copy its buffers).
    private mutating func step(
        _ side: Int,
        _ body: (inout TFTPSenderStateMachine?, inout TFTPReceiverStateMachine?, NIODeadline) -> [TFTPTransferAction]
    ) {
        var none: TFTPSenderStateMachine? = nil
        var noReceiver: TFTPReceiverStateMachine? = nil
        let actions = self.isSender(side)
            ? body(&self.sender, &noReceiver, self.now)
            : body(&none, &self.receiver, self.now)
        self.carryOut(actions, side: side)
    }

    private mutating func carryOut(_ actions: [TFTPTransferAction], side: Int) {
        for action in actions {
            switch action {
            case .send(let packet):
                self.send(packet, from: side)
            case .read(let count):
                let length = min(count, self.file.readableBytes - self.readOffset)
                let chunk = self.file.getSlice(at: self.file.readerIndex + self.readOffset, length: length)!
                self.readOffset += length
                let eof = self.readOffset == self.file.readableBytes
                let actions = self.sender!.supply(chunk, endOfFile: eof, now: self.now)
                self.carryOut(actions, side: side)
            case .write(var payload):
                self.received.writeBuffer(&payload)
            case .commit:
                self.commits += 1
                self.commitStartedAt = self.now
                if self.commitDelay == .zero {
                    let actions = self.receiver!.committed(now: self.now)
                    self.carryOut(actions, side: side)
                } else {
                    self.commitDue = (side, self.now + self.commitDelay)
                }
            case .setTimer(let deadline):
                self.timers[side] = deadline
            case .complete(let stats):
                self.completed[side] = stats
            case .close:
                self.closed[side] = true
                self.timers[side] = nil
            case .fail(let error, let sendToPeer):
                self.failures[side] = error
                if sendToPeer { self.send(.error(error), from: side) }
            }
        }
    }

    private mutating func send(_ packet: TFTPPacket, from side: Int) {
        if case .data = packet { self.dataPacketsSent += 1 }
        if self.logSends { self.sent.append((self.now, side, packet)) }
        let direction: Direction = side == 0 ? .toClient : .toServer
        var link = self.links[direction.rawValue]
        self.sentCount[direction.rawValue] += 1
        if link.dropExactly.contains(self.sentCount[direction.rawValue]) { return }
        if Double.random(in: 0..<1, using: &self.random) < link.loss {
            self.trace?.append("   lost \(direction) \(packet)")
            return
        }
        let copies = Double.random(in: 0..<1, using: &self.random) < link.duplication ? 2 : 1
        for _ in 0..<copies {
            let extra = link.jitter.nanoseconds > 0 ? Int64.random(in: 0...link.jitter.nanoseconds, using: &self.random) : 0
            self.order += 1
            let time = self.now + link.delay + .nanoseconds(extra)
            // Insert keeping the array sorted latest first (ties: earlier sent goes later in the array).
            var low = 0
            var high = self.events.count
            while low < high {
                let mid = (low + high) / 2
                if self.events[mid].time > time || (self.events[mid].time == time && self.events[mid].order > self.order) {
                    low = mid + 1
                } else {
                    high = mid
                }
            }
            self.events.insert((time, self.order, direction, packet), at: low)
        }
        link.dropExactly = []
    }
}
