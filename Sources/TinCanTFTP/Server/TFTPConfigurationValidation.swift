import NIOCore
import TinCanCore

extension ConfigurationError {
    /// Throws unless `range` holds `value`.
    static func check(_ value: Int, in range: ClosedRange<Int>, _ setting: String) throws {
        guard range.contains(value) else {
            throw ConfigurationError(setting: setting, problem: "must be from \(range.lowerBound) to \(range.upperBound), not \(value)")
        }
    }

    /// Throws unless `value` is more than zero.
    static func checkPositive(_ value: TimeAmount, _ setting: String) throws {
        guard value.nanoseconds > 0 else {
            throw ConfigurationError(setting: setting, problem: "must be more than zero, not \(value)")
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
    /// - Throws: ``ConfigurationError`` for the first setting out of range: `maxRetries` below
    ///   0, a timeout that is not positive, `minTimeout` above `maxTimeout`, a negative `dally` or
    ///   `giveUpAfter`, `rolloverTo` other than 0 or 1.
    public func validate(prefix: String = "") throws {
        if self.maxRetries < 0 {
            throw ConfigurationError(setting: prefix + "maxRetries", problem: "must be at least 0, not \(self.maxRetries)")
        }
        try ConfigurationError.checkPositive(self.initialTimeout, prefix + "initialTimeout")
        try ConfigurationError.checkPositive(self.minTimeout, prefix + "minTimeout")
        try ConfigurationError.checkPositive(self.maxTimeout, prefix + "maxTimeout")
        if self.minTimeout > self.maxTimeout {
            throw ConfigurationError(
                setting: prefix + "minTimeout",
                problem: "must not exceed maxTimeout (\(self.maxTimeout)), not \(self.minTimeout)"
            )
        }
        if let dally = self.dally, dally.nanoseconds < 0 {
            throw ConfigurationError(setting: prefix + "dally", problem: "must not be negative, not \(dally)")
        }
        if self.giveUpAfter.nanoseconds < 0 {
            throw ConfigurationError(setting: prefix + "giveUpAfter", problem: "must not be negative, not \(self.giveUpAfter)")
        }
        try ConfigurationError.check(Int(self.rolloverTo), in: 0...1, prefix + "rolloverTo")
    }
}

extension TFTPOptionLimits {
    /// Checks every limit; `prefix` names where these limits sit in a larger configuration.
    ///
    /// - Throws: ``ConfigurationError``: `maxBlockSize` outside 8-65464 (RFC 2348),
    ///   `maxWindowSize` outside 1-65535 (RFC 7440), a negative `maxFileSize`.
    public func validate(prefix: String = "") throws {
        try ConfigurationError.check(
            self.maxBlockSize, in: TFTPWireLimits.minBlockSize...TFTPWireLimits.maxBlockSize, prefix + "maxBlockSize"
        )
        try ConfigurationError.check(self.maxWindowSize, in: 1...65535, prefix + "maxWindowSize")
        if let maxFileSize = self.maxFileSize, maxFileSize < 0 {
            throw ConfigurationError(setting: prefix + "maxFileSize", problem: "must not be negative, not \(maxFileSize)")
        }
    }
}

extension TFTPServerConfiguration {
    /// Checks every setting with the library's rules. The server does not call it (it clamps what
    /// it must); a program that takes settings from a user should, before starting the server.
    ///
    /// - Throws: ``ConfigurationError`` for the first setting out of range: `port` outside
    ///   0-65535, `transferPorts` outside 1-65535, `maxTransfers` or `maxTransfersPerAddress` below
    ///   1, and those of ``TFTPOptionLimits/validate(prefix:)`` and ``TFTPTiming/validate(prefix:)``.
    public func validate() throws {
        try ConfigurationError.check(self.port, in: 0...65535, "port")
        if let ports = self.transferPorts {
            try ConfigurationError.check(ports.lowerBound, in: 1...65535, "transferPorts.lowerBound")
            try ConfigurationError.check(ports.upperBound, in: 1...65535, "transferPorts.upperBound")
        }
        if self.maxTransfers < 1 {
            throw ConfigurationError(setting: "maxTransfers", problem: "must be at least 1, not \(self.maxTransfers)")
        }
        if self.maxTransfersPerAddress < 1 {
            throw ConfigurationError(
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
    /// - Throws: ``ConfigurationError`` for the first option out of range: `blockSize` outside
    ///   8-65464, `windowSize` outside 1-65535, `timeoutSeconds` outside 1-255, a `mode` other than
    ///   octet or netascii, and those of ``TFTPTiming/validate(prefix:)``.
    public func validate() throws {
        if let blockSize = self.blockSize {
            try ConfigurationError.check(blockSize, in: TFTPWireLimits.minBlockSize...TFTPWireLimits.maxBlockSize, "blockSize")
        }
        if let windowSize = self.windowSize {
            try ConfigurationError.check(windowSize, in: 1...65535, "windowSize")
        }
        if let timeoutSeconds = self.timeoutSeconds {
            try ConfigurationError.check(timeoutSeconds, in: 1...255, "timeoutSeconds")
        }
        guard self.mode == .octet || self.mode == .netascii else {
            throw ConfigurationError(setting: "mode", problem: "must be octet or netascii, not '\(self.mode)'")
        }
        try self.timing.validate(prefix: "timing.")
    }
}
