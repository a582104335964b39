#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import TinCanIRC

/// The chat server's state and rules: clients, nicks, channels, monitors, and what every command
/// does. One instance, confined to one event loop (every call comes from that loop), so no locks;
/// sockets stay outside: a client is reached through its ``ChatConnection``.
///
/// Fan-out writes a message once per variant (with or without the `time` tag, with or without
/// client tags) to the round's logs, and each recipient notes where; once the event loop has
/// handled everything that was ready, each client gets its slices of the logs in one write
/// (``flushDirty()``). A thousand members of a channel cost a thousand notes, not a thousand
/// copies.
final class ChatCore {
    let configuration: ChatServerConfiguration
    let logger: Logger
    private let caseMapping = IRCCaseMapping.rfc1459
    private let createdText: String
    private let createdSeconds: Int
    /// Reads the clock; tests give fixed times.
    private let clock: ChatClock

    private var nextID = 0
    private(set) var clients: [Int: ChatClient] = [:]
    private var nicks: [String: ChatClient] = [:]
    private var channels: [String: ChatChannel] = [:]
    /// Who monitors a folded nick.
    private var monitors: [String: Set<Int>] = [:]
    private var perAddress: [String: Int] = [:]
    private var dirty: [ChatClient] = []
    /// Clients gone whose QUIT is still to be fanned out (``disconnected(_:reason:)``).
    private var departures = CircularBuffer<(ChatClient, String)>()
    private var announcingDepartures = false
    /// Clients whose unsent bytes passed the socket's high-water mark (``ChatServer/backlogMark``).
    private var backedUp: Set<Int> = []
    /// Reading from every client is paused until the backlog drains.
    private(set) var overloaded = false
    /// Called when the first client gets unflushed bytes in this round: the server schedules
    /// ``flushDirty()`` after the round's I/O.
    var onFirstDirty: () -> Void = {}

    init(configuration: ChatServerConfiguration, logger: Logger, clock: ChatClock = ChatClock()) {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.createdSeconds = clock.wallSeconds()
        self.createdText = ChatClock.dateText(seconds: self.createdSeconds)
        let lobby = configuration.lobby
        self.channels[self.caseMapping.fold(lobby)] = ChatChannel(
            name: lobby, folded: self.caseMapping.fold(lobby), created: self.createdSeconds, permanent: true
        )
    }

    var registeredCount: Int { self.nicks.count }
    var channelCount: Int { self.channels.count }
    private var limits: ChatLimits { self.configuration.limits }
    private var serverName: String { self.configuration.name }

    // MARK: connections

    /// A new connection: a client, or the reason it is refused (sent as ERROR, then closed).
    func connected(_ connection: any ChatConnection, host: String) -> (client: ChatClient?, refusal: String?) {
        if self.clients.count >= self.limits.maxClients {
            return (nil, "Server is full (\(self.limits.maxClients) clients)")
        }
        if self.perAddress[host, default: 0] >= self.limits.maxClientsPerAddress {
            return (nil, "Too many connections from \(host) (\(self.limits.maxClientsPerAddress))")
        }
        self.nextID += 1
        let client = ChatClient(id: self.nextID, connection: connection, host: host, now: self.clock.now(), wallSeconds: self.clock.wallSeconds())
        self.clients[client.id] = client
        self.perAddress[host, default: 0] += 1
        if self.overloaded { connection.pauseForOverload(true) }
        return (client, nil)
    }

    /// The connection is gone (closed, reset, killed, timed out): tell everyone who shared a
    /// channel with the client, and its monitors.
    ///
    /// Telling them can find more connections gone (a write to a closed socket): those wait in
    /// ``departures`` and are handled by the loop here, one after the other, instead of inside
    /// the first one's fan-out. When every client leaves at once, recursion would go a client
    /// deep, with a list of peers held at each level.
    func disconnected(_ client: ChatClient, reason: String) {
        guard self.clients.removeValue(forKey: client.id) != nil else { return }
        client.closing = true
        self.departures.append((client, reason))
        guard !self.announcingDepartures else { return }
        self.announcingDepartures = true
        while let (client, reason) = self.departures.popFirst() { self.announceDeparture(client, reason: reason) }
        self.announcingDepartures = false
    }

    private func announceDeparture(_ client: ChatClient, reason: String) {
        if self.backedUp.remove(client.id) != nil { self.updateOverload() }
        self.perAddress[client.host, default: 1] -= 1
        if self.perAddress[client.host] == 0 { self.perAddress[client.host] = nil }
        if client.registered {
            let quit = IRCMessage(source: client.mask, command: "QUIT", parameters: [reason], trailing: true)
            self.fanOut(quit, to: self.peers(of: client), from: client)
            for channel in client.channels { self.leave(channel, client) }
            client.channels = []
            if let folded = client.foldedNick {
                self.nicks[folded] = nil
                self.notifyMonitors(folded, online: nil, nick: client.nick!)
            }
        }
        for folded in client.monitoring.keys { self.monitors[folded]?.remove(client.id) }
        self.logger.debug("client left", metadata: ["client": "\(client.mask)", "reason": "\(reason)"])
    }

    /// Ends a client from the server's side: ERROR to it, then the connection closes.
    func drop(_ client: ChatClient, reason: String) {
        guard !client.closing else { return }
        self.send(IRCMessage(command: "ERROR", parameters: ["Closing Link: \(client.host) (\(reason))"], trailing: true), to: client)
        self.push(client)
        client.connection.close()
        self.disconnected(client, reason: reason)
    }

    // MARK: input

    func received(_ line: IRCInboundLine, from client: ChatClient) {
        guard !client.closing else { return }
        client.lastActivity = self.clock.now()
        client.pingOutstanding = false
        switch line {
        case .tooLong:
            self.numeric(.errInputTooLong, to: client, ["Input line was too long"])
        case .malformed:
            break  // nothing that can be answered
        case .message(let message):
            self.handle(message, from: client)
        }
    }

