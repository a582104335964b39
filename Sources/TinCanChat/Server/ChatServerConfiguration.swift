import NIOCore
import TinCanCore

/// Settings of a ``ChatServer``. Every limit is named here with its default; what happens at each
/// is in the README's chat section.
public struct ChatServerConfiguration: Sendable {
    /// Address to bind; nil binds every address (IPv6 and IPv4). Default nil.
    public var host: String?
    /// Plain TCP port; 0 for a kernel-chosen one. Default 6667.
    public var port: Int
    /// TLS port, served beside the plain one with ``tls``; 0 for a kernel-chosen one. Default nil
    /// (no TLS).
    public var tlsPort: Int?
    /// Certificate chain and private key files (PEM) for ``tlsPort``.
    public var tls: ChatTLSFiles?
    /// The server's name: the source of its replies. Default "tincan.local".
    public var name: String
    /// The network name announced in ISUPPORT. Default "tincan".
    public var network: String
    /// The server's one-line description, as WHOIS, WHOWAS, LINKS and VERSION give it. Default
    /// "tincan chat".
    public var serverInfo = "tincan chat"
    /// The message of the day, line by line; nil answers ERR_NOMOTD. Default nil.
    public var motd: [String]?
    /// The channel every client joins on registration; nil for a plain IRC server with no
    /// automatic channel (`--lobby none`). Default "#lobby".
    public var lobby: String?
    /// A server password (PASS) every client must give before registering; nil for none. Default nil.
    public var password: String?
    /// Operator accounts for OPER: name to password. Default none.
    public var operators: [String: String]
    /// Limits.
    public var limits: ChatLimits
    /// Flood control for registered clients; nil turns it off (for benchmarks). Default burst 5,
    /// then 2 lines a second.
    public var floodLimit: ChatFloodLimit?
    /// Liveness: a client silent for `pingInterval` is sent a PING, and dropped if it stays silent
    /// for `pingTimeout` more. Defaults 90 s and 60 s.
    public var pingInterval: TimeAmount
    public var pingTimeout: TimeAmount
    /// While reading is paused for overload, a client whose socket has stayed backed up this long
    /// is not reading: it is disconnected ("SendQ exceeded"), so that clients that never drain
    /// cannot hold everyone's input. Default 5 s.
    public var drainDeadline: TimeAmount
    /// Accounts, offline messages and history: what the server keeps when it has a store.
    public var accounts: ChatAccountSettings
    /// The HTTP port beside IRC (FILEHOST uploads, IRC over WebSocket at `/socket`, the page);
    /// nil for none. Default nil.
    public var http: ChatHTTPConfiguration?

    public init(
        host: String? = nil,
        port: Int = 6667,
        tlsPort: Int? = nil,
        tls: ChatTLSFiles? = nil,
        name: String = "tincan.local",
        network: String = "tincan",
        motd: [String]? = nil,
        lobby: String? = "#lobby",
        password: String? = nil,
        operators: [String: String] = [:],
        limits: ChatLimits = ChatLimits(),
        floodLimit: ChatFloodLimit? = ChatFloodLimit(),
        pingInterval: TimeAmount = .seconds(90),
        pingTimeout: TimeAmount = .seconds(60),
        drainDeadline: TimeAmount = .seconds(5),
        accounts: ChatAccountSettings = ChatAccountSettings(),
        http: ChatHTTPConfiguration? = nil
    ) {
        self.host = host
        self.port = port
        self.tlsPort = tlsPort
        self.tls = tls
        self.name = name
        self.network = network
        self.motd = motd
        self.lobby = lobby
        self.password = password
        self.operators = operators
        self.limits = limits
        self.floodLimit = floodLimit
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.drainDeadline = drainDeadline
        self.accounts = accounts
        self.http = http
    }
}

extension ChatServerConfiguration {
    /// Checks the settings against the server's own rules. ``ChatServer/run()`` calls it first,
    /// so a bad setting stops the server before it listens.
    ///
    /// - Throws: `ConfigurationError` naming the first setting at fault by its property name
    ///   (`lobby`, `limits.maxClients`, ...).
    public func validate() throws {
        try ConfigurationError.checkPort(self.port, "port")
        try ConfigurationError.checkPort(self.tlsPort, "tlsPort")
        guard (self.tlsPort == nil) == (self.tls == nil) else {
            throw ConfigurationError(settings: ["tlsPort", "tls"], problem: "go together")
        }
        let limits = self.limits
        try ConfigurationError.checkAtLeast(limits.channelLength, 2, "limits.channelLength")
        if let lobby = self.lobby, !ChatChannels.isValidName(lobby, limit: limits.channelLength) {
            throw ConfigurationError(
                setting: "lobby",
                problem: "must be a channel name: '#' and up to \(limits.channelLength) bytes in all, without spaces, commas or "
                    + "control characters, not '\(lobby)'"
            )
        }
        for (setting, value) in [
            ("maxClients", limits.maxClients), ("maxClientsPerAddress", limits.maxClientsPerAddress),
            ("maxChannelsPerClient", limits.maxChannelsPerClient), ("nickLength", limits.nickLength),
            ("topicLength", limits.topicLength), ("monitorEntries", limits.monitorEntries), ("maxTargets", limits.maxTargets),
            ("sendQueueBytes", limits.sendQueueBytes), ("quietPresence", limits.quietPresence), ("whoReplies", limits.whoReplies),
            ("whowasEntries", limits.whowasEntries), ("whowasPerNick", limits.whowasPerNick),
        ] {
            try ConfigurationError.checkAtLeast(value, 1, "limits." + setting)
        }
        try ConfigurationError.checkDuration(self.pingInterval, "pingInterval")
        try ConfigurationError.checkDuration(self.pingTimeout, "pingTimeout")
        try ConfigurationError.checkDuration(self.drainDeadline, "drainDeadline")
        for name in self.operators.keys where name.isEmpty || name.contains(" ") {
            throw ConfigurationError(setting: "operators", problem: "must be named with a word, not '\(name)'")
        }
        try self.http?.validate()
    }
}

