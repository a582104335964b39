import TinCanIRC

/// Replies and fan-out: how the core's words become bytes in the round log for each session.
extension ChatCore {
    /// Numerics whose last parameter is a value, not text: written without the colon.
    private static let valueNumerics: Set<IRCNumeric> = [.rplMyInfo, .rplUModeIs, .rplChannelModeIs, .rplCreationTime, .rplTopicWhoTime]

    func numeric(_ numeric: IRCNumeric, to session: ChatSession, _ parameters: [String]) {
        let trailing = !Self.valueNumerics.contains(numeric)
        self.send(IRCMessage(source: self.serverName, numeric, parameters: [session.target] + parameters, trailing: trailing), to: session)
    }

    func needMoreParameters(_ command: String, _ session: ChatSession) {
        self.numeric(.errNeedMoreParams, to: session, [command, "Not enough parameters"])
    }

    /// Sends one message to one session, with the `time` tag when it asked for server-time.
    func send(_ message: IRCMessage, to session: ChatSession) {
        guard !session.closing else { return }
        var message = message
        let log = session.has(.serverTime) ? 1 : 0
        if log == 1 { message.tags.append(IRCTag("time", self.clock.timeTag())) }
        if let labeling = self.labeling, labeling.session === session { return labeling.messages.append(message) }
        self.round.deliver(self.round.write(message, toLog: log), to: session)
    }

    /// Sends a message whose tags are already the session's (history replayed as kept).
    func sendAsIs(_ message: IRCMessage, to session: ChatSession) {
        guard !session.closing else { return }
        if let labeling = self.labeling, labeling.session === session { return labeling.messages.append(message) }
        self.round.deliver(self.round.write(message, toLog: 0), to: session)
    }

    /// The replies of a labeled command, as labeled-response says: none is an `ACK`, one carries
    /// the label, more go in a `labeled-response` batch that carries it (without batch, as they
    /// are). A reply that is itself in a batch (CHATHISTORY) stays in it, nested.
    func finishLabeled(_ reply: ChatLabeledReply) {
        let session = reply.session
        guard !session.closing else { return }
        let label = IRCTag("label", reply.label)
        func write(_ message: IRCMessage) { self.round.deliver(self.round.write(message, toLog: 0), to: session) }
        switch reply.messages.count {
        case 0:
            write(IRCMessage(tags: [label], source: self.serverName, command: "ACK"))
        case 1:
            var message = reply.messages[0]
            message.tags.insert(label, at: 0)
            write(message)
        default:
            guard session.has(.batch) else { return reply.messages.forEach(write) }
            let batch = self.nextBatch()
            var start = IRCMessage(tags: [label], source: self.serverName, command: "BATCH", parameters: ["+" + batch, "labeled-response"])
            if session.has(.serverTime) { start.tags.append(IRCTag("time", self.clock.timeTag())) }
            write(start)
            for var message in reply.messages {
                if !message.tags.contains(where: { $0.key == "batch" }) { message.tags.insert(IRCTag("batch", batch), at: 0) }
                write(message)
            }
            write(IRCMessage(source: self.serverName, command: "BATCH", parameters: ["-" + batch]))
        }
    }

    /// Sends `message` to `recipients`, leaving out `sender` unless it asked for echo-message (or
    /// `includeSender`). Each variant of the bytes is written to the round's logs once.
    ///
    /// - Parameters:
    ///   - clientTags: the sender's `+tags`, for recipients with message-tags.
    ///   - msgid: the message's id, for recipients with message-tags.
    ///   - account: the sender's account, for recipients with account-tag.
    ///   - time: when the server received it (milliseconds since 1970), else now.
    func fanOut(
        _ message: IRCMessage,
        to recipients: some Sequence<ChatSession>,
        from sender: ChatSession?,
        clientTags: [IRCTag] = [],
        msgid: String? = nil,
        account: String? = nil,
        time: Int? = nil,
        includeSender: Bool = false
    ) {
        // Where each variant went in its log, once written. Variant (and log) 0 is the message
        // as it is; bit 1 adds the `time` tag, bit 2 the message tags (the client's and msgid),
        // bit 4 the sender's account.
        var variants = (ChatRun?.none, ChatRun?.none, ChatRun?.none, ChatRun?.none, ChatRun?.none, ChatRun?.none, ChatRun?.none, ChatRun?.none)
        var stamp: String?
        let tagsOnly = message.command == "TAGMSG"
        let anyTags = !clientTags.isEmpty || msgid != nil
        let skipSender = !includeSender && !(sender?.has(.echoMessage) ?? true)
        /// The message with the tags of variant `key`.
        func variant(_ key: Int) -> IRCMessage {
            var variant = message
            if key & 4 != 0, let account { variant.tags.append(IRCTag("account", account)) }
            if key & 2 != 0 {
                variant.tags += clientTags
                if let msgid { variant.tags.append(IRCTag("msgid", msgid)) }
            }
            if key & 1 != 0 {
                let text = stamp ?? (time.map { ChatClock.timeTag(milliseconds: $0) } ?? self.clock.timeTag())
                stamp = text
                variant.tags.append(IRCTag("time", text))
            }
            return variant
        }
        for recipient in recipients {
            if recipient.closing || (skipSender && recipient === sender) { continue }
            let withTags = recipient.has(.messageTags)
            if tagsOnly, !withTags { continue }
            let key = (recipient.has(.serverTime) ? 1 : 0) + (withTags && anyTags ? 2 : 0) + (account != nil && recipient.has(.accountTag) ? 4 : 0)
            if let labeling = self.labeling, labeling.session === recipient {
                // The sender's own copy (echo-message) answers its labeled command.
                labeling.messages.append(variant(key))
                continue
            }
            let cached: ChatRun?
            switch key {
            case 0: cached = variants.0
            case 1: cached = variants.1
            case 2: cached = variants.2
            case 3: cached = variants.3
            case 4: cached = variants.4
            case 5: cached = variants.5
            case 6: cached = variants.6
            default: cached = variants.7
            }
            let run: ChatRun
            if let cached {
                run = cached
            } else {
                run = self.round.write(variant(key), toLog: key)
                switch key {
                case 0: variants.0 = run
                case 1: variants.1 = run
                case 2: variants.2 = run
                case 3: variants.3 = run
                case 4: variants.4 = run
                case 5: variants.5 = run
                case 6: variants.6 = run
                default: variants.7 = run
                }
            }
            self.round.deliver(run, to: recipient)
        }
    }

