import NIOCore
import TinCanIRC

/// What the server keeps of what is said: channel history, private conversations between
/// accounts, offline messages for accounts that are not connected (delivered at their next
/// login), IRCv3 `draft/chathistory` and `draft/read-marker`, and contacts (MONITOR entries kept
/// with the account).
///
/// Keeping never holds up delivery: live messages go out in the round and are written to the
/// store afterwards (``ChatEffect/keep(_:)``). Only what the sender is told depends on the store
/// (an offline message kept, or a full box), and that answer comes back as an event.
extension ChatCore {
    // MARK: keeping

    /// A message as the store keeps it.
    func stored(_ command: String, from session: ChatSession, to target: String, conversation: String, text: String, msgid: String, time: Int) -> ChatStoredMessage {
        ChatStoredMessage(
            msgid: msgid, time: Int64(time), source: session.mask, sourceAccount: session.account?.folded, command: command,
            target: target, conversation: conversation, text: text
        )
    }

    /// The key of the private conversation between the session and `other` (a nick, folded).
    func directConversation(_ session: ChatSession, with otherFolded: String, otherIsAccount: Bool) -> String {
        let own = (folded: session.account?.folded ?? session.identity?.folded ?? "", account: session.account != nil)
        return ChatConversation.direct(own, (otherFolded, otherIsAccount))
    }

    // MARK: offline messages

    /// A PRIVMSG to a nick nobody holds: kept if the nick is an account's.
    func sendOffline(_ stored: ChatStoredMessage, to folded: String, _ session: ChatSession) {
        self.effect(.ask(.offlineMessage(stored, recipient: folded, boxLimit: self.configuration.accounts.offlineBoxLimit), for: session))
    }

    func offlineAnswered(_ outcome: ChatStoreAnswer.OfflineOutcome, _ message: ChatStoredMessage, _ session: ChatSession) {
        switch outcome {
        case .noAccount:
            self.numeric(.errNoSuchNick, to: session, [message.target, "No such nick/channel"])
        case .boxFull(let account):
            let limit = self.configuration.accounts.offlineBoxLimit
            self.fail(message.command, "BOX_FULL", [message.target], "\(account) is offline and already has \(limit) messages waiting; this one was not kept", to: session)
        case .stored(let account, _):
            let text = "\(message.target) is offline; your message will be delivered when they next log in"
            self.send(IRCMessage(source: self.serverName, command: "NOTICE", parameters: [session.target, text], trailing: true), to: session)
            // The account may have logged in meanwhile.
            for recipient in self.directory.sessions(ofAccount: self.caseMapping.fold(account)) { self.fetchOfflineBox(for: recipient) }
        }
    }

    /// Asks for the account's offline box, unless its delivery is under way.
    func fetchOfflineBox(for session: ChatSession) {
        guard self.usesStore, let account = session.account, session.isRegistered, !session.offlineInFlight else { return }
        session.offlineInFlight = true
        self.effect(.ask(.offlineBox(folded: account.folded, limit: self.configuration.accounts.offlineBoxLimit), for: session))
    }

