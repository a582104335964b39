import TinCanIRC

/// Channel modes and INVITE: MODE on a channel, who may join and who may speak (as ngircd's
/// irc-mode.c and solanum's chmode.c). The modes themselves are ``ChatChannelModes``.
extension ChatCore {
    /// One change that took effect, for the MODE line told to the channel.
    private struct ModeChange {
        var adding: Bool
        var letter: Character
        var parameter: String?
    }

    /// `MODE #chan` (324 and 329), `MODE #chan b|e|I` (the list), or changes. Any change needs a
    /// channel operator, or an IRC operator (the lobby has no channel operators: only IRC
    /// operators change its modes).
    func channelMode(_ p: [String], _ session: ChatSession) {
        guard let channel = self.channels[p[0]] else {
            return self.numeric(.errNoSuchChannel, to: session, [p[0], "No such channel"])
        }
        guard p.count > 1 else {
            let member = channel.contains(session) || session.isOperator
            self.numeric(.rplChannelModeIs, to: session, [channel.name] + channel.modes.modeIs(withValues: member))
            return self.numeric(.rplCreationTime, to: session, [channel.name, String(channel.created)])
        }
        let privileged = channel.isOperator(session) || session.isOperator
        var arguments = p[2...].makeIterator()
        var adding = true
        var changes: [ModeChange] = []
        var withParameter = 0
        var listed: Set<Character> = []
        for letter in p[1] {
            if letter == "+" || letter == "-" {
                adding = letter == "+"
                continue
            }
            let list = ChatChannelModes.List(letter: letter)
            let flag = ChatChannelModes.Flags.named(letter)
            guard list != nil || flag != nil || "klov".contains(letter) else {
                self.numeric(.errUnknownMode, to: session, [String(letter), "is unknown mode char to me"])
                continue
            }
            // What the letter takes: a list with no mask is a question, anyone may ask it.
            let argument: String?
            if list != nil || letter == "o" || letter == "v" || (letter == "k") || (letter == "l" && adding) {
                argument = arguments.next()
            } else {
                argument = nil
            }
            if let list, argument == nil {
                if listed.insert(letter).inserted { self.sendList(list, of: channel, to: session) }
                continue
            }
            if (letter == "o" || letter == "v"), argument == nil { return self.needMoreParameters("MODE", session) }
            if (letter == "k" && adding) || (letter == "l" && adding), argument == nil { continue }  // ignored, as solanum
            guard privileged else {
                return self.numeric(.errChanOPrivsNeeded, to: session, [channel.name, "You're not channel operator"])
            }
            if argument != nil {
                // At most MODES changes with a parameter a command; the rest is ignored.
                guard withParameter < ChatChannelModes.maxParameterModes else { break }
                withParameter += 1
            }
            if let flag {
                guard channel.modes.flags.contains(flag) != adding else { continue }
                if adding { channel.modes.flags.insert(flag) } else { channel.modes.flags.remove(flag) }
                changes.append(ModeChange(adding: adding, letter: letter, parameter: nil))
            } else if let list, let argument {
                guard let mask = ChatChannelModes.normalizedMask(argument) else { continue }
                if adding {
                    let entry = ChatChannelModes.Entry(mask: mask, setBy: session.mask, setAt: self.clock.wallSeconds(), caseMapping: self.caseMapping)
                    switch channel.modes.add(entry, to: list) {
                    case .added: changes.append(ModeChange(adding: true, letter: letter, parameter: mask))
                    case .present: break
                    case .full: self.numeric(.errBanListFull, to: session, [channel.name, String(letter), "Channel list is full"])
                    }
                } else if let removed = channel.modes.remove(folded: self.caseMapping.fold(mask), from: list) {
                    changes.append(ModeChange(adding: false, letter: letter, parameter: removed.mask))
                }
            } else if letter == "k" {
                if adding {
                    guard let key = argument.flatMap(ChatChannelModes.validKey) else {
                        self.numeric(.errInvalidModeParam, to: session, [channel.name, "k", "*", "Invalid key: no spaces, commas or control characters"])
                        continue
                    }
                    channel.modes.key = key
                    changes.append(ModeChange(adding: true, letter: "k", parameter: key))
                } else if channel.modes.key != nil {
                    channel.modes.key = nil
                    changes.append(ModeChange(adding: false, letter: "k", parameter: "*"))
                }
            } else if letter == "l" {
                if adding {
                    // Not a positive number: ignored.
                    guard let limit = argument.flatMap({ Int($0) }), limit > 0 else { continue }
                    channel.modes.limit = limit
                    changes.append(ModeChange(adding: true, letter: "l", parameter: String(limit)))
                } else if channel.modes.limit != nil {
                    channel.modes.limit = nil
                    changes.append(ModeChange(adding: false, letter: "l", parameter: nil))
                }
            } else if let argument {  // o, v
                guard let user = self.directory[folded: self.caseMapping.fold(argument)], let nick = user.nick else {
                    self.numeric(.errNoSuchNick, to: session, [argument, "No such nick/channel"])
                    continue
                }
                guard channel.contains(user) else {
                    self.numeric(.errUserNotInChannel, to: session, [nick, channel.name, "They aren't on that channel"])
                    continue
                }
                if letter == "o" {
                    guard channel.isOperator(user) != adding else { continue }
                    channel.setOperator(user, adding)
                } else {
                    guard channel.isVoiced(user) != adding else { continue }
                    channel.setVoice(user, adding)
                }
                changes.append(ModeChange(adding: adding, letter: letter, parameter: nick))
            }
        }
        guard !changes.isEmpty else { return }
        let line = IRCMessage(source: session.mask, command: "MODE", parameters: [channel.name] + Self.modeParameters(changes))
        self.fanOut(line, to: channel.members, from: nil)
        // An IRC operator changing a channel it is not in hears what it did.
        if !channel.contains(session) { self.send(line, to: session) }
    }