    private func handle(_ message: IRCMessage, from client: ChatClient) {
        let command = message.command.uppercased()
        let p = message.parameters
        if !client.registered {
            switch command {
            case "CAP", "PASS", "NICK", "USER", "PING", "PONG", "QUIT":
                break
            default:
                self.numeric(.errNotRegistered, to: client, ["You have not registered"])
                return
            }
        }
        switch command {
        case "CAP": self.cap(p, client)
        case "PASS": self.pass(p, client)
        case "NICK": self.nick(p, client)
        case "USER": self.user(p, client)
        case "PING":
            guard let token = p.first else { return self.needMore("PING", client) }
            self.send(IRCMessage(source: self.serverName, command: "PONG", parameters: [self.serverName, token], trailing: true), to: client)
        case "PONG": break
        case "QUIT":
            let reason = p.first.map { "Quit: \($0)" } ?? "Quit"
            self.drop(client, reason: reason)
        case "JOIN": self.join(p, client)
        case "PART": self.part(p, client)
        case "PRIVMSG", "NOTICE", "TAGMSG": self.message(command, message, client)
        case "TOPIC": self.topic(p, client)
        case "NAMES": self.names(p, client)
        case "LIST": self.list(client)
        case "AWAY": self.away(p, client)
        case "ISON": self.ison(p, client)
        case "USERHOST": self.userhost(p, client)
        case "WHO": self.who(p, client)
        case "WHOIS": self.whois(p, client)
        case "MONITOR": self.monitor(p, client)
        case "MODE": self.mode(p, client)
        case "MOTD": self.motd(client)
        case "LUSERS": self.lusers(client)
        case "OPER": self.oper(p, client)
        case "KICK": self.kick(p, client)
        case "KILL": self.kill(p, client)
        default:
            self.numeric(.errUnknownCommand, to: client, [message.command, "Unknown command"])
        }
    }

    // MARK: registration

    private func cap(_ p: [String], _ client: ChatClient) {
        guard let sub = p.first?.uppercased() else { return self.needMore("CAP", client) }
        let all = ChatCapability.allCases.map(\.rawValue).joined(separator: " ")
        switch sub {
        case "LS":
            if !client.registered { client.capNegotiating = true }
            if let version = p.dropFirst().first.flatMap(Int.init), version >= 302 {
                client.capabilities.insert(.capNotify)
            }
            self.send(IRCMessage(source: self.serverName, command: "CAP", parameters: [client.target, "LS", all], trailing: true), to: client)
        case "LIST":
            let enabled = ChatCapability.allCases.filter(client.has).map(\.rawValue).joined(separator: " ")
            self.send(IRCMessage(source: self.serverName, command: "CAP", parameters: [client.target, "LIST", enabled], trailing: true), to: client)
        case "REQ":
            if !client.registered { client.capNegotiating = true }
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
            self.send(IRCMessage(source: self.serverName, command: "CAP", parameters: [client.target, ok ? "ACK" : "NAK", requested], trailing: true), to: client)
            if ok {
                for capability in add { client.capabilities.insert(capability) }
                for capability in remove { client.capabilities.remove(capability) }
            }
        case "END":
            guard !client.registered else { return }
            client.capNegotiating = false
            self.tryRegister(client)
        default:
            self.numeric(.errInvalidCapCmd, to: client, [p[0], "Invalid CAP command"])
        }
    }

    private func pass(_ p: [String], _ client: ChatClient) {
        guard !client.registered else { return self.numeric(.errAlreadyRegistered, to: client, ["You may not reregister"]) }
        guard let password = p.first else { return self.needMore("PASS", client) }
        client.passwordGiven = password
    }

    private func user(_ p: [String], _ client: ChatClient) {
        guard !client.registered else { return self.numeric(.errAlreadyRegistered, to: client, ["You may not reregister"]) }
        guard p.count >= 4, !p[0].isEmpty else { return self.needMore("USER", client) }
        // The username as the client gave it, made safe for a mask; "~" marks it unverified (no ident).
        let name = String(p[0].filter { $0.isLetter || $0.isNumber || "-_.".contains($0) }.prefix(10))
        client.user = "~" + (name.isEmpty ? "user" : name)
        client.realName = String(p[3].prefix(self.limits.topicLength))
        self.tryRegister(client)
    }

    private func nick(_ p: [String], _ client: ChatClient) {
        guard let wanted = p.first, !wanted.isEmpty else {
            return self.numeric(.errNoNicknameGiven, to: client, ["No nickname given"])
        }
        guard self.isValidNick(wanted) else {
            return self.numeric(.errErroneousNickname, to: client, [wanted, "Erroneous nickname"])
        }
        let folded = self.caseMapping.fold(wanted)
        if let holder = self.nicks[folded], holder !== client {
            return self.numeric(.errNicknameInUse, to: client, [wanted, "Nickname is already in use"])
        }
        guard client.registered else {
            client.nick = wanted
            self.tryRegister(client)
            return
        }
        guard wanted != client.nick else { return }
        let change = IRCMessage(source: client.mask, command: "NICK", parameters: [wanted])
        var recipients = self.peers(of: client)
        recipients.append(client)
        self.fanOut(change, to: recipients, from: nil)
        let oldFolded = client.foldedNick!
        let oldNick = client.nick!
        self.nicks[oldFolded] = nil
        client.nick = wanted
        client.foldedNick = folded
        self.nicks[folded] = client
        if oldFolded != folded {
            self.notifyMonitors(oldFolded, online: nil, nick: oldNick)
            self.notifyMonitors(folded, online: client, nick: wanted)
        }
    }

    private func isValidNick(_ nick: String) -> Bool {
        guard nick.utf8.count <= self.limits.nickLength, let first = nick.utf8.first else { return false }
        func special(_ byte: UInt8) -> Bool { "[]\\`_^{|}".utf8.contains(byte) }
        func letter(_ byte: UInt8) -> Bool { (65...90).contains(byte) || (97...122).contains(byte) }
        guard letter(first) || special(first) else { return false }
        return nick.utf8.allSatisfy { letter($0) || special($0) || (48...57).contains($0) || $0 == UInt8(ascii: "-") }
    }

