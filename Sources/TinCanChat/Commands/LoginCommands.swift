import TinCanIRC

/// Registration and the connection's own commands: CAP, PASS, NICK, USER, PING, QUIT, and the
/// welcome (as ngircd's irc-login.c).
extension ChatCore {
    func cap(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        let all = ChatCapability.allCases.map(\.rawValue).joined(separator: " ")
        switch p[0].uppercased() {
        case "LS":
            self.negotiating(session)
            if let version = p.dropFirst().first.flatMap(Int.init), version >= 302 {
                session.capabilities.insert(.capNotify)
            }
            self.send(IRCMessage(source: self.serverName, command: "CAP", parameters: [session.target, "LS", all], trailing: true), to: session)
        case "LIST":
            let enabled = ChatCapability.allCases.filter(session.has).map(\.rawValue).joined(separator: " ")
            self.send(IRCMessage(source: self.serverName, command: "CAP", parameters: [session.target, "LIST", enabled], trailing: true), to: session)
        case "REQ":
            self.negotiating(session)
            let requested = p.count > 1 ? p[1] : ""
            var add: [ChatCapability] = []
            var remove: [ChatCapability] = []
            var ok = true
            for word in requested.split(separator: " ") {
                let removing = word.hasPrefix("-")
                guard let capability = ChatCapability(rawValue: String(removing ? word.dropFirst() : word)) else {
                    ok = false
                    break
                }
                if removing { remove.append(capability) } else { add.append(capability) }
            }
            // The answer goes out before the change: capabilities apply from the next message on.
            self.send(IRCMessage(source: self.serverName, command: "CAP", parameters: [session.target, ok ? "ACK" : "NAK", requested], trailing: true), to: session)
            if ok {
                for capability in add { session.capabilities.insert(capability) }
                for capability in remove { session.capabilities.remove(capability) }
            }
        case "END":
            guard case .pending(var pending) = session.registration else { return }
            pending.negotiating = false
            session.registration = .pending(pending)
            self.tryRegister(session)
        default:
            self.numeric(.errInvalidCapCmd, to: session, [p[0], "Invalid CAP command"])
        }
    }

    /// CAP LS or REQ before registering holds registration until CAP END.
    private func negotiating(_ session: ChatSession) {
        guard case .pending(var pending) = session.registration else { return }
        pending.negotiating = true
        session.registration = .pending(pending)
    }

    func pass(_ message: IRCMessage, _ session: ChatSession) {
        guard case .pending(var pending) = session.registration else { return }
        pending.password = message.parameters[0]
        session.registration = .pending(pending)
    }

    func user(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        guard !p[0].isEmpty else { return self.needMoreParameters("USER", session) }
        guard case .pending(var pending) = session.registration else { return }
        // The username as the client gave it, made safe for a mask; "~" marks it unverified (no ident).
        let name = String(p[0].filter { $0.isLetter || $0.isNumber || "-_.".contains($0) }.prefix(10))
        pending.user = "~" + (name.isEmpty ? "user" : name)
        pending.realName = String(p[3].prefix(self.limits.topicLength))
        session.registration = .pending(pending)
        self.tryRegister(session)
    }

    func nick(_ message: IRCMessage, _ session: ChatSession) {
        guard let wanted = message.parameters.first, !wanted.isEmpty else {
            return self.numeric(.errNoNicknameGiven, to: session, ["No nickname given"])
        }
        guard ChatNicks.isValid(wanted, limit: self.limits.nickLength) else {
            return self.numeric(.errErroneousNickname, to: session, [wanted, "Erroneous nickname"])
        }
        let folded = self.caseMapping.fold(wanted)
        if self.directory.isTaken(folded, by: session) {
            return self.numeric(.errNicknameInUse, to: session, [wanted, "Nickname is already in use"])
        }
        switch session.registration {
        case .pending(var pending):
            pending.nick = wanted
            session.registration = .pending(pending)
            self.tryRegister(session)
        case .registered(var identity):
            guard wanted != identity.nick else { return }
            let change = IRCMessage(source: session.mask, command: "NICK", parameters: [wanted])
            var recipients = self.presencePeers(of: session)
            recipients.append(session)
            self.fanOut(change, to: recipients, from: nil)
            let (oldFolded, oldNick) = (identity.folded, identity.nick)
            self.directory.release(oldFolded)
            identity.nick = wanted
            identity.folded = folded
            session.registration = .registered(identity)
            self.directory.claim(folded, for: session)
            if oldFolded != folded {
                self.notifyMonitors(oldFolded, online: nil, nick: oldNick)
                self.notifyMonitors(folded, online: session, nick: wanted)
            }
        }
    }

