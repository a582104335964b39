import TinCanIRC

/// NickServ, for clients that know neither SASL nor REGISTER: `/msg NickServ REGISTER password`,
/// `IDENTIFY [account] password`, `SET PASSWORD new`, `DROP`, `INFO [nick]`, `HELP`. It is not a
/// session: messages to it (and the `NICKSERV` and `NS` commands) are handled here, and its
/// answers are NOTICEs from `NickServ!NickServ@services.<server>`. Nobody can take its nick.
extension ChatCore {
    static let nickServFolded = "nickserv"

    var nickServMask: String { "NickServ!NickServ@services.\(self.serverName)" }

    /// `NICKSERV text...` and `NS text...`.
    func nickServCommand(_ message: IRCMessage, _ session: ChatSession) {
        self.nickServ(message.parameters.joined(separator: " "), from: session)
    }

    /// A NickServ answer to the session.
    func nickServ(_ session: ChatSession, _ text: String) {
        self.send(IRCMessage(source: self.nickServMask, command: "NOTICE", parameters: [session.target, text], trailing: true), to: session)
    }

    /// One line to NickServ. Passwords in it are never logged.
    func nickServ(_ text: String, from session: ChatSession) {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let verb = words.first?.uppercased() else { return self.nickServHelp(session) }
        let arguments = Array(words.dropFirst())
        guard self.usesStore else { return self.nickServ(session, "This server keeps no accounts.") }
        switch verb {
        case "REGISTER":
            guard let password = arguments.first else { return self.nickServ(session, "Syntax: REGISTER <password>") }
            guard self.configuration.accounts.registration == .open else {
                return self.nickServ(session, "Registration is closed on this server; ask its operator for an account.")
            }
            if let account = session.account { return self.nickServ(session, "You are already logged in as \(account.name).") }
            guard let nick = session.identity?.nick else { return }
            guard password.utf8.count < Self.passwordLimit else {
                return self.nickServ(session, "Passwords are shorter than \(Self.passwordLimit) bytes.")
            }
            self.effect(.ask(.register(name: nick, folded: self.caseMapping.fold(nick), password: password, via: .nickServ), for: session))
        case "IDENTIFY", "LOGIN":
            guard let nick = session.identity?.nick, !arguments.isEmpty else { return self.nickServ(session, "Syntax: IDENTIFY [account] <password>") }
            let (name, password) = arguments.count >= 2 ? (arguments[0], arguments[1]) : (nick, arguments[0])
            guard ChatNicks.isValid(name, limit: self.limits.nickLength) else { return self.nickServ(session, "\(name) is not an account name.") }
            self.effect(.ask(.login(name: name, folded: self.caseMapping.fold(name), password: password, address: session.host, via: .nickServ), for: session))
        case "SET":
            guard arguments.count >= 2, arguments[0].uppercased() == "PASSWORD" else {
                return self.nickServ(session, "Syntax: SET PASSWORD <new password>")
            }
            guard let account = session.account else { return self.nickServ(session, "Log in first (IDENTIFY).") }
            guard arguments[1].utf8.count < Self.passwordLimit else {
                return self.nickServ(session, "Passwords are shorter than \(Self.passwordLimit) bytes.")
            }
            self.effect(.ask(.setPassword(folded: account.folded, password: arguments[1]), for: session))
        case "DROP":
            guard let account = session.account else { return self.nickServ(session, "Log in first (IDENTIFY): you can drop only your own account.") }
            if let named = arguments.first, self.caseMapping.fold(named) != account.folded {
                return self.nickServ(session, "You can drop only your own account, \(account.name).")
            }
            self.effect(.ask(.dropAccount(folded: account.folded), for: session))
        case "INFO":
            guard let name = arguments.first ?? session.account?.name ?? session.nick else { return }
            guard ChatNicks.isValid(name, limit: self.limits.nickLength) else { return self.nickServ(session, "\(name) is not an account name.") }
            self.effect(.ask(.accountInfo(folded: self.caseMapping.fold(name)), for: session))
        case "HELP":
            self.nickServHelp(session)
        default:
            self.nickServ(session, "Unknown command \(verb). Try HELP.")
        }
    }

    private func nickServHelp(_ session: ChatSession) {
        for line in [
            "NickServ keeps accounts: a registered nick is yours, and messages sent while you are away wait for you.",
            "REGISTER <password>: register your current nick.",
            "IDENTIFY [account] <password>: log in.",
            "SET PASSWORD <new password>: change your password (logged in).",
            "DROP: delete your account (logged in).",
            "INFO [nick]: when an account was registered and last seen.",
            "Clients with SASL PLAIN or the REGISTER command can use those instead.",
        ] {
            self.nickServ(session, line)
        }
    }

    /// The store answered SET PASSWORD or DROP.
    func nickServDone(_ request: ChatStoreRequest, _ found: Bool, _ session: ChatSession) {
        switch request {
        case .setPassword:
            self.nickServ(session, found ? "Password changed." : "Your account no longer exists.")
        case .dropAccount(let folded):
            if session.account?.folded == folded { self.logOut(session) }
            self.nickServ(session, found ? "Account dropped." : "There was no such account.")
        default:
            break
        }
    }

    func nickServInfo(_ record: ChatAccountRecord?, folded: String, _ session: ChatSession) {
        guard let record else { return self.nickServ(session, "\(folded) is not registered.") }
        var text = "\(record.name): registered \(ChatClock.dateText(seconds: Int(record.created / 1000)))"
        let online = !self.directory.sessions(ofAccount: record.folded).isEmpty
        if online {
            text += ", online now"
        } else if let seen = record.lastSeen {
            text += ", last seen \(ChatClock.dateText(seconds: Int(seen / 1000)))"
        }
        self.nickServ(session, text + ".")
    }
}