    private func tryRegister(_ client: ChatClient) {
        guard !client.registered, !client.capNegotiating, let nick = client.nick, client.user != nil else { return }
        if let password = self.configuration.password, client.passwordGiven != password {
            self.numeric(.errPasswdMismatch, to: client, ["Password incorrect"])
            self.drop(client, reason: "Bad password")
            return
        }
        let folded = self.caseMapping.fold(nick)
        if let holder = self.nicks[folded], holder !== client {
            // Taken between NICK and USER: the client must pick another before it can register.
            client.nick = nil
            return self.numeric(.errNicknameInUse, to: client, [nick, "Nickname is already in use"])
        }
        client.registered = true
        client.foldedNick = folded
        self.nicks[folded] = client
        self.welcome(client)
        self.notifyMonitors(folded, online: client, nick: nick)
        self.join(channelNamed: self.configuration.lobby, client)
        self.logger.debug("client registered", metadata: ["client": "\(client.mask)"])
    }

    private func welcome(_ client: ChatClient) {
        let nick = client.nick!
        self.numeric(.rplWelcome, to: client, ["Welcome to the \(self.configuration.network) IRC network, \(client.mask)"])
        self.numeric(.rplYourHost, to: client, ["Your host is \(self.serverName), running version \(ChatServer.version)"])
        self.numeric(.rplCreated, to: client, ["This server was created \(self.createdText)"])
        self.numeric(.rplMyInfo, to: client, [self.serverName, ChatServer.version, "io", "nt", "o"])
        for message in self.isupport.messages(source: self.serverName, nick: nick) { self.send(message, to: client) }
        self.lusers(client)
        self.motd(client)
    }

    var isupport: IRCISupport {
        let l = self.limits
        return IRCISupport([
            ("AWAYLEN", String(l.topicLength)), ("CASEMAPPING", "rfc1459"), ("CHANLIMIT", "#:\(l.maxChannelsPerClient)"),
            ("CHANMODES", ",,,nt"), ("CHANNELLEN", String(l.channelLength)), ("CHANTYPES", "#"),
            ("KICKLEN", String(l.topicLength)), ("MAXTARGETS", String(l.maxTargets)), ("MONITOR", String(l.monitorEntries)),
            ("NETWORK", self.configuration.network), ("NICKLEN", String(l.nickLength)), ("PREFIX", "(o)@"),
            ("SAFELIST", nil), ("STATUSMSG", "@"), ("TARGMAX", "PRIVMSG:\(l.maxTargets),NOTICE:\(l.maxTargets),MONITOR:"),
            ("TOPICLEN", String(l.topicLength)), ("UTF8ONLY", nil),
        ])
    }

    private func lusers(_ client: ChatClient) {
        let users = self.nicks.count
        let unknown = self.clients.count - users
        let operators = self.nicks.values.filter(\.isOperator).count
        self.numeric(.rplLUserClient, to: client, ["There are \(users) users and 0 invisible on 1 servers"])
        self.numeric(.rplLUserOp, to: client, [String(operators), "operator(s) online"])
        self.numeric(.rplLUserUnknown, to: client, [String(unknown), "unknown connection(s)"])
        self.numeric(.rplLUserChannels, to: client, [String(self.channels.count), "channels formed"])
        self.numeric(.rplLUserMe, to: client, ["I have \(self.clients.count) clients and 0 servers"])
        self.numeric(.rplLocalUsers, to: client, [String(users), String(self.limits.maxClients), "Current local users \(users), max \(self.limits.maxClients)"])
        self.numeric(.rplGlobalUsers, to: client, [String(users), String(self.limits.maxClients), "Current global users \(users), max \(self.limits.maxClients)"])
    }

    private func motd(_ client: ChatClient) {
        guard let lines = self.configuration.motd else {
            return self.numeric(.errNoMotd, to: client, ["MOTD File is missing"])
        }
        self.numeric(.rplMotdStart, to: client, ["- \(self.serverName) Message of the day - "])
        for line in lines { self.numeric(.rplMotd, to: client, ["- " + line]) }
        self.numeric(.rplEndOfMotd, to: client, ["End of /MOTD command."])
    }

    // MARK: channels

    private func isValidChannel(_ name: String) -> Bool {
        name.hasPrefix("#") && name.utf8.count > 1 && name.utf8.count <= self.limits.channelLength
            && !name.utf8.contains(where: { $0 == 0x20 || $0 == 0x07 || $0 == UInt8(ascii: ",") || $0 < 0x20 })
    }

    private func join(_ p: [String], _ client: ChatClient) {
        guard let list = p.first, !list.isEmpty else { return self.needMore("JOIN", client) }
        if list == "0" {
            for channel in client.channels { self.part(channel, client, reason: nil) }
            return
        }
        for name in list.split(separator: ",") { self.join(channelNamed: String(name), client) }
    }

    private func join(channelNamed name: String, _ client: ChatClient) {
        guard self.isValidChannel(name) else {
            return self.numeric(.errNoSuchChannel, to: client, [name, "No such channel"])
        }
        let folded = self.caseMapping.fold(name)
        let channel: ChatChannel
        if let existing = self.channels[folded] {
            guard !existing.contains(client) else { return }
            channel = existing
        } else {
            channel = ChatChannel(name: name, folded: folded, created: self.clock.wallSeconds(), permanent: false)
        }
        guard client.channels.count < self.limits.maxChannelsPerClient else {
            return self.numeric(.errTooManyChannels, to: client, [name, "You have joined too many channels"])
        }
        if self.channels[folded] == nil {
            self.channels[folded] = channel
            channel.operators.insert(client.id)
        }
        channel.add(client)
        client.channels.append(channel)
        self.fanOut(IRCMessage(source: client.mask, command: "JOIN", parameters: [channel.name]), to: channel.members, from: nil)
        if channel.topic != nil { self.sendTopic(channel, to: client) }
        self.sendNames(channel, to: client)
    }

