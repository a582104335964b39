#if canImport(Glibc)
import Glibc
#endif
import Testing
import TinCanCore

@Suite(.timeLimit(.minutes(2))) struct EndpointTests {
    @Test(arguments: [
        (["example.com", "80"], Endpoint(host: "example.com", port: 80)),
        (["example.com:80"], Endpoint(host: "example.com", port: 80)),
        (["127.0.0.1:7"], Endpoint(host: "127.0.0.1", port: 7)),
        (["[::1]:8080"], Endpoint(host: "::1", port: 8080)),
        (["::1", "8080"], Endpoint(host: "::1", port: 8080)),
        (["[fe80::1%lo]:22"], Endpoint(host: "fe80::1%lo", port: 22)),
        (["localhost", "65535"], Endpoint(host: "localhost", port: 65535)),
    ])
    func connectForms(words: [String], expected: Endpoint) throws {
        #expect(try Endpoint.parse(words, role: .connect) == expected)
    }

    @Test(arguments: [
        (["8080"], Endpoint(host: nil, port: 8080)),
        (["0"], Endpoint(host: nil, port: 0)),
        (["127.0.0.1", "0"], Endpoint(host: "127.0.0.1", port: 0)),
        (["[::]:9000"], Endpoint(host: "::", port: 9000)),
        (["0.0.0.0:1"], Endpoint(host: "0.0.0.0", port: 1)),
    ])
    func listenForms(words: [String], expected: Endpoint) throws {
        #expect(try Endpoint.parse(words, role: .listen) == expected)
    }

    @Test(arguments: [
        ([], "missing HOST and PORT"),
        (["example.com"], "missing PORT after 'example.com'"),
        (["8080"], "missing PORT after '8080'"),
        (["host", "0"], "invalid port 0"),
        (["host", "65536"], "invalid port '65536'"),
        (["host", "-1"], "invalid port '-1'"),
        (["host", "http"], "invalid port 'http'"),
        (["host", "+80"], "invalid port '+80'"),
        (["host:"], "invalid port ''"),
        (["::1:80"], "write an IPv6 address with a port as [ADDRESS]:PORT"),
        (["[::1]80"], "expected ':PORT' after ']'"),
        (["[::1:80"], "missing ']'"),
        ([":80"], "empty host name"),
        (["a", "b", "c"], "too many words"),
        (["bad host", "80"], "invalid host name"),
    ])
    func connectErrors(words: [String], message: String) {
        #expect {
            try Endpoint.parse(words, role: .connect)
        } throws: { error in
            String(describing: error).contains(message)
        }
    }

    @Test func listenWithoutPortIsAnError() {
        #expect(throws: EndpointParseError.self) { try Endpoint.parse([], role: .listen) }
        #expect(throws: EndpointParseError.self) { try Endpoint.parse(["host", "99999"], role: .listen) }
    }

    @Test(arguments: [
        (Endpoint(host: "::1", port: 80), "[::1]:80"),
        (Endpoint(host: "10.0.0.1", port: 7), "10.0.0.1:7"),
        (Endpoint(host: nil, port: 7007), "*:7007"),
    ])
    func description(endpoint: Endpoint, text: String) {
        #expect(endpoint.description == text)
    }
}

@Suite(.timeLimit(.minutes(2))) struct ResolverTests {
    @Test func literalsResolveWithoutDNS() async throws {
        let v4 = try await Resolver.resolve(Endpoint(host: "127.0.0.1", port: 80), family: .any, transport: .tcp)
        #expect(v4.map(\.endpointDescription) == ["127.0.0.1:80"])
        let v6 = try await Resolver.resolve(Endpoint(host: "::1", port: 80), family: .ipv6, transport: .udp)
        #expect(v6.map(\.endpointDescription) == ["[::1]:80"])
    }

    @Test func familyMismatchIsExplained() async {
        await #expect {
            try await Resolver.resolve(Endpoint(host: "::1", port: 80), family: .ipv4, transport: .tcp)
        } throws: { error in
            String(describing: error) == "resolve ::1: an IPv6 address, but -4 asks for IPv4"
        }
    }

    @Test func wildcardFollowsFamily() async throws {
        let any = try await Resolver.resolve(Endpoint(host: nil, port: 5), family: .any, transport: .tcp)
        #expect(any.map(\.endpointDescription) == ["[::]:5"])
        let v4 = try await Resolver.resolve(Endpoint(host: nil, port: 5), family: .ipv4, transport: .tcp)
        #expect(v4.map(\.endpointDescription) == ["0.0.0.0:5"])
    }

    @Test func localhostResolvesThroughTheSystem() async throws {
        let addresses = try await Resolver.resolve(Endpoint(host: "localhost", port: 9), family: .ipv4, transport: .tcp)
        #expect(addresses.map(\.endpointDescription).contains("127.0.0.1:9"))
    }
}

@Suite(.timeLimit(.minutes(2))) struct ErrorTextTests {
    @Test func errnoCausesReadAsSentences() {
        #expect(TinCanError.describeErrno(ECONNREFUSED) == "connection refused")
        #expect(TinCanError.describeErrno(EADDRINUSE) == "address already in use")
        #expect(TinCanError.describeErrno(EACCES) == "permission denied")
        #expect(TinCanError.describeErrno(ENETUNREACH) == "network unreachable")
        #expect(TinCanError(operation: "connect to 127.0.0.1:9", cause: "connection refused").description
            == "connect to 127.0.0.1:9: connection refused")
    }
}
