/// What a nick may be. Accounts are named by nicks, so the command line's `tincan chat user add`
/// checks names by the same rule.
package enum ChatNicks {
    /// RFC 2812's nick: a letter or one of ``[]\`_^{|}`` first, then those, digits and `-`; at
    /// most `limit` bytes.
    package static func isValid(_ nick: String, limit: Int) -> Bool {
        guard nick.utf8.count <= limit, let first = nick.utf8.first else { return false }
        func special(_ byte: UInt8) -> Bool { "[]\\`_^{|}".utf8.contains(byte) }
        func letter(_ byte: UInt8) -> Bool { (65...90).contains(byte) || (97...122).contains(byte) }
        guard letter(first) || special(first) else { return false }
        return nick.utf8.allSatisfy { letter($0) || special($0) || (48...57).contains($0) || $0 == UInt8(ascii: "-") }
    }
}
