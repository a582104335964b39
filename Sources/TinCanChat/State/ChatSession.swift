import NIOCore
import TinCanIRC

/// The server's record of one connection, registered or not. Confined to the server's event loop.
///
/// It holds what the rules need (who the connection is, where it is, what it asked for) and no
/// socket: the core never writes to a connection, it notes bytes for a session in the round log
/// (``runs``) and the server hands them to the socket after the core's call has returned.
final class ChatSession {
    let id: Int
    /// The client's IP address as text (its host in `nick!user@host`).
    let host: String
    /// The address the client reached the server at (its socket's local address), as a URL's
    /// host (`[::1]` for IPv6): the FILEHOST URL it is told uses it when no public URL is set.
    var localHost: String?
    let connectedAt: NIODeadline
    /// Wall-clock seconds at connection, for WHOIS.
    let signOn: Int

    var registration: ChatRegistration = .pending(ChatPendingRegistration())
    var capabilities = ChatCapabilities()
    var away: String?
    var isOperator = false
    var invisible = false
    /// Channels joined, in joining order.
    var channels: [ChatChannel] = []
    /// MONITOR list: folded nick to the nick as given.
    var monitoring: [String: String] = [:]
    var lastActivity: NIODeadline
    var lastMessage: NIODeadline
    var pingOutstanding = false
    /// When its socket passed the high-water mark, while it stays over it (``ChatCore/queued(_:bytes:writable:)``).
    var backedUpSince: NIODeadline?
    /// Dropped: nothing more is sent to it or read from it, and the server closes it once its
    /// bytes of this round are written.
    var closing = false
    /// Lines read while the session waits for the store; handled, in order, once it answers.
    var held: [IRCInboundLine] = []
    /// The replies to a labeled command that asked the store, collected until it answers
    /// (labeled-response).
    var labeledReply: ChatLabeledReply?
    /// Read markers of a session without an account (MARKREAD), by folded target; they last as
    /// long as the connection. At most ``readMarkerLimit``.
    private(set) var readMarkers: [String: Int64] = [:]
    static let readMarkerLimit = 500
    /// Channels joined whose RPL_ENDOFNAMES waits for the store's read marker.
    var namesEndAwaitingMarker: Set<String> = []

    /// Moves a marker forward (never back); past the limit, a new target is not kept.
    func setReadMarker(_ time: Int64, for key: String) {
        if let old = self.readMarkers[key] {
            self.readMarkers[key] = max(old, time)
        } else if self.readMarkers.count < Self.readMarkerLimit {
            self.readMarkers[key] = time
        }
    }

    /// Questions at the store whose answers the session is waiting for
    /// (``ChatStoreRequest/holdsLaterLines``): while there is one, its later lines are held, so
    /// that replies come in the order of the commands (a PING sent after NickServ REGISTER is
    /// answered after it).
    var questionsAwaited = 0
    /// The account it is logged in to (SASL, REGISTER, NickServ IDENTIFY), registered or not.
    var account: ChatAccountName?
    /// A SASL exchange under way (AUTHENTICATE).
    var sasl: ChatSASLExchange?
    /// It holds a nick registered to an account it is not logged in to: by this time it logs in
    /// or is renamed to a guest nick (``ChatAccountSettings/nickGrace``).
    var nickGraceEnds: NIODeadline?
    /// Offline messages written to it in the current round and not yet confirmed (the row id of
    /// the last), so that a second fetch does not send them twice.
    var offlineInFlight = false
    /// Conversations asked about (CHATHISTORY, MARKREAD) and not yet answered: the key to the
    /// targets as the client named them, oldest question first. The store answers a session's
    /// questions in order, so a CHATHISTORY and a MARKREAD outstanding for one conversation each
    /// get back the name they were asked with.
    private var historyTargets: [String: [String]] = [:]

    func rememberTarget(_ target: String, of conversation: String) {
        self.historyTargets[conversation, default: []].append(target)
    }

    /// The name the oldest unanswered question about `conversation` used, or nil.
    func takeTarget(of conversation: String) -> String? {
        guard var names = self.historyTargets[conversation], !names.isEmpty else { return nil }
        let name = names.removeFirst()
        self.historyTargets[conversation] = names.isEmpty ? nil : names
        return name
    }

    /// In the round's list of sessions with bytes to write.
    var dirty = false
    /// Where this round's bytes for the session are in the round log, in order (``ChatRoundLog``).
    ///
    /// Unchecked exclusivity: it is written for every recipient of every message, only from the
    /// core on its one event loop, and no access to it ever overlaps another.
    @exclusivity(unchecked) var runs: [ChatRun] = []

    init(id: Int, host: String, now: NIODeadline, wallSeconds: Int) {
        self.id = id
        self.host = host
        self.connectedAt = now
        self.lastActivity = now
        self.lastMessage = now
        self.signOn = wallSeconds
    }

