import TinCanIRC

/// Channels: JOIN, PART, TOPIC, NAMES, LIST (as ngircd's irc-channel.c).
extension ChatCore {
    func join(_ message: IRCMessage, _ session: ChatSession) {
        let list = message.parameters[0]
        guard !list.isEmpty else { return self.needMoreParameters("JOIN", session) }
        if list == "0" {
            for channel in session.channels { self.part(channel, session, reason: nil) }
            return
        }
        // `JOIN #a,#b key1,key2`: keys in the channels' order.
        let keys = message.parameters.count > 1 ? message.parameters[1].split(separator: ",", omittingEmptySubsequences: false) : []
        for (index, name) in list.split(separator: ",").enumerated() {
            self.join(channelNamed: String(name), session, key: index < keys.count ? String(keys[index]) : nil)
        }
    }

    func join(channelNamed name: String, _ session: ChatSession, key: String? = nil) {
        guard ChatChannels.isValidName(name, limit: self.limits.channelLength) else {
            return self.numeric(.errNoSuchChannel, to: session, [name, "No such channel"])
        }
        let existing = self.channels[name]
        if let existing, existing.contains(session) { return }
        guard session.channels.count < self.limits.maxChannelsPerClient else {
            return self.numeric(.errTooManyChannels, to: session, [name, "You have joined too many channels"])
        }
        let channel: ChatChannel
        if let existing {
            if let (numeric, text) = self.joinRefusal(existing, session, key: key) {
                return self.numeric(numeric, to: session, [existing.name, text])
            }
            existing.takeInvitation(session)
            channel = existing
        } else {
            channel = ChatChannel(name: name, folded: self.caseMapping.fold(name), created: self.clock.wallSeconds(), permanent: false)
            self.channels.add(channel)
            channel.setOperator(session, true)
        }
        channel.add(session)
        session.channels.append(channel)
        let join = IRCMessage(source: session.mask, command: "JOIN", parameters: [channel.name])
        let audience = self.presenceAudience(channel, with: session)
        if self.usesStore {
            // extended-join: the account (or `*`) and the real name, for those who asked.
            let extended = IRCMessage(
                source: session.mask, command: "JOIN", parameters: [channel.name, session.account?.name ?? "*", session.identity?.realName ?? ""],
                trailing: true
            )
            self.fanOut(join, to: audience.lazy.filter { !$0.has(.extendedJoin) }, from: nil)
            self.fanOut(extended, to: audience.lazy.filter { $0.has(.extendedJoin) }, from: nil)
        } else {
            self.fanOut(join, to: audience, from: nil)
        }
        if let away = session.away {
            // away-notify: those in the channel learn that who joined is away.
            let line = IRCMessage(source: session.mask, command: "AWAY", parameters: [away], trailing: true)
            self.fanOut(line, to: audience.lazy.filter { $0 !== session && $0.has(.awayNotify) }, from: nil)
        }
        if channel.topic != nil { self.sendTopic(channel, to: session) }
        self.sendNames(channel, to: session, end: false)
        if !self.sendReadMarker(of: channel, to: session) {
            self.numeric(.rplEndOfNames, to: session, [channel.name, "End of /NAMES list."])
        }
        if channel.isQuiet(mark: self.limits.quietPresence) {
            let text = "\(channel.name) has \(channel.members.count) members: past \(self.limits.quietPresence), joins, parts and quits "
                + "are not shown and NAMES lists its operators; MONITOR your contacts, and WHO a nick mask to search"
            self.send(IRCMessage(source: self.serverName, command: "NOTICE", parameters: [session.target, text], trailing: true), to: session)
        }
    }

    func part(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        guard !p[0].isEmpty else { return self.needMoreParameters("PART", session) }
        let reason = p.count > 1 ? String(p[1].prefix(self.limits.topicLength)) : nil
        for name in p[0].split(separator: ",") {
            guard let channel = self.channels[String(name)] else {
                self.numeric(.errNoSuchChannel, to: session, [String(name), "No such channel"])
                continue
            }
            guard channel.contains(session) else {
                self.numeric(.errNotOnChannel, to: session, [channel.name, "You're not on that channel"])
                continue
            }
            self.part(channel, session, reason: reason)
        }
    }

    private func part(_ channel: ChatChannel, _ session: ChatSession, reason: String?) {
        let message = IRCMessage(source: session.mask, command: "PART", parameters: [channel.name] + (reason.map { [$0] } ?? []), trailing: reason != nil)
        self.fanOut(message, to: self.presenceAudience(channel, with: session), from: nil)
        self.leave(channel, session)
    }

    /// Takes the session out of the channel (PART, KICK), and the channel away when it is empty.
    func leave(_ channel: ChatChannel, _ session: ChatSession) {
        self.channels.leave(channel, session)
        session.channels.removeAll { $0 === channel }
    }

