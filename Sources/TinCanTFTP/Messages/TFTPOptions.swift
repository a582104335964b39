/// The options of a transfer once negotiated (RFC 2347, 2348, 2349, 7440).
public struct TFTPTransferOptions: Hashable, Sendable {
    /// Bytes per DATA block (RFC 2348 `blksize`). Default 512.
    public var blockSize: Int
    /// Blocks sent before an ACK is awaited (RFC 7440 `windowsize`). Default 1 (lock-step).
    public var windowSize: Int
    /// The retransmission timeout in seconds both sides agreed on (RFC 2349 `timeout`); nil when
    /// not negotiated, and then each side adapts its timeout to the measured round trip.
    public var timeoutSeconds: Int?
    /// The file's size in bytes (RFC 2349 `tsize`), when known.
    public var transferSize: Int?

    public init(blockSize: Int = TFTPWireLimits.defaultBlockSize, windowSize: Int = 1, timeoutSeconds: Int? = nil, transferSize: Int? = nil) {
        self.blockSize = blockSize
        self.windowSize = windowSize
        self.timeoutSeconds = timeoutSeconds
        self.transferSize = transferSize
    }
}

/// Option names (RFC 2347: case-insensitive; kept in lower case).
public enum TFTPOptionName {
    public static let blockSize = "blksize"
    public static let timeout = "timeout"
    public static let transferSize = "tsize"
    public static let windowSize = "windowsize"
}

/// What a server allows clients to ask for.
public struct TFTPOptionLimits: Hashable, Sendable {
    /// Largest block size granted; larger requests are answered with this (RFC 2348 allows the
    /// server to lower it). Default 1468: a DATA packet that fits an Ethernet MTU of 1500 after IP
    /// (20), UDP (8) and TFTP (4) headers, so that no block is fragmented on a typical LAN.
    public var maxBlockSize: Int
    /// Largest window granted (RFC 7440). Default 64.
    public var maxWindowSize: Int
    /// Largest file a WRQ may announce with `tsize` (and write); nil for no limit.
    public var maxFileSize: Int?

    public static let defaultMaxBlockSize = 1468
    public static let defaultMaxWindowSize = 64

    public init(
        maxBlockSize: Int = TFTPOptionLimits.defaultMaxBlockSize,
        maxWindowSize: Int = TFTPOptionLimits.defaultMaxWindowSize,
        maxFileSize: Int? = nil
    ) {
        self.maxBlockSize = min(max(maxBlockSize, TFTPWireLimits.minBlockSize), TFTPWireLimits.maxBlockSize)
        self.maxWindowSize = min(max(maxWindowSize, 1), 65535)
        self.maxFileSize = maxFileSize
    }
}

/// Option negotiation (RFC 2347) for both ends of a transfer.
public enum TFTPNegotiation {
    /// The server's answer to a request's options: the options to acknowledge (in the client's
    /// order; empty means no OACK is sent and the transfer is plain RFC 1350), and what they mean.
    ///
    /// Unknown options, and known ones with values out of their range, are ignored and never
    /// echoed, as RFC 2347 asks.
    ///
    /// - Parameters:
    ///   - isRead: the request is an RRQ (the server sends the file).
    ///   - fileSize: for an RRQ, the size of the file, answered to `tsize`.
    /// - Returns: the OACK options and the transfer options, or the ERROR that ends the request
    ///   (a WRQ whose `tsize` exceeds the limit gets ERROR 3).
    public static func negotiate(
        _ requested: [TFTPOption],
        isRead: Bool,
        fileSize: Int?,
        limits: TFTPOptionLimits
    ) -> Result<(acknowledged: [TFTPOption], options: TFTPTransferOptions), TFTPError> {
        var options = TFTPTransferOptions()
        var acknowledged: [TFTPOption] = []
        for option in requested {
            switch option.name {
            case TFTPOptionName.blockSize:
                guard let value = Int(option.value), value >= TFTPWireLimits.minBlockSize, value <= TFTPWireLimits.maxBlockSize else { continue }
                options.blockSize = min(value, limits.maxBlockSize)
                acknowledged.append(TFTPOption(name: option.name, value: String(options.blockSize)))
            case TFTPOptionName.windowSize:
                guard let value = Int(option.value), value >= 1, value <= 65535 else { continue }
                options.windowSize = min(value, limits.maxWindowSize)
                acknowledged.append(TFTPOption(name: option.name, value: String(options.windowSize)))
            case TFTPOptionName.timeout:
                guard let value = Int(option.value), value >= 1, value <= 255 else { continue }
                options.timeoutSeconds = value
                acknowledged.append(TFTPOption(name: option.name, value: String(value)))
            case TFTPOptionName.transferSize:
                guard let value = Int(option.value), value >= 0 else { continue }
                if isRead {
                    // An empty file's tsize is left out: curl rejects "tsize 0" in an OACK (and so
                    // cannot fetch empty files from tftp-hpa); the one empty block says it anyway.
                    guard let fileSize, fileSize > 0 else { continue }
                    options.transferSize = fileSize
                    acknowledged.append(TFTPOption(name: option.name, value: String(fileSize)))
                } else {
                    if let limit = limits.maxFileSize, value > limit {
                        return .failure(TFTPError(.diskFull, "file of \(value) bytes exceeds the limit of \(limit) bytes"))
                    }
                    options.transferSize = value
                    acknowledged.append(TFTPOption(name: option.name, value: String(value)))
                }
            default:
                continue
            }
        }
        return .success((acknowledged, options))
    }

    /// The client's check of an OACK against what it asked for (RFC 2347: the server may only
    /// acknowledge requested options, may lower `blksize` and `windowsize`, and must return
    /// `timeout` unchanged).
    ///
    /// - Returns: the transfer options, or the ERROR 8 the client sends before giving up.
    public static func accept(_ acknowledged: [TFTPOption], requested: [TFTPOption]) -> Result<TFTPTransferOptions, TFTPError> {
        var options = TFTPTransferOptions()
        for option in acknowledged {
            guard let asked = requested.first(where: { $0.name == option.name }) else {
                return .failure(TFTPError(.optionNegotiationFailed, "server acknowledged '\(option.name)', which was not requested"))
            }
            guard let value = Int(option.value) else {
                return .failure(TFTPError(.optionNegotiationFailed, "server sent '\(option.name)=\(option.value)', not a number"))
            }
            let askedValue = Int(asked.value) ?? 0
            switch option.name {
            case TFTPOptionName.blockSize:
                guard value >= TFTPWireLimits.minBlockSize, value <= askedValue else {
                    return .failure(TFTPError(.optionNegotiationFailed, "server chose blksize \(value), asked for at most \(askedValue)"))
                }
                options.blockSize = value
            case TFTPOptionName.windowSize:
                guard value >= 1, value <= askedValue else {
                    return .failure(TFTPError(.optionNegotiationFailed, "server chose windowsize \(value), asked for at most \(askedValue)"))
                }
                options.windowSize = value
            case TFTPOptionName.timeout:
                guard value == askedValue else {
                    return .failure(TFTPError(.optionNegotiationFailed, "server changed timeout from \(askedValue) to \(value)"))
                }
                options.timeoutSeconds = value
            case TFTPOptionName.transferSize:
                guard value >= 0 else {
                    return .failure(TFTPError(.optionNegotiationFailed, "server sent a negative tsize"))
                }
                options.transferSize = value
            default:
                return .failure(TFTPError(.optionNegotiationFailed, "server acknowledged unknown option '\(option.name)'"))
            }
        }
        return .success(options)
    }
}
