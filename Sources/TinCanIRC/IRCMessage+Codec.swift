import NIOCore

extension IRCMessage {
    /// Parses one line without its CR LF. Spaces between parts may repeat (as RFC 1459 allows and
    /// clients send); NUL, CR and LF anywhere are refused.
    public init(parsing line: some Collection<UInt8>) throws(IRCParseError) {
        let bytes = Array(line)
        if bytes.contains(where: { $0 == 0 || $0 == 0x0D || $0 == 0x0A }) {
            throw IRCParseError("NUL, CR or LF inside a line")
        }
        var index = 0
        let end = bytes.count
        func skipSpaces() { while index < end, bytes[index] == 0x20 { index += 1 } }
        func token() -> ArraySlice<UInt8> {
            let start = index
            while index < end, bytes[index] != 0x20 { index += 1 }
            return bytes[start..<index]
        }

        var tags: [IRCTag] = []
        if index < end, bytes[index] == UInt8(ascii: "@") {
            index += 1
            tags = Self.parseTags(token())
            skipSpaces()
        }
        var source: String?
        if index < end, bytes[index] == UInt8(ascii: ":") {
            index += 1
            let text = token()
            guard !text.isEmpty else { throw IRCParseError("empty source") }
            source = String(decoding: text, as: UTF8.self)
            skipSpaces()
        }
        let command = token()
        guard !command.isEmpty else { throw IRCParseError("no command") }
        var parameters: [String] = []
        var trailing = false
        while true {
            skipSpaces()
            guard index < end else { break }
            if bytes[index] == UInt8(ascii: ":") {
                parameters.append(String(decoding: bytes[(index + 1)..<end], as: UTF8.self))
                trailing = true
                break
            }
            parameters.append(String(decoding: token(), as: UTF8.self))
        }
        self.init(tags: tags, source: source, command: String(decoding: command, as: UTF8.self), parameters: parameters, trailing: trailing)
    }

    /// Parses one line given as a string (without CR LF).
    public init(parsing line: String) throws(IRCParseError) {
        try self.init(parsing: line.utf8)
    }

    private static func parseTags(_ text: ArraySlice<UInt8>) -> [IRCTag] {
        var tags: [IRCTag] = []
        for item in text.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: true) {
            let key: String
            let value: String
            if let equals = item.firstIndex(of: UInt8(ascii: "=")) {
                key = String(decoding: item[item.startIndex..<equals], as: UTF8.self)
                value = IRCTagEscaping.unescape(item[(equals + 1)...])
            } else {
                key = String(decoding: item, as: UTF8.self)
                value = ""
            }
            guard !key.isEmpty else { continue }
            if let existing = tags.firstIndex(where: { $0.key == key }) {
                tags[existing].value = value
            } else {
                tags.append(IRCTag(key, value))
            }
        }
        return tags
    }
}

/// IRCv3 tag value escaping: `;` `\:`, space `\s`, `\` `\\`, CR `\r`, LF `\n`.
enum IRCTagEscaping {
    static func unescape(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var escaping = false
        for byte in bytes {
            if escaping {
                escaping = false
                switch byte {
                case UInt8(ascii: ":"): out.append(UInt8(ascii: ";"))
                case UInt8(ascii: "s"): out.append(0x20)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "n"): out.append(0x0A)
                default: out.append(byte)  // `\\` and any unknown escape: the character itself
                }
            } else if byte == UInt8(ascii: "\\") {
                escaping = true
            } else {
                out.append(byte)
            }
        }
        // A lone backslash at the end is dropped.
        return String(decoding: out, as: UTF8.self)
    }

    static func write(_ value: String, into buffer: inout ByteBuffer) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: ";"): buffer.writeStaticString("\\:")
            case 0x20: buffer.writeStaticString("\\s")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0x0D: buffer.writeStaticString("\\r")
            case 0x0A: buffer.writeStaticString("\\n")
            default: buffer.writeInteger(byte)
            }
        }
    }
}

extension ByteBuffer {
    /// Writes `message` and CR LF; returns the bytes written. The last parameter gets a colon when
    /// it is empty, holds a space or begins with one; the others must not (nor may any contain CR,
    /// LF or NUL; the server builds its parameters so that they cannot).
    @discardableResult
    public mutating func writeIRCMessage(_ message: IRCMessage) -> Int {
        let start = self.writerIndex
        if !message.tags.isEmpty {
            self.writeInteger(UInt8(ascii: "@"))
            for (index, tag) in message.tags.enumerated() {
                if index > 0 { self.writeInteger(UInt8(ascii: ";")) }
                self.writeString(tag.key)
                if !tag.value.isEmpty {
                    self.writeInteger(UInt8(ascii: "="))
                    IRCTagEscaping.write(tag.value, into: &self)
                }
            }
            self.writeInteger(UInt8(ascii: " "))
        }
        if let source = message.source {
            self.writeInteger(UInt8(ascii: ":"))
            self.writeString(source)
            self.writeInteger(UInt8(ascii: " "))
        }
        self.writeString(message.command)
        for (index, parameter) in message.parameters.enumerated() {
            self.writeInteger(UInt8(ascii: " "))
            if index == message.parameters.count - 1, message.trailing || IRCMessage.needsColon(parameter) {
                self.writeInteger(UInt8(ascii: ":"))
            }
            self.writeString(parameter)
        }
        self.writeStaticString("\r\n")
        return self.writerIndex - start
    }
}

extension IRCMessage {
    static func needsColon(_ parameter: String) -> Bool {
        var utf8 = parameter.utf8.makeIterator()
        guard let first = utf8.next() else { return true }
        if first == UInt8(ascii: ":") || first == 0x20 { return true }
        return parameter.utf8.contains(0x20)
    }

    /// The message as it goes on the wire, without CR LF.
    public var line: String {
        var buffer = ByteBuffer()
        buffer.writeIRCMessage(self)
        return String(decoding: buffer.readableBytesView.dropLast(2), as: UTF8.self)
    }
}
