#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import TinCanIRC

/// Joins one TCP connection to the chat: lines in (paced by flood control and overload), bytes
/// out. Everything it learns goes to the ``ChatDriver`` as an event; what it is told to do
/// (write a round's slices, pause, close) it does.
final class ChatConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = IRCInboundLine
    typealias OutboundOut = ByteBuffer

    private let driver: ChatDriver
    private var context: ChannelHandlerContext?
    private var session: ChatSession?
    // Lines wait here, while the socket is not read, when they are over the session's flood
    // rate or while the server is overloaded (``ChatCore/queued(_:bytes:writable:)``).
    private var bucket: FloodBucket?
    private let floodLimit: ChatFloodLimit?
    // Capacity 1 to start with: most sessions never wait, and a thousand idle ones should not
    // each hold room for sixteen lines.
    private var waiting = CircularBuffer<IRCInboundLine>(initialCapacity: 1)
    private var resume: Scheduled<Void>?
    private var overloadPaused = false

    init(driver: ChatDriver) {
        self.driver = driver
        self.floodLimit = driver.core.configuration.floodLimit
        self.bucket = self.floodLimit.map(FloodBucket.init)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        let host = Self.hostText(context.channel.remoteAddress?.ipAddress)
        switch self.driver.connected(self, host: host) {
        case .success(let session):
            session.localHost = context.channel.localAddress?.ipAddress.map { address in
                let text = Self.hostText(address)
                return text.contains(":") ? "[\(text)]" : text
            }
            self.session = session
            context.fireChannelActive()
        case .failure(let refusal):
            var buffer = context.channel.allocator.buffer(capacity: 64)
            buffer.writeIRCMessage(IRCMessage(command: "ERROR", parameters: ["Closing Link: \(host) (\(refusal.reason))"]))
            context.writeAndFlush(self.wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            self.driver.logger.notice("refused \(host): \(refusal.reason)")
        }
    }

    /// The client's address as it appears in `nick!user@host`: an IPv4 client of a dual-stack
    /// socket as plain IPv4, and an IPv6 address that would begin with `:` (which would read as a
    /// trailing parameter in WHO replies) with a `0` in front, as other servers write it.
    static func hostText(_ address: String?) -> String {
        guard var address else { return "unknown" }
        if address.hasPrefix("::ffff:"), address.contains(".") { address.removeFirst(7) }
        if address.hasPrefix(":") { address = "0" + address }
        return address
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.resume?.cancel()
        self.resume = nil
        self.waiting.removeAll()
        self.context = nil
        if let session = self.session {
            self.session = nil
            self.driver.disconnected(session, reason: "Connection closed")
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session = self.session else { return }
        let line = self.unwrapInboundIn(data)
        var floodWait: TimeAmount?
        if self.waiting.isEmpty, !self.overloadPaused {
            floodWait = self.floodWait(session)
            if floodWait == nil {
                self.driver.received(line, from: session)
                return
            }
        }
        self.waiting.append(line)
        if self.waiting.count > (self.floodLimit?.maxWaitingLines ?? Int.max) {
            self.waiting.removeAll()
            self.driver.drop(session, reason: "Excess Flood")
            return
        }
        // The first line over the flood rate: stop reading until the bucket has a token for it.
        // (Otherwise a drain is already scheduled, or the driver resumes us after an overload.)
        if let floodWait {
            self.setReading(false)
            self.scheduleDrain(context, after: floodWait)
        }
    }

    /// Registration is never slowed down; after it, each line takes a token: nil when it may go
    /// now, otherwise how long until it may.
    private func floodWait(_ session: ChatSession) -> TimeAmount? {
        guard session.isRegistered, var bucket = self.bucket else { return nil }
        defer { self.bucket = bucket }
        return bucket.take(now: self.driver.core.clock.now())
    }

    private func scheduleDrain(_ context: ChannelHandlerContext, after delay: TimeAmount) {
        self.resume = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { self.drain() }
    }

    private func drain() {
        self.resume = nil
        guard let context = self.context else { return }
        while let line = self.waiting.first {
            guard let session = self.session, !session.closing else {
                self.waiting.removeAll()
                return
            }
            if self.overloadPaused { return }
            if let wait = self.floodWait(session) {
                return self.scheduleDrain(context, after: wait)
            }
            self.waiting.removeFirst()
            self.driver.received(line, from: session)
        }
        if !self.overloadPaused { self.setReading(true) }
    }

    /// Reading is on unless flood control or overload holds it.
    private func setReading(_ on: Bool) {
        guard let context = self.context, let options = context.channel.syncOptions else { return }
        try? options.setOption(.autoRead, value: on)
        if on { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let session = self.session {
            self.driver.writabilityChanged(session, writable: context.channel.isWritable, queuedBytes: self.queuedBytes)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let session = self.session {
            self.session = nil
            // The reason others see in the QUIT: "Connection reset by peer", as other servers say.
            let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "Read error"
            self.driver.disconnected(session, reason: reason)
        }
        context.close(promise: nil)
    }

    // MARK: what the driver has it do

    /// Writes the session's share of a round and flushes. A socket that took everything so far
    /// gets slices of the round's logs; one that still holds bytes (a slow reader) gets a copy,
    /// so that it never keeps more than one round's logs alive.
    ///
    /// `whenWritten` runs once the kernel has taken all of it (offline messages count as
    /// delivered only then); not at all if the connection fails first.
    func write(_ runs: [ChatRun], of round: ChatRound, whenWritten: (() -> Void)? = nil) {
        guard let context = self.context else { return }
        let promise = whenWritten.map { _ in context.eventLoop.makePromise(of: Void.self) }
        if self.queuedBytes == 0 {
            var slices = Array(round.slices(runs))
            let last = slices.popLast()
            for slice in slices { context.write(self.wrapOutboundOut(slice), promise: nil) }
            if let last { context.write(self.wrapOutboundOut(last), promise: promise) }
        } else {
            context.write(self.wrapOutboundOut(round.copy(runs)), promise: promise)
        }
        if let promise, let whenWritten {
            promise.futureResult.assumeIsolated().whenSuccess { whenWritten() }
        }
        context.flush()
    }

    var isWritable: Bool { self.context?.channel.isWritable ?? true }

    /// Bytes written that the kernel has not taken yet.
    var queuedBytes: Int {
        (try? self.context?.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    func pauseForOverload(_ paused: Bool) {
        guard paused != self.overloadPaused, let context = self.context else { return }
        self.overloadPaused = paused
        if paused {
            self.setReading(false)
        } else if self.resume == nil {
            // Not from inside the driver's call: lines held back are handled on the next turn.
            self.resume = context.eventLoop.assumeIsolated().scheduleTask(in: .zero) { self.drain() }
        }
    }

    /// Flushes, then closes; the core has already let the session go.
    func close() {
        guard let context = self.context else { return }
        self.session = nil
        context.flush()
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ChatConnectionHandler: Sendable {}
