import Logging
import NIOCore
import TinCanIRC

/// The chat server's state and rules. It decides; the server does.
///
/// Every event (a connection, a line, a socket backing up, a store's answer, a liveness tick)
/// is a call that changes the state, writes bytes for sessions to the round log
/// (``ChatRoundLog``) and appends what else must happen to ``effects`` (close a connection,
/// pause reading, ask the store). No call touches a socket, so none can be re-entered by one;
/// the server carries the effects out once the call has returned (``ChatDriver``).
///
/// One instance, confined to one event loop. What the commands do is in `Commands/` (one file
/// per group, dispatched by ``ChatCommands``), how bytes get out in `Delivery/`, the state in
/// `State/`. This file has the containers, connecting and dropping, liveness and dispatch.
final class ChatCore {
    let configuration: ChatServerConfiguration
    let logger: Logger
    let clock: ChatClock
    let caseMapping = IRCCaseMapping.rfc1459
    let createdText: String
    /// Accounts, offline messages and history are on: the core asks the store
    /// (``ChatStoreRequest``) and writes to it (``ChatStoreWrite``).
    let usesStore: Bool
    /// Sessions holding a registered nick they have not logged in to (``ChatSession/nickGraceEnds``).
    var graceSessions: Set<Int> = []
    /// `msgid`s: a prefix random per run and a counter, so unique across restarts and cheap.
    private let msgidPrefix: String
    private var msgidCounter: UInt64 = 0

    var directory = ChatDirectory()
    var channels: ChatChannels
    var monitors = ChatMonitors()
    var whowas = ChatWhowas()
    /// Unchecked exclusivity: written for every recipient of every message, only from the core
    /// on its one event loop, and no access to it ever overlaps another.
    @exclusivity(unchecked) var round = ChatRoundLog()
    /// What the server must do once the current call returns.
    private(set) var effects: [ChatEffect] = []
    /// Sessions whose sockets passed the high-water mark (``ChatServer/backlogMark``).
    var backedUp: Set<Int> = []
    /// Reading from every connection is paused until the backlog drains.
    var overloaded = false
    /// The command being handled carries a `label` (labeled-response): its replies to its sender
    /// are collected here and sent once it is done (``finishLabeled(_:)``).
    var labeling: ChatLabeledReply?

    /// - Parameter msgidPrefix: the start of every `msgid` (tests fix it); random by default.
    init(
        configuration: ChatServerConfiguration, logger: Logger, clock: ChatClock = ChatClock(), usesStore: Bool = false,
        msgidPrefix: String = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    ) {
        self.configuration = configuration
        self.msgidPrefix = msgidPrefix
        self.logger = logger
        self.clock = clock
        self.usesStore = usesStore
        let created = clock.wallSeconds()
        self.createdText = ChatClock.dateText(seconds: created)
        self.channels = ChatChannels(caseMapping: self.caseMapping)
        if let lobby = configuration.lobby {
            self.channels.add(ChatChannel(name: lobby, folded: self.caseMapping.fold(lobby), created: created, permanent: true))
        }
    }

    var limits: ChatLimits { self.configuration.limits }
    var serverName: String { self.configuration.name }
    var sessions: [Int: ChatSession] { self.directory.sessions }

    /// The effects appended since the last call, for the server to carry out.
    func takeEffects() -> [ChatEffect] {
        defer { self.effects = [] }
        return self.effects
    }

    var hasEffects: Bool { !self.effects.isEmpty }

    func effect(_ effect: ChatEffect) {
        if case .ask(let request, let session) = effect, request.holdsLaterLines { session.questionsAwaited += 1 }
        self.effects.append(effect)
    }

    /// The session waits for the store: its lines are held (``ChatSession/held``).
    private func waitsForStore(_ session: ChatSession) -> Bool {
        if session.questionsAwaited > 0 || session.sasl?.verifying == true { return true }
        if case .pending(let pending) = session.registration, pending.awaitingStore { return true }
        return false
    }

    // MARK: connecting and dropping

    /// A new connection: its session, or the reason it is refused (the server sends it as ERROR
    /// and closes).
    func connected(host: String) -> Result<ChatSession, ChatRefusal> {
        if let refusal = self.directory.refusal(host: host, limits: self.limits) { return .failure(ChatRefusal(reason: refusal)) }
        return .success(self.directory.admit(host: host, clock: self.clock))
    }

    /// The connection is gone (closed, reset, timed out): tell everyone who shared a channel
    /// with the session, and its monitors.
    func disconnected(_ session: ChatSession, reason: String) {
        guard self.directory.remove(session) else { return }
        if session.isOperator { self.directory.operatorCount -= 1 }
        session.closing = true
        session.held = []
        if self.backedUp.remove(session.id) != nil { self.updateOverload() }
        self.rememberWhowas(session)
        if let identity = session.identity {
            let quit = IRCMessage(source: session.mask, command: "QUIT", parameters: [reason], trailing: true)
            self.fanOut(quit, to: self.presencePeers(of: session), from: session)
            for channel in session.channels { self.channels.leave(channel, session) }
            session.channels = []
            self.notifyMonitors(identity.folded, online: nil, nick: identity.nick)
        }
        self.monitors.removeAll(for: session)
        if let account = session.account {
            self.effect(.keep(.lastSeen(folded: account.folded, time: Int64(self.clock.wallMilliseconds()))))
        }
        self.logger.debug("client left", metadata: ["client": "\(session.mask)", "reason": "\(reason)"])
    }

