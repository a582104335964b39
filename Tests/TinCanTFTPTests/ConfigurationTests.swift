import NIOCore
import Testing
import TinCanCore

@testable import TinCanTFTP

@Suite struct ConfigurationTests {
    @Test("the defaults validate")
    func defaultsValidate() throws {
        try TFTPServerConfiguration().validate()
        try TFTPClientOptions().validate()
        try TFTPClientOptions(blockSize: 65464, windowSize: 65535, timeoutSeconds: 255, mode: .netascii).validate()
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var setting: String
        var check: @Sendable () throws -> Void
    }

    static let serverCases: [Case] = [
        Case(testDescription: "port", setting: "port") {
            var configuration = TFTPServerConfiguration()
            configuration.port = 70000
            try configuration.validate()
        },
        Case(testDescription: "transfer ports", setting: "transferPorts.lowerBound") {
            try TFTPServerConfiguration(transferPorts: 0...10).validate()
        },
        Case(testDescription: "maxTransfers", setting: "maxTransfers") {
            var configuration = TFTPServerConfiguration()
            configuration.maxTransfers = 0
            try configuration.validate()
        },
        Case(testDescription: "limits", setting: "limits.maxWindowSize") {
            var configuration = TFTPServerConfiguration()
            configuration.limits.maxWindowSize = 0
            try configuration.validate()
        },
        Case(testDescription: "timing", setting: "timing.minTimeout") {
            try TFTPServerConfiguration(timing: TFTPTiming(minTimeout: .seconds(10), maxTimeout: .seconds(5))).validate()
        },
        Case(testDescription: "client blockSize", setting: "blockSize") {
            try TFTPClientOptions(blockSize: 7).validate()
        },
        Case(testDescription: "client mode", setting: "mode") {
            try TFTPClientOptions(mode: .mail).validate()
        },
        Case(testDescription: "client timing", setting: "timing.maxRetries") {
            try TFTPClientOptions(timing: TFTPTiming(maxRetries: -1)).validate()
        },
    ]

    @Test("a setting out of range is named in the library's terms, never as a command-line flag", arguments: serverCases)
    func invalid(_ invalid: Case) {
        do {
            try invalid.check()
            Issue.record("no error")
        } catch let error as ConfigurationError {
            #expect(error.settings == [invalid.setting])
            #expect(error.description.hasPrefix(invalid.setting + " must "))
            #expect(!error.description.contains("--"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("a server dallies three longest timeouts, and its longest timeout is never below the first")
    func serverDally() {
        let standard = TFTPTiming.serverTiming()
        #expect(standard.dally == .seconds(15))
        #expect(TFTPServerConfiguration.defaultTiming == standard)
        let slow = TFTPTiming.serverTiming(maxRetries: 3, initialTimeout: .seconds(10))
        #expect(slow.maxTimeout == .seconds(10))
        #expect(slow.dally == .seconds(30))
        #expect(slow.maxRetries == 3)
        // A client keeps the adaptive dally, so that it exits promptly.
        #expect(TFTPClientOptions().timing.dally == nil)
    }
}
