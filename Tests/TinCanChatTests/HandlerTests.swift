import Logging
import NIOCore
import NIOEmbedded
import Testing
import TinCanIRC

@testable import TinCanChat

/// The driver and connection handlers on an `EmbeddedEventLoop`: lines go in through the channel
/// pipeline, bytes come out of it, and time is the loop's, moved by the test (the core's clock
/// reads it too, as the handler's flood control does).
final class EmbeddedChat {
    let loop = EmbeddedEventLoop()
    let driver: ChatDriver

    init(_ configuration: ChatServerConfiguration) {
        var clock = ChatClock()
        let loop = self.loop
        clock.now = { loop.now }
        clock.wallMilliseconds = { 1_800_000_000_250 }
        let core = ChatCore(configuration: configuration, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }, clock: clock)
        self.driver = ChatDriver.make(core: core, loop: loop, accounts: nil).value
    }

    /// A connection from 192.0.2.1, registered as `nick` with its welcome read.
    func registered(_ nick: String) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: ChatConnectionHandler(driver: self.driver), loop: self.loop)
        channel.remoteAddress = try SocketAddress(ipAddress: "192.0.2.1", port: 40000)
        channel.connect(to: try SocketAddress(ipAddress: "192.0.2.1", port: 40000), promise: nil)
        try self.say(channel, "NICK \(nick)", "USER \(nick) 0 * :\(nick)")
        #expect(try self.lines(channel).last == ":irc.test 366 \(nick) #lobby :End of /NAMES list.")
        return channel
    }

    func say(_ channel: EmbeddedChannel, _ lines: String...) throws {
        for line in lines { try channel.writeInbound(IRCInboundLine.message(try IRCMessage(parsing: line))) }
    }

    /// What the channel was sent since the last call, once the loop has run what was due.
    func lines(_ channel: EmbeddedChannel) throws -> [String] {
        self.loop.run()
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text.split(separator: "\r\n").map(String.init)
    }
}

@Suite struct ConnectionHandlerTests {
    @Test("flood control: a burst of 5 goes at once, the rest wait their turn on the loop's clock, in order; nothing is lost")
    func floodQueue() throws {
        let chat = EmbeddedChat(ChatServerConfiguration(name: "irc.test", floodLimit: ChatFloodLimit(burst: 5, linesPerSecond: 2)))
        let ann = try chat.registered("ann")
        let bob = try chat.registered("bob")
        _ = try chat.lines(ann)
        for index in 1...7 { try chat.say(ann, "PRIVMSG bob :\(index)") }
        #expect(try chat.lines(bob) == (1...5).map { ":ann!~ann@192.0.2.1 PRIVMSG bob :\($0)" })
        chat.loop.advanceTime(by: .milliseconds(499))
        #expect(try chat.lines(bob).isEmpty)
        chat.loop.advanceTime(by: .milliseconds(1))
        #expect(try chat.lines(bob) == [":ann!~ann@192.0.2.1 PRIVMSG bob :6"])
        // A line that comes while others wait goes behind them.
        try chat.say(ann, "PRIVMSG bob :8")
        chat.loop.advanceTime(by: .milliseconds(500))
        #expect(try chat.lines(bob) == [":ann!~ann@192.0.2.1 PRIVMSG bob :7"])
        chat.loop.advanceTime(by: .milliseconds(500))
        #expect(try chat.lines(bob) == [":ann!~ann@192.0.2.1 PRIVMSG bob :8"])
    }

    @Test("more lines waiting than the flood limit allows: ERROR Excess Flood, the connection closes, the others are told")
    func excessFlood() throws {
        let chat = EmbeddedChat(ChatServerConfiguration(name: "irc.test", floodLimit: ChatFloodLimit(burst: 1, linesPerSecond: 1, maxWaitingLines: 3)))
        let ann = try chat.registered("ann")
        let bob = try chat.registered("bob")
        _ = try chat.lines(ann)
        for index in 1...5 { try chat.say(ann, "PRIVMSG bob :\(index)") }
        #expect(try chat.lines(ann) == ["ERROR :Closing Link: 192.0.2.1 (Excess Flood)"])
        #expect(!ann.isActive)
        #expect(try chat.lines(bob) == [":ann!~ann@192.0.2.1 PRIVMSG bob :1", ":ann!~ann@192.0.2.1 QUIT :Excess Flood"])
    }

    @Test("overload: with many sockets backed up every connection's lines wait; when half have drained they are handled, in order")
    func overloadPauseAndDrain() throws {
        let chat = EmbeddedChat(ChatServerConfiguration(name: "irc.test", floodLimit: nil))
        let ann = try chat.registered("ann")
        let others = try (0..<8).map { try chat.registered("u\($0)") }
        _ = try chat.lines(ann)
        for channel in others { _ = try chat.lines(channel) }
        for channel in others {
            channel.isWritable = false
            channel.pipeline.fireChannelWritabilityChanged()
        }
        #expect(chat.driver.core.overloaded)
        try chat.say(ann, "PRIVMSG #lobby :one", "PRIVMSG #lobby :two")
        #expect(try chat.lines(others[0]).isEmpty)
        for channel in others.prefix(4) {
            channel.isWritable = true
            channel.pipeline.fireChannelWritabilityChanged()
        }
        #expect(!chat.driver.core.overloaded)
        #expect(try chat.lines(others[0]) == [":ann!~ann@192.0.2.1 PRIVMSG #lobby :one", ":ann!~ann@192.0.2.1 PRIVMSG #lobby :two"])
        #expect(try chat.lines(others[7]).count == 2)
    }

    @Test("a connection closed by the peer: the others hear QUIT Connection closed in the next round")
    func peerCloses() throws {
        let chat = EmbeddedChat(ChatServerConfiguration(name: "irc.test"))
        let ann = try chat.registered("ann")
        let bob = try chat.registered("bob")
        _ = try chat.lines(ann)
        _ = try bob.finish()
        #expect(try chat.lines(ann) == [":bob!~bob@192.0.2.1 QUIT :Connection closed"])
        #expect(chat.driver.connectionCount == 1)
    }
}
