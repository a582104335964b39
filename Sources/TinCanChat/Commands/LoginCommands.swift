import TinCanIRC

/// Registration and the connection's own commands: CAP, PASS, NICK, USER, PING, QUIT, and the
/// welcome (as ngircd's irc-login.c).
extension ChatCore {
    func cap(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        switch p[0].uppercased() {
        case "LS":
            self.negotiating(session)
            let version = p.dropFirst().first.flatMap(Int.init) ?? 0
            if version >= 302 { session.capabilities.insert(.capNotify) }
            // Values (`sasl=PLAIN`) only for clients that speak CAP 302.
            let list = self.offeredCapabilities.map { capability in
                guard version >= 302, let value = self.capabilityValue(capability) else { return capability.rawValue }
                return capability.rawValue + "=" + value
            }
            self.send(IRCMessage(source: self.serverName, command: "CAP", parameters: [session.target, "LS", list.joined(separator: " ")], trailing: true), to: session)
        case "LIST":
            let enabled = self.offeredCapabilities.filter(session.has).map(\.rawValue).joined(separator: " ")
            self.send(IRCMessage(source: self.serverName, command: "CAP", parameters: [session.target, "LIST", enabled], trailing: true), to: session)
        case "REQ":
            self.negotiating(session)
            let requested = p.count > 1 ? p[1] : ""
            var add: [ChatCapability] = []
            var remove: [ChatCapability] = []
            var ok = true
            for word in requested.split(separator: " ") {
                let removing = word.hasPrefix("-")
                guard let capability = ChatCapability(rawValue: String(removing ? word.dropFirst() : word)),
                    self.usesStore || !capability.needsStore
                else {
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

    /// The capabilities this server offers: those about accounts and history only with a store.
    var offeredCapabilities: [ChatCapability] {
        self.usesStore ? ChatCapability.allCases : ChatCapability.allCases.filter { !$0.needsStore }
    }

    private func capabilityValue(_ capability: ChatCapability) -> String? {
        switch capability {
        case .sasl: "PLAIN"
        case .accountRegistration: self.configuration.accounts.registration == .open ? "before-connect" : nil
        default: nil
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
        guard !p[0].isEmpty, !p[3].isEmpty else { return self.needMoreParameters("USER", session) }
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
        case .registered(let identity):
            guard wanted != identity.nick else { return }
            self.rename(session, to: wanted)
            // A registered nick taken without its account's login: the store says whose it is.
            if self.usesStore, identity.folded != folded, session.account?.folded != folded {
                self.effect(.ask(.nickOwner(folded: folded), for: session))
            }
        }
    }

    /// Changes a registered session's nick: everyone who sees it told, monitors too.
    func rename(_ session: ChatSession, to wanted: String) {
        guard case .registered(var identity) = session.registration else { return }
        self.rememberWhowas(session)
        let folded = self.caseMapping.fold(wanted)
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
            session.nickGraceEnds = nil
            self.notifyMonitors(oldFolded, online: nil, nick: oldNick)
            self.notifyMonitors(folded, online: session, nick: wanted)
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
    func tryRegister(_ session: ChatSession) {
        guard case .pending(var pending) = session.registration, !pending.negotiating, !pending.awaitingStore,
            session.sasl?.verifying != true, let nick = pending.nick, pending.user != nil
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
        let folded = self.caseMapping.fold(nick)
        guard self.usesStore, session.account?.folded != folded else { return self.completeRegistration(session) }
        pending.awaitingStore = true
        session.registration = .pending(pending)
        self.effect(.ask(.nickOwner(folded: folded), for: session))
    }

    /// The session becomes who it said it is: the welcome, its monitors told, the lobby joined.
    func completeRegistration(_ session: ChatSession) {
        guard case .pending(let pending) = session.registration, let nick = pending.nick, let user = pending.user else { return }
        let folded = self.caseMapping.fold(nick)
        if self.directory.isTaken(folded, by: session) {
            // Someone registered the nick while the store was answering.
            session.registration = .pending(ChatPendingRegistration(nick: nil, user: pending.user, realName: pending.realName, password: pending.password))
            return self.numeric(.errNicknameInUse, to: session, [nick, "Nickname is already in use"])
        }
        session.registration = .registered(ChatIdentity(nick: nick, folded: folded, user: user, realName: pending.realName ?? ""))
        self.directory.claim(folded, for: session)
        self.welcome(session, nick: nick)
        self.notifyMonitors(folded, online: session, nick: nick)
        if let lobby = self.configuration.lobby { self.join(channelNamed: lobby, session) }
        if let account = session.account { self.arrived(session, account) }
        self.logger.debug("client registered", metadata: ["client": "\(session.mask)"])
    }

    private func welcome(_ session: ChatSession, nick: String) {
        self.numeric(.rplWelcome, to: session, ["Welcome to the \(self.configuration.network) IRC network, \(session.mask)"])
        self.numeric(.rplYourHost, to: session, ["Your host is \(self.serverName), running version \(ChatServer.version)"])
        self.numeric(.rplCreated, to: session, ["This server was created \(self.createdText)"])
        self.numeric(.rplMyInfo, to: session, [self.serverName, ChatServer.version, "iow", "beIiklmnostv", "beIklov"])
        for message in self.isupport(for: session).messages(source: self.serverName, nick: nick) { self.send(message, to: session) }
        self.lusers(session)
        self.motd(session)
    }

    func isupport(for session: ChatSession) -> IRCISupport {
        let l = self.limits
        var tokens: [(key: String, value: String?)] = [
            ("AWAYLEN", String(l.topicLength)), ("CASEMAPPING", "rfc1459"), ("CHANLIMIT", "#:\(l.maxChannelsPerClient)"),
            ("CHANMODES", "beI,k,l,imnst"), ("CHANNELLEN", String(l.channelLength)), ("CHANTYPES", "#"), ("EXCEPTS", "e"), ("INVEX", "I"),
            ("KICKLEN", String(l.topicLength)), ("MAXLIST", "beI:\(ChatChannelModes.maxListEntries)"),
            ("MAXTARGETS", String(l.maxTargets)), ("MODES", String(ChatChannelModes.maxParameterModes)), ("MONITOR", String(l.monitorEntries)),
            ("NETWORK", self.configuration.network), ("NICKLEN", String(l.nickLength)), ("PREFIX", "(ov)@+"),
            ("QUIETPRESENCE", String(l.quietPresence)),
            ("SAFELIST", nil), ("STATUSMSG", "@"), ("TARGMAX", "PRIVMSG:\(l.maxTargets),NOTICE:\(l.maxTargets),MONITOR:"),
            ("TOPICLEN", String(l.topicLength)), ("UTF8ONLY", nil),
        ]
        if self.usesStore {
            // History: the most one CHATHISTORY reply holds, and how messages are referred to.
            tokens.append(("CHATHISTORY", String(self.configuration.accounts.historyReplyLimit)))
            tokens.append(("MSGREFTYPES", "timestamp,msgid"))
            // FILEHOST (soju.im/FILEHOST, and the IRCv3 draft's name): uploads on the HTTP port
            // need accounts. The configured public URL, or the address this client reached the
            // server at with the HTTP port.
            if let http = self.configuration.http, let port = http.boundPort {
                let scheme = self.configuration.tls == nil ? "http" : "https"
                let url = http.publicURL.flatMap { ChatOrigin(url: $0, allowPath: true)?.text }
                    ?? "\(scheme)://\(session.localHost ?? self.serverName):\(port)"
                tokens += [("draft/FILEHOST", url + "/upload"), ("soju.im/FILEHOST", url + "/upload")]
            }
        }
        return IRCISupport(tokens)
    }
}