    /// Who the session is once registered; nil before.
    var identity: ChatIdentity? {
        if case .registered(let identity) = self.registration { return identity }
        return nil
    }

    var isRegistered: Bool {
        if case .registered = self.registration { return true }
        return false
    }

    /// The nick: the registered one, or the one asked for so far.
    var nick: String? {
        switch self.registration {
        case .registered(let identity): identity.nick
        case .pending(let pending): pending.nick
        }
    }

    /// `nick!user@host`, the source of what the session does.
    var mask: String {
        switch self.registration {
        case .registered(let identity): "\(identity.nick)!\(identity.user)@\(self.host)"
        case .pending(let pending): "\(pending.nick ?? "*")!\(pending.user ?? "*")@\(self.host)"
        }
    }

    /// The name replies are addressed to: the nick, or `*` before there is one.
    var target: String { self.nick ?? "*" }

    func has(_ capability: ChatCapability) -> Bool { self.capabilities.contains(capability) }
}

@available(*, unavailable)
extension ChatSession: Sendable {}

/// How far a connection has got: gathering NICK, USER and the rest, or registered as someone.
/// A registered session always has a nick, a user name and a folded nick, so nothing unwraps them.
enum ChatRegistration {
    case pending(ChatPendingRegistration)
    case registered(ChatIdentity)
}

/// What a connection has said before registering.
struct ChatPendingRegistration {
    var nick: String?
    /// `~name`, made safe for a mask.
    var user: String?
    var realName: String?
    var password: String?
    /// CAP LS or REQ came and CAP END has not: registration waits for it.
    var negotiating = false
    /// The store has been asked about the nick (``ChatStoreRequest``) and has not answered.
    var awaitingStore = false
}

/// Who a registered session is.
struct ChatIdentity {
    var nick: String
    /// The nick case-folded: the key of the nick directory.
    var folded: String
    var user: String
    var realName: String
}

/// An account as a session is logged in to it.
struct ChatAccountName: Equatable {
    /// As registered.
    var name: String
    /// Case-folded: the store's key.
    var folded: String
}

/// A SASL PLAIN exchange (AUTHENTICATE): the base64 chunks so far, or the store checking them.
struct ChatSASLExchange {
    var payload = ""
    /// The credentials went to the store; AUTHENTICATE waits for its answer.
    var verifying = false
}

/// IRCv3 capabilities the server offers (CAP LS), in the order listed. Those about accounts and
/// history are offered only by a server with a store (``ChatCore/offeredCapabilities``).
enum ChatCapability: String, CaseIterable, Sendable {
    case accountNotify = "account-notify"
    case accountTag = "account-tag"
    case awayNotify = "away-notify"
    case batch = "batch"
    case capNotify = "cap-notify"
    case chathistory = "draft/chathistory"
    case accountRegistration = "draft/account-registration"
    case readMarker = "draft/read-marker"
    case echoMessage = "echo-message"
    case extendedJoin = "extended-join"
    case extendedMonitor = "extended-monitor"
    case labeledResponse = "labeled-response"
    case messageTags = "message-tags"
    case multiPrefix = "multi-prefix"
    case sasl = "sasl"
    case serverTime = "server-time"
    case setname = "setname"
    case userhostInNames = "userhost-in-names"

    /// Needs the store (accounts, history).
    var needsStore: Bool {
        switch self {
        case .accountNotify, .accountTag, .chathistory, .accountRegistration, .readMarker, .extendedJoin, .sasl: true
        default: false
        }
    }

    /// A switch, not a search of `allCases`: fan-out asks for every recipient.
    fileprivate var bit: UInt32 {
        switch self {
        case .accountNotify: 1 << 0
        case .accountTag: 1 << 1
        case .awayNotify: 1 << 2
        case .batch: 1 << 3
        case .capNotify: 1 << 4
        case .chathistory: 1 << 5
        case .accountRegistration: 1 << 6
        case .echoMessage: 1 << 7
        case .extendedJoin: 1 << 8
        case .messageTags: 1 << 9
        case .multiPrefix: 1 << 10
        case .sasl: 1 << 11
        case .serverTime: 1 << 12
        case .readMarker: 1 << 13
        case .extendedMonitor: 1 << 14
        case .labeledResponse: 1 << 15
        case .setname: 1 << 16
        case .userhostInNames: 1 << 17
        }
    }
}

/// The capabilities a session has enabled, a bit each: fan-out tests them for every recipient of
/// every message, so this is a word, not a hashed set.
struct ChatCapabilities: Equatable, Sendable {
    private var bits: UInt32 = 0

    func contains(_ capability: ChatCapability) -> Bool { self.bits & capability.bit != 0 }
    mutating func insert(_ capability: ChatCapability) { self.bits |= capability.bit }
    mutating func remove(_ capability: ChatCapability) { self.bits &= ~capability.bit }
}