/// The chat server's bounds.
public struct ChatLimits: Sendable, Hashable {
    /// Clients connected at once (registered or not); one more is told why and closed. Default 10,000.
    public var maxClients: Int
    /// Clients from one IP address at once. Default 64.
    public var maxClientsPerAddress: Int
    /// Channels one client may be in (the lobby counts). Default 50.
    public var maxChannelsPerClient: Int
    /// Longest nickname. Default 30.
    public var nickLength: Int
    /// Longest channel name, `#` included. Default 50.
    public var channelLength: Int
    /// Longest topic, away message and kick reason. Default 390.
    public var topicLength: Int
    /// Entries in one client's MONITOR list. Default 100.
    public var monitorEntries: Int
    /// Targets in one PRIVMSG or NOTICE. Default 4.
    public var maxTargets: Int
    /// Bytes queued for one client that the kernel has not taken; past it the client is
    /// disconnected with "SendQ exceeded". Default 1 MiB.
    public var sendQueueBytes: Int
    /// Members past which a channel is quiet: other people's JOIN, PART and QUIT reach only its
    /// operators, NAMES lists only them and the asker, and WHO needs a nick mask. Default 1000.
    public var quietPresence: Int
    /// Replies one WHO gives at most; past it the list is cut and its end says so. Default 200.
    public var whoReplies: Int
    /// WHOWAS history: entries kept in all (the oldest go first). Default 1000.
    public var whowasEntries: Int
    /// WHOWAS history: entries kept for one nick (its oldest go first). Default 4.
    public var whowasPerNick: Int

    public init(
        maxClients: Int = 10_000,
        maxClientsPerAddress: Int = 64,
        maxChannelsPerClient: Int = 50,
        nickLength: Int = 30,
        channelLength: Int = 50,
        topicLength: Int = 390,
        monitorEntries: Int = 100,
        maxTargets: Int = 4,
        sendQueueBytes: Int = 1 << 20,
        quietPresence: Int = 1000,
        whoReplies: Int = 200,
        whowasEntries: Int = 1000,
        whowasPerNick: Int = 4
    ) {
        self.maxClients = maxClients
        self.maxClientsPerAddress = maxClientsPerAddress
        self.maxChannelsPerClient = maxChannelsPerClient
        self.nickLength = nickLength
        self.channelLength = channelLength
        self.topicLength = topicLength
        self.monitorEntries = monitorEntries
        self.maxTargets = maxTargets
        self.sendQueueBytes = sendQueueBytes
        self.quietPresence = quietPresence
        self.whoReplies = whoReplies
        self.whowasEntries = whowasEntries
        self.whowasPerNick = whowasPerNick
    }
}

/// Whether people may create accounts themselves.
public enum ChatRegistrationPolicy: String, Sendable, CaseIterable {
    /// Anyone may register a nick that nobody owns (SASL-less `REGISTER`, NickServ REGISTER).
    case open
    /// Only the server's operator creates accounts (`tincan chat user add`).
    case closed
}

/// Accounts and what the server keeps for them (used when it has a store).
public struct ChatAccountSettings: Sendable, Hashable {
    /// Who may create accounts. Default open.
    public var registration: ChatRegistrationPolicy
    /// How long a connection may hold a registered nick without logging in to it before it is
    /// renamed to a guest nick. Default 30 s.
    public var nickGrace: TimeAmount
    /// Offline messages kept for one account; a message past it is refused with an error to its
    /// sender. Default 1000.
    public var offlineBoxLimit: Int
    /// How long offline messages and private history are kept. Default 30 days.
    public var keepMessages: TimeAmount
    /// Messages kept per channel; older ones go. Default 10,000.
    public var historyPerChannel: Int
    /// Messages one CHATHISTORY reply holds at most (ISUPPORT `CHATHISTORY=`). Default 100.
    public var historyReplyLimit: Int
    /// The delay before a wrong password is answered, doubled with each further failure for the
    /// same account or address, up to ``failureDelayMax``. Default 1 s.
    public var failureDelay: TimeAmount
    /// Default 30 s.
    public var failureDelayMax: TimeAmount
    /// Characters a new password has at least (REGISTER, NickServ, `tincan chat user`). Default 8.
    public var minimumPasswordLength: Int

    public init(
        registration: ChatRegistrationPolicy = .open,
        nickGrace: TimeAmount = .seconds(30),
        offlineBoxLimit: Int = 1000,
        keepMessages: TimeAmount = .hours(24 * 30),
        historyPerChannel: Int = 10_000,
        historyReplyLimit: Int = 100,
        failureDelay: TimeAmount = .seconds(1),
        failureDelayMax: TimeAmount = .seconds(30),
        minimumPasswordLength: Int = 8
    ) {
        self.registration = registration
        self.nickGrace = nickGrace
        self.offlineBoxLimit = offlineBoxLimit
        self.keepMessages = keepMessages
        self.historyPerChannel = historyPerChannel
        self.historyReplyLimit = historyReplyLimit
        self.failureDelay = failureDelay
        self.failureDelayMax = failureDelayMax
        self.minimumPasswordLength = minimumPasswordLength
    }
}

/// PEM files for the chat server's TLS port.
public struct ChatTLSFiles: Hashable, Sendable {
    /// The certificate chain, leaf first.
    public var certificate: String
    /// The private key.
    public var privateKey: String

    public init(certificate: String, privateKey: String) {
        self.certificate = certificate
        self.privateKey = privateKey
    }
}
