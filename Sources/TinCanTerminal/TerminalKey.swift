/// One key press (or one bracketed paste) read from a terminal in raw mode.
public enum TerminalKey: Hashable, Sendable {
    /// A printable character, UTF-8 decoded (multi-byte characters and emoji included).
    case character(Character)
    /// Ctrl plus a letter, as the lowercase letter: Ctrl+C is `.control("c")`.
    ///
    /// Ctrl+I, Ctrl+M, Ctrl+J and Ctrl+H are indistinguishable from Tab, Enter and Backspace on the wire,
    /// so they arrive as `.tab`, `.enter` and `.backspace`.
    case control(Character)
    /// Alt plus a printable character (the terminal sends ESC followed by the character): Alt+1 is `.alt("1")`.
    case alt(Character)
    /// Return or Enter (CR or LF).
    case enter
    /// Tab (Ctrl+I).
    case tab
    /// Shift+Tab (`ESC [ Z`).
    case backTab
    /// Backspace (DEL 0x7F or BS 0x08).
    case backspace
    /// Delete forward (`ESC [ 3 ~`).
    case delete
    /// Escape pressed on its own (an ESC that nothing followed for a moment).
    case escape
    /// Arrow up.
    case up
    /// Arrow down.
    case down
    /// Arrow left.
    case left
    /// Arrow right.
    case right
    /// Home.
    case home
    /// End.
    case end
    /// Page Up.
    case pageUp
    /// Page Down.
    case pageDown
    /// Alt+Up (`ESC [ 1 ; 3 A`).
    case altUp
    /// Alt+Down (`ESC [ 1 ; 3 B`).
    case altDown
    /// Ctrl+Left (`ESC [ 1 ; 5 D`; Alt+Left too, which some terminals send for word moves).
    case ctrlLeft
    /// Ctrl+Right (`ESC [ 1 ; 5 C`; Alt+Right too).
    case ctrlRight
    /// Text pasted while bracketed paste was on (between `ESC [ 200 ~` and `ESC [ 201 ~`).
    ///
    /// Line ends are kept, normalised to "\n"; control characters other than tab and newline are removed so
    /// that pasted text can never carry escape sequences to the screen.
    case paste(String)
}

/// Turns the bytes a terminal sends into ``TerminalKey``s.
///
/// A pure decoder: bytes in, keys out. Sequences cut between two reads (an escape sequence, a UTF-8
/// character, a paste) are kept until the next ``feed(_:)``. A lone ESC cannot be told apart from the start
/// of a sequence until some time has passed, so the reader calls ``flush()`` after a short pause
/// (``Terminal/keys()`` does after 50 ms).
public struct TerminalKeyDecoder: Sendable {
    /// Bytes not yet decoded: an incomplete sequence or character, or paste text still arriving.
    private var pending: [UInt8] = []
    /// True between `ESC [ 200 ~` and `ESC [ 201 ~`; `pending` then holds the pasted bytes.
    private var inPaste = false
    /// How many bytes of an open paste were already searched for its end marker, so that a large paste
    /// arriving in many reads is scanned once, not once per read.
    private var pasteScanned = 0

    /// The most a paste keeps; the rest of a larger paste is dropped so that memory stays bounded.
    static let pasteLimit = 1 << 20
    /// The longest escape sequence kept while waiting for its end; a longer one is dropped as garbage.
    static let sequenceLimit = 64

    /// A decoder with nothing pending.
    public init() {}

    /// True when bytes are kept for later: an incomplete sequence, a partial character, or an open paste.
    public var hasPending: Bool { !pending.isEmpty || inPaste }

    /// True while a bracketed paste has begun and not ended; the reader then waits longer before ``endPaste()``.
    public var isInPaste: Bool { inPaste }

