/// How many terminal columns text takes, and text cut, padded or wrapped to a number of columns.
///
/// Widths follow what xterm, tmux and the common terminals do (the `wcwidth` rules): combining marks and
/// zero-width characters take no column, East Asian wide and fullwidth characters and emoji shown as emoji
/// take two, everything else one.
public enum TerminalWidth {
    /// The columns one character takes: 0 for control, combining and zero-width characters, 2 for East Asian
    /// wide or fullwidth characters and emoji presentation, else 1.
    public static func of(_ character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if character.isASCII {
            return first.value < 0x20 || first.value == 0x7F ? 0 : 1
        }
        let base = scalarWidth(first)
        if base == 2 { return 2 }
        // A text-default symbol followed by VS16 (U+FE0F) is drawn as an emoji, two columns wide.
        if first.properties.isEmoji && scalars.contains("\u{FE0F}") { return 2 }
        if base == 0 {
            // A cluster that starts with a mark (only at the very start of a string) still shows its mark on
            // nothing; a cluster that starts with a zero-width character but carries more has the width of
            // the rest.
            return scalars.dropFirst().map(scalarWidth).max() ?? 0
        }
        return base
    }

    /// The columns `text` takes; SGR and other CSI escape sequences (`ESC [ ... m`) count as nothing.
    public static func of(_ text: some StringProtocol) -> Int {
        var width = 0
        for piece in Piece.split(String(text)) {
            if case .character(let character) = piece { width += of(character) }
        }
        return width
    }

    /// `text` made exactly `width` columns wide: cut with "…" when longer, padded with spaces when shorter.
    ///
    /// Escape sequences are kept whole and never cut. When `text` holds any SGR sequence, the result ends with
    /// a reset (`ESC [ 0 m`) after the padding, so a style left open (a reversed status bar) covers the whole
    /// width but never leaks past it. A wide character that would straddle the edge is replaced by spaces.
    public static func fit(_ text: String, width: Int) -> String {
        guard width > 0 else { return "" }
        let pieces = Piece.split(text)
        var hasStyle = false
        var total = 0
        for piece in pieces {
            switch piece {
            case .sequence: hasStyle = true
            case .character(let character): total += of(character)
            }
        }
        var result = ""
        var used = 0
        if total <= width {
            for piece in pieces {
                switch piece {
                case .sequence(let sequence): result += sequence
                case .character(let character):
                    // Control characters take no column here but would move the cursor on screen.
                    if isControl(character) { continue }
                    result.append(character)
                    used += of(character)
                }
            }
        } else {
            let room = width - 1  // one column for "…"
            cut: for piece in pieces {
                switch piece {
                case .sequence(let sequence):
                    result += sequence
                case .character(let character):
                    if isControl(character) { continue }
                    let columns = of(character)
                    if used + columns > room { break cut }
                    result.append(character)
                    used += columns
                }
            }
            // Pieces after the cut are dropped, but a style opened before it is kept for "…".
            result += "…"
            used += 1
        }
        if used < width { result += String(repeating: " ", count: width - used) }
        if hasStyle { result += TerminalStyle.reset }
        return result
    }

