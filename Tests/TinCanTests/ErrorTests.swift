#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Testing
import TinCanCore

/// The kinds that a program switches on, from the system's and NIO's errors (the loopback tests
/// see refused, reset, timed out and address in use for real; unreachable needs a network).
@Suite struct ErrorKindTests {
    @Test(arguments: [
        (ECONNREFUSED, TinCanError.Kind.refused),
        (ECONNRESET, TinCanError.Kind.reset),
        (EPIPE, TinCanError.Kind.reset),
        (ETIMEDOUT, TinCanError.Kind.timedOut),
        (ENETUNREACH, TinCanError.Kind.unreachable),
        (EHOSTUNREACH, TinCanError.Kind.unreachable),
        (EADDRINUSE, TinCanError.Kind.addressInUse),
        (EACCES, TinCanError.Kind.other),
    ])
    func errnoKinds(code: CInt, kind: TinCanError.Kind) {
        #expect(TinCanError.Kind(errno: code) == kind)
        let error = TinCanError(operation: "connect to example:1", underlying: IOError(errnoCode: code, reason: "x"))
        #expect(error.kind == kind)
        #expect(error.errno == code)
    }

    @Test func theUnderlyingWordsStay() {
        let cause = IOError(errnoCode: ENETUNREACH, reason: "connect")
        let error = TinCanError(operation: "connect to example:80", underlying: cause)
        #expect(error.description == "connect to example:80: network unreachable")
        #expect(error.kind == .unreachable)
    }

    @Test func nioErrors() {
        #expect(TinCanError.kind(of: ChannelError.connectTimeout(.seconds(1))) == .timedOut)
        #expect(TinCanError.kind(of: ChannelError.ioOnClosedChannel) == .closed)
        #expect(TinCanError.kind(of: ChannelError.outputClosed) == .closed)
        let timeout = TinCanError(operation: "x", underlying: ChannelError.connectTimeout(.seconds(2)))
        #expect(timeout.cause == "timed out after 2 s")
    }

    @Test func wrappingKeepsTheKind() {
        let inner = TinCanError(operation: "", cause: "line longer than 8 bytes", kind: .lineTooLong)
        let outer = TinCanError(operation: "receive from peer", underlying: inner)
        #expect(outer.kind == .lineTooLong)
        #expect(outer.description == "receive from peer: line longer than 8 bytes")
    }
}
