import NIOCore

/// What the decoder makes of one line a client sent.
public enum IRCInboundLine: Hashable, Sendable {
    case message(IRCMessage)
    /// Over ``IRCLineDecoder/maxLineBytes`` (or its tags over ``IRCLineDecoder/maxTagBytes``): the
    /// line was dropped. A server answers ERR_INPUTTOOLONG and keeps the connection.
    case tooLong
    /// Not a message (no command, or NUL inside): dropped.
    case malformed(IRCParseError)
    /// Not UTF-8, from a decoder that requires it (``IRCLineDecoder/requireUTF8``): dropped. The
    /// command, as far as it could be read, for the server's `FAIL <command> INVALID_UTF8`.
    case notUTF8(command: String?)
}

/// Splits a byte stream into IRC lines (LF-terminated, an optional CR before it) and parses them,
/// within bounded memory: a line over the limits is skipped up to its end and reported once as
/// ``IRCInboundLine/tooLong``, however long it is. Empty lines (or only spaces) are ignored, as the spec asks.
public struct IRCLineDecoder: ByteToMessageDecoder {
    public typealias InboundOut = IRCInboundLine

    /// The longest line without its tags, CR LF included: 512 (RFC 1459 and modern.ircdocs).
    public let maxLineBytes: Int
    /// The longest tag section, `@` and the space after it included: 4096 (IRCv3 lets a client
    /// send 4094 bytes of tag data).
    public let maxTagBytes: Int
    /// A line that is not UTF-8 is reported as ``IRCInboundLine/notUTF8(command:)`` rather than
    /// read with U+FFFD in place of its bad bytes (a server that announces `UTF8ONLY`).
    public let requireUTF8: Bool
    private var discarding = false

    public init(maxLineBytes: Int = 512, maxTagBytes: Int = 4096, requireUTF8: Bool = false) {
        self.maxLineBytes = maxLineBytes
        self.maxTagBytes = maxTagBytes
        self.requireUTF8 = requireUTF8
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let line = self.nextLine(&buffer) else { return .needMoreData }
        if let line { context.fireChannelRead(Self.wrapInboundOut(line)) }
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A last line without its LF is dropped: the client did not finish it.
        while let line = self.nextLine(&buffer) {
            if let line { context.fireChannelRead(Self.wrapInboundOut(line)) }
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    /// The next line's result: nil when more bytes are needed, `.some(nil)` for a line that yields
    /// nothing (empty, or the end of one already reported too long).
    package mutating func nextLine(_ buffer: inout ByteBuffer) -> IRCInboundLine?? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: 0x0A) else {
            if buffer.readableBytes > self.maxTagBytes + self.maxLineBytes {
                buffer.moveReaderIndex(to: buffer.writerIndex)
                if !self.discarding {
                    self.discarding = true
                    return .some(.tooLong)
                }
                return .some(nil)
            }
            return nil
        }
        let start = view.startIndex
        var end = newline
        if end > start, view[end - 1] == 0x0D { end -= 1 }
        let length = newline + 1 - start
        defer { buffer.moveReaderIndex(forwardBy: length) }
        if self.discarding {
            self.discarding = false
            return .some(nil)
        }
        let line = view[start..<end]
        guard line.contains(where: { $0 != 0x20 }) else { return .some(nil) }
        var tagBytes = 0
        if line.first == UInt8(ascii: "@") {
            let space = line.firstIndex(of: 0x20) ?? end
            tagBytes = space + 1 - start
        }
        // The rest counts with its CR LF (two bytes whatever the client sent).
        let restBytes = (end - start - min(tagBytes, end - start)) + 2
        if tagBytes > self.maxTagBytes || restBytes > self.maxLineBytes { return .some(.tooLong) }
        if self.requireUTF8, line.contains(where: { $0 >= 0x80 }), String(validating: line, as: UTF8.self) == nil {
            return .some(.notUTF8(command: (try? IRCMessage(parsing: line))?.command))
        }
        do {
            return .some(.message(try IRCMessage(parsing: line)))
        } catch {
            return .some(.malformed(error))
        }
    }
}
