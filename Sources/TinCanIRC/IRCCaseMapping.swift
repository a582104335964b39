/// How nicknames and channel names compare (the `CASEMAPPING` ISUPPORT token).
public struct IRCCaseMapping: Hashable, Sendable {
    /// The name announced in ISUPPORT.
    public let name: String
    private let foldsBrackets: Bool

    /// A-Z as a-z, and `[]\^` as `{}|~` (Scandinavian heritage; what most servers use).
    public static let rfc1459 = IRCCaseMapping(name: "rfc1459", foldsBrackets: true)
    /// A-Z as a-z only.
    public static let ascii = IRCCaseMapping(name: "ascii", foldsBrackets: false)

    /// The form two names are compared in: equal folds mean the same nick or channel.
    public func fold(_ name: String) -> String {
        var needed = false
        for byte in name.utf8 where self.folds(byte) != byte {
            needed = true
            break
        }
        guard needed else { return name }
        return String(decoding: name.utf8.map(self.folds), as: UTF8.self)
    }

    private func folds(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte + 32
        case UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\\"), UInt8(ascii: "^"):
            self.foldsBrackets ? byte + 32 : byte
        default: byte
        }
    }
}