    private func part(_ p: [String], _ client: ChatClient) {
        guard let list = p.first, !list.isEmpty else { return self.needMore("PART", client) }
        let reason = p.count > 1 ? String(p[1].prefix(self.limits.topicLength)) : nil
        for name in list.split(separator: ",") {
            guard let channel = self.channels[self.caseMapping.fold(String(name))] else {
                self.numeric(.errNoSuchChannel, to: client, [String(name), "No such channel"])
                continue
            }
            guard channel.contains(client) else {
                self.numeric(.errNotOnChannel, to: client, [channel.name, "You're not on that channel"])
                continue
            }
            self.part(channel, client, reason: reason)
        }
    }

    private func part(_ channel: ChatChannel, _ client: ChatClient, reason: String?) {
        let message = IRCMessage(source: client.mask, command: "PART", parameters: [channel.name] + (reason.map { [$0] } ?? []), trailing: reason != nil)
        self.fanOut(message, to: channel.members, from: nil)
        self.leave(channel, client)
        client.channels.removeAll { $0 === channel }
    }

    /// Takes the client out of the channel, and the channel away when it is left empty.
    private func leave(_ channel: ChatChannel, _ client: ChatClient) {
        channel.remove(client)
        if channel.members.isEmpty, !channel.permanent { self.channels[channel.folded] = nil }
    }

    private func sendTopic(_ channel: ChatChannel, to client: ChatClient) {
        guard let topic = channel.topic else {
            return self.numeric(.rplNoTopic, to: client, [channel.name, "No topic is set"])
        }
        self.numeric(.rplTopic, to: client, [channel.name, topic])
        if let by = channel.topicSetBy, let at = channel.topicSetAt {
            self.numeric(.rplTopicWhoTime, to: client, [channel.name, by, String(at)])
        }
    }

    private func sendNames(_ channel: ChatChannel, to client: ChatClient) {
        // As many names per line as keep it well inside 512 bytes.
        let head = ":\(self.serverName) 353 \(client.target) = \(channel.name) :".utf8.count
        var line: [String] = []
        var length = head
        for member in channel.members {
            let entry = channel.prefix(of: member) + member.nick!
            if length + entry.utf8.count + 1 > 500, !line.isEmpty {
                self.numeric(.rplNamReply, to: client, ["=", channel.name, line.joined(separator: " ")])
                line = []
                length = head
            }
            line.append(entry)
            length += entry.utf8.count + 1
        }
        if !line.isEmpty { self.numeric(.rplNamReply, to: client, ["=", channel.name, line.joined(separator: " ")]) }
        self.numeric(.rplEndOfNames, to: client, [channel.name, "End of /NAMES list."])
    }

    private func topic(_ p: [String], _ client: ChatClient) {
        guard let name = p.first else { return self.needMore("TOPIC", client) }
        guard let channel = self.channels[self.caseMapping.fold(name)] else {
            return self.numeric(.errNoSuchChannel, to: client, [name, "No such channel"])
        }
        guard p.count > 1 else { return self.sendTopic(channel, to: client) }
        guard channel.contains(client) else {
            return self.numeric(.errNotOnChannel, to: client, [channel.name, "You're not on that channel"])
        }
        // +t everywhere: channel operators set topics; in the lobby, which has none, IRC operators.
        guard channel.operators.contains(client.id) || client.isOperator else {
            return self.numeric(.errChanOPrivsNeeded, to: client, [channel.name, "You're not channel operator"])
        }
        let text = String(p[1].prefix(self.limits.topicLength))
        channel.topic = text.isEmpty ? nil : text
        channel.topicSetBy = client.mask
        channel.topicSetAt = self.clock.wallSeconds()
        self.fanOut(IRCMessage(source: client.mask, command: "TOPIC", parameters: [channel.name, text], trailing: true), to: channel.members, from: nil)
    }

    private func names(_ p: [String], _ client: ChatClient) {
        guard let list = p.first else {
            return self.numeric(.rplEndOfNames, to: client, ["*", "End of /NAMES list."])
        }
        for name in list.split(separator: ",") {
            if let channel = self.channels[self.caseMapping.fold(String(name))] {
                self.sendNames(channel, to: client)
            } else {
                self.numeric(.rplEndOfNames, to: client, [String(name), "End of /NAMES list."])
            }
        }
    }

    private func list(_ client: ChatClient) {
        self.numeric(.rplListStart, to: client, ["Channel", "Users  Name"])
        for channel in self.channels.values.sorted(by: { $0.folded < $1.folded }) {
            self.numeric(.rplList, to: client, [channel.name, String(channel.members.count), channel.topic ?? ""])
        }
        self.numeric(.rplListEnd, to: client, ["End of /LIST"])
    }

    // MARK: messages

    private func message(_ command: String, _ message: IRCMessage, _ client: ChatClient) {
        let p = message.parameters
        let notice = command == "NOTICE"
        guard let targets = p.first, !targets.isEmpty else {
            if notice { return }
            return self.numeric(.errNoRecipient, to: client, ["No recipient given (\(command))"])
        }
        let text: String?
        if command == "TAGMSG" {
            text = nil
        } else {
            guard p.count > 1, !p[1].isEmpty else {
                if notice { return }
                return self.numeric(.errNoTextToSend, to: client, ["No text to send"])
            }
            text = p[1]
        }
        client.lastMessage = self.clock.now()
        // Client-only tags (`+name`) travel to recipients that asked for message-tags.
        let clientTags = message.tags.filter { $0.key.hasPrefix("+") }
        if command == "TAGMSG", clientTags.isEmpty { return }
        for target in targets.split(separator: ",").prefix(self.limits.maxTargets) {
            let target = String(target)
            let outgoing = IRCMessage(source: client.mask, command: command, parameters: [target] + (text.map { [$0] } ?? []), trailing: text != nil)
            if target.hasPrefix("#") {
                guard let channel = self.channels[self.caseMapping.fold(target)] else {
                    if !notice { self.numeric(.errNoSuchChannel, to: client, [target, "No such channel"]) }
                    continue
                }
                guard channel.contains(client) else {
                    if !notice { self.numeric(.errCannotSendToChan, to: client, [channel.name, "Cannot send to channel"]) }
                    continue
                }
                var named = outgoing
                named.parameters[0] = channel.name
                self.fanOut(named, to: channel.members, from: client, clientTags: clientTags)
            } else {
                guard let recipient = self.nicks[self.caseMapping.fold(target)] else {
                    if !notice { self.numeric(.errNoSuchNick, to: client, [target, "No such nick/channel"]) }
                    continue
                }
                var named = outgoing
                named.parameters[0] = recipient.nick!
                self.fanOut(named, to: [recipient], from: client, clientTags: clientTags, includeSender: recipient === client)
                if command == "PRIVMSG", let away = recipient.away {
                    self.numeric(.rplAway, to: client, [recipient.nick!, away])
                }
            }
        }
    }

