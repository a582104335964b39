import TinCanIRC

/// One line of a conversation: a message, an action (`/me`), a notice, or a line from the client
/// itself (a join, a presence change, an error).
public struct ChatLine: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case message
        case action
        case notice
        case system
    }

    /// The server's `msgid`, when it gave one (history and live copies are told apart by it).
    public var id: String?
    /// Milliseconds since 1970 (the `server-time` tag, or the moment it arrived).
    public var time: Int64
    public var from: String
    public var text: String
    public var kind: Kind
    /// Sent by this client's own nick (an echo, or a copy from history).
    public var mine: Bool
    /// Names this client's nick, in a channel.
    public var mention: Bool
    /// Came from CHATHISTORY rather than live.
    public var history: Bool

    public init(id: String? = nil, time: Int64, from: String, text: String, kind: Kind = .message, mine: Bool = false, mention: Bool = false, history: Bool = false) {
        self.id = id
        self.time = time
        self.from = from
        self.text = text
        self.kind = kind
        self.mine = mine
        self.mention = mention
        self.history = history
    }
}

/// Online, away, or offline (as MONITOR, NAMES, QUIT and AWAY tell).
public enum ChatPresence: String, Hashable, Sendable {
    case online
    case away
    case offline
}

/// A conversation: the server's own lines, a channel, or the private one with a nick.
public struct ChatConversation: Sendable {
    public enum Kind: Hashable, Sendable {
        case server
        case channel
        case direct
    }

    public internal(set) var name: String
    public let kind: Kind
    /// Oldest first, at most ``ChatClientLimits/linesPerConversation``.
    public internal(set) var lines: [ChatLine] = []
    /// Lines from others after the read marker.
    public internal(set) var unread = 0
    public internal(set) var mentioned = false
    /// The account's read marker (MARKREAD), milliseconds; nil when never read.
    public internal(set) var readMarker: Int64?
    /// Channel members by folded nick (a large channel lists only its operators).
    public internal(set) var members: [String: String] = [:]
    /// Past the server's quiet-presence mark: `count` is LIST's, `members` are not everyone.
    public internal(set) var large = false
    public internal(set) var count = 0
    /// Still in it (a channel left stays until it is closed).
    public internal(set) var joined = false
    /// A CHATHISTORY request is out for it.
    var historyPending = false
    var ids: Set<String> = []

    init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// Lines from others after `marker` (all of them when there is none): what arrived unseen.
    public func isNew(_ line: ChatLine) -> Bool {
        guard !line.mine, line.kind != .system else { return false }
        return self.readMarker.map { line.time > $0 } ?? (self.kind == .direct)
    }
}

/// A file announced in a conversation: a link to this server's `/files/ID`.
public struct ChatFileOffer: Hashable, Sendable {
    /// 1, 2, ...: what `/get N` names.
    public let number: Int
    public let url: String
    public let from: String
    public let conversation: String
    /// From the HEAD answer, when it has come.
    public internal(set) var name: String?
    public internal(set) var size: Int64?

    public init(number: Int, url: String, from: String, conversation: String, name: String? = nil, size: Int64? = nil) {
        self.number = number
        self.url = url
        self.from = from
        self.conversation = conversation
        self.name = name
        self.size = size
    }
}

/// Bounds of what the client keeps.
public struct ChatClientLimits: Hashable, Sendable {
    /// Lines kept per conversation (older ones are dropped; `/history` asks the server again).
    public var linesPerConversation = 5000
    /// Lines asked for at login per conversation, and by `/history` when no count is given.
    public var historyPage = 50
    /// CHATHISTORY TARGETS asked for at login.
    public var historyTargets = 100
    public init() {}
}

/// Everything a view shows: who this is, the conversations, the people.
public struct ChatClientModel: Sendable {
    public internal(set) var me = ""
    public internal(set) var account: String?
    public internal(set) var lobby: String?
    public internal(set) var conversations: [ChatConversation] = [ChatConversation(name: "*", kind: .server)]
    /// The one on screen (an index into ``conversations``).
    public internal(set) var current = 0
    /// Presence by folded nick, of the people this client has heard of.
    public internal(set) var people: [String: (nick: String, presence: ChatPresence)] = [:]
    /// Folded nicks on the MONITOR list: the people whose presence stays exact.
    public internal(set) var contacts: Set<String> = []
    public internal(set) var isupport: [String: String] = [:]
    /// The FILEHOST upload URL, when the server takes files.
    public internal(set) var fileHost: String?
    public internal(set) var files: [ChatFileOffer] = []
    var caseMapping = IRCCaseMapping.rfc1459

    public func fold(_ name: String) -> String { self.caseMapping.fold(name) }

    /// The conversation named `name` (a channel, or a nick), if there is one.
    public func index(of name: String) -> Int? {
        let folded = self.fold(name)
        return self.conversations.firstIndex { self.fold($0.name) == folded }
    }

    public func presence(of nick: String) -> ChatPresence {
        self.people[self.fold(nick)]?.presence ?? .offline
    }

    public var currentConversation: ChatConversation { self.conversations[self.current] }
}
