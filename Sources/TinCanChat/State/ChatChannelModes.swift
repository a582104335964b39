import TinCanIRC

/// A channel's own modes (not its members'): the flags `imnst`, the key `k`, the limit `l`, and
/// the mask lists `b`, `e` and `I` (as ngircd's, solanum's and ergo's). Pure: no sessions.
struct ChatChannelModes {
    /// The modes that are on or off, with no parameter.
    struct Flags: OptionSet {
        let rawValue: UInt8
        /// `+i`: only the invited (INVITE) or those on the invite-exception list join.
        static let inviteOnly = Flags(rawValue: 1 << 0)
        /// `+m`: only voiced members and operators speak.
        static let moderated = Flags(rawValue: 1 << 1)
        /// `+n`: no messages from outside the channel.
        static let noExternal = Flags(rawValue: 1 << 2)
        /// `+s`: hidden from LIST, NAMES and WHOIS for those outside it.
        static let secret = Flags(rawValue: 1 << 3)
        /// `+t`: only operators set the topic.
        static let topicLocked = Flags(rawValue: 1 << 4)

        /// Each flag with its letter, in the order `324` lists them.
        static let letters: [(Character, Flags)] = [
            ("i", .inviteOnly), ("m", .moderated), ("n", .noExternal), ("s", .secret), ("t", .topicLocked),
        ]

        static func named(_ letter: Character) -> Flags? { Self.letters.first { $0.0 == letter }?.1 }
    }

    /// The three mask lists.
    enum List: CaseIterable {
        /// `+b`: those matching may not join, nor speak unless voiced.
        case bans
        /// `+e`: those matching are not banned.
        case exceptions
        /// `+I`: those matching join a `+i` channel uninvited.
        case inviteExceptions

        var letter: Character {
            switch self {
            case .bans: "b"
            case .exceptions: "e"
            case .inviteExceptions: "I"
            }
        }

        init?(letter: Character) {
            guard let list = Self.allCases.first(where: { $0.letter == letter }) else { return nil }
            self = list
        }

        /// The numerics of one entry and of the end of the list.
        var numerics: (entry: IRCNumeric, end: IRCNumeric, endText: String) {
            switch self {
            case .bans: (.rplBanList, .rplEndOfBanList, "End of channel ban list")
            case .exceptions: (.rplExceptList, .rplEndOfExceptList, "End of channel exception list")
            case .inviteExceptions: (.rplInvExList, .rplEndOfInvExList, "End of channel invite exception list")
            }
        }
    }

    /// One mask on a list, and who put it there when (for `367`'s last two parameters).
    struct Entry: Equatable {
        var mask: String
        /// Case-folded: what removal compares.
        var folded: String
        /// What matching uses (`*` and `?`, case-folded).
        var pattern: IRCMask
        var setBy: String
        var setAt: Int

        init(mask: String, setBy: String, setAt: Int, caseMapping: IRCCaseMapping) {
            self.mask = mask
            self.folded = caseMapping.fold(mask)
            self.pattern = IRCMask(mask, caseMapping: caseMapping)
            self.setBy = setBy
            self.setAt = setAt
        }
    }

    /// Entries on the three lists together, per channel (ISUPPORT `MAXLIST=beI:100`): past it
    /// `478 ERR_BANLISTFULL`.
    static let maxListEntries = 100
    /// Mode changes with a parameter in one MODE command (ISUPPORT `MODES=4`); the rest of the
    /// line is ignored, as solanum does.
    static let maxParameterModes = 4
    /// A key's longest: longer ones are cut (RFC 2812's `key` is 1 to 23 characters).
    static let keyLength = 23
    /// A list mask's longest, in bytes, so that four of them fit one MODE line.
    static let maskLength = 100

    /// New channels are `+nt`, as on other servers.
    var flags: Flags = [.noExternal, .topicLocked]
    var key: String?
    var limit: Int?
    private(set) var bans: [Entry] = []
    private(set) var exceptions: [Entry] = []
    private(set) var inviteExceptions: [Entry] = []

    var listEntries: Int { self.bans.count + self.exceptions.count + self.inviteExceptions.count }

