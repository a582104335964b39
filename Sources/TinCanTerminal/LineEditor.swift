/// A one-line text input with history and Tab completion, fed with ``TerminalKey``s.
///
/// Pure: it holds the text and the cursor and knows nothing of the screen; ``visible(width:)`` says what to
/// draw. Keys follow readline's habits (Ctrl+A/E, Ctrl+U/K/W, Ctrl+B/F, Ctrl+D, Alt+B/F).
public struct LineEditor: Sendable {
    /// What a key did.
    public enum Outcome: Equatable, Sendable {
        /// The text or the cursor changed: redraw.
        case edited
        /// Enter was pressed: the line as it was (possibly empty); the editor is now empty.
        case submitted(String)
        /// The key means nothing to the editor (or changed nothing): the caller may use it.
        case ignored
    }

    /// The line being edited.
    public private(set) var text: String = ""
    /// The cursor, in Characters from the start of ``text`` (0...text.count).
    public private(set) var cursor: Int = 0

    /// Lines submitted, oldest first, at most `historyLimit`.
    public private(set) var history: [String] = []
    private let historyLimit: Int
    /// The longest line kept, in Characters; typing or pasting past it is cut there.
    public let maxLength: Int
    /// Which history entry is shown; nil while editing the line being typed.
    private var historyIndex: Int?
    /// The line being typed, kept while walking the history.
    private var draft = ""

    /// The Tab completion in progress: where the completed word starts, the candidates, which one is shown,
    /// and how many Characters the inserted completion (with its suffix) takes.
    private struct Completion: Sendable {
        var start: Int
        var candidates: [String]
        var index: Int
        var insertedLength: Int
    }
    private var completion: Completion?

    /// An empty editor that remembers up to `historyLimit` submitted lines and keeps lines of up to
    /// `maxLength` Characters (8192 by default: several IRC lines' worth, and bounded).
    public init(historyLimit: Int = 500, maxLength: Int = 8192) {
        self.historyLimit = max(historyLimit, 0)
        self.maxLength = max(maxLength, 1)
    }

    /// Replaces the text (for example with a draft kept for another conversation), the cursor at its end.
    public mutating func setText(_ newText: String) {
        text = String(Self.sanitized(newText).prefix(maxLength))
        cursor = text.count
        completion = nil
        historyIndex = nil
    }

    /// Applies one key.
    ///
    /// Tab asks `completions` for candidates for the word before the cursor (from the word's start to the
    /// cursor) and puts in the first; another Tab right after cycles through them, Shift+Tab backwards. A
    /// completion at the start of the line gets ": " after it (the IRC habit for addressing someone), except
    /// commands (starting with "/") and channels ("#", "&"), which get a space; elsewhere it gets a space
    /// unless one follows already.
    public mutating func handle(_ key: TerminalKey, completions: (String) -> [String]) -> Outcome {
        if key == .tab || (key == .backTab && completion != nil) {
            return complete(backwards: key == .backTab, completions: completions)
        }
        completion = nil
        let before = (text, cursor)
        var characters = Array(text)
        switch key {
        case .enter:
            let line = text
            if !line.isEmpty && history.last != line {
                history.append(line)
                if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
            }
            text = ""
            cursor = 0
            draft = ""
            historyIndex = nil
            return .submitted(line)
        case .up:
            return historyUp()
        case .down:
            return historyDown()
        case .left, .control("b"):
            cursor = max(cursor - 1, 0)
        case .right, .control("f"):
            cursor = min(cursor + 1, characters.count)
        case .home, .control("a"):
            cursor = 0
        case .end, .control("e"):
            cursor = characters.count
        case .ctrlLeft, .alt("b"):
            cursor = Self.wordStart(characters, before: cursor)
        case .ctrlRight, .alt("f"):
            cursor = Self.wordEnd(characters, after: cursor)
        case .backspace:
            guard cursor > 0 else { return .ignored }
            characters.remove(at: cursor - 1)
            setCharacters(characters, cursor: cursor - 1)
        case .delete, .control("d"):
            guard cursor < characters.count else { return .ignored }
            characters.remove(at: cursor)
            setCharacters(characters, cursor: cursor)
        case .control("u"):
            characters.removeSubrange(0..<cursor)
            setCharacters(characters, cursor: 0)
        case .control("k"):
            characters.removeSubrange(cursor...)
            setCharacters(characters, cursor: cursor)
        case .control("w"):
            let start = Self.wordStart(characters, before: cursor)
            characters.removeSubrange(start..<cursor)
            setCharacters(characters, cursor: start)
        case .character(let character):
            guard !TerminalWidth.isControl(character) else { return .ignored }
            insert(String(character))
        case .paste(let pasted):
            insert(pasted)
        default:
            return .ignored
        }
        return before == (text, cursor) ? .ignored : .edited
    }

