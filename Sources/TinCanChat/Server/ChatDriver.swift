import Logging
import NIOCore
import TinCanIRC

/// Carries out what the core decides, on the server's event loop: each round's bytes to the
/// sockets, closes, pauses, the store's work off the loop.
///
/// Every event from a connection comes here and goes to the core as one call; the effects it
/// left are carried out after the call has returned, so a write that finds a socket gone (and
/// reports it, from inside the write) is a new event for the core, never a call back into the
/// middle of one. A round ends once the loop has handled everything that was ready (one task
/// scheduled by the first bytes of the round), or straight after a line whose handling filled
/// it (``ChatRoundLog/isFull``).
final class ChatDriver {
    let core: ChatCore
    private let loop: any EventLoop
    private let persistence: ChatPersistence?
    let writer: ChatStoreWriter?
    /// Sessions with a question at the store: the questions waiting behind it.
    private var questions: [Int: CircularBuffer<ChatStoreRequest>] = [:]
    /// Writes to make once a session's bytes of this round are on its socket.
    private var onceWritten: [Int: [ChatStoreWrite]] = [:]
    private var handlers: [Int: ChatConnectionHandler] = [:]
    /// Connections to close once their bytes of the round are written.
    private var closing: [ChatSession] = []
    private var roundScheduled = false
    /// Set on the loop once this object is bound to it (``bind(_:)``): scheduled work reaches
    /// the driver through it.
    private var bound: NIOLoopBound<ChatDriver>?

    /// - Parameter accounts: the store with the password hasher and the login throttle, or nil
    ///   for a server that keeps nothing.
    init(core: ChatCore, loop: any EventLoop, accounts: ChatAccounts?) {
        self.core = core
        self.loop = loop
        let persistence = accounts.map { ChatPersistence(store: $0.store, accounts: $0) }
        self.persistence = persistence
        self.writer = persistence.map { ChatStoreWriter(persistence: $0, logger: core.logger) }
    }

    /// A driver bound to its loop, made on the loop.
    static func make(core: ChatCore, loop: any EventLoop, accounts: ChatAccounts?) -> NIOLoopBound<ChatDriver> {
        let driver = ChatDriver(core: core, loop: loop, accounts: accounts)
        let bound = NIOLoopBound(driver, eventLoop: loop)
        driver.bound = bound
        return bound
    }

    var logger: Logger { self.core.logger }
    var connectionCount: Int { self.core.sessions.count }

    // MARK: events from connections

    /// A new connection: its session, or why it is refused.
    func connected(_ handler: ChatConnectionHandler, host: String) -> Result<ChatSession, ChatRefusal> {
        let result = self.core.connected(host: host)
        if case .success(let session) = result {
            self.handlers[session.id] = handler
            if self.core.overloaded { handler.pauseForOverload(true) }
        }
        return result
    }

    func received(_ line: IRCInboundLine, from session: ChatSession) {
        self.core.received(line, from: session)
        // Only here may a round end early: a line comes from a read, never from inside a write.
        if self.core.round.isFull { return self.endRound() }
        self.settle()
    }

    func disconnected(_ session: ChatSession, reason: String) {
        self.handlers[session.id] = nil
        self.core.disconnected(session, reason: reason)
        self.settle()
    }

    func drop(_ session: ChatSession, reason: String) {
        self.core.drop(session, reason: reason)
        self.settle()
    }

    func writabilityChanged(_ session: ChatSession, writable: Bool, queuedBytes: Int) {
        self.core.queued(session, bytes: queuedBytes, writable: writable)
        self.settle()
    }

    func checkLiveness() {
        self.core.checkLiveness()
        self.endRound()
    }

    /// Tells every connection why and closes it (graceful shutdown); the driver schedules
    /// nothing after this.
    func shutDown(reason: String) {
        self.core.shutDown(reason: reason)
        self.endRound()
        self.bound = nil  // it refers to the driver itself
    }

    // MARK: carrying out

    /// Carries out the effects of the call that just returned, and makes sure the round ends.
    private func settle() {
        if self.core.hasEffects { self.apply(self.core.takeEffects()) }
        guard !self.roundScheduled, self.core.round.hasBytes || !self.closing.isEmpty, let bound = self.bound else { return }
        self.roundScheduled = true
        self.loop.execute { bound.value.endRound() }
    }

