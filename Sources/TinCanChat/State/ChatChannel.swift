import TinCanIRC

/// One channel: its members in joining order, operators and voiced members, topic, modes and
/// the invitations standing.
final class ChatChannel {
    let name: String
    let folded: String
    let created: Int
    /// Server-owned (the lobby): never deleted when empty, no channel operators.
    let permanent: Bool
    private(set) var members: [ChatSession] = []
    private var index: [Int: Int] = [:]  // session id -> position in members
    /// Channel operators, by session id (``setOperator(_:_:)``).
    private(set) var operators: Set<Int> = []
    /// Members who hear every presence change even while the channel is quiet: its operators and
    /// the IRC operators in it (``refreshWatcher(_:)``).
    private(set) var watchers: [Int: ChatSession] = [:]
    /// Voiced members (`+v`), by session id.
    private(set) var voiced: Set<Int> = []
    /// The channel's own modes (``ChatChannelModes``): `+nt` when created.
    var modes = ChatChannelModes()
    /// Sessions invited (INVITE) and not yet joined, by id, oldest first: at most
    /// ``ChatChannelModes/maxListEntries``, the oldest dropped past it. An invitation lets its
    /// holder in once past `+i`, `+k`, `+l` and `+b` (as ergo).
    private(set) var invited: [Int] = []
    var topic: String?
    var topicSetBy: String?
    var topicSetAt: Int?

    init(name: String, folded: String, created: Int, permanent: Bool) {
        self.name = name
        self.folded = folded
        self.created = created
        self.permanent = permanent
    }

    func contains(_ session: ChatSession) -> Bool { self.index[session.id] != nil }

    /// Past `mark` members a channel is quiet: other people's JOIN, PART and QUIT reach only its
    /// watchers, and NAMES lists only them (the README's "quiet presence").
    func isQuiet(mark: Int) -> Bool { self.members.count > mark }

    func add(_ session: ChatSession) {
        guard self.index[session.id] == nil else { return }
        self.index[session.id] = self.members.count
        self.members.append(session)
        self.refreshWatcher(session)
    }

    func setOperator(_ session: ChatSession, _ on: Bool) {
        if on { self.operators.insert(session.id) } else { self.operators.remove(session.id) }
        self.refreshWatcher(session)
    }

    func setVoice(_ session: ChatSession, _ on: Bool) {
        if on { self.voiced.insert(session.id) } else { self.voiced.remove(session.id) }
    }

    func isVoiced(_ session: ChatSession) -> Bool { self.voiced.contains(session.id) }

    func invite(_ session: ChatSession) {
        guard !self.invited.contains(session.id) else { return }
        if self.invited.count >= ChatChannelModes.maxListEntries { self.invited.removeFirst() }
        self.invited.append(session.id)
    }

    func isInvited(_ session: ChatSession) -> Bool { self.invited.contains(session.id) }

    /// Uses up the session's invitation (it joined).
    func takeInvitation(_ session: ChatSession) { self.invited.removeAll { $0 == session.id } }

    /// Puts a member among the watchers, or takes it out, after its channel or IRC operator
    /// status changed.
    func refreshWatcher(_ session: ChatSession) {
        let watches = self.index[session.id] != nil && (self.operators.contains(session.id) || session.isOperator)
        self.watchers[session.id] = watches ? session : nil
    }

    func remove(_ session: ChatSession) {
        guard let position = self.index.removeValue(forKey: session.id) else { return }
        self.operators.remove(session.id)
        self.voiced.remove(session.id)
        self.watchers[session.id] = nil
        // Swap with the last so that removal is O(1); joining order is kept only approximately,
        // which NAMES does not promise anyway.
        let last = self.members.removeLast()
        if last.id != session.id {
            self.members[position] = last
            self.index[last.id] = position
        }
    }

    func isOperator(_ session: ChatSession) -> Bool { self.operators.contains(session.id) }

    /// The member's highest prefix (`@` operator, `+` voiced), or all of them, highest first, for
    /// a client with multi-prefix.
    func prefix(of session: ChatSession, all: Bool = false) -> String {
        let op = self.operators.contains(session.id)
        let voice = self.voiced.contains(session.id)
        if op { return all && voice ? "@+" : "@" }
        return voice ? "+" : ""
    }

    /// May speak in a `+m` channel, and despite a ban: an operator or a voiced member.
    func hasVoice(_ session: ChatSession) -> Bool {
        self.operators.contains(session.id) || self.voiced.contains(session.id)
    }
}

@available(*, unavailable)
extension ChatChannel: Sendable {}

/// The channels that exist, by folded name, and the rules for their names.
struct ChatChannels {
    private(set) var byName: [String: ChatChannel] = [:]
    let caseMapping: IRCCaseMapping

    init(caseMapping: IRCCaseMapping) {
        self.caseMapping = caseMapping
    }

    var count: Int { self.byName.count }

    subscript(name: String) -> ChatChannel? { self.byName[self.caseMapping.fold(name)] }

    /// A name a channel may have: `#`, then up to `limit` bytes in all with no space, comma, BEL
    /// or control character.
    static func isValidName(_ name: String, limit: Int) -> Bool {
        name.hasPrefix("#") && name.utf8.count > 1 && name.utf8.count <= limit
            && !name.utf8.contains(where: { $0 == 0x20 || $0 == 0x07 || $0 == UInt8(ascii: ",") || $0 < 0x20 })
    }

    mutating func add(_ channel: ChatChannel) { self.byName[channel.folded] = channel }

    /// Takes the session out of the channel, and the channel away when it is left empty.
    mutating func leave(_ channel: ChatChannel, _ session: ChatSession) {
        channel.remove(session)
        if channel.members.isEmpty, !channel.permanent { self.byName[channel.folded] = nil }
    }
}
