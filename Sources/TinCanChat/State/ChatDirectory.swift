/// Every session connected, the nicks registered ones hold, and how many come from each address.
struct ChatDirectory {
    private var nextID = 0
    /// Every session connected, registered or not.
    private(set) var sessions: [Int: ChatSession] = [:]
    /// Registered sessions by folded nick.
    private(set) var nicks: [String: ChatSession] = [:]
    private var perAddress: [String: Int] = [:]
    /// Registered sessions that are IRC operators (LUSERS), kept as they change rather than
    /// counted, so that registering costs the same however many are in.
    var operatorCount = 0
    /// Registered sessions with user mode +i (LUSERS), kept the same way.
    var invisibleCount = 0
    /// The most registered sessions there have been at once (LUSERS 265/266).
    private(set) var peakRegistered = 0
    /// Sessions with user mode +w: they get WALLOPS.
    var wallops: Set<Int> = []

    var connectedCount: Int { self.sessions.count }
    var registeredCount: Int { self.nicks.count }

    /// Why a new connection from `host` may not come in, or nil when it may.
    func refusal(host: String, limits: ChatLimits) -> String? {
        if self.sessions.count >= limits.maxClients {
            return "Server is full (\(limits.maxClients) clients)"
        }
        if self.perAddress[host, default: 0] >= limits.maxClientsPerAddress {
            return "Too many connections from \(host) (\(limits.maxClientsPerAddress))"
        }
        return nil
    }

    /// A new session from `host` (after ``refusal(host:limits:)`` said nothing).
    mutating func admit(host: String, clock: ChatClock) -> ChatSession {
        self.nextID += 1
        let session = ChatSession(id: self.nextID, host: host, now: clock.now(), wallSeconds: clock.wallSeconds())
        self.sessions[session.id] = session
        self.perAddress[host, default: 0] += 1
        return session
    }

    /// Takes the session out, and its nick when it had one; false when it was already out.
    mutating func remove(_ session: ChatSession) -> Bool {
        guard self.sessions.removeValue(forKey: session.id) != nil else { return false }
        self.perAddress[session.host, default: 1] -= 1
        if session.invisible { self.invisibleCount -= 1 }
        self.wallops.remove(session.id)
        if self.perAddress[session.host] == 0 { self.perAddress[session.host] = nil }
        if let identity = session.identity, self.nicks[identity.folded] === session { self.nicks[identity.folded] = nil }
        if let account = session.account { self.logOut(session, from: account.folded) }
        return true
    }

    /// The registered session holding the folded nick.
    subscript(folded folded: String) -> ChatSession? { self.nicks[folded] }

    /// Whether someone other than `session` holds the nick, or it is a service's (NickServ).
    func isTaken(_ folded: String, by session: ChatSession?) -> Bool {
        if let holder = self.nicks[folded] { return holder !== session }
        return folded == ChatCore.nickServFolded
    }

    /// Sessions logged in to each account (folded), registered or not.
    private(set) var accounts: [String: [ChatSession]] = [:]

    mutating func logIn(_ session: ChatSession, to folded: String) {
        self.accounts[folded, default: []].append(session)
    }

    mutating func logOut(_ session: ChatSession, from folded: String) {
        self.accounts[folded]?.removeAll { $0 === session }
        if self.accounts[folded]?.isEmpty == true { self.accounts[folded] = nil }
    }

    /// The registered sessions logged in to the account.
    func sessions(ofAccount folded: String) -> [ChatSession] {
        (self.accounts[folded] ?? []).filter { $0.isRegistered && !$0.closing }
    }

    mutating func claim(_ folded: String, for session: ChatSession) {
        self.nicks[folded] = session
        self.peakRegistered = max(self.peakRegistered, self.nicks.count)
    }

    mutating func release(_ folded: String) { self.nicks[folded] = nil }
}