    /// `text` word-wrapped into lines of at most `width` columns; a word longer than a line is broken.
    ///
    /// Plain text only (no escape sequences). Spaces at a break are dropped; "\n" starts a new line. A wide
    /// character in a one-column width gets a line of its own. Empty text gives one empty line.
    public static func wrap(_ text: String, width: Int) -> [String] {
        let width = max(width, 1)
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            var lineWidth = 0
            var spaces = ""
            var word = ""
            func placeWord() {
                guard !word.isEmpty else { return }
                let wordWidth = of(word)
                let spaceWidth = of(spaces)
                if lineWidth + spaceWidth + wordWidth <= width {
                    line += spaces + word
                    lineWidth += spaceWidth + wordWidth
                } else {
                    if !line.isEmpty || lineWidth > 0 {
                        lines.append(line)
                        line = ""
                        lineWidth = 0
                    }
                    for character in word {
                        let columns = of(character)
                        if lineWidth + columns > width && !line.isEmpty {
                            lines.append(line)
                            line = ""
                            lineWidth = 0
                        }
                        line.append(character)
                        lineWidth += columns
                    }
                }
                word = ""
                spaces = ""
            }
            for character in paragraph {
                if character == " " || character == "\t" {
                    if !word.isEmpty { placeWord() }
                    spaces.append(" ")
                } else {
                    word.append(character)
                }
            }
            placeWord()
            lines.append(line)
        }
        return lines
    }

    // MARK: - Internals

    /// Text split into characters and whole escape sequences.
    enum Piece: Equatable {
        case character(Character)
        case sequence(String)

        static func split(_ text: String) -> [Piece] {
            var pieces: [Piece] = []
            let scalars = Array(text.unicodeScalars)
            var index = 0
            var run = String.UnicodeScalarView()
            func endRun() {
                pieces.append(contentsOf: String(run).map { Piece.character($0) })
                run = String.UnicodeScalarView()
            }
            while index < scalars.count {
                if scalars[index] == "\u{1B}", index + 1 < scalars.count, scalars[index + 1] == "[" {
                    var end = index + 2
                    while end < scalars.count, (0x20...0x3F).contains(scalars[end].value) { end += 1 }
                    if end < scalars.count, (0x40...0x7E).contains(scalars[end].value) {
                        endRun()
                        pieces.append(.sequence(String(String.UnicodeScalarView(scalars[index...end]))))
                        index = end + 1
                        continue
                    }
                }
                run.append(scalars[index])
                index += 1
            }
            endRun()
            return pieces
        }
    }

    static func isControl(_ character: Character) -> Bool {
        guard let first = character.unicodeScalars.first else { return true }
        return first.value < 0x20 || (0x7F...0x9F).contains(first.value)
    }

    /// The width of one scalar on its own.
    static func scalarWidth(_ scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        if value < 0x20 || (0x7F...0x9F).contains(value) { return 0 }
        if value < 0x300 { return 1 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format:
            return 0
        default:
            break
        }
        // Hangul jungseong and jongseong join the syllable before them; zero-width space.
        if (0x1160...0x11FF).contains(value) || value == 0x200B { return 0 }
        if scalar.properties.isEmojiPresentation { return 2 }
        for range in wideRanges where range.contains(value) { return 2 }
        return 1
    }

    /// East Asian Wide (W) and Fullwidth (F) blocks (Unicode's EastAsianWidth.txt, condensed).
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F,  // Hangul Jamo initial consonants
        0x2329...0x232A,
        0x2E80...0x303E,  // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
        0x3041...0x33FF,  // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK compatibility
        0x3400...0x4DBF,  // CJK extension A
        0x4E00...0x9FFF,  // CJK unified ideographs
        0xA000...0xA4CF,  // Yi
        0xA960...0xA97F,  // Hangul Jamo extended A
        0xAC00...0xD7A3,  // Hangul syllables
        0xF900...0xFAFF,  // CJK compatibility ideographs
        0xFE10...0xFE19,  // vertical forms
        0xFE30...0xFE6F,  // CJK compatibility forms, small form variants
        0xFF00...0xFF60,  // fullwidth forms
        0xFFE0...0xFFE6,
        0x16FE0...0x16FE4,
        0x17000...0x18CFF,  // Tangut
        0x1B000...0x1B2FF,  // Kana supplement and extensions, Nushu
        0x1F200...0x1F2FF,  // enclosed ideographic supplement
        0x1F300...0x1F64F,  // pictographs and emoticons
        0x1F900...0x1F9FF,  // supplemental symbols and pictographs
        0x20000...0x2FFFD,  // CJK extensions B-F
        0x30000...0x3FFFD,  // CJK extension G and later
    ]
}

/// SGR (Select Graphic Rendition) helpers: each wraps text in a style and switches only that style off after
/// it, so they nest (`bold(color(1, "x"))`).
public enum TerminalStyle {
    /// Turns every style off (`ESC [ 0 m`).
    public static let reset = "\u{1B}[0m"

    /// `s` in bold.
    public static func bold(_ s: String) -> String { "\u{1B}[1m\(s)\u{1B}[22m" }
    /// `s` dimmed (faint).
    public static func dim(_ s: String) -> String { "\u{1B}[2m\(s)\u{1B}[22m" }
    /// `s` underlined.
    public static func underline(_ s: String) -> String { "\u{1B}[4m\(s)\u{1B}[24m" }
    /// `s` in reverse video (foreground and background swapped), as status bars are drawn.
    public static func reverse(_ s: String) -> String { "\u{1B}[7m\(s)\u{1B}[27m" }
    /// `s` in foreground colour `n` of the 256-colour palette (0-15 are the terminal's own sixteen).
    public static func color(_ n: Int, _ s: String) -> String { "\(color(n))\(s)\u{1B}[39m" }
    /// `s` on background colour `n` of the 256-colour palette.
    public static func background(_ n: Int, _ s: String) -> String {
        "\u{1B}[48;5;\(min(max(n, 0), 255))m\(s)\u{1B}[49m"
    }
    /// The sequence that switches the foreground to colour `n` of the 256-colour palette (no reset after).
    public static func color(_ n: Int) -> String { "\u{1B}[38;5;\(min(max(n, 0), 255))m" }
}