    /// Ends a session from the server's side: ERROR to it, everyone told, and the connection
    /// closed once that is written.
    func drop(_ session: ChatSession, reason: String) {
        guard !session.closing else { return }
        self.send(IRCMessage(command: "ERROR", parameters: ["Closing Link: \(session.host) (\(reason))"], trailing: true), to: session)
        self.disconnected(session, reason: reason)
        self.effect(.close(session))
    }

    /// Tells every session why, and closes them (graceful shutdown).
    func shutDown(reason: String) {
        for session in Array(self.directory.sessions.values) { self.drop(session, reason: reason) }
    }

    // MARK: liveness

    /// Pings sessions idle for `pingInterval` and drops those that left a ping unanswered for
    /// `pingTimeout`; the server calls this every few seconds.
    func checkLiveness() {
        let now = self.clock.now()
        let interval = self.configuration.pingInterval
        let timeout = self.configuration.pingTimeout
        for session in Array(self.directory.sessions.values) {
            let idle = now - session.lastActivity
            if session.pingOutstanding {
                if idle >= interval + timeout {
                    self.drop(session, reason: "Ping timeout: \((interval + timeout).nanoseconds / 1_000_000_000) seconds")
                }
            } else if idle >= interval {
                session.pingOutstanding = true
                self.send(IRCMessage(command: "PING", parameters: [self.serverName]), to: session)
            }
        }
    }

    // MARK: dispatch

    /// One line from a session.
    func received(_ line: IRCInboundLine, from session: ChatSession) {
        guard !session.closing else { return }
        if self.waitsForStore(session) {
            guard session.held.count < Self.heldLimit else { return self.drop(session, reason: "Excess Flood") }
            session.held.append(line)
            return
        }
        session.lastActivity = self.clock.now()
        session.pingOutstanding = false
        switch line {
        case .tooLong:
            self.numeric(.errInputTooLong, to: session, ["Input line was too long"])
        case .malformed:
            break  // nothing that can be answered
        case .notUTF8(let command):
            // UTF8ONLY: the line is not relayed; the client is told which command was refused.
            let name = command.map { $0.uppercased() } ?? "*"
            self.send(IRCMessage(source: self.serverName, command: "FAIL", parameters: [name, "INVALID_UTF8", "Messages must be UTF-8"], trailing: true), to: session)
        case .message(let message):
            guard session.has(.labeledResponse), let label = message.tags.first(where: { $0.key == "label" })?.value,
                !label.isEmpty, label.utf8.count <= Self.labelLimit
            else { return self.dispatch(message, from: session) }
            self.labeling = ChatLabeledReply(session: session, label: label)
            self.dispatch(message, from: session)
            self.settleLabel(session)
        }
    }

    /// The longest `label` tag value answered with labeled-response (the spec's 64 bytes).
    static let labelLimit = 64

    /// Lines a session may send while it waits for the store (registering, logging in, a
    /// history query); one more is a flood.
    static let heldLimit = 256

    private func dispatch(_ message: IRCMessage, from session: ChatSession) {
        let name = message.command.uppercased()
        guard let command = ChatCommands.table[name] else {
            if session.isRegistered {
                self.numeric(.errUnknownCommand, to: session, [message.command, "Unknown command"])
            } else {
                self.numeric(.errNotRegistered, to: session, ["You have not registered"])
            }
            return
        }
        switch command.registration {
        case .required where !session.isRegistered:
            return self.numeric(.errNotRegistered, to: session, ["You have not registered"])
        case .forbidden where session.isRegistered:
            return self.numeric(.errAlreadyRegistered, to: session, ["You may not reregister"])
        default:
            break
        }
        if command.operatorOnly, !session.isOperator {
            return self.numeric(.errNoPrivileges, to: session, ["Permission Denied- You're not an IRC operator"])
        }
        guard message.parameters.count >= command.minParameters else { return self.needMoreParameters(name, session) }
        command.handle(self, message, session)
    }

    /// A new `msgid`.
    func nextMsgid() -> String {
        self.msgidCounter &+= 1
        return self.msgidPrefix + "-" + String(self.msgidCounter, radix: 36)
    }

    /// The store answered the session's request (``ChatEffect/ask(_:for:)``).
    func storeAnswered(_ answer: ChatStoreAnswer, to request: ChatStoreRequest, for session: ChatSession) {
        if request.holdsLaterLines { session.questionsAwaited = max(0, session.questionsAwaited - 1) }
        guard !session.closing else { return }
        // The replies of a labeled command that waited for this answer.
        if let reply = session.labeledReply {
            session.labeledReply = nil
            self.labeling = reply
        }
        self.answer(answer, to: request, for: session)
        self.settleLabel(session)
        self.releaseHeldIfReady(session)
    }

