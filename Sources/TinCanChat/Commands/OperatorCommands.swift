import TinCanIRC

/// Modes and operators: MODE, OPER, KICK, KILL (as ngircd's irc-mode.c and irc-oper.c). Channel
/// modes are in ChannelModes.swift.
extension ChatCore {
    func mode(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        let target = p[0]
        if target.hasPrefix("#") { return self.channelMode(p, session) }
        guard let identity = session.identity, self.caseMapping.fold(target) == identity.folded else {
            return self.numeric(.errUsersDontMatch, to: session, ["Can't change mode for other users"])
        }
        guard p.count > 1 else {
            return self.numeric(.rplUModeIs, to: session, [self.userModes(session)])
        }
        self.changeUserModes(p[1], identity.nick, session)
    }

    func oper(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        guard !self.configuration.operators.isEmpty else {
            return self.numeric(.errNoOperHost, to: session, ["No O-lines for your host"])
        }
        guard let password = self.configuration.operators[p[0]], Self.constantTimeEqual(password, p[1]) else {
            self.logger.notice("failed OPER", metadata: ["client": "\(session.mask)", "name": "\(p[0])"])
            return self.numeric(.errPasswdMismatch, to: session, ["Password incorrect"])
        }
        let already = session.isOperator
        if !already { self.directory.operatorCount += 1 }
        session.isOperator = true
        for channel in session.channels { channel.refreshWatcher(session) }
        self.numeric(.rplYoureOper, to: session, ["You are now an IRC operator"])
        // The user mode that came with it, as every server says it.
        if !already, let nick = session.nick { self.send(IRCMessage(source: session.mask, command: "MODE", parameters: [nick, "+o"]), to: session) }
        self.logger.info("OPER", metadata: ["client": "\(session.mask)", "name": "\(p[0])"])
    }

    func kick(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        guard let channel = self.channels[p[0]] else {
            return self.numeric(.errNoSuchChannel, to: session, [p[0], "No such channel"])
        }
        guard channel.isOperator(session) || session.isOperator else {
            return self.numeric(.errChanOPrivsNeeded, to: session, [channel.name, "You're not channel operator"])
        }
        guard let user = self.directory[folded: self.caseMapping.fold(p[1])], channel.contains(user), let nick = user.nick else {
            return self.numeric(.errUserNotInChannel, to: session, [p[1], channel.name, "They aren't on that channel"])
        }
        let reason = p.count > 2 ? String(p[2].prefix(self.limits.topicLength)) : session.target
        self.fanOut(IRCMessage(source: session.mask, command: "KICK", parameters: [channel.name, nick, reason], trailing: true), to: channel.members, from: nil)
        self.leave(channel, user)
    }

    func kill(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        guard let user = self.directory[folded: self.caseMapping.fold(p[0])] else {
            return self.numeric(.errNoSuchNick, to: session, [p[0], "No such nick/channel"])
        }
        self.logger.info("KILL", metadata: ["by": "\(session.mask)", "target": "\(user.mask)", "reason": "\(p[1])"])
        self.drop(user, reason: "Killed (\(session.target) (\(p[1])))")
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        var difference = x.count ^ y.count
        for index in 0..<max(x.count, y.count) {
            difference |= Int((index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0))
        }
        return difference == 0
    }
}