    /// Who hears of `session`'s JOIN or PART in `channel`: every member, or in a quiet channel
    /// its watchers (operators) and the session itself.
    func presenceAudience(_ channel: ChatChannel, with session: ChatSession) -> [ChatSession] {
        guard channel.isQuiet(mark: self.limits.quietPresence) else { return channel.members }
        var audience = Array(channel.watchers.values)
        if channel.watchers[session.id] == nil { audience.append(session) }
        return audience
    }

    /// Who hears of `session`'s QUIT, NICK or AWAY: once each, without the session, everyone who
    /// shares a channel with it that is not quiet, and the watchers of those that are.
    func presencePeers(of session: ChatSession) -> [ChatSession] {
        let mark = self.limits.quietPresence
        if session.channels.count == 1, !session.channels[0].isQuiet(mark: mark) {
            return session.channels[0].members.filter { $0 !== session }
        }
        var seen: Set<Int> = [session.id]
        var result: [ChatSession] = []
        for channel in session.channels {
            if channel.isQuiet(mark: mark) {
                for member in channel.watchers.values where seen.insert(member.id).inserted { result.append(member) }
            } else {
                for member in channel.members where seen.insert(member.id).inserted { result.append(member) }
            }
        }
        return result
    }

    /// Who hears that `session` changed (AWAY, ACCOUNT, SETNAME): those of its presence peers
    /// with `capability`, and those monitoring it with extended-monitor and `capability`; once
    /// each, without the session.
    func changeAudience(of session: ChatSession, with capability: ChatCapability) -> [ChatSession] {
        var told: Set<Int> = [session.id]
        var audience: [ChatSession] = []
        for peer in self.presencePeers(of: session) where peer.has(capability) && told.insert(peer.id).inserted { audience.append(peer) }
        if let identity = session.identity {
            for id in self.monitors.watchers(of: identity.folded) ?? [] where told.insert(id).inserted {
                if let watcher = self.directory.sessions[id], watcher.isRegistered, watcher.has(.extendedMonitor), watcher.has(capability) {
                    audience.append(watcher)
                }
            }
        }
        return audience
    }

    /// Everyone who shares a channel with `session`, once each, without the session.
    func peers(of session: ChatSession) -> [ChatSession] {
        if session.channels.count == 1 { return session.channels[0].members.filter { $0 !== session } }
        var seen: Set<Int> = [session.id]
        var result: [ChatSession] = []
        for channel in session.channels {
            for member in channel.members where seen.insert(member.id).inserted { result.append(member) }
        }
        return result
    }

    /// Tells everyone monitoring `folded` that it came online (as `online`) or went offline.
    func notifyMonitors(_ folded: String, online: ChatSession?, nick: String) {
        guard let watchers = self.monitors.watchers(of: folded) else { return }
        for id in watchers {
            guard let watcher = self.directory.sessions[id], watcher.isRegistered else { continue }
            if let online {
                self.numeric(.rplMonOnline, to: watcher, [online.mask])
            } else {
                self.numeric(.rplMonOffline, to: watcher, [nick])
            }
        }
    }
}

/// A labeled command's replies to its sender, collected while it is handled (and while it waits
/// for the store), then sent as labeled-response says (``ChatCore/finishLabeled(_:)``).
final class ChatLabeledReply {
    let session: ChatSession
    let label: String
    var messages: [IRCMessage] = []

    init(session: ChatSession, label: String) {
        self.session = session
        self.label = label
    }
}

@available(*, unavailable)
extension ChatLabeledReply: Sendable {}
