import NIOCore

/// A setting out of the range the library works with, found by a configuration's `validate()`.
public struct TFTPConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The setting at fault, as the configuration names it (`limits.maxBlockSize`).
    public var setting: String
    /// What it should be, and what it is.
    public var problem: String

    public init(setting: String, problem: String) {
        self.setting = setting
        self.problem = problem
    }

    public var description: String { "\(self.setting) \(self.problem)" }

    /// Throws unless `range` holds `value`.
    static func check(_ value: Int, in range: ClosedRange<Int>, _ setting: String) throws {
        guard range.contains(value) else {
            throw TFTPConfigurationError(setting: setting, problem: "must be from \(range.lowerBound) to \(range.upperBound), not \(value)")
        }
    }

    /// Throws unless `value` is more than zero.
    static func checkPositive(_ value: TimeAmount, _ setting: String) throws {
        guard value.nanoseconds > 0 else {
            throw TFTPConfigurationError(setting: setting, problem: "must be more than zero, not \(value)")
        }
    }
}

extension TFTPTiming {
    /// Longest timeouts a server dallies on its final ACK (``serverTiming(maxRetries:initialTimeout:)``).
    public static let serverDallyTimeouts = 3

    /// A server's timing: `maxTimeout` no shorter than `initialTimeout`, and a dally of
    /// ``serverDallyTimeouts`` times `maxTimeout`, so that a client's final DATA, repeated after
    /// backing off as far as it goes, is still answered. Defaults as ``TFTPTiming``'s (a dally of
    /// 15 s).
    public static func serverTiming(
        maxRetries: Int = 6,
        initialTimeout: TimeAmount = .seconds(1)
    ) -> TFTPTiming {
        var timing = TFTPTiming(maxRetries: maxRetries, initialTimeout: initialTimeout)
        timing.maxTimeout = max(timing.maxTimeout, initialTimeout)
        timing.dally = .nanoseconds(Int64(Self.serverDallyTimeouts) * timing.maxTimeout.nanoseconds)
        return timing
    }

    /// Checks every setting; `prefix` names where this timing sits in a larger configuration.
    ///
    /// - Throws: ``TFTPConfigurationError`` for the first setting out of range: `maxRetries` below
    ///   0, a timeout that is not positive, `minTimeout` above `maxTimeout`, a negative `dally` or
    ///   `giveUpAfter`, `rolloverTo` other than 0 or 1.
    public func validate(prefix: String = "") throws {
        if self.maxRetries < 0 {
            throw TFTPConfigurationError(setting: prefix + "maxRetries", problem: "must be at least 0, not \(self.maxRetries)")
        }
        try TFTPConfigurationError.checkPositive(self.initialTimeout, prefix + "initialTimeout")
        try TFTPConfigurationError.checkPositive(self.minTimeout, prefix + "minTimeout")
        try TFTPConfigurationError.checkPositive(self.maxTimeout, prefix + "maxTimeout")
        if self.minTimeout > self.maxTimeout {
            throw TFTPConfigurationError(
                setting: prefix + "minTimeout",
                problem: "must not exceed maxTimeout (\(self.maxTimeout)), not \(self.minTimeout)"
            )
        }
        if let dally = self.dally, dally.nanoseconds < 0 {
            throw TFTPConfigurationError(setting: prefix + "dally", problem: "must not be negative, not \(dally)")
        }
        if self.giveUpAfter.nanoseconds < 0 {
            throw TFTPConfigurationError(setting: prefix + "giveUpAfter", problem: "must not be negative, not \(self.giveUpAfter)")
        }
        try TFTPConfigurationError.check(Int(self.rolloverTo), in: 0...1, prefix + "rolloverTo")
    }
}

extension TFTPOptionLimits {
    /// Checks every limit; `prefix` names where these limits sit in a larger configuration.
    ///
    /// - Throws: ``TFTPConfigurationError``: `maxBlockSize` outside 8-65464 (RFC 2348),
    ///   `maxWindowSize` outside 1-65535 (RFC 7440), a negative `maxFileSize`.
    public func validate(prefix: String = "") throws {
        try TFTPConfigurationError.check(
            self.maxBlockSize, in: TFTPWireLimits.minBlockSize...TFTPWireLimits.maxBlockSize, prefix + "maxBlockSize"
        )
        try TFTPConfigurationError.check(self.maxWindowSize, in: 1...65535, prefix + "maxWindowSize")
        if let maxFileSize = self.maxFileSize, maxFileSize < 0 {
            throw TFTPConfigurationError(setting: prefix + "maxFileSize", problem: "must not be negative, not \(maxFileSize)")
        }
    }
}

extension TFTPServerConfiguration {
    /// Checks every setting with the library's rules. The server does not call it (it clamps what
    /// it must); a program that takes settings from a user should, before starting the server.
    ///
    /// - Throws: ``TFTPConfigurationError`` for the first setting out of range: `port` outside
    ///   0-65535, `transferPorts` outside 1-65535, `maxTransfers` or `maxTransfersPerAddress` below
    ///   1, and those of ``TFTPOptionLimits/validate(prefix:)`` and ``TFTPTiming/validate(prefix:)``.
    public func validate() throws {
        try TFTPConfigurationError.check(self.port, in: 0...65535, "port")
        if let ports = self.transferPorts {
            try TFTPConfigurationError.check(ports.lowerBound, in: 1...65535, "transferPorts.lowerBound")
            try TFTPConfigurationError.check(ports.upperBound, in: 1...65535, "transferPorts.upperBound")
        }
        if self.maxTransfers < 1 {
            throw TFTPConfigurationError(setting: "maxTransfers", problem: "must be at least 1, not \(self.maxTransfers)")
        }
        if self.maxTransfersPerAddress < 1 {
            throw TFTPConfigurationError(
                setting: "maxTransfersPerAddress",
                problem: "must be at least 1, not \(self.maxTransfersPerAddress)"
            )
        }
        try self.limits.validate(prefix: "limits.")
        try self.timing.validate(prefix: "timing.")
    }
}

extension TFTPClientOptions {
    /// Checks every option with the library's rules (RFC 2348, 2349, 7440 ranges).
    ///
    /// - Throws: ``TFTPConfigurationError`` for the first option out of range: `blockSize` outside
    ///   8-65464, `windowSize` outside 1-65535, `timeoutSeconds` outside 1-255, a `mode` other than
    ///   octet or netascii, and those of ``TFTPTiming/validate(prefix:)``.
    public func validate() throws {
        if let blockSize = self.blockSize {
            try TFTPConfigurationError.check(blockSize, in: TFTPWireLimits.minBlockSize...TFTPWireLimits.maxBlockSize, "blockSize")
        }
        if let windowSize = self.windowSize {
            try TFTPConfigurationError.check(windowSize, in: 1...65535, "windowSize")
        }
        if let timeoutSeconds = self.timeoutSeconds {
            try TFTPConfigurationError.check(timeoutSeconds, in: 1...255, "timeoutSeconds")
        }
        guard self.mode == .octet || self.mode == .netascii else {
            throw TFTPConfigurationError(setting: "mode", problem: "must be octet or netascii, not '\(self.mode)'")
        }
        try self.timing.validate(prefix: "timing.")
    }
}