    /// Changes in canonical form: `+ov-k nick nick *`, a sign only where the direction changes.
    private static func modeParameters(_ changes: [ModeChange]) -> [String] {
        var letters = ""
        var parameters: [String] = []
        var sign: Bool?
        for change in changes {
            if sign != change.adding {
                letters.append(change.adding ? "+" : "-")
                sign = change.adding
            }
            letters.append(change.letter)
            if let parameter = change.parameter { parameters.append(parameter) }
        }
        return [letters] + parameters
    }

    /// A numeric whose last parameter is a value, not text: written without the colon.
    private func valueNumeric(_ numeric: IRCNumeric, to session: ChatSession, _ parameters: [String]) {
        self.send(IRCMessage(source: self.serverName, numeric, parameters: [session.target] + parameters, trailing: false), to: session)
    }

    private func sendList(_ list: ChatChannelModes.List, of channel: ChatChannel, to session: ChatSession) {
        let numerics = list.numerics
        for entry in channel.modes.entries(list) {
            self.valueNumeric(numerics.entry, to: session, [channel.name, entry.mask, entry.setBy, String(entry.setAt)])
        }
        self.numeric(numerics.end, to: session, [channel.name, numerics.endText])
    }

    /// Why `session` may not join `channel` with `key`: the numeric and its text, or nil. An
    /// invitation lets one in past all of them (as ergo); a ban exception past a ban, an invite
    /// exception past `+i`.
    func joinRefusal(_ channel: ChatChannel, _ session: ChatSession, key: String?) -> (IRCNumeric, String)? {
        if channel.isInvited(session) { return nil }
        let modes = channel.modes
        let mask = session.mask
        if modes.isBanned(mask) { return (.errBannedFromChan, "Cannot join channel (+b)") }
        if modes.flags.contains(.inviteOnly), !modes.matches(.inviteExceptions, mask) { return (.errInviteOnlyChan, "Cannot join channel (+i)") }
        if let required = modes.key, key != required { return (.errBadChannelKey, "Cannot join channel (+k)") }
        if let limit = modes.limit, channel.members.count >= limit { return (.errChannelIsFull, "Cannot join channel (+l)") }
        return nil
    }

    /// Whether `session` may send PRIVMSG, NOTICE or TAGMSG to `channel`: from outside only when
    /// it is `-n`; operators and voiced members always; others not when it is `+m` or they are
    /// banned.
    func maySend(_ session: ChatSession, to channel: ChatChannel) -> Bool {
        let modes = channel.modes
        guard channel.contains(session) else {
            return !modes.flags.contains(.noExternal) && !modes.isBanned(session.mask)
        }
        if channel.hasVoice(session) { return true }
        return !modes.flags.contains(.moderated) && !modes.isBanned(session.mask)
    }

    /// Whether `session` may set `channel`'s topic: anyone in it when it is `-t`, else its
    /// operators, and IRC operators (the lobby has no channel operators).
    func maySetTopic(_ session: ChatSession, of channel: ChatChannel) -> Bool {
        !channel.modes.flags.contains(.topicLocked) || channel.isOperator(session) || session.isOperator
    }

    /// Whether `session` sees `channel` in LIST, NAMES, WHO and WHOIS: a `+s` channel only its members.
    func sees(_ channel: ChatChannel, _ session: ChatSession) -> Bool {
        !channel.modes.flags.contains(.secret) || channel.contains(session)
    }

    /// `INVITE nick #chan`: 341 to the inviter and INVITE to the invitee, who may then join once
    /// past `+i`, `+k`, `+l` and `+b`. Into a `+i` channel only its operators invite. `INVITE`
    /// alone lists the invitations the session holds (336, 337).
    func invite(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        if p.isEmpty {
            for channel in self.channels.byName.values.sorted(by: { $0.folded < $1.folded }) where channel.isInvited(session) {
                self.valueNumeric(.rplInviteList, to: session, [channel.name])
            }
            return self.numeric(.rplEndOfInviteList, to: session, ["End of /INVITE list"])
        }
        guard p.count > 1 else { return self.needMoreParameters("INVITE", session) }
        guard let user = self.directory[folded: self.caseMapping.fold(p[0])], let nick = user.nick else {
            return self.numeric(.errNoSuchNick, to: session, [p[0], "No such nick/channel"])
        }
        guard let channel = self.channels[p[1]] else {
            return self.numeric(.errNoSuchChannel, to: session, [p[1], "No such channel"])
        }
        guard channel.contains(session) else {
            return self.numeric(.errNotOnChannel, to: session, [channel.name, "You're not on that channel"])
        }
        guard !channel.contains(user) else {
            return self.numeric(.errUserOnChannel, to: session, [nick, channel.name, "is already on channel"])
        }
        if channel.modes.flags.contains(.inviteOnly), !(channel.isOperator(session) || session.isOperator) {
            return self.numeric(.errChanOPrivsNeeded, to: session, [channel.name, "You're not channel operator"])
        }
        channel.invite(user)
        self.valueNumeric(.rplInviting, to: session, [nick, channel.name])
        // With the inviter's account for an invitee with account-tag.
        let invitation = IRCMessage(source: session.mask, command: "INVITE", parameters: [nick, channel.name])
        self.fanOut(invitation, to: CollectionOfOne(user), from: nil, account: session.account?.name)
        if let away = user.away { self.numeric(.rplAway, to: session, [nick, away]) }
    }
}
