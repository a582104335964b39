import TinCanIRC

/// Questions about the server and the network, and its history of nicks: WHOWAS, TIME, INFO,
/// HELP/HELPOP, LINKS, VERSION, ADMIN, WALLOPS, and user modes +w and -o (as ngircd's
/// irc-info.c and irc-oper.c; numerics as modern.ircdocs.horse gives them).
extension ChatCore {
    /// The server's one-line description: WHOIS, WHOWAS, LINKS and VERSION give it.
    var serverInfo: String { self.configuration.serverInfo }

    // MARK: WHOWAS

    /// Remembers who the registered session was, before it leaves or changes its nick.
    func rememberWhowas(_ session: ChatSession) {
        guard let identity = session.identity else { return }
        let entry = ChatWhowas.Entry(
            nick: identity.nick, user: identity.user, host: session.host, realName: identity.realName,
            account: session.account?.name
        )
        self.whowas.record(entry, folded: identity.folded, total: self.limits.whowasEntries, perNick: self.limits.whowasPerNick)
    }

    /// `WHOWAS <nick>{,<nick>} [<count>]`: each nick's entries, newest first, at most `count` of
    /// them when it is positive (a full search otherwise); 406 for a nick with none; 369 after
    /// each nick. A nick with `*` or `?` is a mask over the history's nicks.
    func whowasCommand(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        guard let list = p.first, !list.isEmpty else {
            return self.numeric(.errNoNicknameGiven, to: session, ["No nickname given"])
        }
        let count = p.count > 1 ? Int(p[1]).flatMap { $0 > 0 ? $0 : nil } : nil
        // As many nicks as one PRIVMSG may name, so one line cannot ask for the whole history.
        for nick in list.split(separator: ",").prefix(self.limits.maxTargets).map(String.init) {
            let entries: [ChatWhowas.Entry]
            if nick.contains("*") || nick.contains("?") {
                // A mask (RFC 2812): one WHO page of entries at most.
                let mask = IRCMask(nick, caseMapping: self.caseMapping)
                entries = self.whowas.lookup(where: { mask.matches($0) }, limit: count, cap: self.limits.whoReplies)
            } else {
                entries = self.whowas.lookup(self.caseMapping.fold(nick), limit: count)
            }
            if entries.isEmpty { self.numeric(.errWasNoSuchNick, to: session, [nick, "There was no such nickname"]) }
            for entry in entries {
                self.numeric(.rplWhowasUser, to: session, [entry.nick, entry.user, entry.host, "*", entry.realName])
                if let account = entry.account {
                    self.numeric(.rplWhoisAccount, to: session, [entry.nick, account, "was logged in as"])
                }
                self.numeric(.rplWhoisServer, to: session, [entry.nick, self.serverName, self.serverInfo])
            }
            self.numeric(.rplEndOfWhowas, to: session, [nick, "End of WHOWAS"])
        }
    }

    // MARK: about the server

    /// Whether a command's optional `<server>` names this server: its name or a mask matching it,
    /// or the nick of someone on it (all are).
    private func isThisServer(_ target: String?) -> Bool {
        guard let target, !target.isEmpty else { return true }
        if IRCMask(target, caseMapping: self.caseMapping).matches(self.serverName) { return true }
        return self.directory[folded: self.caseMapping.fold(target)] != nil
    }

    /// 402 for a server that is not this one; true when the command may go on.
    private func answersHere(_ message: IRCMessage, _ session: ChatSession) -> Bool {
        guard let target = message.parameters.first, !self.isThisServer(target) else { return true }
        self.numeric(.errNoSuchServer, to: session, [target, "No such server"])
        return false
    }

    /// `TIME [<server>]`: 391 with the server's clock as people read it (UTC).
    func time(_ message: IRCMessage, _ session: ChatSession) {
        guard self.answersHere(message, session) else { return }
        self.numeric(.rplTime, to: session, [self.serverName, ChatClock.dateText(seconds: self.clock.wallSeconds())])
    }

    /// `INFO [<server>]`: a few 371 lines about the software, then 374.
    func info(_ message: IRCMessage, _ session: ChatSession) {
        guard self.answersHere(message, session) else { return }
        let lines = [
            "\(ChatServer.version): the chat server of tincan, built on SwiftNIO.",
            "It speaks IRC (RFC 1459, RFC 2812, modern.ircdocs.horse) with IRCv3 capabilities,",
            "over TCP, TLS and WebSocket.",
            "This server was created \(self.createdText).",
        ]
        for line in lines { self.numeric(.rplInfo, to: session, [line]) }
        self.numeric(.rplEndOfInfo, to: session, ["End of INFO list"])
    }

    /// `VERSION [<server>]`: 351, then the ISUPPORT lines (005) again, as modern servers do.
    func version(_ message: IRCMessage, _ session: ChatSession) {
        guard self.answersHere(message, session), let nick = session.nick else { return }
        self.numeric(.rplVersion, to: session, [ChatServer.version, self.serverName, self.serverInfo])
        for line in self.isupport(for: session).messages(source: self.serverName, nick: nick) { self.send(line, to: session) }
    }

