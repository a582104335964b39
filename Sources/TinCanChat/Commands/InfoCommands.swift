import NIOCore
import TinCanIRC

/// Information and presence: AWAY, ISON, USERHOST, WHO, WHOIS, MONITOR, MOTD, LUSERS (as
/// ngircd's irc-info.c).
extension ChatCore {
    func away(_ message: IRCMessage, _ session: ChatSession) {
        let text = message.parameters.first.map { String($0.prefix(self.limits.topicLength)) }
        if let text, !text.isEmpty {
            session.away = text
            self.numeric(.rplNowAway, to: session, ["You have been marked as being away"])
        } else {
            session.away = nil
            self.numeric(.rplUnAway, to: session, ["You are no longer marked as being away"])
        }
        let notice = IRCMessage(source: session.mask, command: "AWAY", parameters: session.away.map { [$0] } ?? [], trailing: session.away != nil)
        // Those who share a channel that is not quiet, and those who monitor the session.
        self.fanOut(notice, to: self.changeAudience(of: session, with: .awayNotify), from: nil)
    }

    /// SETNAME (IRCv3 setname): a new real name, confirmed to the session and told to those
    /// who share a channel with it or monitor it (extended-monitor), if they asked for setname.
    func setname(_ message: IRCMessage, _ session: ChatSession) {
        let name = message.parameters[0]
        guard !name.isEmpty, name.utf8.count <= self.limits.topicLength, case .registered(var identity) = session.registration else {
            return self.fail("SETNAME", "INVALID_REALNAME", [], "A real name is 1 to \(self.limits.topicLength) bytes", to: session)
        }
        identity.realName = name
        session.registration = .registered(identity)
        let line = IRCMessage(source: session.mask, command: "SETNAME", parameters: [name], trailing: true)
        var audience = self.changeAudience(of: session, with: .setname)
        if session.has(.setname) { audience.append(session) }
        self.fanOut(line, to: audience, from: nil)
    }

    func ison(_ message: IRCMessage, _ session: ChatSession) {
        let online = message.parameters.flatMap { $0.split(separator: " ") }.compactMap { self.directory[folded: self.caseMapping.fold(String($0))]?.nick }
        self.numeric(.rplIsOn, to: session, [online.joined(separator: " ")])
    }

    func userhost(_ message: IRCMessage, _ session: ChatSession) {
        let replies = message.parameters.prefix(5).compactMap { nick -> String? in
            guard let user = self.directory[folded: self.caseMapping.fold(nick)], let identity = user.identity else { return nil }
            return "\(identity.nick)\(user.isOperator ? "*" : "")=\(user.away == nil ? "+" : "-")\(identity.user)@\(user.host)"
        }
        self.numeric(.rplUserHost, to: session, [replies.joined(separator: " ")])
    }

    func who(_ message: IRCMessage, _ session: ChatSession) {
        let mask = message.parameters.first ?? "*"
        let page = self.limits.whoReplies
        var replies = 0
        var end = "End of WHO list"
        func reply(_ user: ChatSession, _ channel: ChatChannel?) {
            guard let identity = user.identity else { return }
            guard replies < page else {
                end = "End of WHO list (cut at \(page); narrow the mask)"
                return
            }
            replies += 1
            var flags = user.away == nil ? "H" : "G"
            if user.isOperator { flags += "*" }
            if let channel { flags += channel.prefix(of: user, all: session.has(.multiPrefix)) }
            self.numeric(.rplWhoReply, to: session, [
                channel?.name ?? "*", identity.user, user.host, self.serverName, identity.nick, flags, "0 \(identity.realName)",
            ])
        }
        if mask.hasPrefix("#") {
            // A +s channel's members are listed to its members only.
            if let channel = self.channels[mask], self.sees(channel, session) {
                if channel.isQuiet(mark: self.limits.quietPresence) {
                    // Its operators and the asker; the rest by nick mask, a page at a time.
                    for member in self.presenceAudience(channel, with: session) where channel.contains(member) { reply(member, channel) }
                    end = "End of WHO list (\(channel.name) is large: ask WHO with a nick mask)"
                } else {
                    for member in channel.members { reply(member, channel) }
                }
            }
        } else if let user = self.directory[folded: self.caseMapping.fold(mask)] {
            reply(user, user.channels.first)
        } else if mask.contains("*") || mask.contains("?") {
            let pattern = IRCMask(mask)
            // Only users who share a channel with the asker, so WHO * does not list the whole
            // server; at most a page of them.
            var seen: Set<Int> = []
            search: for channel in [nil] + session.channels.map(Optional.some) {
                for user in channel?.members ?? [session] where seen.insert(user.id).inserted {
                    if let nick = user.nick, pattern.matches(nick) || pattern.matches(user.mask) { reply(user, nil) }
                    if replies == page, end != "End of WHO list" { break search }
                }
            }
        }
        self.numeric(.rplEndOfWho, to: session, [mask, end])
    }

