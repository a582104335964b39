import ArgumentParser
import Foundation
import Testing
import TinCanTestSupport

@testable import TinCanCLI

@Suite(.timeLimit(.minutes(2))) struct CommandParsingTests {
    @Test func echoRunsBothOnPort7ByDefault() throws {
        let command = try #require(try TinCanCommand.parseAsRoot(["echo"]) as? EchoCommand)
        #expect(command.echoConfiguration.tcpPort == 7)
        #expect(command.echoConfiguration.udpPort == 7)
    }

    @Test func echoNamingOneRunsOnlyThatOne() throws {
        let command = try #require(try TinCanCommand.parseAsRoot(["echo", "--udp", "9000", "--upper"]) as? EchoCommand)
        #expect(command.echoConfiguration.tcpPort == nil)
        #expect(command.echoConfiguration.udpPort == 9000)
        #expect(command.echoConfiguration.transform == .upper)
    }

    @Test func listenDefaults() throws {
        let command = try #require(try TinCanCommand.parseAsRoot(["listen", "8080"]) as? ListenCommand)
        #expect(!command.keepOpen)
        #expect(command.backlog == 128)
        #expect(!command.noReuseAddress)
        #expect(command.maxClients == 100)
    }

    @Test func connectOptions() throws {
        let command = try #require(
            try TinCanCommand.parseAsRoot(["connect", "-u", "-6", "-w", "2.5", "-i", "3", "::1", "53"]) as? ConnectCommand
        )
        #expect(command.udp)
        #expect(command.family.family == .ipv6)
        #expect(command.wait == 2.5)
        #expect(command.io.relayOptions.idleTimeout == .milliseconds(3000))
    }

    @Test(arguments: [
        ["connect", "-z", "-u", "h", "1"],
        ["listen", "-u", "--broker", "1"],
        ["listen", "-u", "--exec", "cat", "1"],
        ["connect", "--send-only", "--recv-only", "h", "1"],
        ["echo", "--tcp", "70000"],
        ["connect", "-i", "-1", "h", "1"],
    ])
    func rejected(arguments: [String]) {
        #expect(throws: (any Error).self) { try TinCanCommand.parseAsRoot(arguments) }
    }
}

@Suite(.timeLimit(.minutes(2))) struct ServeTests {
    @Test("tincan serve starts echo on 7007 and TFTP on 6969 (root ./tincan-data/tftp, created), opens ./tincan-data/chat.sqlite, and stops on SIGTERM")
    func serve() async throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = try TestProcess("/bin/sh", ["-c", "cd '\(directory)' && exec '\(Programs.tincan)' serve --host 127.0.0.1"], input: .null)
        defer { process.kill() }
        try await process.waitForStderr("echo (udp) ready on port 7007")
        try await process.waitForStderr("tftp ready on port 6969")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: directory + "/tincan-data/tftp", isDirectory: &isDirectory) && isDirectory.boolValue)
        // The chat store is opened before any server starts.
        #expect(FileManager.default.fileExists(atPath: directory + "/tincan-data/chat.sqlite"))
        try Data("served by tftp\n".utf8).write(to: URL(fileURLWithPath: directory + "/tincan-data/tftp/hello.txt"))
        let get = try tincan(["tftp", "get", "127.0.0.1:6969", "hello.txt", "-"], input: .null)
        #expect(try await get.waitForExit() == 0, "\(get.stderr)")
        #expect(get.stdout.text == "served by tftp\n")
        #expect(process.stderr.contains("tincan connect 127.0.0.1 7007"))
        let socket = try await Blocking.run { try TestSocket.connect(port: 7007) }
        try socket.send("served\n")
        socket.shutdownWrite()
        #expect(try await socket.receiveAllAsync().text == "served\n")
        let udp = try TestSocket.udp()
        try udp.sendDatagram(Data("dgram".utf8), port: 7007)
        #expect(try await Blocking.run { try udp.receiveDatagram() }.0.text == "dgram")
        process.kill(SIGTERM)
        #expect(try await process.waitForExit() == 0)
    }
}
