import ArgumentParser
import Logging
import TinCanChat
import TinCanCore
import TinCanEcho
import TinCanTFTP
#if canImport(Glibc)
import Glibc
#endif

/// `tincan serve`: every server at once on its default unprivileged port.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run every tincan server at once on unprivileged ports (echo 7007, TFTP 6969, chat 6667 and HTTP 8080).",
        discussion: """
            Echo runs on TCP and UDP 7007. TFTP serves ./tincan-data/tftp (created if missing) on UDP
            6969, read-only unless --tftp-create. The IRC chat server listens on TCP 6667 with the
            lobby #lobby and keeps accounts, history and offline messages in ./tincan-data/chat.sqlite
            (manage accounts with 'tincan chat user'); its HTTP port 8080 serves IRC over WebSocket at
            /socket and file uploads, kept in ./tincan-data/files. SIGINT or SIGTERM stops them gracefully.
            """
    )

    /// The echo port `tincan serve` uses, unprivileged unlike echo's own 7.
    static let echoPort = 7007
    /// The TFTP port `tincan serve` uses, unprivileged unlike TFTP's own 69.
    static let tftpPort = 6969
    /// The chat (IRC) port: IRC's own, unprivileged already.
    static let chatPort = 6667
    /// The chat server's HTTP port (WebSocket, uploads, the page).
    static let chatHTTPPort = 8080
    /// The directory TFTP serves, relative to the working directory.
    static let tftpRoot = "tincan-data/tftp"

    @Flag(name: .customLong("tftp-create"), help: "Let TFTP uploads create and replace files under ./tincan-data/tftp.")
    var tftpCreate = false

    @Option(help: "Address to bind (default: every address, IPv6 and IPv4).")
    var host: String?

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = self.logging.logger(default: .info)
        let host = self.host
        try await reportingFailures {
            let echo = EchoServer(
                configuration: EchoConfiguration(host: host, tcpPort: Self.echoPort, udpPort: Self.echoPort),
                logger: logger
            ) { addresses in
                let name = host ?? "localhost"
                if let tcp = addresses.tcp {
                    logger.info("echo (tcp) ready on port \(tcp.port ?? 0): tincan connect \(name) \(tcp.port ?? 0)")
                }
                if let udp = addresses.udp {
                    logger.info("echo (udp) ready on port \(udp.port ?? 0): tincan connect -u \(name) \(udp.port ?? 0)")
                }
            }
            let root = try Self.makeDirectory(Self.tftpRoot)
            let name = host ?? "localhost"
            let tftp = TFTPServer(
                configuration: TFTPServerConfiguration(host: host, port: Self.tftpPort),
                fileSystem: TFTPDirectory(root: root, allowCreate: self.tftpCreate),
                logger: logger,
                onServerRunning: { address in
                logger.info("tftp ready on port \(address.port ?? 0), serving ./\(Self.tftpRoot): tincan tftp get \(name):\(address.port ?? 0) FILE")
                }
            )
            let store = try SQLiteChatStore(path: ChatStoreOptions.defaultPath)
            // Clients on this machine reach the HTTP port as localhost (or the --host given).
            let http = ChatHTTPConfiguration(port: Self.chatHTTPPort, publicURL: "http://\(Self.urlHost(name)):\(Self.chatHTTPPort)")
            let chat = ChatServer(
                configuration: ChatServerConfiguration(host: host, port: Self.chatPort, http: http), store: store, logger: logger
            ) { addresses in
                let port = addresses.plain.port ?? 0
                logger.info("chat ready on port \(port), lobby #lobby: any IRC client, e.g. irssi -c \(name) -p \(port)")
                if let web = addresses.http?.port {
                    logger.info("chat in your browser: http://\(Self.urlHost(name)):\(web)/")
                }
            }
            try await runServices([echo, tftp, chat], logger: logger)
        }
    }

    /// A host as it goes in a URL: an IPv6 address in brackets.
    static func urlHost(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// Creates `path` (and its parents) when missing, and jails TFTP there.
    static func makeDirectory(_ path: String) throws -> TFTPRoot {
        var built = ""
        for component in path.split(separator: "/") {
            built += built.isEmpty ? String(component) : "/" + component
            if mkdir(built, 0o755) != 0, errno != EEXIST {
                throw TinCanError(operation: "create \(built)", cause: TinCanError.describeErrno(errno))
            }
        }
        do {
            return try TFTPRoot(path)
        } catch {
            throw TinCanError(operation: "tftp root \(path)", cause: error.message)
        }
    }
}
