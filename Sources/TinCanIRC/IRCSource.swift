/// A message source split into its parts: `nick!user@host`, any part of which may be missing
/// (a server name is a bare `nick` here).
public struct IRCSource: Hashable, Sendable {
    public var nick: String?
    public var user: String?
    public var host: String?

    public init(nick: String?, user: String? = nil, host: String? = nil) {
        self.nick = nick
        self.user = user
        self.host = host
    }

    /// Splits `nick!user@host`; an empty part is nil.
    public init(parsing source: String) {
        var rest = Substring(source)
        var host: Substring?
        if let at = rest.firstIndex(of: "@") {
            host = rest[rest.index(after: at)...]
            rest = rest[..<at]
        }
        var user: Substring?
        if let bang = rest.firstIndex(of: "!") {
            user = rest[rest.index(after: bang)...]
            rest = rest[..<bang]
        }
        func part(_ text: Substring?) -> String? { text.flatMap { $0.isEmpty ? nil : String($0) } }
        self.init(nick: part(rest), user: part(user), host: part(host))
    }

    /// `nick!user@host`, leaving out the missing parts.
    public var description: String {
        var text = self.nick ?? ""
        if let user { text += "!" + user }
        if let host { text += "@" + host }
        return text
    }
}

/// IRC wildcard masks (`*` any run, `?` any one character; everything else literal, brackets
/// included), compared under a case mapping.
public struct IRCMask: Hashable, Sendable {
    public let pattern: String
    private let folded: [UInt8]
    private let mapping: IRCCaseMapping

    public init(_ pattern: String, caseMapping: IRCCaseMapping = .rfc1459) {
        self.pattern = pattern
        self.mapping = caseMapping
        self.folded = Array(caseMapping.fold(pattern).utf8)
    }

    public func matches(_ text: String) -> Bool {
        let subject = Array(self.mapping.fold(text).utf8)
        // Iterative glob match with backtracking to the last `*`: linear in practice, never
        // exponential (a hostile mask of many stars cannot stall the server).
        var (p, s) = (0, 0)
        var star: Int?
        var mark = 0
        while s < subject.count {
            if p < self.folded.count, self.folded[p] == UInt8(ascii: "?") || self.folded[p] == subject[s],
                self.folded[p] != UInt8(ascii: "*")
            {
                p += 1
                s += 1
            } else if p < self.folded.count, self.folded[p] == UInt8(ascii: "*") {
                star = p
                mark = s
                p += 1
            } else if let star {
                p = star + 1
                mark += 1
                s = mark
            } else {
                return false
            }
        }
        while p < self.folded.count, self.folded[p] == UInt8(ascii: "*") { p += 1 }
        return p == self.folded.count
    }
}
