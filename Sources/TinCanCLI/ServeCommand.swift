import ArgumentParser
import Logging
import TinCanCore
import TinCanEcho

/// `tincan serve`: every server at once on its default unprivileged port.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run every tincan server at once on unprivileged ports (echo on 7007, TCP and UDP).",
        discussion: "SIGINT or SIGTERM stops them gracefully."
    )

    /// The echo port `tincan serve` uses, unprivileged unlike echo's own 7.
    static let echoPort = 7007

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
            try await runServices([echo], logger: logger)
        }
    }
}
