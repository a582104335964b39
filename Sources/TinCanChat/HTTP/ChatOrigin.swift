/// A web origin (RFC 6454): scheme, host and port, as a browser sends it in `Origin`, and as
/// the start of a URL. Hosts compare without case; a missing port is the scheme's.
struct ChatOrigin: Hashable, Sendable {
    let scheme: String
    let host: String
    let port: Int
    /// The path after the origin (a URL's), without a trailing `/`; empty for an origin.
    let path: String

    /// Parses `http(s)://host[:port]`, with a path when `allowPath` (no query or fragment, no
    /// user info); nil for anything else (`null`, other schemes).
    init?(url: String, allowPath: Bool) {
        let lowered = url.lowercased()
        let scheme: String
        if lowered.hasPrefix("http://") {
            scheme = "http"
        } else if lowered.hasPrefix("https://") {
            scheme = "https"
        } else {
            return nil
        }
        let rest = url.dropFirst(scheme.count + 3)
        guard !rest.contains(where: { $0 == "?" || $0 == "#" || $0 == "@" || $0 == " " }) else { return nil }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        guard allowPath || path.isEmpty else { return nil }
        guard let (host, port) = Self.hostAndPort(rest[..<slash], defaultPort: scheme == "https" ? 443 : 80) else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
    }

    /// `host[:port]` or `[v6][:port]` (a `Host` header's form), the host lowercased.
    static func hostAndPort(_ text: Substring, defaultPort: Int) -> (String, Int)? {
        var host = text
        var port = defaultPort
        if let colon = text.lastIndex(of: ":"), !text[colon...].contains("]") {
            guard let number = Int(text[text.index(after: colon)...]), (1...65535).contains(number) else { return nil }
            host = text[..<colon]
            port = number
        }
        guard !host.isEmpty, !host.contains(":") || (host.hasPrefix("[") && host.hasSuffix("]")) else { return nil }
        return (host.lowercased(), port)
    }

    /// The URL without a trailing `/`.
    var text: String {
        let defaultPort = self.scheme == "https" ? 443 : 80
        return "\(self.scheme)://\(self.host)" + (self.port == defaultPort ? "" : ":\(self.port)") + self.path
    }
}

/// Which pages may use the server from a browser (``ChatHTTPConfiguration/allowedOrigins``):
/// the server's own origin, and the listed ones.
struct ChatOriginPolicy: Sendable {
    private let allowed: Set<ChatOrigin>
    private let anyOrigin: Bool
    private let secure: Bool

    init(allowedOrigins: [String], secure: Bool) {
        self.anyOrigin = allowedOrigins.contains("*")
        self.allowed = Set(allowedOrigins.compactMap { ChatOrigin(url: $0, allowPath: false) })
        self.secure = secure
    }

    /// Whether a request with this `Origin` (nil: none, so not a page's request) to this `Host`
    /// may go on. The server's own origin is the one whose host and port are the `Host`'s.
    func allows(origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        if self.anyOrigin { return true }
        guard let parsed = ChatOrigin(url: origin, allowPath: false) else { return false }
        if self.allowed.contains(parsed) { return true }
        guard let host, let own = ChatOrigin.hostAndPort(Substring(host), defaultPort: self.secure ? 443 : 80) else { return false }
        return own == (parsed.host, parsed.port)
    }
}

extension ChatOrigin {
    init(scheme: String, host: String, port: Int, path: String = "") {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
    }
}