    func whois(_ message: IRCMessage, _ session: ChatSession) {
        guard let nick = message.parameters.last, !nick.isEmpty else {
            return self.numeric(.errNoNicknameGiven, to: session, ["No nickname given"])
        }
        if self.usesStore, self.caseMapping.fold(nick) == Self.nickServFolded {
            // NickServ is no session, but it is there to talk to.
            self.numeric(.rplWhoisUser, to: session, ["NickServ", "NickServ", "services.\(self.serverName)", "*", "Account services: /msg NickServ HELP"])
            self.numeric(.rplWhoisServer, to: session, ["NickServ", self.serverName, "tincan chat"])
            return self.numeric(.rplEndOfWhois, to: session, ["NickServ", "End of /WHOIS list"])
        }
        guard let user = self.directory[folded: self.caseMapping.fold(nick)], let identity = user.identity else {
            self.numeric(.errNoSuchNick, to: session, [nick, "No such nick/channel"])
            return self.numeric(.rplEndOfWhois, to: session, [nick, "End of /WHOIS list"])
        }
        let name = identity.nick
        self.numeric(.rplWhoisUser, to: session, [name, identity.user, user.host, "*", identity.realName])
        if user.channels.contains(where: { self.sees($0, session) }) {
            self.numeric(.rplWhoisChannels, to: session, [name, user.channels.filter { self.sees($0, session) }.map { $0.prefix(of: user, all: session.has(.multiPrefix)) + $0.name }.joined(separator: " ")])
        }
        self.numeric(.rplWhoisServer, to: session, [name, self.serverName, self.serverInfo])
        if let away = user.away { self.numeric(.rplAway, to: session, [name, away]) }
        if user.isOperator { self.numeric(.rplWhoisOperator, to: session, [name, "is an IRC operator"]) }
        if let account = user.account { self.numeric(.rplWhoisAccount, to: session, [name, account.name, "is logged in as"]) }
        let idle = max(0, Int((self.clock.now() - user.lastMessage).nanoseconds / 1_000_000_000))
        self.numeric(.rplWhoisIdle, to: session, [name, String(idle), String(user.signOn), "seconds idle, signon time"])
        self.numeric(.rplEndOfWhois, to: session, [name, "End of /WHOIS list"])
    }

    func monitor(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        let targets = p.count > 1 ? p[1].split(separator: ",").map(String.init).filter { !$0.isEmpty } : []
        switch p[0] {
        case "+":
            var online: [String] = []
            var offline: [String] = []
            var added: [ChatContact] = []
            for (index, nick) in targets.enumerated() {
                let folded = self.caseMapping.fold(nick)
                if session.monitoring[folded] == nil {
                    guard session.monitoring.count < self.limits.monitorEntries else {
                        self.numeric(.errMonListFull, to: session, [String(self.limits.monitorEntries), targets[index...].joined(separator: ","), "Monitor list is full."])
                        break
                    }
                    self.monitors.add(folded, nick: nick, for: session)
                    added.append(ChatContact(nick: nick, folded: folded))
                }
                if let user = self.directory[folded: folded] { online.append(user.mask) } else { offline.append(nick) }
            }
            if !online.isEmpty { self.numeric(.rplMonOnline, to: session, [online.joined(separator: ",")]) }
            if !offline.isEmpty { self.numeric(.rplMonOffline, to: session, [offline.joined(separator: ",")]) }
            // A logged-in session's MONITOR list is its account's contacts, kept by the store.
            if self.usesStore, let account = session.account, !added.isEmpty {
                self.effect(.keep(.updateContacts(folded: account.folded, adding: added, removing: [])))
            }
        case "-":
            let removed = targets.map { self.caseMapping.fold($0) }
            for folded in removed { self.monitors.remove(folded, for: session) }
            if self.usesStore, let account = session.account, !removed.isEmpty {
                self.effect(.keep(.updateContacts(folded: account.folded, adding: [], removing: removed)))
            }
        case "C", "c":
            self.monitors.removeAll(for: session)
            if self.usesStore, let account = session.account { self.effect(.keep(.clearContacts(folded: account.folded))) }
        case "L", "l":
            let all = session.monitoring.values.sorted()
            if !all.isEmpty { self.numeric(.rplMonList, to: session, [all.joined(separator: ",")]) }
            self.numeric(.rplEndOfMonList, to: session, ["End of MONITOR list"])
        case "S", "s":
            let online = session.monitoring.keys.compactMap { self.directory[folded: $0]?.mask }.sorted()
            let offline = session.monitoring.filter { self.directory[folded: $0.key] == nil }.map(\.value).sorted()
            if !online.isEmpty { self.numeric(.rplMonOnline, to: session, [online.joined(separator: ",")]) }
            if !offline.isEmpty { self.numeric(.rplMonOffline, to: session, [offline.joined(separator: ",")]) }
        default:
            self.numeric(.errUnknownCommand, to: session, ["MONITOR", "Unknown MONITOR subcommand"])
        }
    }

    /// LUSERS: every count kept as it changes (``ChatDirectory``), none counted here. Clients
    /// are registered sessions; connections that have not registered are unknown; the max is
    /// the most there have been at once.
    func lusers(_ session: ChatSession) {
        let d = self.directory
        let users = d.registeredCount
        let invisible = d.invisibleCount
        let peak = d.peakRegistered
        self.numeric(.rplLUserClient, to: session, ["There are \(users - invisible) users and \(invisible) invisible on 1 servers"])
        self.numeric(.rplLUserOp, to: session, [String(d.operatorCount), "operator(s) online"])
        self.numeric(.rplLUserUnknown, to: session, [String(d.connectedCount - users), "unknown connection(s)"])
        self.numeric(.rplLUserChannels, to: session, [String(self.channels.count), "channels formed"])
        self.numeric(.rplLUserMe, to: session, ["I have \(users) clients and 0 servers"])
        self.numeric(.rplLocalUsers, to: session, [String(users), String(peak), "Current local users \(users), max \(peak)"])
        self.numeric(.rplGlobalUsers, to: session, [String(users), String(peak), "Current global users \(users), max \(peak)"])
    }

    func motd(_ session: ChatSession) {
        guard let lines = self.configuration.motd else {
            return self.numeric(.errNoMotd, to: session, ["MOTD File is missing"])
        }
        self.numeric(.rplMotdStart, to: session, ["- \(self.serverName) Message of the day - "])
        for line in lines { self.numeric(.rplMotd, to: session, ["- " + line]) }
        self.numeric(.rplEndOfMotd, to: session, ["End of /MOTD command."])
    }
}
