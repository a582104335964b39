import NIOCore

/// Why a datagram is not a TFTP packet; each maps to the ERROR that answers it.
public struct TFTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { self.reason }

    /// The ERROR packet that tells the sender (RFC 1350: illegal TFTP operation).
    public var tftpError: TFTPError { TFTPError(.illegalOperation, self.reason) }
}

/// Size limits of the wire format.
public enum TFTPWireLimits {
    /// The largest request accepted: RFC 2347 keeps a request, options included, within 512 bytes.
    public static let maxRequestBytes = 512
    /// The largest block size (RFC 2348): 65464 bytes, which fits an IPv4 UDP datagram with headers.
    public static let maxBlockSize = 65464
    /// The smallest block size (RFC 2348).
    public static let minBlockSize = 8
    /// The RFC 1350 block size, used when none is negotiated.
    public static let defaultBlockSize = 512
    /// The largest datagram the codec reads: a DATA packet of the largest block size.
    public static let maxPacketBytes = maxBlockSize + 4
}

extension ByteBuffer {
    /// Reads one whole datagram as a TFTP packet.
    ///
    /// TFTP packets never span datagrams, so there is no "need more bytes" case: every readable
    /// byte belongs to this packet. On failure nothing is consumed.
    ///
    /// - Throws: ``TFTPParseError`` for a truncated or malformed packet or an unknown opcode.
    public mutating func readTFTPPacket() throws(TFTPParseError) -> TFTPPacket {
        var copy = self
        let packet = try copy.parseTFTPPacket()
        self = copy
        return packet
    }

    private mutating func parseTFTPPacket() throws(TFTPParseError) -> TFTPPacket {
        guard let raw = self.readInteger(as: UInt16.self) else {
            throw TFTPParseError("packet of \(self.readableBytes) bytes is too short for an opcode")
        }
        let opcode = TFTPOpcode(rawValue: raw)
        switch opcode {
        case .readRequest, .writeRequest:
            guard self.readableBytes + 2 <= TFTPWireLimits.maxRequestBytes else {
                throw TFTPParseError("request longer than \(TFTPWireLimits.maxRequestBytes) bytes")
            }
            let filename = try self.readTFTPString(what: "filename")
            guard !filename.isEmpty else { throw TFTPParseError("empty filename") }
            let mode = TFTPMode(rawValue: try self.readTFTPString(what: "mode"))
            let options = try self.readTFTPOptions()
            let request = TFTPRequest(filename: filename, mode: mode, options: options)
            return opcode == .readRequest ? .readRequest(request) : .writeRequest(request)
        case .data:
            guard let block = self.readInteger(as: UInt16.self) else { throw TFTPParseError("DATA without a block number") }
            guard self.readableBytes <= TFTPWireLimits.maxBlockSize else {
                throw TFTPParseError("DATA block of \(self.readableBytes) bytes exceeds \(TFTPWireLimits.maxBlockSize)")
            }
            // Cannot fail: exactly what is readable.
            let payload = self.readSlice(length: self.readableBytes)!
            return .data(block: block, payload: payload)
        case .acknowledgment:
            guard let block = self.readInteger(as: UInt16.self) else { throw TFTPParseError("ACK without a block number") }
            // Some clients pad ACKs; the extra bytes carry nothing.
            self.moveReaderIndex(forwardBy: self.readableBytes)
            return .acknowledgment(block: block)
        case .error:
            guard let code = self.readInteger(as: UInt16.self) else { throw TFTPParseError("ERROR without a code") }
            // A missing terminator is common in the wild; take the rest as the message.
            let message: String
            if self.readableBytesView.contains(0) {
                message = try self.readTFTPString(what: "error message")
            } else {
                message = self.readString(length: self.readableBytes) ?? ""
            }
            self.moveReaderIndex(forwardBy: self.readableBytes)
            return .error(TFTPError(TFTPErrorCode(rawValue: code), message))
        case .optionAcknowledgment:
            return .optionAcknowledgment(try self.readTFTPOptions())
        default:
            throw TFTPParseError("unknown opcode \(raw)")
        }
    }

    /// Reads NUL-terminated name/value pairs to the end of the buffer.
    private mutating func readTFTPOptions() throws(TFTPParseError) -> [TFTPOption] {
        var options: [TFTPOption] = []
        while self.readableBytes > 0 {
            let name = try self.readTFTPString(what: "option name")
            let value = try self.readTFTPString(what: "value of option '\(name)'")
            guard !name.isEmpty else { throw TFTPParseError("empty option name") }
            // RFC 2347: a repeated option is ambiguous; the first one counts.
            if !options.contains(where: { $0.name == name.lowercased() }) {
                options.append(TFTPOption(name: name, value: value))
            }
        }
        return options
    }

    /// Reads a NUL-terminated string that must be valid UTF-8 (ASCII in practice).
    private mutating func readTFTPString(what: String) throws(TFTPParseError) -> String {
        guard let end = self.readableBytesView.firstIndex(of: 0) else {
            throw TFTPParseError("\(what) is not terminated by a NUL byte")
        }
        let length = end - self.readableBytesView.startIndex
        let bytes = self.readableBytesView[self.readableBytesView.startIndex..<end]
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TFTPParseError("\(what) is not valid UTF-8")
        }
        self.moveReaderIndex(forwardBy: length + 1)
        return text
    }

    /// Writes `packet`; returns the number of bytes written.
    @discardableResult
    public mutating func writeTFTPPacket(_ packet: TFTPPacket) -> Int {
        var written = self.writeInteger(packet.opcode.rawValue)
        switch packet {
        case .readRequest(let request), .writeRequest(let request):
            written += self.writeTFTPString(request.filename)
            written += self.writeTFTPString(request.mode.rawValue)
            for option in request.options {
                written += self.writeTFTPString(option.name) + self.writeTFTPString(option.value)
            }
        case .data(let block, var payload):
            written += self.writeInteger(block)
            written += self.writeBuffer(&payload)
        case .acknowledgment(let block):
            written += self.writeInteger(block)
        case .error(let error):
            written += self.writeInteger(error.code.rawValue)
            written += self.writeTFTPString(error.message)
        case .optionAcknowledgment(let options):
            for option in options {
                written += self.writeTFTPString(option.name) + self.writeTFTPString(option.value)
            }
        }
        return written
    }

    private mutating func writeTFTPString(_ string: String) -> Int {
        self.writeString(string) + self.writeInteger(UInt8(0))
    }
}