    func sendTopic(_ channel: ChatChannel, to session: ChatSession) {
        guard let topic = channel.topic else {
            return self.numeric(.rplNoTopic, to: session, [channel.name, "No topic is set"])
        }
        self.numeric(.rplTopic, to: session, [channel.name, topic])
        if let by = channel.topicSetBy, let at = channel.topicSetAt {
            self.numeric(.rplTopicWhoTime, to: session, [channel.name, by, String(at)])
        }
    }

    /// - Parameter end: whether RPL_ENDOFNAMES follows (a join sends it after the read marker).
    func sendNames(_ channel: ChatChannel, to session: ChatSession, end: Bool = true) {
        // A secret channel is named to its members alone, with `@` for its kind.
        guard self.sees(channel, session) else {
            if end { self.numeric(.rplEndOfNames, to: session, [channel.name, "End of /NAMES list."]) }
            return
        }
        // As many names per line as keep it well inside 512 bytes.
        let kind = channel.modes.flags.contains(.secret) ? "@" : "="
        let all = session.has(.multiPrefix)
        let head = ":\(self.serverName) 353 \(session.target) \(kind) \(channel.name) :".utf8.count
        var line: [String] = []
        var length = head
        // A quiet channel lists its operators and the asker: the rest would cost every joiner
        // a line per member.
        let listed = channel.isQuiet(mark: self.limits.quietPresence) ? self.presenceAudience(channel, with: session) : channel.members
        for member in listed where channel.contains(member) {
            guard let nick = member.nick else { continue }  // members are registered
            let entry = channel.prefix(of: member, all: all) + (session.has(.userhostInNames) ? member.mask : nick)
            if length + entry.utf8.count + 1 > 500, !line.isEmpty {
                self.numeric(.rplNamReply, to: session, [kind, channel.name, line.joined(separator: " ")])
                line = []
                length = head
            }
            line.append(entry)
            length += entry.utf8.count + 1
        }
        if !line.isEmpty { self.numeric(.rplNamReply, to: session, [kind, channel.name, line.joined(separator: " ")]) }
        if end { self.numeric(.rplEndOfNames, to: session, [channel.name, "End of /NAMES list."]) }
    }

    func topic(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        guard let channel = self.channels[p[0]] else {
            return self.numeric(.errNoSuchChannel, to: session, [p[0], "No such channel"])
        }
        guard p.count > 1 else { return self.sendTopic(channel, to: session) }
        guard channel.contains(session) else {
            return self.numeric(.errNotOnChannel, to: session, [channel.name, "You're not on that channel"])
        }
        // +t: channel operators set topics; in the lobby, which has none, IRC operators.
        guard self.maySetTopic(session, of: channel) else {
            return self.numeric(.errChanOPrivsNeeded, to: session, [channel.name, "You're not channel operator"])
        }
        let text = String(p[1].prefix(self.limits.topicLength))
        channel.topic = text.isEmpty ? nil : text
        channel.topicSetBy = session.mask
        channel.topicSetAt = self.clock.wallSeconds()
        self.fanOut(IRCMessage(source: session.mask, command: "TOPIC", parameters: [channel.name, text], trailing: true), to: channel.members, from: nil)
    }

    func names(_ message: IRCMessage, _ session: ChatSession) {
        guard let list = message.parameters.first else {
            return self.numeric(.rplEndOfNames, to: session, ["*", "End of /NAMES list."])
        }
        for name in list.split(separator: ",") {
            if let channel = self.channels[String(name)] {
                self.sendNames(channel, to: session)
            } else {
                self.numeric(.rplEndOfNames, to: session, [String(name), "End of /NAMES list."])
            }
        }
    }

    /// `LIST` lists every channel; `LIST #a,#b` those of them that exist (the page counts a large
    /// room's members this way). ELIST conditions (`>n`, `<n`) are not supported: such a
    /// parameter names no channel, so nothing is listed.
    func list(_ message: IRCMessage, _ session: ChatSession) {
        self.numeric(.rplListStart, to: session, ["Channel", "Users  Name"])
        let listed: [ChatChannel]
        if let names = message.parameters.first, !names.isEmpty {
            var seen: Set<String> = []
            listed = names.split(separator: ",").compactMap { self.channels[String($0)] }.filter { seen.insert($0.folded).inserted }
        } else {
            listed = self.channels.byName.values.sorted(by: { $0.folded < $1.folded })
        }
        for channel in listed where self.sees(channel, session) {
            self.numeric(.rplList, to: session, [channel.name, String(channel.members.count), channel.topic ?? ""])
        }
        self.numeric(.rplListEnd, to: session, ["End of /LIST"])
    }
}
