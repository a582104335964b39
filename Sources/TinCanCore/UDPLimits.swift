import NIOCore

/// UDP limits and defaults, shared by the `TinCan` library's `UDPSocket` and the relay.
public enum UDPLimits {
    /// The largest UDP payload over IPv4 (65535 - 20 - 8): 65,507 bytes.
    public static let maxDatagram = 65507
    /// The size of each receive buffer: room for the largest payload over IPv4 (65,507 bytes) and
    /// over IPv6 (65,527). NIO's default 2 KiB would silently cut longer datagrams short.
    public static let receiveBufferSize = 65536
    /// A receive allocator of ``receiveBufferSize``.
    public static var receiveAllocator: FixedSizeRecvByteBufferAllocator {
        FixedSizeRecvByteBufferAllocator(capacity: receiveBufferSize)
    }
}
