#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import Testing
import TinCanCore
import TinCanTestSupport

@testable import TinCan

/// The listening side: accept errors, accept timeouts, port checks, the wildcard address.
@Suite(.timeLimit(.minutes(2))) struct ListenerTests {
    /// NIO keeps a listener open after EMFILE, ENFILE, ENOBUFS, ENOMEM and ECONNABORTED and only
    /// reports the error: the server must go on accepting, a waiting accept included.
    @Test func anAcceptErrorThatNIOSurvivesDoesNotEndTheServer() async throws {
        let server = try await TCPServer.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let waiting = Task { try await server.accept() }
        for code in [EMFILE, ECONNABORTED] {
            server.channel.pipeline.fireErrorCaught(IOError(errnoCode: code, reason: "accept"))
        }
        // Accepted after the errors (and the backoff that follows them).
        let first = try await TCPClient.connect(host: "127.0.0.1", port: server.port, options: testOptions)
        let acceptedFirst = try #require(try await waiting.value)
        let second = try await TCPClient.connect(host: "127.0.0.1", port: server.port, options: testOptions)
        let acceptedSecond = try #require(try await server.accept())
        try await second.send("still serving\n")
        #expect(try await acceptedSecond.receiveLine() == "still serving")
        for connection in [first, acceptedFirst, second, acceptedSecond] { try await connection.close() }
        try await server.close()
        #expect(try await server.accept() == nil)
    }

    @Test func acceptWaitsNoLongerThanTheServersTimeout() async throws {
        var options = testOptions
        options.timeout = .milliseconds(20)
        let server = try await TCPServer.bind(host: "127.0.0.1", port: 0, options: options)
        #expect(server.timeout == .milliseconds(20))
        let error = await #expect(throws: TinCanError.self) { try await server.accept() }
        #expect(error?.kind == .timedOut)
        // settimeout on the listener.
        let untimed = try await TCPServer.bind(host: "127.0.0.1", port: 0)
        #expect(untimed.timeout == nil)
        untimed.timeout = .milliseconds(20)
        let again = await #expect(throws: TinCanError.self) { try await untimed.accept() }
        #expect(again?.kind == .timedOut)
        // The server goes on accepting.
        let client = try await TCPClient.connect(host: "127.0.0.1", port: untimed.port, options: testOptions)
        let accepted = try #require(try await untimed.accept(timeout: .seconds(10)))
        for connection in [client, accepted] { try await connection.close() }
        try await server.close()
        try await untimed.close()
    }

    /// NIO traps on a port that does not fit 16 bits: every entry point checks first, the same way.
    @Test func anOutOfRangePortIsAClearError() async throws {
        func expectPortError(_ cause: String, _ body: () async throws -> Void) async {
            let error = await #expect(throws: TinCanError.self) { try await body() }
            #expect(error?.cause == cause)
        }
        let dial = "port must be from 1 to 65535"
        let bind = "port must be from 0 to 65535"
        await expectPortError(dial) { _ = try await TCPClient.connect(host: "127.0.0.1", port: 70000) }
        await expectPortError(dial) { _ = try await TCPClient.connect(host: "127.0.0.1", port: 0) }
        await expectPortError(bind) { _ = try await TCPServer.bind(host: "127.0.0.1", port: 70000) }
        await expectPortError(bind) { _ = try await TCPServer.bind(port: -1) }
        await expectPortError(bind) { _ = try await UDPSocket.bind(host: "127.0.0.1", port: 70000) }
        await expectPortError(dial) { _ = try await UDPSocket.connect(host: "127.0.0.1", port: 70000) }
        let socket = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        await expectPortError(dial) { try await socket.connect(host: "127.0.0.1", port: 70000) }
        await expectPortError(dial) { try await socket.send(ByteBuffer(string: "x"), to: "127.0.0.1", port: 70000) }
        await expectPortError(dial) { try await socket.send(ByteBuffer(string: "x"), to: "127.0.0.1", port: -5) }
        try await socket.close()
    }

    /// Only a missing IPv6 makes the wildcard fall back to IPv4: `::` in use is the answer, not a
    /// quiet IPv4-only socket.
    @Test func theWildcardFallsBackToIPv4OnlyWhenIPv6IsMissing() async throws {
        try #require(ipv6Available, "IPv6 loopback is not available here")
        let udpHolder = try await UDPSocket.bind(host: "::1", port: 0)
        let udpError = await #expect(throws: TinCanError.self) {
            let socket = try await UDPSocket.bind(port: udpHolder.port)
            try await socket.close()
        }
        #expect(udpError?.kind == .addressInUse)
        let tcpHolder = try await TCPServer.bind(host: "::1", port: 0, reuseAddress: false)
        let tcpError = await #expect(throws: TinCanError.self) {
            let server = try await TCPServer.bind(port: tcpHolder.port, reuseAddress: false)
            try await server.close()
        }
        #expect(tcpError?.kind == .addressInUse)
        try await udpHolder.close()
        try await tcpHolder.close()
    }

    /// The wildcard socket takes IPv4 too, whatever the system's IPV6_V6ONLY default.
    @Test func theWildcardIsDualStack() async throws {
        let server = try await TCPServer.bind(port: 0, options: testOptions)
        let client = try await TCPClient.connect(host: "127.0.0.1", port: server.port, options: testOptions)
        let accepted = try #require(try await server.accept())
        let udp = try await UDPSocket.bind(port: 0, options: testOptions)
        let sender = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        try await sender.send(ByteBuffer(string: "v4"), to: "127.0.0.1", port: udp.port)
        #expect(String(buffer: try await udp.receive()) == "v4")
        if ipv6Available {
            #expect(server.localAddress.protocol == .inet6)
            #expect(try await server.channel.getOption(WildcardBind.dualStackOption).get() == 0)
            #expect(try await udp.channelOption(WildcardBind.dualStackOption) == 0)
        }
        for connection in [client, accepted] { try await connection.close() }
        try await server.close()
        try await udp.close()
        try await sender.close()
    }

    @Test func theWildcardHelperRetriesOnlyWhenIPv6IsMissing() async throws {
        for code in [EAFNOSUPPORT, EADDRNOTAVAIL] {
            var tried: [String] = []
            let bound = try await WildcardBind.bind(port: 7) { address in
                tried.append(address.ipAddress ?? "?")
                if address.protocol == .inet6 { throw IOError(errnoCode: code, reason: "bind") }
                return address
            }
            #expect(tried == ["::", "0.0.0.0"])
            #expect(bound.port == 7)
        }
        var tried: [String] = []
        let error = await #expect(throws: IOError.self) {
            _ = try await WildcardBind.bind(port: 7) { (address: SocketAddress) -> SocketAddress in
                tried.append(address.ipAddress ?? "?")
                throw IOError(errnoCode: EADDRINUSE, reason: "bind")
            }
        }
        #expect(error?.errnoCode == EADDRINUSE)
        #expect(tried == ["::"])
    }
}
