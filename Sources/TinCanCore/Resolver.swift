#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// The transport a resolved address is for.
public enum TransportProtocol: String, Sendable, CustomStringConvertible {
    case tcp
    case udp

    public var description: String { self.rawValue }
}

/// Turns host names into socket addresses with `getaddrinfo`, off the event loops.
public enum Resolver {
    /// Resolves `endpoint` to every address of the wanted family, in the order the system prefers.
    ///
    /// A host of `nil` resolves to the wildcard address: `::` (dual stack) for ``AddressFamily/any`` and
    /// ``AddressFamily/ipv6``, `0.0.0.0` for ``AddressFamily/ipv4``.
    ///
    /// - Throws: ``TinCanError`` with cause `unknown host` or the resolver's own words.
    public static func resolve(
        _ endpoint: Endpoint,
        family: AddressFamily,
        transport: TransportProtocol
    ) async throws -> [SocketAddress] {
        guard let host = endpoint.host else {
            switch family {
            case .ipv4: return [try SocketAddress(ipAddress: "0.0.0.0", port: endpoint.port)]
            case .any, .ipv6: return [try SocketAddress(ipAddress: "::", port: endpoint.port)]
            }
        }
        // Literals resolve without a thread hop, and without asking DNS.
        if let literal = try? SocketAddress(ipAddress: host, port: endpoint.port) {
            try check(literal, family: family, host: host)
            return [literal]
        }
        let port = endpoint.port
        return try await NIOThreadPool.singleton.runIfActive {
            try getaddrinfo(host: host, port: port, family: family, transport: transport)
        }
    }

    private static func check(_ address: SocketAddress, family: AddressFamily, host: String) throws {
        switch (family, address.protocol) {
        case (.ipv4, .inet6):
            throw TinCanError(operation: "resolve \(host)", cause: "an IPv6 address, but -4 asks for IPv4")
        case (.ipv6, .inet):
            throw TinCanError(operation: "resolve \(host)", cause: "an IPv4 address, but -6 asks for IPv6")
        default:
            return
        }
    }

    static func getaddrinfo(
        host: String,
        port: Int,
        family: AddressFamily,
        transport: TransportProtocol
    ) throws -> [SocketAddress] {
        var hints = addrinfo()
        switch family {
        case .any: hints.ai_family = AF_UNSPEC
        case .ipv4: hints.ai_family = AF_INET
        case .ipv6: hints.ai_family = AF_INET6
        }
        #if canImport(Darwin)
        hints.ai_socktype = transport == .tcp ? SOCK_STREAM : SOCK_DGRAM
        #else
        hints.ai_socktype = CInt(transport == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue)
        #endif
        hints.ai_flags = AI_ADDRCONFIG
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = Glibc.getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            let cause: String
            switch rc {
            // -5 and -9 are glibc's EAI_NODATA and EAI_ADDRFAMILY, which Swift does not import.
            case EAI_NONAME, -5: cause = "unknown host"
            case EAI_AGAIN: cause = "name server did not answer (temporary failure)"
            case -9: cause = "no \(family) address for this host"
            default: cause = String(cString: gai_strerror(rc)).lowercased()
            }
            let kind: TinCanError.Kind = rc == EAI_AGAIN ? .other : .unknownHost
            throw TinCanError(operation: "resolve \(host)", cause: cause, kind: kind)
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            defer { cursor = info.pointee.ai_next }
            guard let sa = info.pointee.ai_addr else { continue }
            let address: SocketAddress
            switch info.pointee.ai_family {
            case AF_INET:
                address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    SocketAddress($0.pointee, host: host)
                }
            case AF_INET6:
                address = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    SocketAddress($0.pointee, host: host)
                }
            default:
                continue
            }
            if !addresses.contains(address) { addresses.append(address) }
        }
        if addresses.isEmpty {
            throw TinCanError(operation: "resolve \(host)", cause: "no \(family) address for this host")
        }
        return addresses
    }
}

extension SocketAddress {
    /// `127.0.0.1:80` or `[::1]:80`, the way users type endpoints.
    public var endpointDescription: String {
        let ip = self.ipAddress ?? "?"
        let port = self.port ?? 0
        return self.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
