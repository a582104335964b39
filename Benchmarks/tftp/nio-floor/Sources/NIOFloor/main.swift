// The least work a SwiftNIO DatagramChannel handler can do per lock-step TFTP block: no state
// machine, no timers, no retransmission, no file I/O (the file is read into memory first), no
// checks beyond the opcode. It answers an RRQ from a new socket (with an OACK when blksize is asked
// for), and each ACK n with DATA n+1 cut from memory into one reused buffer.
//
// It is not a server (a lost packet stalls it for good); it measures what NIO's event loop, channel
// pipeline and DatagramChannel cost per block, which no handler on top of them can go below.
// Benchmarks/tftp/run.sh runs it with FLOOR=1 beside in.tftpd and tincan.
//
//   nio-floor FILE PORT      serves FILE under any name on 127.0.0.1:PORT
import Foundation
import NIOCore
import NIOPosix

final class Transfer: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let file: ByteBuffer
    private let peer: SocketAddress
    private let blockSize: Int
    private let optionAck: Bool
    private var scratch = ByteBuffer()
    private var acked = 0

    init(file: ByteBuffer, peer: SocketAddress, blockSize: Int, optionAck: Bool) {
        self.file = file
        self.peer = peer
        self.blockSize = blockSize
        self.optionAck = optionAck
    }

    func channelActive(context: ChannelHandlerContext) {
        if self.optionAck {
            self.scratch.writeInteger(UInt16(6))
            self.scratch.writeString("blksize\0\(self.blockSize)\0")
            context.writeAndFlush(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: self.peer, data: self.scratch)), promise: nil)
        } else {
            self.send(block: 1, context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var datagram = self.unwrapInboundIn(data).data
        guard datagram.readInteger(as: UInt16.self) == 4, let number = datagram.readInteger(as: UInt16.self) else { return }
        // Block numbers roll over to 0: the absolute block is the one nearest above the last.
        let block = self.acked + Int(number &- UInt16(truncatingIfNeeded: self.acked))
        self.acked = block
        if block * self.blockSize > self.file.readableBytes {
            context.close(promise: nil)
        } else {
            self.send(block: block + 1, context: context)
        }
    }

    private func send(block: Int, context: ChannelHandlerContext) {
        let start = (block - 1) * self.blockSize
        let count = min(self.blockSize, self.file.readableBytes - start)
        self.scratch.clear()
        self.scratch.writeInteger(UInt16(3))
        self.scratch.writeInteger(UInt16(truncatingIfNeeded: block))
        self.scratch.writeImmutableBuffer(self.file.getSlice(at: start, length: count)!)
        context.writeAndFlush(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: self.peer, data: self.scratch)), promise: nil)
    }
}

final class Listener: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let file: ByteBuffer

    init(file: ByteBuffer) { self.file = file }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = self.unwrapInboundIn(data)
        var bytes = request.data
        guard bytes.readInteger(as: UInt16.self) == 1 else { return }
        // filename, mode, then option/value pairs: take blksize.
        var strings: [String] = []
        while let end = bytes.readableBytesView.firstIndex(of: 0) {
            strings.append(bytes.readString(length: end - bytes.readerIndex)!)
            bytes.moveReaderIndex(forwardBy: 1)
        }
        var blockSize = 512
        var optionAck = false
        var index = 2
        while index + 1 < strings.count {
            if strings[index].lowercased() == "blksize", let size = Int(strings[index + 1]) {
                blockSize = size
                optionAck = true
            }
            index += 2
        }
        let (file, peer, size, oack) = (self.file, request.remoteAddress, blockSize, optionAck)
        DatagramBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Transfer(file: file, peer: peer, blockSize: size, optionAck: oack)
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .whenFailure { print("nio-floor: transfer socket: \($0)") }
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[2]), let contents = FileManager.default.contents(atPath: arguments[1]) else {
    print("usage: nio-floor FILE PORT")
    exit(2)
}
let file = ByteBuffer(bytes: contents)
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let listener = try DatagramBootstrap(group: group)
    .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Listener(file: file)) }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
try listener.closeFuture.wait()
