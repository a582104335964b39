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
    /// The account the store holds for this nick, when it has one (``ChatStoreAnswer``).
    var account: String?
}

/// IRCv3 capabilities the server offers (CAP LS), in the order listed.
enum ChatCapability: String, CaseIterable, Sendable {
    case awayNotify = "away-notify"
    case capNotify = "cap-notify"
    case echoMessage = "echo-message"
    case messageTags = "message-tags"
    case multiPrefix = "multi-prefix"
    case serverTime = "server-time"

    fileprivate var bit: UInt8 {
        switch self {
        case .awayNotify: 1
        case .capNotify: 2
        case .echoMessage: 4
        case .messageTags: 8
        case .multiPrefix: 16
        case .serverTime: 32
        }
    }
}

/// The capabilities a session has enabled, a bit each: fan-out tests them for every recipient of
/// every message, so this is a byte, not a hashed set.
struct ChatCapabilities: Equatable, Sendable {
    private var bits: UInt8 = 0

    func contains(_ capability: ChatCapability) -> Bool { self.bits & capability.bit != 0 }
    mutating func insert(_ capability: ChatCapability) { self.bits |= capability.bit }
    mutating func remove(_ capability: ChatCapability) { self.bits &= ~capability.bit }
}
