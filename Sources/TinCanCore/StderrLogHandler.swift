#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// A swift-log handler that writes one line per message to standard error: `tincan: message`.
///
/// The command-line tools log connection events at `info` (shown with `-v`) and failures at `error`;
/// the line carries the metadata as ` key=value` pairs after the message.
public struct StderrLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let prefix: String

    /// - Parameters:
    ///   - prefix: the start of every line, e.g. `tincan`.
    ///   - level: the least severe level written.
    public init(prefix: String = "tincan", level: Logger.Level) {
        self.prefix = prefix
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "\(self.prefix): \(event.message)"
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        line += "\n"
        // One write per line, so that lines from several threads never interleave mid-line.
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    /// A logger that writes to standard error at `level`.
    public static func logger(label: String = "tincan", prefix: String = "tincan", level: Logger.Level) -> Logger {
        Logger(label: label) { _ in StderrLogHandler(prefix: prefix, level: level) }
    }
}
