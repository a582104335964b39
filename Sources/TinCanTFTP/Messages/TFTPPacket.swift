import NIOCore

/// A transfer mode (RFC 1350): `octet` and `netascii` are served; `mail` is obsolete and refused.
public struct TFTPMode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The mode name in lower case (modes are case-insensitive on the wire).
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue.lowercased() }

    /// Raw 8-bit bytes.
    public static let octet = TFTPMode(rawValue: "octet")
    /// Text with CR LF line ends and CR NUL for a bare CR.
    public static let netascii = TFTPMode(rawValue: "netascii")
    /// Obsolete mail delivery; refused with ERROR 4 (as tftp-hpa does).
    public static let mail = TFTPMode(rawValue: "mail")

    public var description: String { self.rawValue }
}

/// One option of a request or an OACK (RFC 2347): a case-insensitive name and a value.
public struct TFTPOption: Hashable, Sendable, CustomStringConvertible {
    /// The name, in lower case.
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name.lowercased()
        self.value = value
    }

    public var description: String { "\(self.name)=\(self.value)" }
}

/// A read or write request.
///
/// ```
///  2 bytes     string    1 byte     string   1 byte   string  1 byte  string  1 byte
///  ------------------------------------------------------------------------------
/// | Opcode |  Filename  |   0  |    Mode    |   0  |  opt1  |   0  | value1 |   0  | ...
///  ------------------------------------------------------------------------------
/// ```
public struct TFTPRequest: Hashable, Sendable {
    public var filename: String
    public var mode: TFTPMode
    /// The options in the order the client sent them, names in lower case.
    public var options: [TFTPOption]

    public init(filename: String, mode: TFTPMode = .octet, options: [TFTPOption] = []) {
        self.filename = filename
        self.mode = mode
        self.options = options
    }
}

/// An ERROR packet's contents.
///
/// ```
///  2 bytes     2 bytes      string    1 byte
///  -----------------------------------------
/// | Opcode |  ErrorCode |   ErrMsg   |   0  |
///  -----------------------------------------
/// ```
public struct TFTPError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: TFTPErrorCode
    public var message: String

    public init(_ code: TFTPErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "error \(self.code.rawValue) (\(self.code)): \(self.message)" }
}

/// Every TFTP packet (RFC 1350, RFC 2347).
///
/// ```
/// DATA:  | 03 | Block # | Data (0 to blksize bytes) |
/// ACK:   | 04 | Block # |
/// OACK:  | 06 | opt1 | 0 | value1 | 0 | ... |
/// ```
public enum TFTPPacket: Hashable, Sendable {
    case readRequest(TFTPRequest)
    case writeRequest(TFTPRequest)
    /// A block of data; a block shorter than the block size ends the transfer.
    case data(block: UInt16, payload: ByteBuffer)
    case acknowledgment(block: UInt16)
    case error(TFTPError)
    /// The options the server accepted, in the client's order.
    case optionAcknowledgment([TFTPOption])

    public var opcode: TFTPOpcode {
        switch self {
        case .readRequest: .readRequest
        case .writeRequest: .writeRequest
        case .data: .data
        case .acknowledgment: .acknowledgment
        case .error: .error
        case .optionAcknowledgment: .optionAcknowledgment
        }
    }
}

extension TFTPPacket: CustomStringConvertible {
    /// A short form for per-packet trace logs.
    public var description: String {
        switch self {
        case .readRequest(let request), .writeRequest(let request):
            let options = request.options.map(\.description).joined(separator: " ")
            return "\(self.opcode) \(request.filename) \(request.mode)\(options.isEmpty ? "" : " " + options)"
        case .data(let block, let payload): return "DATA \(block) (\(payload.readableBytes) bytes)"
        case .acknowledgment(let block): return "ACK \(block)"
        case .error(let error): return "ERROR \(error.code.rawValue) \(error.message)"
        case .optionAcknowledgment(let options): return "OACK " + options.map(\.description).joined(separator: " ")
        }
    }
}
