/// One IRC message (modern.ircdocs.horse, "Messages"; IRCv3 message-tags):
///
/// ```
/// message    = [ "@" tags SPACE ] [ ":" source SPACE ] command *( SPACE param ) [ SPACE ":" trailing ]
/// tags       = tag *( ";" tag )         tag = key [ "=" escaped-value ]
/// ```
///
/// `command` is kept as it came (the parser does not change its case; servers compare it
/// uppercased). Parameters are stored without the trailing colon: on the wire, only the last one
/// may contain a space, be empty or begin with `:`, and the writer adds the colon when needed, or
/// always when ``trailing`` is set (servers mark free text that way, as clients expect:
/// `PRIVMSG #a :hi`). Equality and hashing compare the parts, not that presentation choice.
public struct IRCMessage: Hashable, Sendable {
    /// IRCv3 tags in their order on the wire; a key appears once (the last value wins on parsing).
    public var tags: [IRCTag]
    /// Who sent it: a server name or `nick!user@host`; nil when absent.
    public var source: String?
    /// The verb (`PRIVMSG`) or a three-digit numeric (`001`).
    public var command: String
    public var parameters: [String]
    /// Write the last parameter with its colon even when it does not need one. Set by the parser
    /// when the line had it.
    public var trailing: Bool

    public init(tags: [IRCTag] = [], source: String? = nil, command: String, parameters: [String] = [], trailing: Bool = false) {
        self.tags = tags
        self.source = source
        self.command = command
        self.parameters = parameters
        self.trailing = trailing
    }

    public init(tags: [IRCTag] = [], source: String? = nil, _ numeric: IRCNumeric, parameters: [String], trailing: Bool = false) {
        self.init(tags: tags, source: source, command: numeric.text, parameters: parameters, trailing: trailing)
    }

    public static func == (a: IRCMessage, b: IRCMessage) -> Bool {
        a.tags == b.tags && a.source == b.source && a.command == b.command && a.parameters == b.parameters
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.tags)
        hasher.combine(self.source)
        hasher.combine(self.command)
        hasher.combine(self.parameters)
    }

    /// The value of tag `key` ("" for a tag without a value), or nil when absent.
    public func tag(_ key: String) -> String? {
        self.tags.first { $0.key == key }?.value
    }
}

/// One message tag. An empty value and no value are the same on the wire (`@key`).
public struct IRCTag: Hashable, Sendable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String = "") {
        self.key = key
        self.value = value
    }
}

/// Why a line is not an IRC message.
public struct IRCParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { self.reason }
}
