/// Who monitors whom (IRCv3 MONITOR): each session keeps its own list (``ChatSession/monitoring``),
/// and this is the reverse index, folded nick to the sessions watching it, so that a nick coming
/// or going tells its watchers without a search.
struct ChatMonitors {
    private var watchers: [String: Set<Int>] = [:]

    /// The ids of the sessions watching the folded nick.
    func watchers(of folded: String) -> Set<Int>? { self.watchers[folded] }

    mutating func add(_ folded: String, nick: String, for session: ChatSession) {
        session.monitoring[folded] = nick
        self.watchers[folded, default: []].insert(session.id)
    }

    mutating func remove(_ folded: String, for session: ChatSession) {
        session.monitoring[folded] = nil
        self.forget(folded, session.id)
    }

    /// Empties the session's list (MONITOR C, or the session gone).
    mutating func removeAll(for session: ChatSession) {
        for folded in session.monitoring.keys { self.forget(folded, session.id) }
        session.monitoring = [:]
    }

    private mutating func forget(_ folded: String, _ id: Int) {
        self.watchers[folded]?.remove(id)
        if self.watchers[folded]?.isEmpty == true { self.watchers[folded] = nil }
    }
}
