import NIOCore
import TinCanIRC

/// PRIVMSG, NOTICE and TAGMSG, to channels and to nicks (as ngircd's irc.c).
extension ChatCore {
    /// The text, cut at a character boundary if need be, so that the line relayed with the
    /// sender's full prefix stays within IRC's 512 bytes (tags apart), as ngircd and ergo cut it.
    static func fitting(_ text: String, source: String, command: String, target: String) -> String {
        // ":source COMMAND target :text\r\n"
        let room = 512 - (1 + source.utf8.count + 1 + command.utf8.count + 1 + target.utf8.count + 2 + 2)
        guard text.utf8.count > room else { return text }
        var used = 0
        var kept = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            used += UTF8.width(scalar)
            if used > room { break }
            kept.append(scalar)
        }
        return String(kept)
    }

    /// `command` is PRIVMSG, NOTICE or TAGMSG, as the table named it (the dispatcher has already
    /// upper-cased the line's command once).
    func message(_ message: IRCMessage, _ session: ChatSession, command: String) {
        let p = message.parameters
        let notice = command == "NOTICE"
        guard let targets = p.first, !targets.isEmpty else {
            if notice { return }
            return self.numeric(.errNoRecipient, to: session, ["No recipient given (\(command))"])
        }
        let text: String?
        if command == "TAGMSG" {
            text = nil
        } else {
            guard p.count > 1, !p[1].isEmpty else {
                if notice { return }
                return self.numeric(.errNoTextToSend, to: session, ["No text to send"])
            }
            text = p[1]
        }
        session.lastMessage = self.clock.now()
        // Client-only tags (`+name`) travel to recipients that asked for message-tags.
        let clientTags = message.tags.filter { $0.key.hasPrefix("+") }
        if command == "TAGMSG", clientTags.isEmpty { return }
        let time = self.clock.wallMilliseconds()
        let account = session.account?.name
        for target in targets.split(separator: ",").prefix(self.limits.maxTargets) {
            let target = String(target)
            let text = text.map { Self.fitting($0, source: session.mask, command: command, target: target) }
            let msgid = self.nextMsgid()
            let outgoing = IRCMessage(source: session.mask, command: command, parameters: [target] + (text.map { [$0] } ?? []), trailing: text != nil)
            // STATUSMSG: `@#chan` reaches the channel's operators only (and is not kept).
            let toOperators = target.hasPrefix("@#")
            let channelName = toOperators ? String(target.dropFirst()) : target
            if channelName.hasPrefix("#") {
                guard let channel = self.channels[channelName] else {
                    if !notice { self.numeric(.errNoSuchChannel, to: session, [target, "No such channel"]) }
                    continue
                }
                guard self.maySend(session, to: channel) else {
                    if !notice { self.numeric(.errCannotSendToChan, to: session, [channel.name, "Cannot send to channel"]) }
                    continue
                }
                var named = outgoing
                named.parameters[0] = (toOperators ? "@" : "") + channel.name
                if toOperators {
                    let audience = channel.members.filter { channel.isOperator($0) || $0 === session }
                    self.fanOut(named, to: audience, from: session, clientTags: clientTags, msgid: msgid, account: account, time: time)
                    continue
                }
                self.fanOut(named, to: channel.members, from: session, clientTags: clientTags, msgid: msgid, account: account, time: time)
                if self.usesStore, let text {
                    self.effect(.keep(.append([self.stored(command, from: session, to: channel.name, conversation: channel.folded, text: text, msgid: msgid, time: time)])))
                }
            } else {
                let folded = self.caseMapping.fold(target)
                if folded == Self.nickServFolded {
                    if let text, !notice { self.nickServ(text, from: session) }
                    continue
                }
                guard let recipient = self.directory[folded: folded], let nick = recipient.nick else {
                    if self.usesStore, command == "PRIVMSG", let text, ChatNicks.isValid(target, limit: self.limits.nickLength) {
                        // Nobody holds the nick: if it is an account's, the message waits for it.
                        let conversation = self.directConversation(session, with: folded, otherIsAccount: true)
                        self.sendOffline(self.stored(command, from: session, to: target, conversation: conversation, text: text, msgid: msgid, time: time), to: folded, session)
                    } else if !notice {
                        self.numeric(.errNoSuchNick, to: session, [target, "No such nick/channel"])
                    }
                    continue
                }
                var named = outgoing
                named.parameters[0] = nick
                if recipient === session, session.has(.echoMessage) {
                    // A message to oneself arrives and is echoed: two copies, the echo answering
                    // its label (labeled-response).
                    let labeling = self.labeling
                    self.labeling = nil
                    self.fanOut(named, to: [session], from: session, clientTags: clientTags, msgid: msgid, account: account, time: time, includeSender: true)
                    self.labeling = labeling
                }
                // The sender is a recipient too: fanOut echoes to it when it asked for echo-message.
                let recipients = recipient === session ? [recipient] : [recipient, session]
                self.fanOut(named, to: recipients, from: session, clientTags: clientTags, msgid: msgid, account: account, time: time, includeSender: recipient === session)
                // Private conversations are kept for the accounts in them.
                if self.usesStore, let text, session.account != nil || recipient.account != nil {
                    let conversation = self.directConversation(session, with: recipient.account?.folded ?? folded, otherIsAccount: recipient.account != nil)
                    self.effect(.keep(.append([self.stored(command, from: session, to: nick, conversation: conversation, text: text, msgid: msgid, time: time)])))
                }
                if command == "PRIVMSG", let away = recipient.away {
                    self.numeric(.rplAway, to: session, [nick, away])
                }
            }
        }
    }
}