    func ping(_ message: IRCMessage, _ session: ChatSession) {
        self.send(IRCMessage(source: self.serverName, command: "PONG", parameters: [self.serverName, message.parameters[0]], trailing: true), to: session)
    }

    func quit(_ message: IRCMessage, _ session: ChatSession) {
        self.drop(session, reason: message.parameters.first.map { "Quit: \($0)" } ?? "Quit")
    }

    /// Registers the session once it has given NICK and USER (and CAP END, and the password).
    /// With a store, the store is asked about the nick first, and registration completes when
    /// it answers (``storeAnswered(_:for:)``).
    private func tryRegister(_ session: ChatSession) {
        guard case .pending(var pending) = session.registration, !pending.negotiating, !pending.awaitingStore,
            let nick = pending.nick, pending.user != nil
        else { return }
        if let password = self.configuration.password, pending.password != password {
            self.numeric(.errPasswdMismatch, to: session, ["Password incorrect"])
            self.drop(session, reason: "Bad password")
            return
        }
        if self.directory.isTaken(self.caseMapping.fold(nick), by: session) {
            // Taken between NICK and USER: the client must pick another before it can register.
            pending.nick = nil
            session.registration = .pending(pending)
            return self.numeric(.errNicknameInUse, to: session, [nick, "Nickname is already in use"])
        }
        guard self.usesStore else { return self.completeRegistration(session, account: nil) }
        pending.awaitingStore = true
        session.registration = .pending(pending)
        self.effect(.ask(.account(folded: self.caseMapping.fold(nick)), for: session))
    }

    /// The session becomes who it said it is: the welcome, its monitors told, the lobby joined.
    func completeRegistration(_ session: ChatSession, account: String?) {
        guard case .pending(let pending) = session.registration, let nick = pending.nick, let user = pending.user else { return }
        let folded = self.caseMapping.fold(nick)
        if self.directory.isTaken(folded, by: session) {
            // Someone registered the nick while the store was answering.
            session.registration = .pending(ChatPendingRegistration(nick: nil, user: pending.user, realName: pending.realName, password: pending.password))
            return self.numeric(.errNicknameInUse, to: session, [nick, "Nickname is already in use"])
        }
        session.registration = .registered(ChatIdentity(nick: nick, folded: folded, user: user, realName: pending.realName ?? "", account: account))
        self.directory.claim(folded, for: session)
        self.welcome(session, nick: nick)
        self.notifyMonitors(folded, online: session, nick: nick)
        self.join(channelNamed: self.configuration.lobby, session)
        self.logger.debug("client registered", metadata: ["client": "\(session.mask)"])
    }

    private func welcome(_ session: ChatSession, nick: String) {
        self.numeric(.rplWelcome, to: session, ["Welcome to the \(self.configuration.network) IRC network, \(session.mask)"])
        self.numeric(.rplYourHost, to: session, ["Your host is \(self.serverName), running version \(ChatServer.version)"])
        self.numeric(.rplCreated, to: session, ["This server was created \(self.createdText)"])
        self.numeric(.rplMyInfo, to: session, [self.serverName, ChatServer.version, "io", "nt", "o"])
        for message in self.isupport.messages(source: self.serverName, nick: nick) { self.send(message, to: session) }
        self.lusers(session)
        self.motd(session)
    }

    var isupport: IRCISupport {
        let l = self.limits
        var support = IRCISupport([
            ("AWAYLEN", String(l.topicLength)), ("CASEMAPPING", "rfc1459"), ("CHANLIMIT", "#:\(l.maxChannelsPerClient)"),
            ("CHANMODES", ",,,nt"), ("CHANNELLEN", String(l.channelLength)), ("CHANTYPES", "#"),
            ("KICKLEN", String(l.topicLength)), ("MAXTARGETS", String(l.maxTargets)), ("MONITOR", String(l.monitorEntries)),
            ("NETWORK", self.configuration.network), ("NICKLEN", String(l.nickLength)), ("PREFIX", "(o)@"),
            ("QUIETPRESENCE", String(l.quietPresence)),
            ("SAFELIST", nil), ("STATUSMSG", "@"), ("TARGMAX", "PRIVMSG:\(l.maxTargets),NOTICE:\(l.maxTargets),MONITOR:"),
            ("TOPICLEN", String(l.topicLength)), ("UTF8ONLY", nil),
        ])
        support.tokens += self.fileHostTokens
        return support
    }

    /// FILEHOST (soju.im/FILEHOST, and the IRCv3 draft's name): uploads on the HTTP port, which
    /// need accounts (a store). The server has put the port's public URL in the configuration.
    private var fileHostTokens: [(key: String, value: String?)] {
        guard self.usesStore, let url = self.configuration.http?.publicURL else { return [] }
        return [("draft/FILEHOST", url + "/upload"), ("soju.im/FILEHOST", url + "/upload")]
    }
}
