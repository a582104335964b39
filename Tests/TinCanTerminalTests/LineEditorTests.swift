import Testing

@testable import TinCanTerminal

@Suite struct LineEditorTests {
    static func nothing(_ word: String) -> [String] { [] }

    @discardableResult
    static func type(_ text: String, into editor: inout LineEditor) -> LineEditor.Outcome {
        var outcome = LineEditor.Outcome.ignored
        for character in text { outcome = editor.handle(.character(character), completions: nothing) }
        return outcome
    }

    static func press(_ keys: TerminalKey..., into editor: inout LineEditor,
                      completions: (String) -> [String] = nothing) -> LineEditor.Outcome {
        var outcome = LineEditor.Outcome.ignored
        for key in keys { outcome = editor.handle(key, completions: completions) }
        return outcome
    }

    @Test func typingAndSubmitting() {
        var editor = LineEditor()
        #expect(Self.type("hello", into: &editor) == .edited)
        #expect(editor.text == "hello")
        #expect(editor.cursor == 5)
        #expect(Self.press(.enter, into: &editor) == .submitted("hello"))
        #expect(editor.text == "")
        #expect(editor.cursor == 0)
        #expect(editor.history == ["hello"])
        #expect(Self.press(.enter, into: &editor) == .submitted(""))
        #expect(editor.history == ["hello"])
    }

    @Test func cursorMoves() {
        var editor = LineEditor()
        Self.type("one two three", into: &editor)
        #expect(Self.press(.left, into: &editor) == .edited)
        #expect(editor.cursor == 12)
        _ = Self.press(.home, into: &editor)
        #expect(editor.cursor == 0)
        #expect(Self.press(.left, into: &editor) == .ignored)
        _ = Self.press(.ctrlRight, into: &editor)
        #expect(editor.cursor == 3)
        _ = Self.press(.ctrlRight, into: &editor)
        #expect(editor.cursor == 7)
        _ = Self.press(.ctrlLeft, into: &editor)
        #expect(editor.cursor == 4)
        _ = Self.press(.end, into: &editor)
        #expect(editor.cursor == 13)
        #expect(Self.press(.right, into: &editor) == .ignored)
        _ = Self.press(.control("a"), into: &editor)
        #expect(editor.cursor == 0)
        _ = Self.press(.control("e"), into: &editor)
        #expect(editor.cursor == 13)
        _ = Self.press(.ctrlLeft, .ctrlLeft, into: &editor)
        Self.type("big ", into: &editor)
        #expect(editor.text == "one big two three")
    }

    @Test func deletingAndKilling() {
        var editor = LineEditor()
        Self.type("hello world", into: &editor)
        _ = Self.press(.backspace, into: &editor)
        #expect(editor.text == "hello worl")
        _ = Self.press(.home, .delete, into: &editor)
        #expect(editor.text == "ello worl")
        #expect(editor.cursor == 0)
        #expect(Self.press(.backspace, into: &editor) == .ignored)
        _ = Self.press(.right, .right, .control("k"), into: &editor)
        #expect(editor.text == "el")
        _ = Self.press(.end, into: &editor)
        Self.type(" more words", into: &editor)
        _ = Self.press(.control("w"), into: &editor)
        #expect(editor.text == "el more ")
        _ = Self.press(.control("w"), into: &editor)
        #expect(editor.text == "el ")
        _ = Self.press(.left, .control("u"), into: &editor)
        #expect(editor.text == " ")
        #expect(editor.cursor == 0)
    }

    @Test func pasteTurnsNewlinesIntoSpaces() {
        var editor = LineEditor()
        Self.type("ab", into: &editor)
        _ = Self.press(.left, .paste("one\ntwo\r\nthree"), into: &editor)
        #expect(editor.text == "aone two threeb")
        #expect(editor.cursor == 14)
    }

    @Test func combiningMarkJoinsTheCharacterBefore() {
        var editor = LineEditor()
        _ = Self.press(.character("e"), .character("\u{301}"), .character("x"), into: &editor)
        #expect(editor.text == "e\u{301}x")
        #expect(editor.cursor == 2)
    }

    @Test func historyWalkKeepsTheDraft() {
        var editor = LineEditor()
        for line in ["first", "second", "third"] {
            Self.type(line, into: &editor)
            _ = Self.press(.enter, into: &editor)
        }
        Self.type("draft", into: &editor)
        #expect(Self.press(.up, into: &editor) == .edited)
        #expect(editor.text == "third")
        #expect(editor.cursor == 5)
        _ = Self.press(.up, .up, into: &editor)
        #expect(editor.text == "first")
        #expect(Self.press(.up, into: &editor) == .ignored)
        _ = Self.press(.down, into: &editor)
        #expect(editor.text == "second")
        _ = Self.press(.down, .down, into: &editor)
        #expect(editor.text == "draft")
        #expect(Self.press(.down, into: &editor) == .ignored)
    }

    @Test func historyIsBoundedAndSkipsRepeats() {
        var editor = LineEditor(historyLimit: 2)
        for line in ["a", "b", "b", "c"] {
            Self.type(line, into: &editor)
            _ = Self.press(.enter, into: &editor)
        }
        #expect(editor.history == ["b", "c"])
    }