    // MARK: presence

    private func away(_ p: [String], _ client: ChatClient) {
        let text = p.first.map { String($0.prefix(self.limits.topicLength)) }
        if let text, !text.isEmpty {
            client.away = text
            self.numeric(.rplNowAway, to: client, ["You have been marked as being away"])
        } else {
            client.away = nil
            self.numeric(.rplUnAway, to: client, ["You are no longer marked as being away"])
        }
        let notice = IRCMessage(source: client.mask, command: "AWAY", parameters: client.away.map { [$0] } ?? [], trailing: client.away != nil)
        self.fanOut(notice, to: self.peers(of: client).filter { $0.has(.awayNotify) }, from: nil)
    }

    private func ison(_ p: [String], _ client: ChatClient) {
        guard !p.isEmpty else { return self.needMore("ISON", client) }
        let online = p.flatMap { $0.split(separator: " ") }.compactMap { self.nicks[self.caseMapping.fold(String($0))]?.nick }
        self.numeric(.rplIsOn, to: client, [online.joined(separator: " ")])
    }

    private func userhost(_ p: [String], _ client: ChatClient) {
        guard !p.isEmpty else { return self.needMore("USERHOST", client) }
        let replies = p.prefix(5).compactMap { nick -> String? in
            guard let user = self.nicks[self.caseMapping.fold(nick)] else { return nil }
            return "\(user.nick!)\(user.isOperator ? "*" : "")=\(user.away == nil ? "+" : "-")\(user.user!)@\(user.host)"
        }
        self.numeric(.rplUserHost, to: client, [replies.joined(separator: " ")])
    }

    private func who(_ p: [String], _ client: ChatClient) {
        let mask = p.first ?? "*"
        func reply(_ user: ChatClient, _ channel: ChatChannel?) {
            var flags = user.away == nil ? "H" : "G"
            if user.isOperator { flags += "*" }
            if let channel { flags += channel.prefix(of: user) }
            self.numeric(.rplWhoReply, to: client, [
                channel?.name ?? "*", user.user!, user.host, self.serverName, user.nick!, flags, "0 \(user.realName ?? "")",
            ])
        }
        if mask.hasPrefix("#") {
            if let channel = self.channels[self.caseMapping.fold(mask)] {
                for member in channel.members { reply(member, channel) }
            }
        } else if let user = self.nicks[self.caseMapping.fold(mask)] {
            reply(user, user.channels.first)
        } else if mask.contains("*") || mask.contains("?") {
            let pattern = IRCMask(mask)
            // Only users who share a channel with the asker, so WHO * does not list the whole server.
            var seen: Set<Int> = [client.id]
            for user in [client] + self.peers(of: client) where pattern.matches(user.nick!) || pattern.matches(user.mask) {
                if user === client || seen.insert(user.id).inserted { reply(user, nil) }
            }
        }
        self.numeric(.rplEndOfWho, to: client, [mask, "End of WHO list"])
    }

    private func whois(_ p: [String], _ client: ChatClient) {
        guard let nick = p.last, !nick.isEmpty else {
            return self.numeric(.errNoNicknameGiven, to: client, ["No nickname given"])
        }
        guard let user = self.nicks[self.caseMapping.fold(nick)] else {
            self.numeric(.errNoSuchNick, to: client, [nick, "No such nick/channel"])
            return self.numeric(.rplEndOfWhois, to: client, [nick, "End of /WHOIS list"])
        }
        let name = user.nick!
        self.numeric(.rplWhoisUser, to: client, [name, user.user!, user.host, "*", user.realName ?? ""])
        if !user.channels.isEmpty {
            self.numeric(.rplWhoisChannels, to: client, [name, user.channels.map { $0.prefix(of: user) + $0.name }.joined(separator: " ")])
        }
        self.numeric(.rplWhoisServer, to: client, [name, self.serverName, "tincan chat"])
        if let away = user.away { self.numeric(.rplAway, to: client, [name, away]) }
        if user.isOperator { self.numeric(.rplWhoisOperator, to: client, [name, "is an IRC operator"]) }
        let idle = max(0, Int((self.clock.now() - user.lastMessage).nanoseconds / 1_000_000_000))
        self.numeric(.rplWhoisIdle, to: client, [name, String(idle), String(user.signOn), "seconds idle, signon time"])
        self.numeric(.rplEndOfWhois, to: client, [name, "End of /WHOIS list"])
    }

    private func monitor(_ p: [String], _ client: ChatClient) {
        guard let sub = p.first else { return self.needMore("MONITOR", client) }
        let targets = p.count > 1 ? p[1].split(separator: ",").map(String.init).filter { !$0.isEmpty } : []
        switch sub {
        case "+":
            var online: [String] = []
            var offline: [String] = []
            for (index, nick) in targets.enumerated() {
                let folded = self.caseMapping.fold(nick)
                if client.monitoring[folded] == nil {
                    guard client.monitoring.count < self.limits.monitorEntries else {
                        self.numeric(.errMonListFull, to: client, [String(self.limits.monitorEntries), targets[index...].joined(separator: ","), "Monitor list is full."])
                        break
                    }
                    client.monitoring[folded] = nick
                    self.monitors[folded, default: []].insert(client.id)
                }
                if let user = self.nicks[folded] { online.append(user.mask) } else { offline.append(nick) }
            }
            if !online.isEmpty { self.numeric(.rplMonOnline, to: client, [online.joined(separator: ",")]) }
            if !offline.isEmpty { self.numeric(.rplMonOffline, to: client, [offline.joined(separator: ",")]) }
        case "-":
            for nick in targets {
                let folded = self.caseMapping.fold(nick)
                client.monitoring[folded] = nil
                self.monitors[folded]?.remove(client.id)
            }
        case "C", "c":
            for folded in client.monitoring.keys { self.monitors[folded]?.remove(client.id) }
            client.monitoring = [:]
        case "L", "l":
            let all = client.monitoring.values.sorted()
            if !all.isEmpty { self.numeric(.rplMonList, to: client, [all.joined(separator: ",")]) }
            self.numeric(.rplEndOfMonList, to: client, ["End of MONITOR list"])
        case "S", "s":
            let online = client.monitoring.keys.compactMap { self.nicks[$0]?.mask }.sorted()
            let offline = client.monitoring.filter { self.nicks[$0.key] == nil }.map(\.value).sorted()
            if !online.isEmpty { self.numeric(.rplMonOnline, to: client, [online.joined(separator: ",")]) }
            if !offline.isEmpty { self.numeric(.rplMonOffline, to: client, [offline.joined(separator: ",")]) }
        default:
            self.numeric(.errUnknownCommand, to: client, ["MONITOR", "Unknown MONITOR subcommand"])
        }
    }

