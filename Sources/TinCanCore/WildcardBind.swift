#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Binding "every address": the dual-stack wildcard `::` first, and `0.0.0.0` only where the machine
/// has no IPv6.
///
/// The one rule for every listener (the library's TCP server and UDP socket, the relay's listener):
/// fall back to IPv4 only when IPv6 itself is missing (`EAFNOSUPPORT`, `EADDRNOTAVAIL`). Any other
/// failure on `::` is the answer: `EADDRINUSE` there must not quietly become a socket that hears
/// IPv4 only.
public enum WildcardBind {
    /// Calls `bind` with `[::]:port`, and again with `0.0.0.0:port` when the first call failed because
    /// IPv6 is missing. The closure should clear `IPV6_V6ONLY` on the `::` socket
    /// (``dualStackOption``) so that it takes IPv4 too whatever the system's default.
    ///
    /// - Returns: what `bind` returned.
    /// - Throws: the error of the first call unless it was one of IPv6 missing; else that of the second.
    public static func bind<Result>(
        port: Int,
        _ bind: (SocketAddress) async throws -> Result
    ) async throws -> Result {
        do {
            return try await bind(try SocketAddress(ipAddress: "::", port: port))
        } catch where Self.isIPv6Missing(error) {
            return try await bind(try SocketAddress(ipAddress: "0.0.0.0", port: port))
        }
    }

    /// Whether a bind failed because the machine has no IPv6 (`EAFNOSUPPORT`, `EADDRNOTAVAIL`).
    public static func isIPv6Missing(_ error: any Error) -> Bool {
        guard let code = TinCanError.errno(of: error) else { return false }
        return code == EAFNOSUPPORT || code == EADDRNOTAVAIL
    }

    /// `IPV6_V6ONLY`, as a channel option; 0 on the `::` socket makes it dual stack, 1 IPv6 only.
    public static let dualStackOption = ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only)
}
