/// The 16-bit operation code at the start of every TFTP packet (RFC 1350 section 5, RFC 2347).
///
/// A struct rather than an enum so that an unknown opcode read off the wire is still representable
/// and printable in logs and errors.
public struct TFTPOpcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Read request (RRQ).
    public static let readRequest = TFTPOpcode(rawValue: 1)
    /// Write request (WRQ).
    public static let writeRequest = TFTPOpcode(rawValue: 2)
    /// Data (DATA).
    public static let data = TFTPOpcode(rawValue: 3)
    /// Acknowledgment (ACK).
    public static let acknowledgment = TFTPOpcode(rawValue: 4)
    /// Error (ERROR).
    public static let error = TFTPOpcode(rawValue: 5)
    /// Option acknowledgment (OACK, RFC 2347).
    public static let optionAcknowledgment = TFTPOpcode(rawValue: 6)

    public var description: String {
        switch self {
        case .readRequest: "RRQ"
        case .writeRequest: "WRQ"
        case .data: "DATA"
        case .acknowledgment: "ACK"
        case .error: "ERROR"
        case .optionAcknowledgment: "OACK"
        default: "opcode \(self.rawValue)"
        }
    }
}
