import NIOCore
import TinCanIRC

/// Where a client's bytes go: its socket in the server, a buffer in tests.
protocol ChatConnection: AnyObject {
    /// Queues bytes (not yet flushed).
    func send(_ bytes: ByteBuffer)
    /// Hands everything queued to the kernel.
    func flush()
    /// Flushes, then closes.
    func close()
    /// Bytes queued that the kernel has not taken yet (asked only of clients that are backed up).
    var queuedBytes: Int { get }
    /// Whether the socket is under its high-water mark.
    var isWritable: Bool { get }
    /// Stops or resumes reading from the client while the server is overloaded.
    func pauseForOverload(_ paused: Bool)
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

/// The capabilities a client has enabled, a bit each: fan-out tests them for every recipient of
/// every message, so this is a byte, not a hashed set.
struct ChatCapabilities: Equatable, Sendable {
    private var bits: UInt8 = 0

    func contains(_ capability: ChatCapability) -> Bool { self.bits & capability.bit != 0 }
    mutating func insert(_ capability: ChatCapability) { self.bits |= capability.bit }
    mutating func remove(_ capability: ChatCapability) { self.bits &= ~capability.bit }
}

/// One connected client, registered or not. Confined to the server's event loop.
final class ChatClient {
    let id: Int
    let connection: any ChatConnection
    /// The client's IP address as text (its host in `nick!user@host`).
    let host: String
    let connectedAt: NIODeadline
    let signOn: Int  // wall-clock seconds, for WHOIS

    var nick: String?
    var foldedNick: String?
    var user: String?
    var realName: String?
    var passwordGiven: String?
    var registered = false
    var capNegotiating = false
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
    var closing = false
    /// In the core's list of clients with unflushed bytes.
    var dirty = false
    /// Where this round's bytes for the client are in the core's logs, in order (``ChatCore``).
    ///
    /// Unchecked exclusivity: it is written for every recipient of every message, only from the
    /// core on its one event loop, and no access to it ever overlaps another.
    @exclusivity(unchecked) var runs: [ChatRun] = []

    init(id: Int, connection: any ChatConnection, host: String, now: NIODeadline, wallSeconds: Int) {
        self.id = id
        self.connection = connection
        self.host = host
        self.connectedAt = now
        self.lastActivity = now
        self.lastMessage = now
        self.signOn = wallSeconds
    }

    /// `nick!user@host`, the source of what the client does.
    var mask: String { "\(self.nick ?? "*")!\(self.user ?? "*")@\(self.host)" }

    /// The name replies are addressed to: the nick, or `*` before there is one.
    var target: String { self.nick ?? "*" }

    func has(_ capability: ChatCapability) -> Bool { self.capabilities.contains(capability) }
}

@available(*, unavailable)
extension ChatClient: Sendable {}

/// One channel: its members in joining order, operators, topic.
final class ChatChannel {
    let name: String
    let folded: String
    let created: Int
    /// Server-owned (the lobby): never deleted when empty, no channel operators.
    let permanent: Bool
    private(set) var members: [ChatClient] = []
    private var index: [Int: Int] = [:]  // client id -> position in members
    var operators: Set<Int> = []
    var topic: String?
    var topicSetBy: String?
    var topicSetAt: Int?

    init(name: String, folded: String, created: Int, permanent: Bool) {
        self.name = name
        self.folded = folded
        self.created = created
        self.permanent = permanent
    }

    func contains(_ client: ChatClient) -> Bool { self.index[client.id] != nil }

    func add(_ client: ChatClient) {
        guard self.index[client.id] == nil else { return }
        self.index[client.id] = self.members.count
        self.members.append(client)
    }

    func remove(_ client: ChatClient) {
        guard let position = self.index.removeValue(forKey: client.id) else { return }
        self.operators.remove(client.id)
        // Swap with the last so that removal is O(1); joining order is kept only approximately,
        // which NAMES does not promise anyway.
        let last = self.members.removeLast()
        if last.id != client.id {
            self.members[position] = last
            self.index[last.id] = position
        }
    }

    func prefix(of client: ChatClient) -> String { self.operators.contains(client.id) ? "@" : "" }
}

@available(*, unavailable)
extension ChatChannel: Sendable {}