    func entries(_ list: List) -> [Entry] {
        switch list {
        case .bans: self.bans
        case .exceptions: self.exceptions
        case .inviteExceptions: self.inviteExceptions
        }
    }

    private mutating func update(_ list: List, _ change: (inout [Entry]) -> Void) {
        switch list {
        case .bans: change(&self.bans)
        case .exceptions: change(&self.exceptions)
        case .inviteExceptions: change(&self.inviteExceptions)
        }
    }

    /// What adding a mask did.
    enum Added: Equatable {
        case added
        /// Already there (compared case-folded): nothing to tell anyone.
        case present
        case full
    }

    mutating func add(_ entry: Entry, to list: List) -> Added {
        if self.entries(list).contains(where: { $0.folded == entry.folded }) { return .present }
        guard self.listEntries < Self.maxListEntries else { return .full }
        self.update(list) { $0.append(entry) }
        return .added
    }

    /// Takes the mask off the list (compared case-folded); the entry as it was, or nil.
    mutating func remove(folded: String, from list: List) -> Entry? {
        guard let index = self.entries(list).firstIndex(where: { $0.folded == folded }) else { return nil }
        var removed: Entry?
        self.update(list) { removed = $0.remove(at: index) }
        return removed
    }

    /// Whether any mask on `list` matches `nick!user@host`.
    func matches(_ list: List, _ mask: String) -> Bool {
        self.entries(list).contains { $0.pattern.matches(mask) }
    }

    /// Banned: a ban matches and no exception does.
    func isBanned(_ mask: String) -> Bool {
        !self.bans.isEmpty && self.matches(.bans, mask) && !self.matches(.exceptions, mask)
    }

    /// `324`'s parameters: `+` and the letters set, then the key and the limit when `withValues`
    /// (members see them, others do not).
    func modeIs(withValues: Bool) -> [String] {
        var letters = "+"
        var values: [String] = []
        for (letter, flag) in Flags.letters where self.flags.contains(flag) { letters.append(letter) }
        if let key = self.key {
            letters.append("k")
            if withValues { values.append(key) }
        }
        if let limit = self.limit {
            letters.append("l")
            if withValues { values.append(String(limit)) }
        }
        return [letters] + values
    }

    /// A mask as stored: `nick` becomes `nick!*@*`, `user@host` becomes `*!user@host`,
    /// `nick!user` becomes `nick!user@*` (as solanum's pretty_mask); cut to ``maskLength``.
    /// Nil for one that cannot be a mask (empty, or starting with `:`).
    static func normalizedMask(_ text: String) -> String? {
        guard !text.isEmpty, !text.hasPrefix(":"), !text.contains(" ") else { return nil }
        var nick = "*"
        var user = "*"
        var host = "*"
        var rest = Substring(text)
        if let at = rest.lastIndex(of: "@") {
            host = rest[rest.index(after: at)...].isEmpty ? "*" : String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            if let bang = rest.firstIndex(of: "!") {
                nick = rest[..<bang].isEmpty ? "*" : String(rest[..<bang])
                user = rest[rest.index(after: bang)...].isEmpty ? "*" : String(rest[rest.index(after: bang)...])
            } else if !rest.isEmpty {
                user = String(rest)
            }
        } else if let bang = rest.firstIndex(of: "!") {
            nick = rest[..<bang].isEmpty ? "*" : String(rest[..<bang])
            user = rest[rest.index(after: bang)...].isEmpty ? "*" : String(rest[rest.index(after: bang)...])
        } else {
            nick = String(rest)
        }
        var mask = "\(nick)!\(user)@\(host)"
        while mask.utf8.count > Self.maskLength { mask.removeLast() }
        return mask
    }

    /// A key as kept: cut to ``keyLength``; nil for one that cannot be sent in a JOIN (empty,
    /// starting with `:`, or with a space, comma or control character).
    static func validKey(_ text: String) -> String? {
        guard !text.isEmpty, !text.hasPrefix(":"), !text.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: ",") || $0 == 0x7F }) else { return nil }
        var key = text
        while key.utf8.count > Self.keyLength { key.removeLast() }
        return key
    }
}
