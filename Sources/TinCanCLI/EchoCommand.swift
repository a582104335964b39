import ArgumentParser
import Logging
import ServiceLifecycle
import TinCanCore
import TinCanEcho

/// `tincan echo`: TCP and UDP echo servers.
struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Run TCP and UDP echo servers (RFC 862).",
        discussion: """
            Without --tcp or --udp both run on port 7; naming one runs only that one (name both for both).
            SIGINT or SIGTERM stops accepting and closes every connection.
            """
    )

    @Option(help: "Address to bind (default: every address, IPv6 and IPv4).")
    var host: String?

    @Option(help: "Serve TCP echo on PORT (0: the kernel chooses).")
    var tcp: Int?

    @Option(help: "Serve UDP echo on PORT (0: the kernel chooses).")
    var udp: Int?

    @Flag(help: "Reply in upper case (ASCII letters), the classic first socket program.")
    var upper = false

    @Option(name: .customLong("max-connections"), help: "Most TCP connections at once; more are closed as they arrive.")
    var maxConnections: Int = EchoConfiguration.defaultMaxConnections

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try validating { try self.echoConfiguration.validate() }
    }

    var echoConfiguration: EchoConfiguration {
        let both = self.tcp == nil && self.udp == nil
        return EchoConfiguration(
            host: self.host,
            tcpPort: both ? EchoConfiguration.defaultPort : self.tcp,
            udpPort: both ? EchoConfiguration.defaultPort : self.udp,
            transform: self.upper ? .upper : .none,
            maxConnections: self.maxConnections
        )
    }

    func run() async throws {
        let logger = self.logging.logger(default: .info)
        try await reportingFailures {
            let server = EchoServer(configuration: self.echoConfiguration, logger: logger)
            try await runServices([server], logger: logger)
        }
    }
}

/// Runs services until SIGINT or SIGTERM, then shuts them down gracefully.
func runServices(_ services: [any Service], logger: Logger) async throws {
    let group = ServiceGroup(
        configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Logger(label: "tincan.lifecycle") { _ in SwiftLogNoOpLogHandler() }
        )
    )
    do {
        try await group.run()
    } catch let error as ServiceGroupError {
        logger.debug("\(error)")
        throw error
    }
}
