import ArgumentParser
import Foundation
import Logging
import NIOCore
import TinCanChat
import TinCanCore

/// `tincan chat`: the multi-user chat server (IRC).
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Multi-user chat over IRC: 'tincan chat HOST' chats, 'tincan chat serve' runs the server, 'tincan chat user' manages accounts.",
        subcommands: [ChatConnectCommand.self, ChatSendCommand.self, ChatServeCommand.self, ChatUserCommand.self],
        defaultSubcommand: ChatConnectCommand.self
    )
}

/// `tincan chat serve`.
struct ChatServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "An IRC server: a lobby every client joins, private messages, live presence.",
        discussion: """
            Any IRC client works with it (weechat, irssi, HexChat, phone apps, IRC libraries):
              tincan chat serve --port 6667 --motd motd.txt
              tincan chat serve --tls-port 6697 --cert fullchain.pem --key privkey.pem
              tincan chat serve --db /var/lib/tincan/chat.sqlite --registration closed
              tincan chat serve --http-port 8080 --public-url https://chat.example.org
              irssi -c localhost -p 6667 -n ann
            Accounts, history and offline messages live in the SQLite file of --db,
            created with its directory if missing. 'tincan chat user' manages the
            accounts in it, even while the server runs. With --http-port, browsers and
            other WebSocket clients chat at /socket (IRCv3 WebSocket), and accounts upload
            files at /upload (soju.im/FILEHOST, HTTP Basic with the account's name and
            password); HTTPS with the TLS port's certificate when there is one.
            SIGINT or SIGTERM tells every client why and closes.
            """
    )

    @Option(help: "Address to bind (default: every address, IPv6 and IPv4).")
    var host: String?

    @Option(help: "TCP port (0: the kernel chooses).")
    var port = 6667

    @Option(name: .customLong("tls-port"), help: "Also serve IRC over TLS on PORT (with --cert and --key; 6697 is usual).")
    var tlsPort: Int?

    @Option(help: "The TLS certificate chain (PEM), leaf first.")
    var cert: String?

    @Option(help: "The TLS private key (PEM).")
    var key: String?

    @Option(help: "The server's name, the source of its replies.")
    var name = "tincan.local"

    @Option(name: .customLong("server-info"), help: "The server's one-line description (WHOIS, WHOWAS, LINKS).")
    var serverInfo = "tincan chat"

    @Option(help: "A file whose lines are the message of the day.")
    var motd: String?

    @Option(help: "The channel every client joins on registration; none for a plain IRC server without one.")
    var lobby = "#lobby"

    @Option(help: "A password every client must send with PASS.")
    var password: String?

    @Option(name: .customLong("oper"), help: "NAME:PASSWORD of an operator account for OPER (KICK anywhere, KILL); repeatable.")
    var operators: [String] = []

    @Option(name: .customLong("max-clients"), help: "Clients at once; more are told why and closed.")
    var maxClients = ChatLimits().maxClients

    @Option(name: .customLong("max-clients-per-address"), help: "Clients at once from one IP address.")
    var maxClientsPerAddress = ChatLimits().maxClientsPerAddress

    @Option(name: .customLong("max-channels"), help: "Channels one client may be in, the lobby included.")
    var maxChannels = ChatLimits().maxChannelsPerClient

    @Option(name: .customLong("sendq"), help: "Bytes queued for a client that does not read before it is disconnected (K, M, G).")
    var sendQueue = "1M"

    @Flag(name: .customLong("no-flood-limit"), help: "Do not slow down clients past 5 lines at once and 2 a second (for benchmarks).")
    var noFloodLimit = false

    @Option(name: .customLong("ping-interval"), help: "Seconds of silence before the server PINGs a client.")
    var pingInterval = 90

    @Option(name: .customLong("ping-timeout"), help: "Seconds a PING may stay unanswered before the client is dropped.")
    var pingTimeout = 60

    @Option(
        name: .customLong("quiet-presence"),
        help: "Members past which a channel stops showing other people's joins, parts and quits (operators still see them)."
    )
    var quietPresence = ChatLimits().quietPresence

    @OptionGroup var store: ChatStoreOptions

    @Option(
        help: ArgumentHelp(
            "Who may create accounts: open (anyone, with REGISTER) or closed (only 'tincan chat user add').",
            valueName: "open|closed"
        )
    )
    var registration = ChatRegistrationPolicy.open.rawValue

    @Option(name: .customLong("min-password-length"), help: "Characters a new account's password has at least.")
    var minimumPasswordLength = ChatAccountSettings().minimumPasswordLength

    @OptionGroup var http: ChatHTTPOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard ChatRegistrationPolicy(rawValue: self.registration) != nil else {
            throw ValidationError("--registration takes open or closed, not '\(self.registration)'")
        }
        guard (0...65535).contains(self.port) else { throw ValidationError("--port must be 0-65535") }
        if let tlsPort = self.tlsPort, !(0...65535).contains(tlsPort) { throw ValidationError("--tls-port must be 0-65535") }
        guard (self.tlsPort == nil) == (self.cert == nil), (self.cert == nil) == (self.key == nil) else {
            throw ValidationError("--tls-port, --cert and --key go together")
        }
        for account in self.operators where !account.contains(":") || account.hasPrefix(":") {
            throw ValidationError("--oper takes NAME:PASSWORD, got '\(account)'")
        }
        guard self.maxClients > 0, self.maxClientsPerAddress > 0, self.maxChannels > 0, self.quietPresence > 0, self.minimumPasswordLength > 0 else {
            throw ValidationError(
                "--max-clients, --max-clients-per-address, --max-channels, --quiet-presence and --min-password-length must be at least 1"
            )
        }
        guard self.pingInterval > 0, self.pingTimeout > 0 else {
            throw ValidationError("--ping-interval and --ping-timeout must be at least 1 second")
        }
        // The rest by the server's own rules (the lobby's name and length among them), told
        // with the option that sets it.
        try validating(naming: Self.optionName) { try self.chatConfiguration(readingMOTD: false).validate() }
    }

    /// The option for a setting of `ChatServerConfiguration`.
    static func optionName(_ setting: String) -> String {
        switch setting {
        case "port": "--port"
        case "tlsPort": "--tls-port"
        case "tls": "--cert and --key"
        case "lobby": "--lobby"
        case "limits.maxClients": "--max-clients"
        case "limits.maxClientsPerAddress": "--max-clients-per-address"
        case "limits.maxChannelsPerClient": "--max-channels"
        case "limits.sendQueueBytes": "--sendq"
        case "limits.quietPresence": "--quiet-presence"
        case "pingInterval": "--ping-interval"
        case "pingTimeout": "--ping-timeout"
        case "operators": "--oper"
        default: ChatHTTPOptions.optionName(setting) ?? setting
        }
    }

    func chatConfiguration(readingMOTD: Bool = true) throws -> ChatServerConfiguration {
        var configuration = ChatServerConfiguration(
            host: self.host, port: self.port, name: self.name, lobby: self.lobby == "none" ? nil : self.lobby, password: self.password
        )
        configuration.serverInfo = self.serverInfo
        if let tlsPort = self.tlsPort, let cert = self.cert, let key = self.key {
            configuration.tlsPort = tlsPort
            configuration.tls = ChatTLSFiles(certificate: cert, privateKey: key)
        }
        if readingMOTD, let path = self.motd {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TinCanError(operation: "read --motd \(path)", cause: TinCanError.describeErrno(errno))
            }
            configuration.motd = String(decoding: data, as: UTF8.self)
                .split(separator: "\n", omittingEmptySubsequences: false)
                .map { String($0.prefix(400)).replacingOccurrences(of: "\r", with: "") }
                .reversed().drop(while: \.isEmpty).reversed()
        }
        for account in self.operators {
            guard let colon = account.firstIndex(of: ":") else { throw ValidationError("--oper takes NAME:PASSWORD, got '\(account)'") }
            configuration.operators[String(account[..<colon])] = String(account[account.index(after: colon)...])
        }
        configuration.limits.maxClients = self.maxClients
        configuration.limits.maxClientsPerAddress = self.maxClientsPerAddress
        configuration.limits.maxChannelsPerClient = self.maxChannels
        configuration.limits.sendQueueBytes = try parseSize(self.sendQueue, "--sendq")
        configuration.limits.quietPresence = self.quietPresence
        if self.noFloodLimit { configuration.floodLimit = nil }
        configuration.pingInterval = .seconds(Int64(self.pingInterval))
        configuration.pingTimeout = .seconds(Int64(self.pingTimeout))
        configuration.accounts.registration = ChatRegistrationPolicy(rawValue: self.registration) ?? .open
        configuration.accounts.minimumPasswordLength = self.minimumPasswordLength
        configuration.http = try self.http.configuration()
        return configuration
    }

    func run() async throws {
        let logger = self.logging.logger(default: .info)
        try await reportingFailures {
            let configuration = try self.chatConfiguration()
            // `--db none`: a plain IRC server, without accounts, offline messages or history.
            let store = self.store.db == ChatStoreOptions.none ? nil : try self.store.open()
            logger.debug("chat store \(store?.path ?? "none")")
            let server = ChatServer(configuration: configuration, store: store, logger: logger)
            try await runServices([server], logger: logger)
        }
    }
}

/// `--db`, shared by `tincan chat serve` and `tincan chat user`.
struct ChatStoreOptions: ParsableArguments {
    /// Where `tincan chat serve` and `tincan serve` keep chat data unless told otherwise.
    static let defaultPath = "./tincan-data/chat.sqlite"
    /// `tincan chat serve --db none`: no store (no accounts, offline messages or history).
    static let none = "none"

    @Option(
        help: ArgumentHelp(
            "The SQLite file of accounts, history and offline messages (created with its directory if missing; :memory: keeps nothing; for chat serve, none runs without accounts or history).",
            valueName: "PATH"
        )
    )
    var db = ChatStoreOptions.defaultPath

    /// Opens the store; off any event loop (the command runs before its servers start).
    func open() throws -> SQLiteChatStore {
        guard self.db != Self.none else {
            throw TinCanError(operation: "open the chat store", cause: "--db none keeps no accounts; name a database file")
        }
        return try SQLiteChatStore(path: self.db)
    }
}