    /// `ADMIN [<server>]`: 256-259.
    func admin(_ message: IRCMessage, _ session: ChatSession) {
        guard self.answersHere(message, session) else { return }
        self.numeric(.rplAdminMe, to: session, [self.serverName, "Administrative info"])
        self.numeric(.rplAdminLoc1, to: session, ["\(self.serverInfo) on the \(self.configuration.network) network"])
        self.numeric(.rplAdminLoc2, to: session, ["Ask an IRC operator (LUSERS counts them)"])
        self.numeric(.rplAdminEmail, to: session, ["No administrator e-mail address is configured"])
    }

    /// `LINKS [[<server>] <mask>]`: this one server (hop count 0), when it matches, then 365.
    func links(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        if p.count > 1, !self.isThisServer(p[0]) {
            return self.numeric(.errNoSuchServer, to: session, [p[0], "No such server"])
        }
        let mask = p.last.flatMap { $0.isEmpty ? nil : $0 } ?? "*"
        if IRCMask(mask, caseMapping: self.caseMapping).matches(self.serverName) {
            self.numeric(.rplLinks, to: session, [self.serverName, self.serverName, "0 \(self.serverInfo)"])
        }
        self.numeric(.rplEndOfLinks, to: session, [mask, "End of /LINKS list"])
    }

    // MARK: HELP

    /// `HELP [<subject>]` and `HELPOP`: the topics (subject `index`), or one command's help;
    /// 524 for a subject there is none for. Subjects are commands, looked up case-insensitively.
    func help(_ message: IRCMessage, _ session: ChatSession) {
        let asked = message.parameters.first.flatMap { $0.isEmpty ? nil : $0 }
        let subject = asked?.uppercased() ?? "index"
        let lines: [String]
        if asked == nil || subject == "INDEX" {
            // The topics, a few to a line.
            let names = ChatCommands.table.keys.sorted()
            lines = ["Help topics available (HELP <topic>):"] + stride(from: 0, to: names.count, by: 8).map {
                names[$0..<min($0 + 8, names.count)].joined(separator: " ")
            }
        } else if let text = ChatHelp.topics[subject] {
            lines = text
        } else if ChatCommands.table[subject] != nil {
            lines = ["\(subject): see its section in modern.ircdocs.horse."]
        } else {
            return self.numeric(.errHelpNotFound, to: session, [asked ?? subject, "No help available on this topic"])
        }
        self.numeric(.rplHelpStart, to: session, [subject, lines[0]])
        for line in lines.dropFirst() { self.numeric(.rplHelpTxt, to: session, [subject, line]) }
        self.numeric(.rplEndOfHelp, to: session, [subject, "End of /HELP"])
    }

    // MARK: WALLOPS and user modes

    /// `WALLOPS <text>` (operators only: the table says so): to everyone with user mode +w and
    /// every operator, the sender included when it is one. It visits every registered session,
    /// which only an operator can ask for.
    func wallops(_ message: IRCMessage, _ session: ChatSession) {
        let text = String(message.parameters[0].prefix(self.limits.topicLength))
        let line = IRCMessage(source: session.mask, command: "WALLOPS", parameters: [text], trailing: true)
        let audience = self.directory.nicks.values.filter { $0.isOperator || self.directory.wallops.contains($0.id) }
        self.fanOut(line, to: audience, from: session, includeSender: true)
    }

    /// The session's user modes for 221: `+`, then `i`, `o`, `w` as set.
    func userModes(_ session: ChatSession) -> String {
        "+" + (session.invisible ? "i" : "") + (session.isOperator ? "o" : "") + (self.directory.wallops.contains(session.id) ? "w" : "")
    }

    /// `MODE <own nick> <changes>`: `i` and `w` either way, `-o` to stop being an operator
    /// (`+o` is OPER's). The changes made are echoed; an unknown letter gets 501 once, and the
    /// known ones still apply (as ngircd).
    func changeUserModes(_ changes: String, _ nick: String, _ session: ChatSession) {
        var adding = true
        var applied = ""
        var appliedSign: Character?
        var unknown = false
        func done(_ letter: Character) {
            let sign: Character = adding ? "+" : "-"
            if appliedSign != sign { applied.append(sign) }
            appliedSign = sign
            applied.append(letter)
        }
        // Bounded: a MODE line is at most 512 bytes.
        for letter in changes {
            switch letter {
            case "+", "-":
                adding = letter == "+"
            case "i" where session.invisible != adding:
                session.invisible = adding
                self.directory.invisibleCount += adding ? 1 : -1
                done(letter)
            case "w" where self.directory.wallops.contains(session.id) != adding:
                if adding { self.directory.wallops.insert(session.id) } else { self.directory.wallops.remove(session.id) }
                done(letter)
            case "o" where !adding && session.isOperator:
                session.isOperator = false
                self.directory.operatorCount -= 1
                for channel in session.channels { channel.refreshWatcher(session) }
                done(letter)
            case "i", "w", "o":
                break  // already so, or +o
            default:
                unknown = true
            }
        }
        if unknown { self.numeric(.errUModeUnknownFlag, to: session, ["Unknown MODE flag"]) }
        if !applied.isEmpty { self.send(IRCMessage(source: session.mask, command: "MODE", parameters: [nick, applied]), to: session) }
    }
}

