import ArgumentParser
import TinCanCore
import TinCanRelay

/// `tincan listen [HOST] PORT`: the netcat server.
struct ListenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Listen on [HOST] PORT and relay a connection to stdin/stdout.",
        discussion: """
            Without -k, tincan accepts one connection, stops listening, and behaves like 'connect'.
            With -k it serves many clients at once: what any client sends goes to stdout, stdin goes to
            all of them, and with --broker each client's bytes also go to all the others. Port 0 lets
            the kernel choose; -v prints the port chosen.
            """
    )

    @Argument(help: ArgumentHelp("[HOST] PORT, HOST:PORT or [IPV6]:PORT; without HOST, every address.", valueName: "endpoint"))
    var endpoint: [String]

    @Flag(name: .shortAndLong, help: "Use UDP: print each datagram; stdin goes to the last sender (with -k, to every sender).")
    var udp = false

    @Flag(name: [.customShort("k"), .customLong("keep-open")], help: "Serve many clients at once and keep listening.")
    var keepOpen = false

    @Flag(help: "Relay what each client sends to all the other clients (implies -k).")
    var broker = false

    @Option(name: .customLong("max-clients"), help: "Most clients at once with -k; more are closed at once.")
    var maxClients: Int = TCPRelayListener.defaultMaxClients

    @Option(name: .customLong("slow-client-timeout"), help: ArgumentHelp("With -k: disconnect a client that a write has waited on for SECONDS (default 10).", valueName: "SECONDS"))
    var slowClientTimeout: Double = 10

    @Option(help: "Length of the queue of connections not yet accepted (listen(2) backlog).")
    var backlog: Int32 = 128

    @Flag(name: .customLong("no-reuse-address"), help: "Do not set SO_REUSEADDR (it is set by default, so a restarted listener can bind at once).")
    var noReuseAddress = false

    @OptionGroup var family: FamilyOptions
    @OptionGroup var io: RelayIOOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        do {
            _ = try Endpoint.parse(self.endpoint, role: .listen)
        } catch {
            throw ValidationError(error.description)
        }
        try validateSeconds(self.slowClientTimeout, "--slow-client-timeout")
        try validating {
            if self.udp {
                try self.udpListener(endpoint: Endpoint(host: nil, port: 0)).validate()
            } else {
                // The ends' kind is all the rules look at; no input is opened to validate.
                let ends: RelayEnds = if let exec = self.io.exec { .exec(exec) } else { .local(input: .none, output: .discard) }
                try self.tcpListener(endpoint: Endpoint(host: nil, port: 0)).validate(for: ends)
            }
        }
        if self.udp, self.io.exec != nil { throw ValidationError("--exec works with TCP only") }
        if self.udp, self.broker { throw ValidationError("--broker works with TCP only") }
        if self.keepOpen || self.broker, self.io.sendText != nil || self.io.sendFile != nil {
            throw ValidationError("--send and --send-file answer one connection; they cannot be used with -k or --broker")
        }
    }

    var settings: SocketSettings {
        SocketSettings(family: self.family.family, backlog: self.backlog, reuseAddress: !self.noReuseAddress)
    }

    func udpListener(endpoint: Endpoint) -> UDPRelayListener {
        UDPRelayListener(
            endpoint: endpoint, settings: self.settings, options: self.io.relayOptions,
            keepOpen: self.keepOpen, maxClients: self.maxClients
        )
    }

    func tcpListener(endpoint: Endpoint) -> TCPRelayListener {
        TCPRelayListener(
            endpoint: endpoint, settings: self.settings, options: self.io.relayOptions,
            keepOpen: self.keepOpen, broker: self.broker, maxClients: self.maxClients,
            slowClientTimeout: timeAmount(self.slowClientTimeout)
        )
    }

    func run() async throws {
        let logger = self.logging.logger()
        let endpoint = try Endpoint.parse(self.endpoint, role: .listen)
        try await reportingFailures {
            if self.udp {
                guard case .local(let input, let output) = try self.io.makeEnds(chunkSize: UDPLimits.maxDatagram) else { return }
                try await self.udpListener(endpoint: endpoint).run(input: input, output: output, logger: logger)
            } else {
                try await self.tcpListener(endpoint: endpoint).run(ends: try self.io.makeEnds(), logger: logger)
            }
        }
    }
}