    /// Tells everyone monitoring `folded` that it came online (as `online`) or went offline.
    private func notifyMonitors(_ folded: String, online: ChatClient?, nick: String) {
        guard let watchers = self.monitors[folded], !watchers.isEmpty else { return }
        for id in watchers {
            guard let watcher = self.clients[id], watcher.registered else { continue }
            if let online {
                self.numeric(.rplMonOnline, to: watcher, [online.mask])
            } else {
                self.numeric(.rplMonOffline, to: watcher, [nick])
            }
        }
    }

    // MARK: modes and operators

    private func mode(_ p: [String], _ client: ChatClient) {
        guard let target = p.first else { return self.needMore("MODE", client) }
        if target.hasPrefix("#") {
            guard let channel = self.channels[self.caseMapping.fold(target)] else {
                return self.numeric(.errNoSuchChannel, to: client, [target, "No such channel"])
            }
            guard p.count > 1 else {
                self.numeric(.rplChannelModeIs, to: client, [channel.name, "+nt"])
                return self.numeric(.rplCreationTime, to: client, [channel.name, String(channel.created)])
            }
            let change = p[1]
            if change == "b" || change == "+b" {
                return self.numeric(.rplEndOfBanList, to: client, [channel.name, "End of channel ban list"])
            }
            guard change == "+o" || change == "-o" else {
                // The letter alone, as other servers name it: `MODE #a +k key` gets `472 ann k`.
                let letter = change.first { $0 != "+" && $0 != "-" }.map(String.init) ?? change
                return self.numeric(.errUnknownMode, to: client, [letter, "is unknown mode char to me"])
            }
            guard p.count > 2 else { return self.needMore("MODE", client) }
            guard channel.operators.contains(client.id) || client.isOperator else {
                return self.numeric(.errChanOPrivsNeeded, to: client, [channel.name, "You're not channel operator"])
            }
            guard let user = self.nicks[self.caseMapping.fold(p[2])], channel.contains(user) else {
                return self.numeric(.errUserNotInChannel, to: client, [p[2], channel.name, "They aren't on that channel"])
            }
            if change == "+o" { channel.operators.insert(user.id) } else { channel.operators.remove(user.id) }
            self.fanOut(IRCMessage(source: client.mask, command: "MODE", parameters: [channel.name, change, user.nick!]), to: channel.members, from: nil)
            return
        }
        guard self.caseMapping.fold(target) == client.foldedNick else {
            return self.numeric(.errUsersDontMatch, to: client, ["Can't change mode for other users"])
        }
        guard p.count > 1 else {
            return self.numeric(.rplUModeIs, to: client, [client.invisible ? "+i" : "+"])
        }
        // +i and -i are taken (and change nothing visible: WHO never lists the whole server).
        let change = p[1]
        guard change == "+i" || change == "-i" else {
            return self.numeric(.errUModeUnknownFlag, to: client, ["Unknown MODE flag"])
        }
        client.invisible = change == "+i"
        self.send(IRCMessage(source: client.mask, command: "MODE", parameters: [client.nick!, change]), to: client)
    }

    private func oper(_ p: [String], _ client: ChatClient) {
        guard p.count >= 2 else { return self.needMore("OPER", client) }
        guard !self.configuration.operators.isEmpty else {
            return self.numeric(.errNoOperHost, to: client, ["No O-lines for your host"])
        }
        guard let password = self.configuration.operators[p[0]], ChatCore.constantTimeEqual(password, p[1]) else {
            self.logger.notice("failed OPER", metadata: ["client": "\(client.mask)", "name": "\(p[0])"])
            return self.numeric(.errPasswdMismatch, to: client, ["Password incorrect"])
        }
        client.isOperator = true
        self.numeric(.rplYoureOper, to: client, ["You are now an IRC operator"])
        self.logger.info("OPER", metadata: ["client": "\(client.mask)", "name": "\(p[0])"])
    }

    private func kick(_ p: [String], _ client: ChatClient) {
        guard p.count >= 2 else { return self.needMore("KICK", client) }
        guard let channel = self.channels[self.caseMapping.fold(p[0])] else {
            return self.numeric(.errNoSuchChannel, to: client, [p[0], "No such channel"])
        }
        guard channel.operators.contains(client.id) || client.isOperator else {
            return self.numeric(.errChanOPrivsNeeded, to: client, [channel.name, "You're not channel operator"])
        }
        guard let user = self.nicks[self.caseMapping.fold(p[1])], channel.contains(user) else {
            return self.numeric(.errUserNotInChannel, to: client, [p[1], channel.name, "They aren't on that channel"])
        }
        let reason = p.count > 2 ? String(p[2].prefix(self.limits.topicLength)) : client.nick!
        self.fanOut(IRCMessage(source: client.mask, command: "KICK", parameters: [channel.name, user.nick!, reason], trailing: true), to: channel.members, from: nil)
        self.leave(channel, user)
        user.channels.removeAll { $0 === channel }
    }

