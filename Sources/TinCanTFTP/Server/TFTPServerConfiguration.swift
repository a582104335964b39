import NIOCore

/// Settings of a ``TFTPServer``. Every limit is named here with its default; ``validate()`` checks
/// them.
public struct TFTPServerConfiguration: Sendable {
    /// Address to bind; nil binds every address (IPv6 and IPv4). Default nil.
    public var host: String?
    /// UDP port of requests; 0 for a kernel-chosen port. Default 69.
    public var port: Int
    /// Ports for transfer sockets, each from 1 to 65535; nil lets the kernel choose. Default nil.
    public var transferPorts: ClosedRange<Int>?
    /// Transfers running at once (including those dallying on their final ACK); a request over
    /// the limit gets ERROR 0 "server busy". Default 256.
    public var maxTransfers: Int
    /// Transfers running at once for one client address, so that one client (or a flood of
    /// requests from one address) cannot take every slot; over it a request gets ERROR 0.
    /// Default 32.
    public var maxTransfersPerAddress: Int
    /// What clients may negotiate: block size (default clamp 1468, which fits a 1500-byte MTU),
    /// window size (default 64), file size.
    public var limits: TFTPOptionLimits
    /// Retries, timeouts, rollover and dally. The default is ``TFTPTiming/serverTiming(maxRetries:initialTimeout:)``:
    /// a dally of 15 s, three times the longest timeout a sender may have backed off to, so its
    /// last DATA repeated is still answered.
    public var timing: TFTPTiming
    /// Kernel batching of datagrams for windowed transfers. Default: both on.
    public var offload: TFTPOffload

    public static let defaultPort = 69
    public static let defaultMaxTransfers = 256
    public static let defaultMaxTransfersPerAddress = 32
    public static let defaultTiming = TFTPTiming.serverTiming()

    public init(
        host: String? = nil,
        port: Int = TFTPServerConfiguration.defaultPort,
        transferPorts: ClosedRange<Int>? = nil,
        maxTransfers: Int = TFTPServerConfiguration.defaultMaxTransfers,
        maxTransfersPerAddress: Int = TFTPServerConfiguration.defaultMaxTransfersPerAddress,
        limits: TFTPOptionLimits = TFTPOptionLimits(),
        timing: TFTPTiming = TFTPServerConfiguration.defaultTiming,
        offload: TFTPOffload = TFTPOffload()
    ) {
        self.host = host
        self.port = port
        self.transferPorts = transferPorts
        self.maxTransfers = max(1, maxTransfers)
        self.maxTransfersPerAddress = max(1, maxTransfersPerAddress)
        self.limits = limits
        self.timing = timing
        self.offload = offload
    }
}
