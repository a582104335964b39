import TinCanIRC

/// One command the server knows: what it needs before its handler runs, and the handler.
///
/// The dispatcher (``ChatCore``) checks, in this order: registration (451 or 462), operator
/// status (481), the minimum number of parameters (461); then the handler runs and writes its
/// replies and effects. Handlers check only what is particular to them.
struct ChatCommand: Sendable {
    enum Registration: Sendable {
        /// Before and after registering (CAP, NICK, PING, QUIT...).
        case any
        /// Only once registered: 451 before.
        case required
        /// Only before: 462 after (PASS, USER).
        case forbidden
    }

    var minParameters = 0
    var registration = Registration.required
    var operatorOnly = false
    let handle: @Sendable (ChatCore, IRCMessage, ChatSession) -> Void
}

/// The command table: every command by name, grouped the way the handlers are (login, channels,
/// accounts, history, messages, information and presence, modes and operators).
enum ChatCommands {
    static let table: [String: ChatCommand] = [
        // Login (LoginCommands.swift)
        "CAP": ChatCommand(minParameters: 1, registration: .any) { $0.cap($1, $2) },
        "PASS": ChatCommand(minParameters: 1, registration: .forbidden) { $0.pass($1, $2) },
        "NICK": ChatCommand(registration: .any) { $0.nick($1, $2) },
        "USER": ChatCommand(minParameters: 4, registration: .forbidden) { $0.user($1, $2) },
        "PING": ChatCommand(minParameters: 1, registration: .any) { $0.ping($1, $2) },
        "PONG": ChatCommand(registration: .any) { _, _, _ in },
        "QUIT": ChatCommand(registration: .any) { $0.quit($1, $2) },
        // Accounts (AccountCommands.swift, NickServ.swift)
        "AUTHENTICATE": ChatCommand(minParameters: 1, registration: .any) { $0.authenticate($1, $2) },
        "REGISTER": ChatCommand(minParameters: 2, registration: .any) { $0.register($1, $2) },
        "VERIFY": ChatCommand(minParameters: 2, registration: .any) { $0.verify($1, $2) },
        "NICKSERV": ChatCommand { $0.nickServCommand($1, $2) },
        "NS": ChatCommand { $0.nickServCommand($1, $2) },
        // History (HistoryCommands.swift)
        "CHATHISTORY": ChatCommand(minParameters: 1) { $0.chathistory($1, $2) },
        "MARKREAD": ChatCommand { $0.markread($1, $2) },
        // Channels (ChannelCommands.swift)
        "JOIN": ChatCommand(minParameters: 1) { $0.join($1, $2) },
        "PART": ChatCommand(minParameters: 1) { $0.part($1, $2) },
        "TOPIC": ChatCommand(minParameters: 1) { $0.topic($1, $2) },
        "NAMES": ChatCommand { $0.names($1, $2) },
        "LIST": ChatCommand { $0.list($1, $2) },
        "INVITE": ChatCommand { $0.invite($1, $2) },  // ChannelModes.swift
        // Messages (MessageCommands.swift)
        "PRIVMSG": ChatCommand { $0.message($1, $2, command: "PRIVMSG") },
        "NOTICE": ChatCommand { $0.message($1, $2, command: "NOTICE") },
        "TAGMSG": ChatCommand { $0.message($1, $2, command: "TAGMSG") },
        // Information and presence (InfoCommands.swift)
        "AWAY": ChatCommand { $0.away($1, $2) },
        "SETNAME": ChatCommand(minParameters: 1) { $0.setname($1, $2) },
        "ISON": ChatCommand(minParameters: 1) { $0.ison($1, $2) },
        "USERHOST": ChatCommand(minParameters: 1) { $0.userhost($1, $2) },
        "WHO": ChatCommand { $0.who($1, $2) },
        "WHOIS": ChatCommand { $0.whois($1, $2) },
        "MONITOR": ChatCommand(minParameters: 1) { $0.monitor($1, $2) },
        "MOTD": ChatCommand { core, _, session in core.motd(session) },
        "LUSERS": ChatCommand { core, _, session in core.lusers(session) },
        // About the server, and the nicks' history (ServerCommands.swift)
        "WHOWAS": ChatCommand { $0.whowasCommand($1, $2) },
        "TIME": ChatCommand { $0.time($1, $2) },
        "INFO": ChatCommand { $0.info($1, $2) },
        "VERSION": ChatCommand { $0.version($1, $2) },
        "ADMIN": ChatCommand { $0.admin($1, $2) },
        "LINKS": ChatCommand { $0.links($1, $2) },
        "HELP": ChatCommand { $0.help($1, $2) },
        "HELPOP": ChatCommand { $0.help($1, $2) },
        "WALLOPS": ChatCommand(minParameters: 1, operatorOnly: true) { $0.wallops($1, $2) },
        // Modes and operators (OperatorCommands.swift)
        "MODE": ChatCommand(minParameters: 1) { $0.mode($1, $2) },
        "OPER": ChatCommand(minParameters: 2) { $0.oper($1, $2) },
        "KICK": ChatCommand(minParameters: 2) { $0.kick($1, $2) },
        "KILL": ChatCommand(minParameters: 2, operatorOnly: true) { $0.kill($1, $2) },
    ]
}