    /// `a`, `a and b`, `a, b and c`.
    static func list(_ names: [String]) -> String {
        names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    /// The box's messages, in order, each with its sender, original time and msgid; they count as
    /// delivered once written to the socket (``ChatEffect/keepOnceWritten(_:_:)``).
    func deliverOffline(_ messages: [ChatStoredMessage], to session: ChatSession) {
        session.offlineInFlight = false
        guard let account = session.account, let nick = session.identity?.nick, let last = messages.last else { return }
        let label = messages.count == 1 ? "1 message" : "\(messages.count) messages"
        // Who from, since clients show this notice in the server's window and the messages in
        // each sender's own conversation.
        var senders: [String] = []
        for message in messages {
            let sender = String(message.source.prefix { $0 != "!" })
            if !senders.contains(sender) { senders.append(sender) }
        }
        let named = senders.count <= 5 ? Self.list(senders) : senders.prefix(4).joined(separator: ", ") + " and \(senders.count - 4) others"
        self.send(IRCMessage(source: self.serverName, command: "NOTICE", parameters: [nick, "\(label) arrived while you were away, from \(named)"], trailing: true), to: session)
        for message in messages {
            self.replay(message, to: session, target: nick, batch: nil, stampText: true)
        }
        self.effect(.keepOnceWritten(.markDelivered(folded: account.folded, through: last.id), session))
    }

    /// A kept message to a session: the original time as `server-time` (or, with `stampText`,
    /// in front of the text for clients without it), its msgid and its sender's account.
    func replay(_ message: ChatStoredMessage, to session: ChatSession, target: String, batch: String?, stampText: Bool) {
        var text = message.text
        if stampText, !session.has(.serverTime) {
            text = "[\(ChatClock.dateText(seconds: Int(message.time / 1000)))] " + text
        }
        var line = IRCMessage(source: message.source, command: message.command, parameters: [target, text], trailing: true)
        if let batch { line.tags.append(IRCTag("batch", batch)) }
        if session.has(.serverTime) { line.tags.append(IRCTag("time", ChatClock.timeTag(milliseconds: Int(message.time)))) }
        if session.has(.messageTags) { line.tags.append(IRCTag("msgid", message.msgid)) }
        if session.has(.accountTag), let account = message.sourceAccount { line.tags.append(IRCTag("account", account)) }
        self.sendAsIs(line, to: session)
    }

    // MARK: CHATHISTORY

    /// `CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN <target> <ref> [<ref>] <limit>` and
    /// `CHATHISTORY TARGETS <ref> <ref> <limit>` (IRCv3 draft/chathistory). A channel's history
    /// is for its members; a private conversation's for its two accounts only.
    func chathistory(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        let sub = p[0].uppercased()
        guard self.usesStore else { return self.fail("CHATHISTORY", "UNKNOWN_COMMAND", [sub], "This server keeps no history", to: session) }
        let maximum = self.configuration.accounts.historyReplyLimit
        func limit(_ text: String) -> Int? {
            guard let value = Int(text), value >= 0 else { return nil }
            return min(value == 0 ? maximum : value, maximum)
        }
        if sub == "TARGETS" {
            guard p.count >= 4, let from = self.historyTime(p[1]), let to = self.historyTime(p[2]), let count = limit(p[3]) else {
                return self.fail("CHATHISTORY", "INVALID_PARAMS", [sub], "Syntax: CHATHISTORY TARGETS timestamp=A timestamp=B limit", to: session)
            }
            guard let account = session.account else {
                // Without an account there are only the channels the session is in.
                return self.targetsAnswered([], session)
            }
            let channels = session.channels.map(\.folded)
            self.effect(.ask(.targets(folded: account.folded, channels: channels, from: min(from, to), to: max(from, to), limit: count), for: session))
            return
        }
        let needed = sub == "BETWEEN" ? 5 : 4
        guard ["LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN"].contains(sub) else {
            return self.fail("CHATHISTORY", "INVALID_PARAMS", [sub], "Unknown subcommand: LATEST, BEFORE, AFTER, AROUND, BETWEEN or TARGETS", to: session)
        }
        guard p.count >= needed, let count = limit(p[needed - 1]) else {
            return self.fail("CHATHISTORY", "INVALID_PARAMS", [sub], "Syntax: CHATHISTORY \(sub) target reference\(sub == "BETWEEN" ? " reference" : "") limit", to: session)
        }
        let target = p[1]
        guard let conversation = self.conversation(target, for: session) else {
            return self.fail("CHATHISTORY", "INVALID_TARGET", [sub, target], "No history of \(target) for you", to: session)
        }
        let selector: ChatHistoryQuery.Selector
        switch sub {
        case "LATEST":
            if p[2] == "*" {
                selector = .latest(after: nil)
            } else {
                guard let bound = self.historyBound(p[2]) else { return self.invalidReference(sub, session) }
                selector = .latest(after: bound)
            }
        case "BETWEEN":
            guard let first = self.historyBound(p[2]), let second = self.historyBound(p[3]) else { return self.invalidReference(sub, session) }
            selector = .between(first, second)
        default:
            guard let bound = self.historyBound(p[2]) else { return self.invalidReference(sub, session) }
            selector = sub == "BEFORE" ? .before(bound) : sub == "AFTER" ? .after(bound) : .around(bound)
        }
        self.effect(.ask(.history(ChatHistoryQuery(conversation: conversation, selector: selector, limit: count)), for: session))
        session.rememberTarget(target, of: conversation)
    }

    private func invalidReference(_ sub: String, _ session: ChatSession) {
        self.fail("CHATHISTORY", "INVALID_PARAMS", [sub], "References are timestamp=YYYY-MM-DDThh:mm:ss.sssZ or msgid=ID", to: session)
    }

    /// The store's key of `target`'s conversation as `session` may read it, or nil when it may
    /// not: a channel it is in, or a private conversation of its account.
    func conversation(_ target: String, for session: ChatSession) -> String? {
        if target.hasPrefix("#") {
            guard let channel = self.channels[target], channel.contains(session) else { return nil }
            return channel.folded
        }
        guard session.account != nil, ChatNicks.isValid(target, limit: self.limits.nickLength) else { return nil }
        let folded = self.caseMapping.fold(target)
        // Someone connected now is who they are logged in as (their account, whatever their nick)
        // or a guest; someone offline is taken to be the account of that name (guests'
        // conversations are kept under `~nick`, see ChatConversation).
        if let other = self.directory[folded: folded] {
            if let account = other.account { return self.directConversation(session, with: account.folded, otherIsAccount: true) }
            return self.directConversation(session, with: folded, otherIsAccount: false)
        }
        return self.directConversation(session, with: folded, otherIsAccount: true)
    }

    private func historyBound(_ text: String) -> ChatHistoryBound? {
        if text.hasPrefix("msgid=") { return text.count > 6 ? .msgid(String(text.dropFirst(6))) : nil }
        return self.historyTime(text).map { .time($0) }
    }

    private func historyTime(_ text: String) -> Int64? {
        guard text.hasPrefix("timestamp=") else { return nil }
        return ChatClock.milliseconds(timeTag: String(text.dropFirst(10))).map(Int64.init)
    }

    /// Another batch reference, unique on the connection.
    func nextBatch() -> String {
        self.nextMsgid()
    }

    func historyAnswered(_ messages: [ChatStoredMessage], query: ChatHistoryQuery, _ session: ChatSession) {
        let target = session.takeTarget(of: query.conversation) ?? query.conversation
        let batch = self.nextBatch()
        let withBatch = session.has(.batch)
        if withBatch {
            self.send(IRCMessage(source: self.serverName, command: "BATCH", parameters: ["+" + batch, "chathistory", target]), to: session)
        }
        for message in messages {
            self.replay(message, to: session, target: message.target, batch: withBatch ? batch : nil, stampText: false)
        }
        if withBatch { self.send(IRCMessage(source: self.serverName, command: "BATCH", parameters: ["-" + batch]), to: session) }
    }

    func targetsAnswered(_ targets: [ChatHistoryTarget], _ session: ChatSession) {
        let batch = self.nextBatch()
        let withBatch = session.has(.batch)
        if withBatch {
            self.send(IRCMessage(source: self.serverName, command: "BATCH", parameters: ["+" + batch, "draft/chathistory-targets"]), to: session)
        }
        for target in targets {
            var name = target.name
            if let channel = self.channels[target.name] { name = channel.name }
            var line = IRCMessage(source: self.serverName, command: "CHATHISTORY", parameters: ["TARGETS", name, ChatClock.timeTag(milliseconds: Int(target.latest))])
            if withBatch { line.tags.append(IRCTag("batch", batch)) }
            self.sendAsIs(line, to: session)
        }
        if withBatch { self.send(IRCMessage(source: self.serverName, command: "BATCH", parameters: ["-" + batch]), to: session) }
    }

    // MARK: MARKREAD (draft/read-marker)

    /// `MARKREAD <target> [timestamp=...]`: asks for, or moves forward, the account's read marker;
    /// every session of the account hears the result.
    func markread(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        guard let target = p.first, !target.isEmpty else {
            return self.fail("MARKREAD", "NEED_MORE_PARAMS", [], "MARKREAD <target> [timestamp=...]", to: session)
        }
        var time: Int64?
        if p.count > 1 {
            // A client sets a time; `*` is only the server's word for "none".
            guard let parsed = self.historyTime(p[1]) else {
                return self.fail("MARKREAD", "INVALID_PARAMS", [p[1]], "The marker is timestamp=YYYY-MM-DDThh:mm:ss.sssZ", to: session)
            }
            time = parsed
        }
        guard self.usesStore, let account = session.account else {
            // Without an account, markers last as long as the connection.
            guard target.hasPrefix("#") ? ChatChannels.isValidName(target, limit: self.limits.channelLength) : ChatNicks.isValid(target, limit: self.limits.nickLength) else {
                return self.fail("MARKREAD", "INVALID_TARGET", [target], "No conversation \(target)", to: session)
            }
            let key = self.caseMapping.fold(target)
            if let time { session.setReadMarker(time, for: key) }
            return self.sendMarker(session.readMarkers[key], target: target, to: session)
        }
        guard let conversation = self.conversation(target, for: session) else {
            return self.fail("MARKREAD", "INVALID_TARGET", [target], "No conversation \(target) for you", to: session)
        }
        session.rememberTarget(target, of: conversation)
        if let time {
            self.effect(.ask(.setReadMarker(folded: account.folded, conversation: conversation, time: time), for: session))
        } else {
            self.effect(.ask(.readMarker(folded: account.folded, conversation: conversation), for: session))
        }
    }

    private func sendMarker(_ time: Int64?, target: String, to session: ChatSession) {
        let value = time.map { "timestamp=" + ChatClock.timeTag(milliseconds: Int($0)) } ?? "*"
        self.send(IRCMessage(source: self.serverName, command: "MARKREAD", parameters: [target, value]), to: session)
    }

    /// The marker as stored: to the asker, or after a move to every connection of the account
    /// with `draft/read-marker`, so that its other clients agree. The answer to a join's question
    /// comes before the end of its NAMES, as the spec asks.
    func markerAnswered(_ time: Int64?, conversation: String, _ session: ChatSession, everyConnection: Bool) {
        let target = session.takeTarget(of: conversation) ?? conversation
        let value = time.map { "timestamp=" + ChatClock.timeTag(milliseconds: Int($0)) } ?? "*"
        let line = IRCMessage(source: self.serverName, command: "MARKREAD", parameters: [target, value])
        if !everyConnection, session.namesEndAwaitingMarker.remove(conversation) != nil {
            self.send(line, to: session)
            return self.numeric(.rplEndOfNames, to: session, [target, "End of /NAMES list."])
        }
        guard everyConnection, let account = session.account else { return self.send(line, to: session) }
        for other in self.directory.sessions(ofAccount: account.folded) where other === session || other.has(.readMarker) {
            self.send(line, to: other)
        }
        if !session.isRegistered { self.send(line, to: session) }
    }

    /// A session with `draft/read-marker` that joins a channel is told its marker there, before
    /// the end of the channel's NAMES: at once without an account, once the store answers with
    /// one. Returns whether the end of NAMES waits for the store (``markerAnswered``).
    func sendReadMarker(of channel: ChatChannel, to session: ChatSession) -> Bool {
        guard session.has(.readMarker) else { return false }
        guard self.usesStore, let account = session.account else {
            self.sendMarker(session.readMarkers[channel.folded], target: channel.name, to: session)
            return false
        }
        session.rememberTarget(channel.name, of: channel.folded)
        session.namesEndAwaitingMarker.insert(channel.folded)
        self.effect(.ask(.readMarker(folded: account.folded, conversation: channel.folded), for: session))
        return true
    }

    // MARK: contacts

    /// The account's contacts, kept by the store: they join the session's MONITOR list.
    func contactsAnswered(_ nicks: [String], _ session: ChatSession) {
        var online: [String] = []
        var offline: [String] = []
        for nick in nicks {
            let folded = self.caseMapping.fold(nick)
            guard session.monitoring[folded] == nil, session.monitoring.count < self.limits.monitorEntries else { continue }
            self.monitors.add(folded, nick: nick, for: session)
            if let user = self.directory[folded: folded] { online.append(user.mask) } else { offline.append(nick) }
        }
        if !online.isEmpty { self.numeric(.rplMonOnline, to: session, [online.joined(separator: ",")]) }
        if !offline.isEmpty { self.numeric(.rplMonOffline, to: session, [offline.joined(separator: ",")]) }
    }
}
