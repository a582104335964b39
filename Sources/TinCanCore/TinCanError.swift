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

    public init(operation: String, cause: String, errno: CInt? = nil, setting: String? = nil) {
        self.operation = operation
        self.cause = cause
        self.errno = errno
        self.setting = setting
    }

    /// Wraps any error thrown by NIO or the system with the operation it interrupted.
    public init(operation: String, underlying error: any Error) {
        if let error = error as? TinCanError {
            self = TinCanError(operation: operation, cause: error.cause, errno: error.errno, setting: error.setting)
            return
        }
        self.init(operation: operation, cause: TinCanError.cause(of: error), errno: TinCanError.errno(of: error))
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
