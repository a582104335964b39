#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// A failure that the command line reports as one line: what was being done, and why it failed.
///
/// `description` is `"<operation>: <cause>"`, for example `connect to 127.0.0.1:9: connection refused`,
/// followed by ` (<setting>)` when a configured limit ended the work.
///
/// This is also the one error type of the `TinCan` socket library. It was extended with ``kind``
/// rather than joined by a second type (a `TinCanSocketError`) because every module already throws
/// it and the command line already prints it: a second type would have meant a second mapping from
/// errno and NIO errors to words, and callers catching two types for one failure. ``kind`` is what a
/// program switches on; ``cause`` (the `strerror` text) and ``errno`` stay for people and logs.
public struct TinCanError: Error, Sendable, CustomStringConvertible {
    /// What was being attempted, e.g. `connect to 127.0.0.1:9`.
    public var operation: String
    /// Why it failed, e.g. `connection refused`.
    public var cause: String
    /// The system error number behind the failure, when there is one.
    public var errno: CInt?
    /// The configuration setting whose limit ended the work, by its property name (e.g.
    /// `idleTimeout`), when one did; a front end may name its own option for it instead, with
    /// ``description(namingSetting:)``.
    public var setting: String?
    /// What kind of failure this is, for programs to switch on: ``Kind/refused``, ``Kind/timedOut``...
    public var kind: Kind

    /// - Parameter kind: the failure's kind; by default the one that `errno` means, or ``Kind/other``.
    public init(operation: String, cause: String, errno: CInt? = nil, setting: String? = nil, kind: Kind? = nil) {
        self.operation = operation
        self.cause = cause
        self.errno = errno
        self.setting = setting
        self.kind = kind ?? errno.map(Kind.init(errno:)) ?? .other
    }

    /// Wraps any error thrown by NIO or the system with the operation it interrupted.
    public init(operation: String, underlying error: any Error) {
        if let error = error as? TinCanError {
            self = error
            self.operation = operation
            return
        }
        self.init(
            operation: operation, cause: TinCanError.cause(of: error), errno: TinCanError.errno(of: error),
            kind: TinCanError.kind(of: error)
        )
    }

    /// What kind of failure an error is: the cases a socket program tells apart.
    ///
    /// A struct with static members rather than an enum, so that kinds can be added without breaking
    /// a `switch` that has a `default`.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        /// The name of the kind, e.g. `refused`.
        public let name: String
        private init(_ name: String) { self.name = name }

        /// Nothing listens at the address (`ECONNREFUSED`; for UDP, an ICMP port unreachable).
        public static let refused = Kind("refused")
        /// The peer reset the connection (`ECONNRESET`, or `EPIPE` when writing after it went away).
        public static let reset = Kind("reset")
        /// A timeout of ours ran out (connect, receive, send), or the system's (`ETIMEDOUT`).
        public static let timedOut = Kind("timedOut")
        /// No route to the network or host (`ENETUNREACH`, `EHOSTUNREACH`).
        public static let unreachable = Kind("unreachable")
        /// Another socket has the address (`EADDRINUSE`).
        public static let addressInUse = Kind("addressInUse")
        /// The socket is closed, or this direction of it is (after `close()` or `shutdownWrite()`), or
        /// the stream ended in the middle of something that needed more bytes.
        public static let closed = Kind("closed")
        /// A line was longer than the limit it was read with.
        public static let lineTooLong = Kind("lineTooLong")
        /// The host name did not resolve.
        public static let unknownHost = Kind("unknownHost")
        /// Anything else; ``TinCanError/cause`` and ``TinCanError/errno`` say what.
        public static let other = Kind("other")

        /// The kind that a system error number means.
        public init(errno code: CInt) {
            switch code {
            case ECONNREFUSED: self = .refused
            case ECONNRESET, EPIPE, ECONNABORTED: self = .reset
            case ETIMEDOUT: self = .timedOut
            case ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN: self = .unreachable
            case EADDRINUSE: self = .addressInUse
            case EBADF, ENOTCONN, ESHUTDOWN: self = .closed
            default: self = .other
            }
        }

        public var description: String { self.name }
    }

    /// The kind of any error thrown by NIO or the system.
    public static func kind(of error: any Error) -> Kind {
        if let error = error as? TinCanError { return error.kind }
        if let code = errno(of: error) { return Kind(errno: code) }
        switch error {
        case ChannelError.connectTimeout: return .timedOut
        case ChannelError.writeHostUnreachable: return .unreachable
        case ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed, ChannelError.outputClosed,
            ChannelError.inputClosed, ChannelError.eof:
            return .closed
        case let error as NIOConnectionError:
            return error.connectionErrors.first.map { kind(of: $0.error) } ?? .other
        default: return .other
        }
    }

    public var description: String { self.description(namingSetting: { $0 }) }

    /// The description with ``setting`` named by `name` (a command line's option for it, say).
    public func description(namingSetting name: (String) -> String) -> String {
        guard let setting else { return "\(self.operation): \(self.cause)" }
        return "\(self.operation): \(self.cause) (\(name(setting)))"
    }

    /// The system error number inside an error from NIO, when there is one.
    public static func errno(of error: any Error) -> CInt? {
        switch error {
        case let error as IOError: return error.errnoCode
        case let error as NIOConnectionError: return error.connectionErrors.lazy.compactMap { errno(of: $0.error) }.first
        default: return nil
        }
    }

    /// A short lower-case reason for an error, in the words of `strerror` where the system gave one.
    public static func cause(of error: any Error) -> String {
        if let error = error as? TinCanError { return error.cause }
        if let code = errno(of: error) { return describeErrno(code) }
        switch error {
        case ChannelError.connectTimeout(let amount):
            return "timed out after \(TinCanError.seconds(amount))"
        case ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed, ChannelError.outputClosed:
            return "connection closed"
        case ChannelError.eof:
            return "connection closed by peer"
        case ChannelError.writeMessageTooLarge:
            return "datagram too large"
        case ChannelError.writeHostUnreachable:
            return "host unreachable"
        case let error as NIOConnectionError:
            if error.connectionErrors.isEmpty { return "no address to connect to" }
            return cause(of: error.connectionErrors[0].error)
        default:
            return String(describing: error)
        }
    }

    /// `strerror(code)` starting in lower case, as one-line messages read best.
    public static func describeErrno(_ code: CInt) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ECONNRESET: return "connection reset by peer"
        case ETIMEDOUT: return "timed out"
        case EADDRINUSE: return "address already in use"
        case EACCES, EPERM: return "permission denied"
        case ENETUNREACH: return "network unreachable"
        case EHOSTUNREACH: return "host unreachable"
        case EADDRNOTAVAIL: return "address not available on this machine"
        case EPIPE: return "broken pipe (the reader went away)"
        default:
            guard let text = strerror(code) else { return "error \(code)" }
            let message = String(cString: text)
            return message.prefix(1).lowercased() + message.dropFirst()
        }
    }

    /// `1.5 s` style rendering of a time amount for messages.
    public static func seconds(_ amount: TimeAmount) -> String {
        let ms = amount.nanoseconds / 1_000_000
        if ms % 1000 == 0 { return "\(ms / 1000) s" }
        return "\(Double(ms) / 1000) s"
    }
}
