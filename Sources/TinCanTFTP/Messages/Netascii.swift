import NIOCore

/// Converts local text (LF line ends) to netascii (RFC 764 as used by RFC 1350): LF becomes CR LF,
/// and a bare CR becomes CR NUL. Stateless: each byte maps on its own.
struct NetasciiEncoder {
    /// Appends the netascii form of `input` to `output`.
    func encode(_ input: ByteBuffer, into output: inout ByteBuffer) {
        output.reserveCapacity(minimumWritableBytes: input.readableBytes + input.readableBytes / 8)
        for byte in input.readableBytesView {
            switch byte {
            case UInt8(ascii: "\n"): output.writeBytes([UInt8(ascii: "\r"), UInt8(ascii: "\n")])
            case UInt8(ascii: "\r"): output.writeBytes([UInt8(ascii: "\r"), 0])
            default: output.writeInteger(byte)
            }
        }
    }
}

/// Converts netascii back to local text: CR LF becomes LF, CR NUL becomes CR. A CR that ends one
/// block is held until the next block says what it was. A CR followed by anything else is kept as
/// it is (lenient, as tftp-hpa is).
struct NetasciiDecoder {
    private var pendingCR = false

    mutating func decode(_ input: ByteBuffer, into output: inout ByteBuffer) {
        output.reserveCapacity(minimumWritableBytes: input.readableBytes + 1)
        for byte in input.readableBytesView {
            if self.pendingCR {
                self.pendingCR = false
                switch byte {
                case UInt8(ascii: "\n"): output.writeInteger(UInt8(ascii: "\n"))
                case 0: output.writeInteger(UInt8(ascii: "\r"))
                case UInt8(ascii: "\r"):
                    output.writeInteger(UInt8(ascii: "\r"))
                    self.pendingCR = true
                default:
                    output.writeBytes([UInt8(ascii: "\r"), byte])
                }
            } else if byte == UInt8(ascii: "\r") {
                self.pendingCR = true
            } else {
                output.writeInteger(byte)
            }
        }
    }

    /// Ends the stream: a CR still held is written as it is.
    mutating func finish(into output: inout ByteBuffer) {
        if self.pendingCR {
            output.writeInteger(UInt8(ascii: "\r"))
            self.pendingCR = false
        }
    }
}