    private func kill(_ p: [String], _ client: ChatClient) {
        guard client.isOperator else { return self.numeric(.errNoPrivileges, to: client, ["Permission Denied- You're not an IRC operator"]) }
        guard p.count >= 2 else { return self.needMore("KILL", client) }
        guard let user = self.nicks[self.caseMapping.fold(p[0])] else {
            return self.numeric(.errNoSuchNick, to: client, [p[0], "No such nick/channel"])
        }
        self.logger.info("KILL", metadata: ["by": "\(client.mask)", "target": "\(user.mask)", "reason": "\(p[1])"])
        self.drop(user, reason: "Killed (\(client.nick!) (\(p[1])))")
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        var difference = x.count ^ y.count
        for index in 0..<max(x.count, y.count) {
            difference |= Int((index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0))
        }
        return difference == 0
    }

    // MARK: liveness

    /// Pings clients idle for `pingInterval` and drops those that left a ping unanswered for
    /// `pingTimeout`; the server calls this every few seconds.
    func checkLiveness() {
        let now = self.clock.now()
        for client in Array(self.clients.values) {
            let idle = now - client.lastActivity
            if client.pingOutstanding {
                if idle >= self.configuration.pingInterval + self.configuration.pingTimeout {
                    let seconds = (self.configuration.pingInterval + self.configuration.pingTimeout).nanoseconds / 1_000_000_000
                    self.drop(client, reason: "Ping timeout: \(seconds) seconds")
                }
            } else if idle >= self.configuration.pingInterval {
                client.pingOutstanding = true
                self.send(IRCMessage(command: "PING", parameters: [self.serverName]), to: client)
            }
        }
        self.flushDirty()
    }

    /// Tells every client why, and closes them (graceful shutdown).
    func shutDown(reason: String) {
        for client in Array(self.clients.values) { self.drop(client, reason: reason) }
    }

    // MARK: output

    /// Everyone who shares a channel with `client`, once each, without the client.
    private func peers(of client: ChatClient) -> [ChatClient] {
        if client.channels.count == 1 { return client.channels[0].members.filter { $0 !== client } }
        var seen: Set<Int> = [client.id]
        var result: [ChatClient] = []
        for channel in client.channels {
            for member in channel.members where seen.insert(member.id).inserted { result.append(member) }
        }
        return result
    }

    private func needMore(_ command: String, _ client: ChatClient) {
        self.numeric(.errNeedMoreParams, to: client, [command, "Not enough parameters"])
    }

    /// Numerics whose last parameter is a value, not text: written without the colon.
    private static let valueNumerics: Set<IRCNumeric> = [.rplMyInfo, .rplUModeIs, .rplChannelModeIs, .rplCreationTime, .rplTopicWhoTime]

    private func numeric(_ numeric: IRCNumeric, to client: ChatClient, _ parameters: [String]) {
        let trailing = !Self.valueNumerics.contains(numeric)
        self.send(IRCMessage(source: self.serverName, numeric, parameters: [client.target] + parameters, trailing: trailing), to: client)
    }

    /// Sends one message to one client, with the `time` tag when it asked for server-time.
    func send(_ message: IRCMessage, to client: ChatClient) {
        guard !client.closing else { return }
        var message = message
        let log = client.has(.serverTime) ? 1 : 0
        if log == 1 { message.tags.append(IRCTag("time", self.clock.timeTag())) }
        self.makeRoom()
        let start = self.logs[log].writerIndex
        self.logs[log].writeIRCMessage(message)
        self.deliver(ChatRun(log: log, start: start, end: self.logs[log].writerIndex), to: client)
    }

    /// Sends `message` to `recipients`, leaving out `sender` unless it asked for echo-message (or
    /// `includeSender`). Each variant of the bytes is written to the round's logs once.
    private func fanOut(
        _ message: IRCMessage,
        to recipients: some Sequence<ChatClient>,
        from sender: ChatClient?,
        clientTags: [IRCTag] = [],
        includeSender: Bool = false
    ) {
        self.makeRoom()
        // The logs must not start over while `variants` points into them (see ``flushDirty()``).
        self.fanOuts += 1
        defer { self.fanOuts -= 1 }
        // Where each variant went in its log, once written. Variant (and log) 0 is the message
        // as it is; bit 1 adds the `time` tag, bit 2 the client's tags.
        var variants: (ChatRun?, ChatRun?, ChatRun?, ChatRun?) = (nil, nil, nil, nil)
        var time: String?
        let tagsOnly = message.command == "TAGMSG"
        let anyTags = !clientTags.isEmpty
        let skipSender = !includeSender && !(sender?.has(.echoMessage) ?? true)
        for recipient in recipients {
            if recipient.closing || (skipSender && recipient === sender) { continue }
            let withTags = recipient.has(.messageTags)
            if tagsOnly, !withTags { continue }
            let key = (recipient.has(.serverTime) ? 1 : 0) + (withTags && anyTags ? 2 : 0)
            let cached: ChatRun?
            switch key {
            case 0: cached = variants.0
            case 1: cached = variants.1
            case 2: cached = variants.2
            default: cached = variants.3
            }
            let run: ChatRun
            if let cached {
                run = cached
            } else {
                var variant = message
                if key & 2 != 0 { variant.tags += clientTags }
                if key & 1 != 0 {
                    if time == nil { time = self.clock.timeTag() }
                    variant.tags.append(IRCTag("time", time!))
                }
                switch key {
                case 0: run = self.write(variant, toLog: 0, slot: &variants.0)
                case 1: run = self.write(variant, toLog: 1, slot: &variants.1)
                case 2: run = self.write(variant, toLog: 2, slot: &variants.2)
                default: run = self.write(variant, toLog: 3, slot: &variants.3)
                }
            }
            self.deliver(run, to: recipient)
        }
    }

    private func write(_ message: IRCMessage, toLog log: Int, slot: inout ChatRun?) -> ChatRun {
        let start = self.logs[log].writerIndex
        self.logs[log].writeIRCMessage(message)
        let run = ChatRun(log: log, start: start, end: self.logs[log].writerIndex)
        slot = run
        return run
    }

