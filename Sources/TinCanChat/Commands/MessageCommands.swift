import NIOCore
import TinCanIRC

/// PRIVMSG, NOTICE and TAGMSG, to channels and to nicks (as ngircd's irc.c).
extension ChatCore {
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
        for target in targets.split(separator: ",").prefix(self.limits.maxTargets) {
            let target = String(target)
            let outgoing = IRCMessage(source: session.mask, command: command, parameters: [target] + (text.map { [$0] } ?? []), trailing: text != nil)
            if target.hasPrefix("#") {
                guard let channel = self.channels[target] else {
                    if !notice { self.numeric(.errNoSuchChannel, to: session, [target, "No such channel"]) }
                    continue
                }
                guard channel.contains(session) else {
                    if !notice { self.numeric(.errCannotSendToChan, to: session, [channel.name, "Cannot send to channel"]) }
                    continue
                }
                var named = outgoing
                named.parameters[0] = channel.name
                self.fanOut(named, to: channel.members, from: session, clientTags: clientTags)
            } else {
                guard let recipient = self.directory[folded: self.caseMapping.fold(target)], let nick = recipient.nick else {
                    if !notice { self.numeric(.errNoSuchNick, to: session, [target, "No such nick/channel"]) }
                    continue
                }
                var named = outgoing
                named.parameters[0] = nick
                self.fanOut(named, to: CollectionOfOne(recipient), from: session, clientTags: clientTags, includeSender: recipient === session)
                if command == "PRIVMSG", let away = recipient.away {
                    self.numeric(.rplAway, to: session, [nick, away])
                }
            }
        }
    }
}
