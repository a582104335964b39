// NIOFloor PORT [BATCH [SLOT]]: the least a UDP echo server on SwiftNIO's DatagramChannel does, for
// Benchmarks/echo/run.sh (FLOOR=1). One handler writes each datagram back to its sender and flushes
// once per read; vector reads (recvmmsg) of BATCH datagrams (default 16) into SLOT bytes each
// (default 65536: every datagram whole, as tincan echo keeps them). No configuration, logging,
// lifecycle or transform: what is left is NIO's own cost.
import NIOCore
import NIOPosix

final class Echo: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

let arguments = CommandLine.arguments
guard (2...4).contains(arguments.count), let port = Int(arguments[1]) else {
    fatalError("usage: NIOFloor PORT [BATCH [SLOT]]")
}
let batch = arguments.count > 2 ? Int(arguments[2])! : 16
let slot = arguments.count > 3 ? Int(arguments[3])! : 65536
let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .channelOption(.maxMessagesPerRead, value: 1)
    .channelOption(.datagramVectorReadMessageCount, value: batch)
    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: batch * slot))
    .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
    }
    .bind(host: "127.0.0.1", port: port)
    .get()
try await channel.closeFuture.get()