    /// What to draw for a field `width` columns wide: a window of the text that shows the cursor, exactly
    /// `width` columns (padded with spaces), and the cursor's column within it.
    ///
    /// The window moves by half its width at a time, so the text does not shift on every key; it depends only
    /// on the text, the cursor and `width`, which is why this is not `mutating`.
    public func visible(width: Int) -> (text: String, cursorColumn: Int) {
        guard width > 0 else { return ("", 0) }
        let characters = Array(text)
        let widths = characters.map(TerminalWidth.of)
        let cursorColumn = widths[..<cursor].reduce(0, +)
        let cursorCell = cursor < widths.count ? max(widths[cursor], 1) : 1
        var startColumn = 0
        if cursorColumn + cursorCell > width {
            let step = width >= 8 ? width / 2 : 1
            let needed = cursorColumn + cursorCell - width
            startColumn = (needed + step - 1) / step * step
        }
        // The first character that starts at or after `startColumn` (a wide character is never cut in half).
        var start = 0
        var column = 0
        while start < cursor && column < startColumn {
            column += widths[start]
            start += 1
        }
        let windowStart = column
        var shown = ""
        var used = 0
        var index = start
        while index < characters.count && used + widths[index] <= width {
            shown.append(characters[index])
            used += widths[index]
            index += 1
        }
        if used < width { shown += String(repeating: " ", count: width - used) }
        return (shown, min(cursorColumn - windowStart, width - 1))
    }

    // MARK: - Editing

    private mutating func insert(_ inserted: String) {
        var characters = Array(text)
        let clean = Self.sanitized(inserted)
        let room = maxLength - characters.count
        guard room > 0 else { return }
        let piece = String(clean.prefix(room))
        let prefix = String(characters[..<cursor]) + piece
        characters.insert(contentsOf: piece, at: cursor)
        text = String(characters)
        // Counted again as a String: an inserted combining mark joins the character before it.
        cursor = prefix.count
    }

    private mutating func setCharacters(_ characters: [Character], cursor newCursor: Int) {
        text = String(characters)
        cursor = min(newCursor, text.count)
    }

    /// Text as one line: newlines and tabs become spaces; other control characters are dropped.
    private static func sanitized(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            defer { previousWasCR = scalar == "\r" }
            switch scalar.value {
            case 0x0A: if !previousWasCR { scalars.append(" ") }
            case 0x0D, 0x09: scalars.append(" ")
            case 0x00...0x1F, 0x7F...0x9F: continue
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    private static func wordStart(_ characters: [Character], before position: Int) -> Int {
        var index = position
        while index > 0 && characters[index - 1] == " " { index -= 1 }
        while index > 0 && characters[index - 1] != " " { index -= 1 }
        return index
    }

    private static func wordEnd(_ characters: [Character], after position: Int) -> Int {
        var index = position
        while index < characters.count && characters[index] == " " { index += 1 }
        while index < characters.count && characters[index] != " " { index += 1 }
        return index
    }

    // MARK: - History

    private mutating func historyUp() -> Outcome {
        guard !history.isEmpty else { return .ignored }
        let index: Int
        if let current = historyIndex {
            guard current > 0 else { return .ignored }
            index = current - 1
        } else {
            draft = text
            index = history.count - 1
        }
        historyIndex = index
        text = history[index]
        cursor = text.count
        return .edited
    }

    private mutating func historyDown() -> Outcome {
        guard let current = historyIndex else { return .ignored }
        if current + 1 < history.count {
            historyIndex = current + 1
            text = history[current + 1]
        } else {
            historyIndex = nil
            text = draft
            draft = ""
        }
        cursor = text.count
        return .edited
    }

    // MARK: - Completion

    private mutating func complete(backwards: Bool, completions: (String) -> [String]) -> Outcome {
        var characters = Array(text)
        if var current = completion {
            let count = current.candidates.count
            current.index = (current.index + (backwards ? count - 1 : 1)) % count
            characters.removeSubrange(current.start..<(current.start + current.insertedLength))
            let inserted = completionText(current.candidates[current.index], start: current.start,
                                          following: characters[current.start...].first)
            characters.insert(contentsOf: inserted, at: current.start)
            current.insertedLength = inserted.count
            completion = current
            setCharacters(characters, cursor: current.start + inserted.count)
            return .edited
        }
        let start = Self.wordStart(characters, before: cursor)
        guard start < cursor, characters[cursor - 1] != " " else { return .ignored }
        let word = String(characters[start..<cursor])
        let candidates = completions(word)
        guard let first = candidates.first else { return .ignored }
        characters.removeSubrange(start..<cursor)
        let inserted = completionText(first, start: start, following: characters[start...].first)
        characters.insert(contentsOf: inserted, at: start)
        completion = Completion(start: start, candidates: candidates, index: 0, insertedLength: inserted.count)
        setCharacters(characters, cursor: start + inserted.count)
        return .edited
    }

    private func completionText(_ candidate: String, start: Int, following: Character?) -> [Character] {
        let isCommandOrChannel = candidate.first.map { "/#&".contains($0) } ?? false
        if start == 0 && !isCommandOrChannel { return Array(candidate + ": ") }
        if following == " " { return Array(candidate) }
        return Array(candidate + " ")
    }
}