    private func apply(_ effects: [ChatEffect]) {
        for effect in effects {
            switch effect {
            case .close(let session):
                self.closing.append(session)
            case .pauseReading(let paused):
                for handler in self.handlers.values { handler.pauseForOverload(paused) }
            case .ask(let request, let session):
                self.ask(request, for: session)
            case .keep(let write):
                self.writer?.enqueue(write)
            case .keepOnceWritten(let write, let session):
                self.onceWritten[session.id, default: []].append(write)
            case .wake(let deadline):
                guard let bound = self.bound else { continue }
                self.loop.assumeIsolated().scheduleTask(deadline: deadline) {
                    bound.value.core.wake()
                    bound.value.settle()
                }
            }
        }
    }

    /// Ends the round: each session's bytes to its socket, in one write, then the closes.
    func endRound() {
        self.roundScheduled = false
        let round = self.core.round.take()
        let onceWritten = self.onceWritten
        self.onceWritten = [:]
        for delivery in round.deliveries {
            guard let handler = self.handlers[delivery.session.id] else { continue }
            var whenWritten: (() -> Void)?
            if let writes = onceWritten[delivery.session.id], let writer = self.writer {
                whenWritten = { for write in writes { writer.enqueue(write) } }
            }
            handler.write(delivery.runs, of: round, whenWritten: whenWritten)
            if !handler.isWritable {
                self.core.queued(delivery.session, bytes: handler.queuedBytes, writable: false)
            }
        }
        if self.core.hasEffects { self.apply(self.core.takeEffects()) }
        let closing = self.closing
        self.closing = []
        for session in closing { self.handlers.removeValue(forKey: session.id)?.close() }
        // What the writes and closes brought (QUITs of connections found gone) goes in the next
        // round, scheduled here.
        self.settle()
    }

    /// Runs the store's work in a task, off the loop; the answer comes back on the loop. One
    /// question per session at a time, in order, so that a client's replies come in the order of
    /// its commands (two CHATHISTORY, or an offline PRIVMSG then a 401).
    private func ask(_ request: ChatStoreRequest, for session: ChatSession) {
        guard self.persistence != nil, self.bound != nil else {
            self.core.storeAnswered(.failed("no store"), to: request, for: session)
            return
        }
        if self.questions[session.id] != nil {
            self.questions[session.id]?.append(request)
        } else {
            self.questions[session.id] = CircularBuffer(initialCapacity: 1)
            self.start([request], for: session.id)
        }
    }

    /// Offline messages one session's burst puts in one transaction at most.
    static let offlineBatch = 500

    /// The session's next questions: one, or a run of offline messages (stored as a group).
    private func next(for id: Int) -> [ChatStoreRequest]? {
        // Taken out while it is changed, so that the buffer is not copied.
        guard var waiting = self.questions.removeValue(forKey: id), let first = waiting.popFirst() else { return nil }
        var batch = [first]
        if case .offlineMessage = first {
            while batch.count < Self.offlineBatch, let request = waiting.first, case .offlineMessage = request {
                batch.append(waiting.removeFirst())
            }
        }
        self.questions[id] = waiting
        return batch
    }

    private func start(_ batch: [ChatStoreRequest], for id: Int) {
        guard let persistence = self.persistence, let bound = self.bound else { return }
        let loop = self.loop
        // History is read after the messages sent before the question are written.
        let writer = self.writer
        let mark = batch.contains(where: \.readsHistory) ? writer?.mark() : nil
        Task {
            if let writer, let mark { await writer.written(through: mark) }
            let answers = await persistence.perform(batch)
            loop.execute {
                let driver = bound.value
                guard let session = driver.core.sessions[id] else {
                    driver.questions[id] = nil
                    return
                }
                if let next = driver.next(for: id) { driver.start(next, for: id) }
                for (request, answer) in zip(batch, answers) { driver.core.storeAnswered(answer, to: request, for: session) }
                driver.settle()
            }
        }
    }
}

@available(*, unavailable)
extension ChatDriver: Sendable {}
