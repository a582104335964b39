/// Which IP family a command may use.
public enum AddressFamily: String, Sendable, CaseIterable, CustomStringConvertible {
    /// IPv4 or IPv6, whichever the name resolves to (each address is tried in turn).
    case any
    /// IPv4 only.
    case ipv4
    /// IPv6 only.
    case ipv6

    public var description: String {
        switch self {
        case .any: "any"
        case .ipv4: "IPv4"
        case .ipv6: "IPv6"
        }
    }
}

/// A host and port as a user types them on the command line.
///
/// Accepted forms (the same ones nc, ncat and socat users type):
/// - two words: `HOST PORT`, where HOST may be a bare IPv6 literal (`::1 8080`);
/// - one word: `HOST:PORT`, `[IPV6]:PORT`, or (where a host is optional) just `PORT`.
///
/// Ports are decimal numbers from 0 to 65535; port 0 means "let the kernel choose" and is only
/// accepted where binding (``EndpointRole/listen``).
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// The host name or address literal, without brackets; `nil` means "any address" when listening.
    public var host: String?
    /// The port number.
    public var port: Int

    public init(host: String?, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around IPv6 literals, or `*:port` without a host.
    public var description: String {
        guard let host else { return "*:\(self.port)" }
        return host.contains(":") ? "[\(host)]:\(self.port)" : "\(host):\(self.port)"
    }
}

/// What an endpoint is for, which decides whether the host may be left out and whether port 0 is valid.
public enum EndpointRole: Sendable {
    /// The endpoint is dialled: a host is required and port 0 is refused.
    case connect
    /// The endpoint is bound: the host is optional and port 0 lets the kernel choose.
    case listen
}

/// A command-line endpoint that could not be understood; `description` is the message for the user.
public struct EndpointParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension Endpoint {
    /// Parses one or two command-line words into an endpoint.
    ///
    /// - Parameters:
    ///   - words: `[HOST, PORT]`, `[HOST:PORT]`, `[[V6]:PORT]` or, for ``EndpointRole/listen``, `[PORT]`.
    ///   - role: whether the endpoint is dialled or bound.
    public static func parse(_ words: [String], role: EndpointRole) throws(EndpointParseError) -> Endpoint {
        let endpoint: Endpoint
        switch words.count {
        case 2:
            endpoint = Endpoint(host: try parseHost(words[0]), port: try parsePort(words[1], role: role))
        case 1:
            endpoint = try parseSingle(words[0], role: role)
        case 0:
            throw EndpointParseError(role == .connect ? "missing HOST and PORT" : "missing PORT")
        default:
            throw EndpointParseError("too many words for an endpoint: \(words.joined(separator: " "))")
        }
        if role == .connect, endpoint.host == nil {
            throw EndpointParseError("missing HOST: connect needs HOST PORT or HOST:PORT")
        }
        return endpoint
    }

    private static func parseSingle(_ word: String, role: EndpointRole) throws(EndpointParseError) -> Endpoint {
        if word.hasPrefix("[") {
            guard let close = word.firstIndex(of: "]") else {
                throw EndpointParseError("invalid endpoint '\(word)': missing ']' after the IPv6 address")
            }
            let host = String(word[word.index(after: word.startIndex)..<close])
            let rest = word[word.index(after: close)...]
            guard rest.first == ":" else {
                throw EndpointParseError("invalid endpoint '\(word)': expected ':PORT' after ']'")
            }
            return Endpoint(host: try parseHost(host), port: try parsePort(String(rest.dropFirst()), role: role))
        }
        let colons = word.count(where: { $0 == ":" })
        if colons == 1, let colon = word.firstIndex(of: ":") {
            let host = String(word[..<colon])
            let port = String(word[word.index(after: colon)...])
            return Endpoint(host: try parseHost(host), port: try parsePort(port, role: role))
        }
        if colons > 1 {
            throw EndpointParseError(
                "invalid endpoint '\(word)': write an IPv6 address with a port as [ADDRESS]:PORT"
            )
        }
        // A lone word is a port where the host is optional, and a host with no port otherwise.
        if role == .listen {
            return Endpoint(host: nil, port: try parsePort(word, role: role))
        }
        throw EndpointParseError("missing PORT after '\(word)': use HOST PORT or HOST:PORT")
    }

    /// Parses `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address; `defaultPort` when none is
    /// given (a TFTP server, for example).
    public static func parse(host word: String, defaultPort: Int) throws(EndpointParseError) -> Endpoint {
        let colons = word.count(where: { $0 == ":" })
        if word.hasPrefix("[") || colons == 1 {
            return try parseSingle(word, role: .connect)
        }
        return Endpoint(host: try parseHost(word), port: defaultPort)
    }

    private static func parseHost(_ host: String) throws(EndpointParseError) -> String {
        if host.isEmpty { throw EndpointParseError("empty host name") }
        if host.utf8.count > 253 { throw EndpointParseError("host name longer than 253 bytes") }
        if host.contains(where: { $0.isWhitespace || $0 == "\0" || $0 == "[" || $0 == "]" }) {
            throw EndpointParseError("invalid host name '\(host)'")
        }
        return host
    }

    /// Parses a decimal port number; `role` decides whether 0 is allowed.
    public static func parsePort(_ text: String, role: EndpointRole) throws(EndpointParseError) -> Int {
        guard !text.isEmpty, text.utf8.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(text), port <= 65535
        else {
            throw EndpointParseError("invalid port '\(text)': expected a number from 0 to 65535")
        }
        if port == 0, role == .connect {
            throw EndpointParseError("invalid port 0: a connection needs a port from 1 to 65535")
        }
        return port
    }

    /// The ports valid for `role`: 1 to 65535 to dial, 0 (the kernel's choice) to 65535 to bind.
    public static func validPorts(for role: EndpointRole) -> ClosedRange<Int> {
        role == .connect ? 1...65535 : 0...65535
    }

    /// Checks a port given as a number (by a program, not typed): the one check that the socket
    /// library makes before a port reaches NIO, which traps on one that does not fit 16 bits.
    ///
    /// - Throws: ``EndpointParseError`` `port must be from 1 to 65535` (or `0 to 65535` for
    ///   ``EndpointRole/listen``).
    public static func checkPort(_ port: Int, role: EndpointRole) throws(EndpointParseError) {
        let valid = validPorts(for: role)
        guard valid.contains(port) else {
            throw EndpointParseError("port must be from \(valid.lowerBound) to \(valid.upperBound)")
        }
    }
}