    /// The labeled command is done unless it waits for the store: its replies go out.
    private func settleLabel(_ session: ChatSession) {
        guard let reply = self.labeling else { return }
        self.labeling = nil
        if session.questionsAwaited > 0, !session.closing {
            session.labeledReply = reply
        } else {
            self.finishLabeled(reply)
        }
    }

    private func answer(_ answer: ChatStoreAnswer, to request: ChatStoreRequest, for session: ChatSession) {
        if case .failed(let why) = answer {
            // The live chat goes on without the store; the asker is told where it has to be.
            self.logger.error("store failed", metadata: ["client": "\(session.mask)", "error": "\(why)"])
            return self.storeFailed(request, session)
        }
        switch (request, answer) {
        case (.nickOwner(let folded), .nickOwner(let owner)):
            if case .pending(var pending) = session.registration, pending.awaitingStore {
                pending.awaitingStore = false
                session.registration = .pending(pending)
                self.completeRegistration(session)
                self.nickOwnerAnswered(owner, folded: folded, session)
                self.releaseHeld(session)
            } else {
                self.nickOwnerAnswered(owner, folded: folded, session)
            }
        case (.login(_, _, _, _, let route), .login(let record)):
            self.loginAnswered(record, via: route, session)
        case (.register(let name, _, _, let route), .register(let outcome)):
            self.registerAnswered(outcome, name: name, via: route, session)
        case (.setPassword, .done(let found)), (.dropAccount, .done(let found)):
            self.nickServDone(request, found, session)
        case (.setPassword, .weakPassword(let why)):
            self.nickServ(session, why)
        case (.accountInfo(let folded), .accountInfo(let record)):
            self.nickServInfo(record, folded: folded, session)
        case (.offlineMessage(let message, _, _), .offline(let outcome)):
            self.offlineAnswered(outcome, message, session)
        case (.offlineBox, .messages(let messages)):
            self.deliverOffline(messages, to: session)
        case (.history(let query), .messages(let messages)):
            self.historyAnswered(messages, query: query, session)
        case (.targets, .targets(let targets)):
            self.targetsAnswered(targets, session)
        case (.contacts, .contacts(let nicks)):
            self.contactsAnswered(nicks, session)
        case (.readMarker(_, let conversation), .marker(let time)):
            self.markerAnswered(time, conversation: conversation, session, everyConnection: false)
        case (.setReadMarker(_, let conversation, _), .marker(let time)):
            self.markerAnswered(time, conversation: conversation, session, everyConnection: true)
        default:
            self.logger.error("store answered a question with something else", metadata: ["client": "\(session.mask)"])
        }
    }

    /// Lines held while the session waited (its registration, or its SASL login before
    /// registering) are handled once it waits no more.
    private func releaseHeldIfReady(_ session: ChatSession) {
        guard !session.held.isEmpty, !session.closing, !self.waitsForStore(session) else { return }
        self.releaseHeld(session)
    }

    /// What the asker is told when the store could not answer.
    private func storeFailed(_ request: ChatStoreRequest, _ session: ChatSession) {
        switch request {
        case .nickOwner:
            if case .pending(var pending) = session.registration, pending.awaitingStore {
                pending.awaitingStore = false
                session.registration = .pending(pending)
                self.completeRegistration(session)
                self.releaseHeld(session)
            }
        case .login(_, _, _, _, .sasl):
            session.sasl = nil
            self.numeric(.errSaslFail, to: session, ["SASL authentication failed: accounts are unavailable, try again later"])
            self.tryRegister(session)
        case .register(let name, _, _, .register):
            self.fail("REGISTER", "TEMPORARILY_UNAVAILABLE", [name], "Accounts are unavailable; try again later", to: session)
        case .login, .register, .setPassword, .dropAccount, .accountInfo:
            self.nickServ(session, "Accounts are unavailable; try again later.")
        case .offlineMessage(let message, _, _):
            self.fail(message.command, "TEMPORARILY_UNAVAILABLE", [message.target], "\(message.target) is offline and the message could not be kept; try again later", to: session)
        case .history, .targets:
            self.fail("CHATHISTORY", "MESSAGE_ERROR", ["*"], "History is unavailable; try again later", to: session)
        case .offlineBox:
            session.offlineInFlight = false
        case .readMarker(_, let conversation) where session.namesEndAwaitingMarker.remove(conversation) != nil:
            // A join's NAMES still ends.
            let target = session.takeTarget(of: conversation) ?? conversation
            self.numeric(.rplEndOfNames, to: session, [target, "End of /NAMES list."])
        case .contacts, .readMarker, .setReadMarker:
            break
        }
    }

    /// The lines a session sent while registration waited for the store, in order.
    private func releaseHeld(_ session: ChatSession) {
        let held = session.held
        session.held = []
        for line in held { self.received(line, from: session) }
    }
}

@available(*, unavailable)
extension ChatCore: Sendable {}

/// Why a connection was not let in.
struct ChatRefusal: Error, Equatable {
    let reason: String
}