    @Test func nickCompletionCyclesAtLineStart() {
        var editor = LineEditor()
        var asked: [String] = []
        let nicks: (String) -> [String] = { word in
            asked.append(word)
            return ["alice", "alfred", "al"].filter { $0.hasPrefix(word) }
        }
        Self.type("al", into: &editor)
        #expect(Self.press(.tab, into: &editor, completions: nicks) == .edited)
        #expect(editor.text == "alice: ")
        #expect(editor.cursor == 7)
        _ = Self.press(.tab, into: &editor, completions: nicks)
        #expect(editor.text == "alfred: ")
        _ = Self.press(.tab, into: &editor, completions: nicks)
        #expect(editor.text == "al: ")
        _ = Self.press(.tab, into: &editor, completions: nicks)
        #expect(editor.text == "alice: ")
        _ = Self.press(.backTab, into: &editor, completions: nicks)
        #expect(editor.text == "al: ")
        #expect(asked == ["al"])
        Self.type("hi", into: &editor)
        #expect(editor.text == "al: hi")
    }

    @Test func completionMidLineAndCommands() {
        var editor = LineEditor()
        let complete: (String) -> [String] = { word in
            ["/join", "/msg", "bob", "#tincan"].filter { $0.hasPrefix(word) }
        }
        Self.type("/jo", into: &editor)
        _ = Self.press(.tab, into: &editor, completions: complete)
        #expect(editor.text == "/join ")
        Self.type("#ti", into: &editor)
        _ = Self.press(.tab, into: &editor, completions: complete)
        #expect(editor.text == "/join #tincan ")
        _ = Self.press(.control("u"), into: &editor)
        Self.type("hey b there", into: &editor)
        _ = Self.press(.ctrlLeft, .left, into: &editor)
        #expect(editor.cursor == 5)
        _ = Self.press(.tab, into: &editor, completions: complete)
        #expect(editor.text == "hey bob there")
        #expect(editor.cursor == 7)
        // A second Tab cycles through the candidates already found (here just the one), asking nothing.
        #expect(Self.press(.tab, into: &editor, completions: { _ in [] }) == .edited)
        _ = Self.press(.end, into: &editor)
        Self.type(" zz", into: &editor)
        #expect(Self.press(.tab, into: &editor, completions: complete) == .ignored)
        _ = Self.press(.character(" "), into: &editor)
        #expect(Self.press(.tab, into: &editor, completions: complete) == .ignored)
    }

    @Test func visibleWindowFitsAndFollowsTheCursor() {
        var editor = LineEditor()
        #expect(editor.visible(width: 5) == ("     ", 0))
        Self.type("abc", into: &editor)
        #expect(editor.visible(width: 5) == ("abc  ", 3))
        Self.type("defghijklmnop", into: &editor)  // 16 characters, cursor at the end
        let (text, column) = editor.visible(width: 10)
        #expect(TerminalWidth.of(text) == 10)
        #expect(text == "klmnop    ")
        #expect(column == 6)
        _ = Self.press(.home, into: &editor)
        #expect(editor.visible(width: 10) == ("abcdefghij", 0))
        // Moving within the window does not scroll it.
        _ = Self.press(.right, .right, .right, into: &editor)
        #expect(editor.visible(width: 10) == ("abcdefghij", 3))
    }

    @Test func visibleWindowWithWideCharacters() {
        var editor = LineEditor()
        Self.type("日本語のテキスト", into: &editor)  // 8 characters, 16 columns
        let (text, column) = editor.visible(width: 9)
        #expect(TerminalWidth.of(text) == 9)
        #expect(column < 9)
        #expect(text.hasPrefix("のテ") || text.contains("ト"))
        for cursor in 0...8 {
            _ = Self.press(.home, into: &editor)
            for _ in 0..<cursor { _ = Self.press(.right, into: &editor) }
            for width in 3...12 {
                let (shown, at) = editor.visible(width: width)
                #expect(TerminalWidth.of(shown) == width, "cursor \(cursor) width \(width)")
                #expect(at >= 0 && at < width, "cursor \(cursor) width \(width)")
                // The character under the cursor is the one shown at that column.
                if cursor < 8 {
                    let prefix = String(shown.prefix(while: { _ in true }))
                    var columns = 0
                    var under: Character?
                    for character in prefix {
                        if columns == at { under = character; break }
                        columns += TerminalWidth.of(character)
                    }
                    #expect(under == Array(editor.text)[cursor], "cursor \(cursor) width \(width)")
                }
            }
        }
    }

    @Test func readlineKeys() {
        var editor = LineEditor()
        Self.type("ab cd", into: &editor)
        _ = Self.press(.control("b"), .control("b"), into: &editor)
        #expect(editor.cursor == 3)
        _ = Self.press(.control("f"), into: &editor)
        #expect(editor.cursor == 4)
        _ = Self.press(.alt("b"), into: &editor)
        #expect(editor.cursor == 3)
        _ = Self.press(.alt("b"), into: &editor)
        #expect(editor.cursor == 0)
        _ = Self.press(.alt("f"), into: &editor)
        #expect(editor.cursor == 2)
        _ = Self.press(.control("d"), into: &editor)
        #expect(editor.text == "abcd")
        _ = Self.press(.control("u"), .control("k"), into: &editor)
        #expect(editor.text == "")
        // Ctrl+D on an empty line is left to the caller (to quit, say).
        #expect(Self.press(.control("d"), into: &editor) == .ignored)
        #expect(Self.press(.escape, into: &editor) == .ignored)
        #expect(Self.press(.pageUp, into: &editor) == .ignored)
        #expect(Self.press(.character("\u{07}"), into: &editor) == .ignored)
    }

    @Test func lengthIsBounded() {
        var editor = LineEditor(maxLength: 5)
        Self.type("abc", into: &editor)
        _ = Self.press(.paste("defgh"), into: &editor)
        #expect(editor.text == "abcde")
        #expect(Self.press(.character("x"), into: &editor) == .ignored)
    }

    @Test func setTextPutsTheCursorAtTheEnd() {
        var editor = LineEditor()
        editor.setText("draft\nline")
        #expect(editor.text == "draft line")
        #expect(editor.cursor == 10)
    }
}
