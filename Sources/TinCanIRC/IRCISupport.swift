/// RPL_ISUPPORT (005) tokens: what the server supports and its limits, announced after
/// registration (modern.ircdocs.horse "Feature Advertisement").
public struct IRCISupport: Hashable, Sendable {
    /// Tokens in the order they are announced; a nil value is a bare token (`SAFELIST`).
    public var tokens: [(key: String, value: String?)]

    public init(_ tokens: [(key: String, value: String?)]) {
        self.tokens = tokens
    }

    public static func == (a: IRCISupport, b: IRCISupport) -> Bool {
        a.tokens.elementsEqual(b.tokens) { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for token in self.tokens {
            hasher.combine(token.key)
            hasher.combine(token.value)
        }
    }

    /// The 005 messages for `nick`: at most 13 tokens each (so that every line stays far below 512
    /// bytes), each ending with "are supported by this server".
    public func messages(source: String, nick: String) -> [IRCMessage] {
        var messages: [IRCMessage] = []
        var index = 0
        while index < self.tokens.count {
            let chunk = self.tokens[index..<min(index + 13, self.tokens.count)]
            let words = chunk.map { token in token.value.map { "\(token.key)=\(Self.escape($0))" } ?? token.key }
            messages.append(IRCMessage(source: source, .rplISupport, parameters: [nick] + words + ["are supported by this server"], trailing: true))
            index += 13
        }
        return messages
    }

    /// Values escape space, backslash and `=` as `\x20`, `\x5C`, `\x3D`.
    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case " ": out += "\\x20"
            case "\\": out += "\\x5C"
            case "=": out += "\\x3D"
            default: out.append(character)
            }
        }
        return out
    }
}
