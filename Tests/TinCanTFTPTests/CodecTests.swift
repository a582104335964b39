import NIOCore
import Testing
import TinCanTestSupport

@testable import TinCanTFTP

func bytes(_ packet: TFTPPacket) -> [UInt8] {
    var buffer = ByteBuffer()
    let written = buffer.writeTFTPPacket(packet)
    #expect(written == buffer.readableBytes)
    return Array(buffer.readableBytesView)
}

func parse(_ bytes: [UInt8]) throws(TFTPParseError) -> TFTPPacket {
    var buffer = ByteBuffer(bytes: bytes)
    return try buffer.readTFTPPacket()
}

@Suite struct CodecTests {
    @Test func readRequestIsByteExact() {
        let packet = TFTPPacket.readRequest(TFTPRequest(
            filename: "boot/pxelinux.0", mode: .octet,
            options: [TFTPOption(name: "blksize", value: "1428"), TFTPOption(name: "tsize", value: "0")]
        ))
        #expect(bytes(packet) == [0, 1] + Array("boot/pxelinux.0\0octet\0blksize\01428\0tsize\00\0".utf8))
    }

    @Test func dataAckErrorOackAreByteExact() {
        #expect(bytes(.data(block: 0x0102, payload: ByteBuffer(string: "hi"))) == [0, 3, 1, 2, 0x68, 0x69])
        #expect(bytes(.data(block: 7, payload: ByteBuffer())) == [0, 3, 0, 7])
        #expect(bytes(.acknowledgment(block: 65535)) == [0, 4, 255, 255])
        #expect(bytes(.error(TFTPError(.fileNotFound, "nope"))) == [0, 5, 0, 1] + Array("nope\0".utf8))
        #expect(bytes(.optionAcknowledgment([TFTPOption(name: "windowsize", value: "16")])) == [0, 6] + Array("windowsize\016\0".utf8))
    }

    @Test(arguments: [
        TFTPPacket.readRequest(TFTPRequest(filename: "a", mode: .netascii)),
        .writeRequest(TFTPRequest(filename: "dir/file.bin", options: [TFTPOption(name: "windowsize", value: "64")])),
        .data(block: 65535, payload: ByteBuffer(bytes: [0, 1, 2, 255])),
        .data(block: 0, payload: ByteBuffer(repeating: 0xAB, count: TFTPWireLimits.maxBlockSize)),
        .acknowledgment(block: 0),
        .error(TFTPError(TFTPErrorCode(rawValue: 99), "custom code")),
        .optionAcknowledgment([]),
        .optionAcknowledgment([TFTPOption(name: "blksize", value: "8"), TFTPOption(name: "tsize", value: "123456")]),
    ])
    func roundTrip(packet: TFTPPacket) throws {
        #expect(try parse(bytes(packet)) == packet)
    }

    @Test func namesAreCaseInsensitiveAndTheFirstRepeatWins() throws {
        let packet = try parse([0, 2] + Array("f\0OcTeT\0BLKSIZE\01024\0blksize\0512\0".utf8))
        #expect(packet == .writeRequest(TFTPRequest(filename: "f", mode: .octet, options: [TFTPOption(name: "blksize", value: "1024")])))
    }

    @Test func errorWithoutTerminatorKeepsItsMessage() throws {
        #expect(try parse([0, 5, 0, 2] + Array("denied".utf8)) == .error(TFTPError(.accessViolation, "denied")))
    }

    @Test func paddedAckIsAccepted() throws {
        #expect(try parse([0, 4, 0, 9, 0, 0, 0]) == .acknowledgment(block: 9))
    }

    @Test(arguments: [
        ([], "too short for an opcode"),
        ([0], "too short for an opcode"),
        ([0, 7], "unknown opcode 7"),
        ([0, 0], "unknown opcode 0"),
        ([0, 1] + Array("file".utf8), "filename is not terminated"),
        ([0, 1] + Array("file\0octet".utf8), "mode is not terminated"),
        ([0, 1, 0] + Array("octet\0".utf8), "empty filename"),
        ([0, 1] + Array("f\0octet\0blksize\0".utf8), "value of option 'blksize' is not terminated"),
        ([0, 1, 0xC3, 0x28, 0] + Array("octet\0".utf8), "filename is not valid UTF-8"),
        ([0, 1] + Array(repeating: UInt8(ascii: "a"), count: 600) + [0] + Array("octet\0".utf8), "request longer than 512 bytes"),
        ([0, 3, 0], "DATA without a block number"),
        ([0, 3, 0, 1] + Array(repeating: 0, count: 65465), "exceeds 65464"),
        ([0, 4, 0], "ACK without a block number"),
        ([0, 5], "ERROR without a code"),
    ] as [([UInt8], String)])
    func malformed(bytes: [UInt8], reason: String) {
        var buffer = ByteBuffer(bytes: bytes)
        let before = buffer
        #expect {
            try buffer.readTFTPPacket()
        } throws: { error in
            (error as? TFTPParseError)?.reason.contains(reason) == true
                && (error as? TFTPParseError)?.tftpError.code == .illegalOperation
        }
        #expect(buffer == before)
    }
}

@Suite struct NegotiationTests {
    let limits = TFTPOptionLimits(maxBlockSize: 1468, maxWindowSize: 64, maxFileSize: 1000)

