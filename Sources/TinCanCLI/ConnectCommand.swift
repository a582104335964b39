import ArgumentParser
import TinCanCore
import TinCanRelay

/// `tincan connect HOST PORT`: the netcat client.
struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Connect to HOST PORT and relay stdin to the socket and the socket to stdout.",
        discussion: """
            HOST PORT may also be written HOST:PORT or [IPV6]:PORT. When stdin ends, tincan half-closes
            (sends FIN) and keeps printing until the peer closes. Exit status: 0 when both directions
            ended normally, 1 on failure (one line on stderr says what and why).
            """
    )

    @Argument(help: ArgumentHelp("HOST PORT, HOST:PORT or [IPV6]:PORT.", valueName: "endpoint"))
    var endpoint: [String]

    @Flag(name: .shortAndLong, help: "Use UDP: each read of stdin is sent as one datagram.")
    var udp = false

    @Flag(name: .customShort("z"), help: "Only check that the port accepts TCP connections (exit 0 or 1).")
    var zeroIO = false

    @Option(name: [.customShort("w"), .customLong("wait")], help: ArgumentHelp("TCP: give up connecting after SECONDS. UDP: wait SECONDS for replies after stdin ends (default 1).", valueName: "SECONDS"))
    var wait: Double?

    @OptionGroup var family: FamilyOptions
    @OptionGroup var io: RelayIOOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        do {
            _ = try Endpoint.parse(self.endpoint, role: .connect)
        } catch {
            throw ValidationError(error.description)
        }
        if let wait { try validateSeconds(wait, "--wait") }
        if self.zeroIO, self.udp { throw ValidationError("-z checks TCP ports only") }
        if self.udp, self.io.exec != nil { throw ValidationError("--exec works with TCP only") }
        try validating { try self.settings.validate() }
    }

    var settings: SocketSettings {
        SocketSettings(family: self.family.family, wait: self.wait.map(timeAmount))
    }

    func run() async throws {
        let logger = self.logging.logger()
        let endpoint = try Endpoint.parse(self.endpoint, role: .connect)
        let settings = self.settings
        if self.zeroIO {
            do {
                try await TCPRelayClient.probe(endpoint, settings: settings, logger: logger)
            } catch {
                logger.info("\(error)")
                throw ExitCode.failure
            }
            return
        }
        try await reportingFailures {
            if self.udp {
                guard case .local(let input, let output) = try self.io.makeEnds(chunkSize: UDPLimits.maxDatagram) else { return }
                _ = try await UDPRelayClient.run(
                    to: endpoint, settings: settings, options: self.io.relayOptions,
                    input: input, output: output, logger: logger
                )
            } else {
                _ = try await TCPRelayClient.run(
                    to: endpoint, settings: settings, options: self.io.relayOptions,
                    ends: try self.io.makeEnds(), logger: logger
                )
            }
        }
    }
}