/// One short text per command, for HELP: its syntax first, then what it does.
enum ChatHelp {
    static let topics: [String: [String]] = [
        "ADMIN": ["ADMIN [<server>]", "Who runs this server."],
        "AUTHENTICATE": ["AUTHENTICATE PLAIN, then AUTHENTICATE <base64>", "Logs in to an account with SASL PLAIN."],
        "AWAY": ["AWAY [<message>]", "Marks you away with a message, or back without one."],
        "CAP": ["CAP LS [302] | CAP REQ :<capabilities> | CAP LIST | CAP END", "Negotiates IRCv3 capabilities."],
        "CHATHISTORY": ["CHATHISTORY <subcommand> <target> ...", "Earlier messages of a channel or conversation."],
        "HELP": ["HELP [<topic>]", "Help on a command, or the list of topics. HELPOP is the same."],
        "HELPOP": ["HELPOP [<topic>]", "The same as HELP."],
        "INFO": ["INFO [<server>]", "About the server's software."],
        "ISON": ["ISON <nick> [<nick> ...]", "Which of the nicks are online."],
        "JOIN": ["JOIN <channel>{,<channel>}", "Joins channels, creating those that do not exist."],
        "KICK": ["KICK <channel> <nick> [<reason>]", "Removes someone from a channel (channel operators)."],
        "KILL": ["KILL <nick> <reason>", "Disconnects someone (IRC operators)."],
        "LINKS": ["LINKS [[<server>] <mask>]", "The servers of the network: this one."],
        "LIST": ["LIST [<channel>{,<channel>}]", "Channels, their sizes and topics."],
        "LUSERS": ["LUSERS", "How many users, operators, unknown connections and channels there are."],
        "MODE": [
            "MODE <channel> [+o|-o <nick>] | MODE <nick> [+i|-i|+w|-w|-o]",
            "Channel operators; your own modes: i invisible, w WALLOPS, o operator.",
        ],
        "MARKREAD": ["MARKREAD <target> [timestamp=<time>]", "Where you have read up to in a conversation."],
        "MONITOR": ["MONITOR +|- <nick>{,<nick>} | MONITOR C|L|S", "Tells you when nicks come online and leave."],
        "MOTD": ["MOTD", "The message of the day."],
        "NAMES": ["NAMES <channel>", "Who is in a channel."],
        "NICK": ["NICK <nick>", "Chooses or changes your nick."],
        "NICKSERV": ["NICKSERV <command> ...", "Account services: NICKSERV HELP lists them. NS is the same."],
        "NOTICE": ["NOTICE <target>{,<target>} <text>", "Like PRIVMSG, but never answered automatically."],
        "NS": ["NS <command> ...", "The same as NICKSERV."],
        "OPER": ["OPER <name> <password>", "Makes you an IRC operator."],
        "PART": ["PART <channel>{,<channel>} [<reason>]", "Leaves channels."],
        "PASS": ["PASS <password>", "The server's password, before registering."],
        "PING": ["PING <token>", "The server answers PONG with the token."],
        "PRIVMSG": ["PRIVMSG <target>{,<target>} <text>", "Sends a message to channels or people."],
        "PONG": ["PONG <token>", "The answer to the server's PING."],
        "QUIT": ["QUIT [<reason>]", "Disconnects, telling everyone who shares a channel with you."],
        "REGISTER": ["REGISTER <account> <email>|* <password>", "Creates an account for your nick."],
        "SETNAME": ["SETNAME <real name>", "Changes your real name."],
        "TAGMSG": ["TAGMSG <target>", "A message with only tags (typing notices, reactions)."],
        "TIME": ["TIME [<server>]", "The server's time (UTC)."],
        "TOPIC": ["TOPIC <channel> [<topic>]", "Shows or sets a channel's topic."],
        "USER": ["USER <username> 0 * <real name>", "Registers, with NICK."],
        "USERHOST": ["USERHOST <nick> [<nick> ...]", "The user@host of up to five nicks."],
        "VERIFY": ["VERIFY <account> <code>", "Completes an account's registration."],
        "VERSION": ["VERSION [<server>]", "The server's version and what it supports (005)."],
        "WALLOPS": ["WALLOPS <text>", "A message to everyone with user mode +w (IRC operators)."],
        "WHO": ["WHO <channel>|<mask>", "Who is in a channel, or whose nick matches."],
        "WHOIS": ["WHOIS <nick>", "About someone online."],
        "WHOWAS": ["WHOWAS <nick>{,<nick>} [<count>]", "Who had a nick before, newest first."],
    ]
}
