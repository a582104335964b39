import NIOCore
import Testing
import TinCanCore
import TinCanRelay

/// The relay's configuration checks itself, in the library's own words: settings are named by
/// their property names, never by a command line's options.
@Suite struct RelayConfigurationTests {
    static let endpoint = Endpoint(host: "127.0.0.1", port: 0)

    @Test("the defaults validate")
    func defaults() throws {
        try RelayOptions().validate()
        try SocketSettings().validate()
        try TCPRelayListener(endpoint: Self.endpoint).validate(for: .exec("cat"))
        try UDPRelayListener(endpoint: Self.endpoint).validate()
    }

    static let rejected: [(String, @Sendable () throws -> Void)] = [
        ("sendOnly and receiveOnly cannot be used together", { try RelayOptions(sendOnly: true, receiveOnly: true).validate() }),
        ("idleTimeout must be more than 0 seconds and at most 365 days", { try RelayOptions(idleTimeout: .zero).validate() }),
        ("wait must be more than 0 seconds and at most 365 days", { try SocketSettings(wait: .seconds(-1)).validate() }),
        ("backlog must not be negative", { try SocketSettings(backlog: -1).validate() }),
        ("maxClients must be at least 1", { try TCPRelayListener(endpoint: RelayConfigurationTests.endpoint, maxClients: 0).validate() }),
        ("maxClients must be at least 1", { try UDPRelayListener(endpoint: RelayConfigurationTests.endpoint, maxClients: 0).validate() }),
        (
            "slowClientTimeout must be more than 0 seconds and at most 365 days",
            { try TCPRelayListener(endpoint: RelayConfigurationTests.endpoint, slowClientTimeout: .hours(24 * 366)).validate() }
        ),
        ("broker and exec cannot be used together", { try TCPRelayListener(endpoint: RelayConfigurationTests.endpoint, broker: true).validate(for: .exec("cat")) }),
        (
            "sendOnly and receiveOnly cannot be used together",
            { try TCPRelayListener(endpoint: RelayConfigurationTests.endpoint, options: RelayOptions(sendOnly: true, receiveOnly: true)).validate() }
        ),
    ]

    @Test("what the relay cannot work with is rejected, naming the setting", arguments: 0..<RelayConfigurationTests.rejected.count)
    func rejects(index: Int) {
        let (message, validate) = Self.rejected[index]
        do {
            try validate()
            Issue.record("accepted; expected: \(message)")
        } catch let error as ConfigurationError {
            #expect(error.description == message)
            #expect(!error.description.contains("--"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("a front end names its own options for the settings")
    func naming() {
        let error = ConfigurationError(settings: ["sendOnly", "receiveOnly"], problem: "cannot be used together")
        #expect(error.description(namingSetting: { $0.uppercased() }) == "SENDONLY and RECEIVEONLY cannot be used together")
    }
}