    /// Decodes `bytes`, after whatever was pending, into keys. An incomplete tail is kept for the next call.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [TerminalKey] {
        pending.append(contentsOf: bytes)
        return decode(final: false)
    }

    /// Resolves what is pending after a pause: a lone ESC becomes `.escape`, ESC with a lone `[` or `O`
    /// becomes Alt+`[` or Alt+`O`, a longer incomplete sequence or a partial UTF-8 character is dropped.
    /// An open paste stays open (a paste may pause in the middle); see ``endPaste()``.
    public mutating func flush() -> [TerminalKey] {
        if inPaste { return [] }
        return decode(final: true)
    }

    /// Ends an open paste whose end marker never came (after a long pause), returning what it held.
    public mutating func endPaste() -> [TerminalKey] {
        guard inPaste else { return flush() }
        inPaste = false
        pasteScanned = 0
        let text = Self.pasteText(pending)
        pending = []
        return text.isEmpty ? [] : [.paste(text)]
    }

    // MARK: - Decoding

    private static let esc: UInt8 = 0x1B
    private static let pasteEnd: [UInt8] = Array("\u{1B}[201~".utf8)

    /// Decodes as much of `pending` as forms whole keys; with `final`, resolves an incomplete tail too.
    private mutating func decode(final: Bool) -> [TerminalKey] {
        var keys: [TerminalKey] = []
        var index = 0
        let bytes = pending
        loop: while index < bytes.count {
            if inPaste {
                let from = index + max(0, pasteScanned - (Self.pasteEnd.count - 1))
                if let end = Self.find(Self.pasteEnd, in: bytes, from: from) {
                    let text = Self.pasteText(bytes[index..<end])
                    if !text.isEmpty { keys.append(.paste(text)) }
                    inPaste = false
                    pasteScanned = 0
                    index = end + Self.pasteEnd.count
                    continue
                }
                // Keep the paste and any tail that could be the start of its end marker.
                let kept = Array(bytes[index...])
                pending = kept.count > Self.pasteLimit + Self.pasteEnd.count
                    ? Array(kept.prefix(Self.pasteLimit)) + Array(kept.suffix(Self.pasteEnd.count))
                    : kept
                pasteScanned = pending.count
                return keys
            }
            switch step(bytes, at: index, final: final) {
            case .key(let key, let length):
                if let key { keys.append(key) }
                index += length
            case .text(let text, let length):
                keys.append(contentsOf: text.map { TerminalKey.character($0) })
                index += length
            case .pasteStart(let length):
                inPaste = true
                index += length
            case .incomplete:
                break loop
            }
        }
        pending = Array(bytes[index...])
        if final && !inPaste { pending = [] }
        return keys
    }

    private enum Step {
        /// A key (or nil for bytes consumed and ignored) and how many bytes it took.
        case key(TerminalKey?, Int)
        /// A run of printable text, decoded as a whole so that grapheme clusters stay together.
        case text(String, Int)
        case pasteStart(Int)
        case incomplete
    }

    private func step(_ bytes: [UInt8], at start: Int, final: Bool) -> Step {
        let byte = bytes[start]
        switch byte {
        case Self.esc:
            return escape(bytes, at: start, final: final)
        case 0x0D, 0x0A: return .key(.enter, 1)
        case 0x09: return .key(.tab, 1)
        case 0x7F, 0x08: return .key(.backspace, 1)
        case 0x01...0x1A: return .key(.control(Character(Unicode.Scalar(byte + 0x60))), 1)
        case 0x00, 0x1C...0x1F: return .key(nil, 1)  // Ctrl+Space, Ctrl+\ and the like: nothing to do with them
        default:
            return text(bytes, at: start, final: final)
        }
    }

    /// A run of printable ASCII and UTF-8 up to the next control byte or incomplete character.
    private func text(_ bytes: [UInt8], at start: Int, final: Bool) -> Step {
        var index = start
        var scalars = String.UnicodeScalarView()
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x80 {
                if byte < 0x20 || byte == 0x7F { break }
                scalars.append(Unicode.Scalar(byte))
                index += 1
                continue
            }
            switch Self.utf8Scalar(bytes, at: index) {
            case .scalar(let scalar, let length):
                // C1 controls would act on the screen if echoed; drop them like other garbage.
                if !(0x80...0x9F).contains(scalar.value) { scalars.append(scalar) }
                index += length
            case .invalid:
                scalars.append("\u{FFFD}")
                index += 1
            case .incomplete:
                if final {
                    index = bytes.count  // a partial character that will never be completed: dropped
                }
                if scalars.isEmpty && !final { return .incomplete }
                return scalars.isEmpty ? .key(nil, index - start) : .text(String(scalars), index - start)
            }
        }
        return .text(String(scalars), index - start)
    }

    private enum UTF8Result {
        case scalar(Unicode.Scalar, Int)
        case invalid
        case incomplete
    }

    private static func utf8Scalar(_ bytes: [UInt8], at index: Int) -> UTF8Result {
        let lead = bytes[index]
        let length: Int
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; value = UInt32(lead & 0x07)
        default: return .invalid
        }
        for offset in 1..<length {
            guard index + offset < bytes.count else { return .incomplete }
            let next = bytes[index + offset]
            guard next & 0xC0 == 0x80 else { return .invalid }
            value = value << 6 | UInt32(next & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return .invalid }
        return .scalar(scalar, length)
    }

    private func escape(_ bytes: [UInt8], at start: Int, final: Bool) -> Step {
        guard start + 1 < bytes.count else {
            return final ? .key(.escape, 1) : .incomplete
        }
        let next = bytes[start + 1]
        switch next {
        case UInt8(ascii: "["):
            return csi(bytes, at: start, final: final)
        case UInt8(ascii: "O"):
            guard start + 2 < bytes.count else {
                return final ? .key(.alt("O"), 2) : .incomplete
            }
            let key: TerminalKey? = switch bytes[start + 2] {
            case UInt8(ascii: "A"): .up
            case UInt8(ascii: "B"): .down
            case UInt8(ascii: "C"): .right
            case UInt8(ascii: "D"): .left
            case UInt8(ascii: "H"): .home
            case UInt8(ascii: "F"): .end
            default: nil  // F1-F4 and keypad keys: nothing uses them
            }
            return .key(key, 3)
        case 0x20...0x7E:
            return .key(.alt(Character(Unicode.Scalar(next))), 2)
        case 0x80...:
            switch Self.utf8Scalar(bytes, at: start + 1) {
            case .scalar(let scalar, let length):
                return .key(.alt(Character(scalar)), 1 + length)
            case .invalid:
                return .key(.escape, 1)
            case .incomplete:
                return final ? .key(.escape, bytes.count - start) : .incomplete
            }
        default:
            // ESC then a control byte (ESC ESC, Alt+Backspace, ...): the ESC stands alone.
            return .key(.escape, 1)
        }
    }

    /// `ESC [` parameters (0x30-0x3F), intermediates (0x20-0x2F), one final byte (0x40-0x7E).
    private func csi(_ bytes: [UInt8], at start: Int, final: Bool) -> Step {
        var index = start + 2
        while index < bytes.count, (0x20...0x3F).contains(bytes[index]) { index += 1 }
        guard index < bytes.count else {
            if final {
                // `ESC [` alone was Alt+[; a longer cut-off sequence means nothing.
                return index == start + 2 ? .key(.alt("["), 2) : .key(nil, index - start)
            }
            if index - start > Self.sequenceLimit { return .key(nil, index - start) }
            return .incomplete
        }
        let finalByte = bytes[index]
        guard (0x40...0x7E).contains(finalByte) else {
            // Not a well-formed sequence: drop what was read of it; the odd byte is decoded on its own.
            return .key(nil, index - start)
        }
        let parameters = String(decoding: bytes[(start + 2)..<index], as: UTF8.self)
        let length = index + 1 - start
        let fields = parameters.split(separator: ";", omittingEmptySubsequences: false)
        let modifier = fields.count > 1 ? Int(fields[1]) ?? 1 : 1
        let key: TerminalKey?
        switch finalByte {
        case UInt8(ascii: "A"): key = modifier == 3 ? .altUp : .up
        case UInt8(ascii: "B"): key = modifier == 3 ? .altDown : .down
        case UInt8(ascii: "C"): key = modifier == 5 || modifier == 3 ? .ctrlRight : .right
        case UInt8(ascii: "D"): key = modifier == 5 || modifier == 3 ? .ctrlLeft : .left
        case UInt8(ascii: "H"): key = .home
        case UInt8(ascii: "F"): key = .end
        case UInt8(ascii: "Z"): key = .backTab
        case UInt8(ascii: "~"):
            switch fields.first.flatMap({ Int($0) }) {
            case 1, 7: key = .home
            case 4, 8: key = .end
            case 3: key = .delete
            case 5: key = .pageUp
            case 6: key = .pageDown
            case 200: return .pasteStart(length)
            default: key = nil
            }
        default: key = nil
        }
        return .key(key, length)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count - start >= needle.count else { return nil }
        var index = start
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }

    /// Pasted bytes as text: CR LF and CR become LF; other control characters are removed.
    static func pasteText(_ bytes: some Collection<UInt8>) -> String {
        let text = String(decoding: bytes.prefix(pasteLimit), as: UTF8.self)
        var scalars = String.UnicodeScalarView()
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            defer { previousWasCR = scalar == "\r" }
            switch scalar.value {
            case 0x0D: scalars.append("\n")
            case 0x0A: if !previousWasCR { scalars.append("\n") }
            case 0x09: scalars.append(scalar)
            case 0x00...0x1F, 0x7F...0x9F: continue
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}
