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
///
/// The libraries name the configuration setting behind a message (a limit that was reached) in the
/// metadata under ``settingKey``, by its property name (`maxClients`). With `nameSetting`, the
/// handler writes that setting as ` (<name>)` after the message instead, so that a command line can
/// name its own option for it.
public struct StderrLogHandler: LogHandler {
    /// The metadata key under which a library names the setting behind a message.
    public static let settingKey = "setting"

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let prefix: String
    private let nameSetting: (@Sendable (String) -> String)?

    /// - Parameters:
    ///   - prefix: the start of every line, e.g. `tincan`.
    ///   - level: the least severe level written.
    ///   - nameSetting: how to name a setting found under ``settingKey``; nil writes it as any
    ///     other metadata.
    public init(prefix: String = "tincan", level: Logger.Level, nameSetting: (@Sendable (String) -> String)? = nil) {
        self.prefix = prefix
        self.logLevel = level
        self.nameSetting = nameSetting
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "\(self.prefix): \(event.message)"
        var merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        if let nameSetting = self.nameSetting, let setting = merged.removeValue(forKey: Self.settingKey) {
            line += " (\(nameSetting("\(setting)")))"
        }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        line += "\n"
        // One write per line, so that lines from several threads never interleave mid-line.
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let n = write(2, base + offset, buffer.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    /// A logger that writes to standard error at `level`.
    public static func logger(
        label: String = "tincan",
        prefix: String = "tincan",
        level: Logger.Level,
        nameSetting: (@Sendable (String) -> String)? = nil
    ) -> Logger {
        Logger(label: label) { _ in StderrLogHandler(prefix: prefix, level: level, nameSetting: nameSetting) }
    }
}

extension Logger.Metadata {
    /// Names the configuration setting behind a message by its property name (`maxClients`), so
    /// that a front end can name its own option for it (see ``StderrLogHandler``).
    package static func setting(_ name: String) -> Logger.Metadata {
        [StderrLogHandler.settingKey: .string(name)]
    }
}