    @Test func serverClampsAndAnswersInTheClientsOrder() throws {
        let requested = [
            TFTPOption(name: "windowsize", value: "128"), TFTPOption(name: "tsize", value: "0"),
            TFTPOption(name: "blksize", value: "65464"), TFTPOption(name: "timeout", value: "3"),
        ]
        let (acknowledged, options) = try TFTPNegotiation.negotiate(requested, isRead: true, fileSize: 777, limits: self.limits).get()
        #expect(acknowledged == [
            TFTPOption(name: "windowsize", value: "64"), TFTPOption(name: "tsize", value: "777"),
            TFTPOption(name: "blksize", value: "1468"), TFTPOption(name: "timeout", value: "3"),
        ])
        #expect(options == TFTPTransferOptions(blockSize: 1468, windowSize: 64, timeoutSeconds: 3, transferSize: 777))
    }

    @Test(arguments: [
        TFTPOption(name: "blksize", value: "7"), TFTPOption(name: "blksize", value: "65465"),
        TFTPOption(name: "blksize", value: "big"), TFTPOption(name: "windowsize", value: "0"),
        TFTPOption(name: "timeout", value: "0"), TFTPOption(name: "timeout", value: "256"),
        TFTPOption(name: "tsize", value: "-1"), TFTPOption(name: "multicast", value: ""),
        TFTPOption(name: "rollover", value: "0"),
    ])
    func invalidAndUnknownOptionsAreIgnoredNotEchoed(option: TFTPOption) throws {
        let (acknowledged, options) = try TFTPNegotiation.negotiate([option], isRead: true, fileSize: 5, limits: self.limits).get()
        #expect(acknowledged.isEmpty)
        #expect(options == TFTPTransferOptions())
    }

    @Test func writeRequestTooBigIsRefusedWithError3() throws {
        let result = TFTPNegotiation.negotiate([TFTPOption(name: "tsize", value: "1001")], isRead: false, fileSize: nil, limits: self.limits)
        #expect(throws: TFTPError(.diskFull, "file of 1001 bytes exceeds the limit of 1000 bytes")) { try result.get() }
        let fits = TFTPNegotiation.negotiate([TFTPOption(name: "tsize", value: "1000")], isRead: false, fileSize: nil, limits: self.limits)
        #expect(try fits.get().acknowledged == [TFTPOption(name: "tsize", value: "1000")])
    }

    @Test func clientAcceptsLoweredValues() throws {
        let requested = [TFTPOption(name: "blksize", value: "8192"), TFTPOption(name: "windowsize", value: "16"), TFTPOption(name: "tsize", value: "0")]
        let options = try TFTPNegotiation.accept(
            [TFTPOption(name: "blksize", value: "1468"), TFTPOption(name: "tsize", value: "99")], requested: requested
        ).get()
        #expect(options == TFTPTransferOptions(blockSize: 1468, windowSize: 1, transferSize: 99))
    }

    @Test(arguments: [
        [TFTPOption(name: "blksize", value: "9000")],
        [TFTPOption(name: "windowsize", value: "17")],
        [TFTPOption(name: "timeout", value: "2")],
        [TFTPOption(name: "multicast", value: "1")],
        [TFTPOption(name: "blksize", value: "x")],
    ])
    func clientRefusesWhatItDidNotAskFor(acknowledged: [TFTPOption]) {
        let requested = [TFTPOption(name: "blksize", value: "8192"), TFTPOption(name: "windowsize", value: "16"), TFTPOption(name: "timeout", value: "5")]
        #expect {
            try TFTPNegotiation.accept(acknowledged, requested: requested).get()
        } throws: { error in
            (error as? TFTPError)?.code == .optionNegotiationFailed
        }
    }
}

@Suite struct NetasciiTests {
    @Test func encodesLineEndsAndBareCR() {
        var output = ByteBuffer()
        NetasciiEncoder().encode(ByteBuffer(string: "a\nb\rc\r\n"), into: &output)
        #expect(Array(output.readableBytesView) == Array("a\r\nb\r\0c\r\0\r\n".utf8))
    }

    @Test func decodesAcrossBlockBoundaries() {
        var decoder = NetasciiDecoder()
        var output = ByteBuffer()
        for block in ["line\r", "\nnext\r", "\0cr\r", "\r\n", "end\r"] {
            decoder.decode(ByteBuffer(string: block), into: &output)
        }
        decoder.finish(into: &output)
        #expect(String(buffer: output) == "line\nnext\rcr\r\nend\r")
    }

    @Test(arguments: [1, 7, 512])
    func roundTripsAnyText(blockSize: Int) {
        let text = TestData.random(count: 20_000, seed: 5).map { [UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0, UInt8(ascii: "x")][Int($0 % 4)] }
        var encoded = ByteBuffer()
        NetasciiEncoder().encode(ByteBuffer(bytes: text), into: &encoded)
        var decoder = NetasciiDecoder()
        var decoded = ByteBuffer()
        while encoded.readableBytes > 0 {
            decoder.decode(encoded.readSlice(length: min(blockSize, encoded.readableBytes))!, into: &decoded)
        }
        decoder.finish(into: &decoded)
        #expect(Array(decoded.readableBytesView) == text)
    }
}