    /// This round's bytes, each written once, in four logs by variant (see ``fanOut``): a
    /// recipient notes where its bytes are (``ChatClient/runs``) and the round ends with one
    /// write of those slices per client. Everyone in a channel with the same capabilities gets
    /// one slice of one log, however many messages the round had, and no copy.
    private(set) var logs = [ByteBuffer](repeating: ByteBuffer(), count: 4)
    /// Log bytes past which the round ends early (at the next message): the most the logs hold
    /// at once, unless a client whose socket took only part of its slices keeps one alive.
    static let logLimit = 64 * 1024
    /// Runs one client can have in a round before its slices go to the socket early: bounds
    /// the list when private lines and channel lines alternate.
    static let runLimit = 32
    private var flushing = false
    /// Fan-outs under way (one inside another when a write finds a connection gone).
    private var fanOuts = 0

    /// Ends the round early when the logs are full (before a message, never in the middle of one).
    private func makeRoom() {
        if self.logs[0].writerIndex > Self.logLimit || self.logs[1].writerIndex > Self.logLimit
            || self.logs[2].writerIndex > Self.logLimit || self.logs[3].writerIndex > Self.logLimit
        {
            self.flushDirty()
        }
    }

    /// Notes that `run` is for `client`, after what it already has this round.
    private func deliver(_ run: ChatRun, to client: ChatClient) {
        if let last = client.runs.last, last.log == run.log, last.end == run.start {
            client.runs[client.runs.count - 1].end = run.end
        } else {
            if client.runs.count >= Self.runLimit {
                self.push(client)
                if client.closing { return }
            }
            client.runs.append(run)
        }
        if !client.dirty {
            client.dirty = true
            if self.dirty.isEmpty { self.onFirstDirty() }
            self.dirty.append(client)
        }
    }

    /// The client's socket passed its high-water mark (or came back under its low one).
    ///
    /// One client backed up is a slow reader: its queue grows to ``ChatLimits/sendQueueBytes`` and
    /// it is disconnected. Many backed up at once is the server producing faster than the network
    /// takes (a burst fanned out to many): then reading from every client pauses until half of
    /// them have drained, so the backlog stays bounded instead of growing with the burst, and
    /// nobody is disconnected for the server's own overload.
    func writabilityChanged(_ client: ChatClient, writable: Bool) {
        guard !client.closing else { return }
        if writable {
            guard self.backedUp.remove(client.id) != nil else { return }
        } else {
            guard self.backedUp.insert(client.id).inserted else { return }
            if client.connection.queuedBytes > self.limits.sendQueueBytes { return self.sendQueueExceeded(client) }
        }
        self.updateOverload()
    }

    /// Clients backed up at once that mean overload rather than a few slow readers.
    private var overloadThreshold: Int { max(8, self.clients.count / 20) }

    private func updateOverload() {
        if !self.overloaded, self.backedUp.count >= self.overloadThreshold {
            self.overloaded = true
            self.logger.debug("overloaded: reading paused", metadata: ["backed-up": "\(self.backedUp.count)"])
            for client in self.clients.values { client.connection.pauseForOverload(true) }
        } else if self.overloaded, self.backedUp.count <= self.overloadThreshold / 2 {
            self.overloaded = false
            self.logger.debug("backlog drained: reading resumed")
            for client in self.clients.values { client.connection.pauseForOverload(false) }
        }
    }

    /// A client that does not read let more than ``ChatLimits/sendQueueBytes`` pile up: it is cut
    /// loose (its queue thrown away) before the server's memory grows.
    func sendQueueExceeded(_ client: ChatClient) {
        guard !client.closing else { return }
        self.logger.notice("SendQ exceeded", metadata: ["client": "\(client.mask)"])
        client.closing = true
        client.connection.close()
        self.disconnected(client, reason: "SendQ exceeded")
    }

    /// Ends the round: every client that got bytes since the last call gets them, and the logs
    /// start over (in new memory if a socket still holds slices of them).
    ///
    /// A write can find a connection gone, whose QUIT then goes to others: they are flushed in
    /// the same call, before the logs start over (a call from within returns at once).
    func flushDirty() {
        // Not inside a fan-out either: a push there can find a connection gone, whose QUIT
        // must not end the round under the fan-out's feet. The round ends when it is over
        // (the flush the first dirty client scheduled is still to come).
        guard !self.flushing, self.fanOuts == 0 else { return }
        self.flushing = true
        defer { self.flushing = false }
        while !self.dirty.isEmpty {
            let dirty = self.dirty
            self.dirty = []
            for client in dirty {
                client.dirty = false
                self.push(client)
            }
        }
        for log in self.logs.indices {
            // A big round's memory goes back; a small one's is kept for the next.
            if self.logs[log].capacity > 16 * 1024 { self.logs[log] = ByteBuffer() } else { self.logs[log].clear() }
        }
    }

    /// Hands the client's runs to its socket, and checks its send queue.
    ///
    /// A socket that took all it was given so far gets slices of the logs. One that still holds
    /// bytes (a slow reader) gets a copy, so that it never keeps more than one round's logs alive.
    private func push(_ client: ChatClient) {
        guard !client.closing, !client.runs.isEmpty else { return }
        let connection = client.connection
        if connection.queuedBytes == 0 {
            for run in client.runs {
                connection.send(self.logs[run.log].getSlice(at: run.start, length: run.end - run.start)!)
            }
        } else {
            var copy = ByteBuffer()
            copy.reserveCapacity(client.runs.reduce(0) { $0 + $1.end - $1.start })
            for run in client.runs {
                copy.writeImmutableBuffer(self.logs[run.log].getSlice(at: run.start, length: run.end - run.start)!)
            }
            connection.send(copy)
        }
        // Let the list go: an idle client holds none.
        client.runs = []
        connection.flush()
        if self.backedUp.contains(client.id), connection.queuedBytes > self.limits.sendQueueBytes {
            self.sendQueueExceeded(client)
        }
    }
}

/// Where some of a client's bytes are: `start..<end` of one of the core's round logs.
struct ChatRun {
    var log: Int
    var start: Int
    var end: Int
}

@available(*, unavailable)
extension ChatCore: Sendable {}
