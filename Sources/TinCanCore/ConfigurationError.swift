import NIOCore

/// A setting, or a combination of settings, that a configuration cannot work with; thrown by the
/// libraries' `validate()` methods.
///
/// Settings are named by their property names (`maxClients`), so that a front end can name its own
/// options for them: `description` reads `maxClients must be at least 1`.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The settings at fault, by property name; more than one when they conflict.
    public var settings: [String]
    /// What is wrong, e.g. `must be at least 1` or `cannot be used together`.
    public var problem: String

    public init(settings: [String], problem: String) {
        self.settings = settings
        self.problem = problem
    }

    public init(setting: String, problem: String) {
        self.init(settings: [setting], problem: problem)
    }

    public var description: String { self.description(namingSetting: { $0 }) }

    /// The description with each setting named by `name` (a command line's option for it, say).
    public func description(namingSetting name: (String) -> String) -> String {
        "\(self.settings.map(name).joined(separator: " and ")) \(self.problem)"
    }

    /// The longest duration a setting may hold: a year, far beyond any sensible timeout.
    public static let maxDuration = TimeAmount.hours(24 * 365)

    /// Throws unless `value` is more than zero and at most ``maxDuration``.
    public static func checkDuration(_ value: TimeAmount?, _ setting: String) throws {
        guard let value else { return }
        guard value > .zero, value <= Self.maxDuration else {
            throw ConfigurationError(setting: setting, problem: "must be more than 0 seconds and at most 365 days")
        }
    }

    /// Throws unless `value` is at least `minimum`.
    public static func checkAtLeast<Value: BinaryInteger>(_ value: Value, _ minimum: Value, _ setting: String) throws {
        guard value >= minimum else {
            throw ConfigurationError(setting: setting, problem: minimum == 0 ? "must not be negative" : "must be at least \(minimum)")
        }
    }

    /// Throws unless `port` is nil or a port number from 0 to 65535.
    public static func checkPort(_ port: Int?, _ setting: String) throws {
        guard let port else { return }
        guard (0...65535).contains(port) else {
            throw ConfigurationError(setting: setting, problem: "takes a port from 0 to 65535")
        }
    }
}
