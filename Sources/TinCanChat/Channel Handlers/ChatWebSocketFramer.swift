import NIOCore
import NIOWebSocket
import TinCanIRC

/// Which frames a WebSocket client exchanges (IRCv3 WebSocket): text (`text.ircv3.net`) or
/// binary (`binary.ircv3.net`).
enum ChatWebSocketMode: Sendable, Equatable {
    case text
    case binary

    static let textProtocol = "text.ircv3.net"
    static let binaryProtocol = "binary.ircv3.net"

    /// The first of the client's subprotocols (`Sec-WebSocket-Protocol`, most preferred first)
    /// that the server speaks, and the frames it means. A client that asks for none (gamja) or
    /// only for others gets text frames and no `Sec-WebSocket-Protocol` in the answer, as the
    /// spec allows.
    static func negotiate(_ offered: [String]) -> (mode: ChatWebSocketMode, subprotocol: String?) {
        let names = offered.flatMap { $0.split(separator: ",") }.map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() }
        for name in names {
            if name == Self.binaryProtocol { return (.binary, name) }
            if name == Self.textProtocol { return (.text, name) }
        }
        return (.text, nil)
    }
}

/// Puts a WebSocket in front of a ``ChatConnectionHandler``: each message the client sends is
/// one IRC line, each line the server writes one message (without CR LF both ways). The chat
/// handler behind it cannot tell a WebSocket user from a TCP one, so the lobby, limits, flood
/// control and backpressure are the same for both.
///
/// Inbound lines go through the same ``IRCLineDecoder`` as TCP's, so they have the same limits:
/// a message over them is answered 417 (its fragments are not kept past the limit). A text
/// message that is not UTF-8 closes the WebSocket with 1007. Outbound lines are always UTF-8:
/// the core writes messages made of Swift strings (the bytes of a TCP client that were not UTF-8
/// became U+FFFD when its line was parsed).
final class ChatWebSocketFramer: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = IRCInboundLine
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private let opcode: WebSocketOpcode
    private var decoder = IRCLineDecoder(requireUTF8: true)
    /// The message whose fragments are arriving; nil between messages.
    private var message: ByteBuffer?
    private var messageIsText = false
    private var messageTooLong = false
    private var closeSent = false

    init(mode: ChatWebSocketMode) {
        self.opcode = mode == .text ? .text : .binary
    }

    /// The longest message that can be a line: tags and the rest, as TCP allows them.
    private var lineLimit: Int { self.decoder.maxTagBytes + self.decoder.maxLineBytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            guard self.message == nil else { return self.fail(context, .protocolError) }
            if frame.fin { return self.deliver(frame.unmaskedData, isText: frame.opcode == .text, context: context) }
            let first = frame.unmaskedData
            self.messageIsText = frame.opcode == .text
            self.messageTooLong = first.readableBytes > self.lineLimit
            self.message = self.messageTooLong ? ByteBuffer() : first
        case .continuation:
            guard var message = self.message else { return self.fail(context, .protocolError) }
            self.message = nil
            if !self.messageTooLong {
                var data = frame.unmaskedData
                if message.readableBytes + data.readableBytes > self.lineLimit {
                    self.messageTooLong = true
                    message = ByteBuffer()
                } else {
                    message.writeBuffer(&data)
                }
            }
            guard frame.fin else {
                self.message = message
                return
            }
            if self.messageTooLong { return context.fireChannelRead(self.wrapInboundOut(.tooLong)) }
            self.deliver(message, isText: self.messageIsText, context: context)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(self.wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            // The closing handshake: the client's code back, then the socket closes (the chat
            // handler sees it go, like a TCP client's).
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode() ?? .normalClosure
            self.sendClose(context, code)
            context.close(promise: nil)
        default:
            self.fail(context, .protocolError)
        }
    }

    /// One whole message: its line (or lines, if it holds line feeds) to the chat handler.
    private func deliver(_ payload: ByteBuffer, isText: Bool, context: ChannelHandlerContext) {
        guard payload.readableBytes <= self.lineLimit else { return context.fireChannelRead(self.wrapInboundOut(.tooLong)) }
        if isText, String(validating: payload.readableBytesView, as: UTF8.self) == nil {
            return self.fail(context, .dataInconsistentWithMessage)
        }
        // The line as TCP would have it, CR LF counted as the limits count it.
        var line = payload
        line.writeStaticString("\r\n")
        while let result = self.decoder.nextLine(&line) {
            if let result { context.fireChannelRead(self.wrapInboundOut(result)) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO's protocol error handler, in front of this one, has sent the close frame.
        if error is NIOWebSocketError { self.closeSent = true }
        context.fireErrorCaught(error)
    }

    /// The chat handler's bytes are whole lines (a round's slices end at line ends): one frame each.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = self.unwrapOutboundIn(data)
        var last: WebSocketFrame?
        while bytes.readableBytes > 0 {
            let view = bytes.readableBytesView
            let newline = view.firstIndex(of: 0x0A)
            var end = newline ?? view.endIndex
            if end > view.startIndex, view[end - 1] == 0x0D { end -= 1 }
            let line = bytes.getSlice(at: view.startIndex, length: end - view.startIndex)!
            bytes.moveReaderIndex(to: newline.map { $0 + 1 } ?? view.endIndex)
            guard line.readableBytes > 0 else { continue }
            if let frame = last { context.write(self.wrapOutboundOut(frame), promise: nil) }
            last = WebSocketFrame(fin: true, opcode: self.opcode, data: line)
        }
        if let last {
            context.write(self.wrapOutboundOut(last), promise: promise)
        } else {
            promise?.succeed()
        }
    }

    /// The server closing (a QUIT, a drop, shutdown): a close frame first, so that the browser
    /// sees a clean close after the ERROR line.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all { self.sendClose(context, .normalClosure) }
        context.close(mode: mode, promise: promise)
    }

    private func fail(_ context: ChannelHandlerContext, _ code: WebSocketErrorCode) {
        self.sendClose(context, code)
        context.close(promise: nil)
    }

    private func sendClose(_ context: ChannelHandlerContext, _ code: WebSocketErrorCode) {
        guard !self.closeSent else { return }
        self.closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
    }
}

@available(*, unavailable)
extension ChatWebSocketFramer: Sendable {}
