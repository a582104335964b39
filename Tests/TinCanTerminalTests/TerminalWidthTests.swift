import Testing

@testable import TinCanTerminal

@Suite struct TerminalWidthTests {
    @Test(arguments: [
        ("a", 1), (" ", 1), ("é", 1), ("e\u{301}", 1), ("日", 2), ("한", 2), ("ア", 2), ("Ａ", 2),
        ("😀", 2), ("👍🏽", 2), ("👨‍👩‍👧", 2), ("🇫🇷", 2), ("❤️", 2), ("❤", 1),
        ("\u{301}", 0), ("\u{200B}", 0),
        ("\u{1B}", 0), ("\t", 0), ("→", 1), ("…", 1),
    ] as [(Character, Int)])
    func character(_ character: Character, width: Int) {
        #expect(TerminalWidth.of(character) == width)
    }

    @Test func textIgnoresSGR() {
        #expect(TerminalWidth.of("hello") == 5)
        #expect(TerminalWidth.of("日本語") == 6)
        #expect(TerminalWidth.of("\u{1B}[1mbold\u{1B}[22m and \u{1B}[38;5;196mred\u{1B}[0m") == 12)
        #expect(TerminalWidth.of(TerminalStyle.reverse("日本")) == 4)
        #expect(TerminalWidth.of("") == 0)
        #expect(TerminalWidth.of("cafe\u{301}") == 4)
    }

    @Test func fitPadsAndTruncates() {
        #expect(TerminalWidth.fit("abc", width: 5) == "abc  ")
        #expect(TerminalWidth.fit("abcde", width: 5) == "abcde")
        #expect(TerminalWidth.fit("abcdef", width: 5) == "abcd…")
        #expect(TerminalWidth.fit("", width: 3) == "   ")
        #expect(TerminalWidth.fit("abc", width: 0) == "")
        #expect(TerminalWidth.fit("abc", width: 1) == "…")
    }

    @Test func fitWideCharacters() {
        #expect(TerminalWidth.fit("日本語", width: 6) == "日本語")
        // 5 columns: "日本" (4) and "…" (1).
        #expect(TerminalWidth.fit("日本語", width: 5) == "日本…")
        // 4 columns: "日" (2), "…" (1), the column where "本" would not fit padded.
        #expect(TerminalWidth.fit("日本語", width: 4) == "日… ")
        #expect(TerminalWidth.of(TerminalWidth.fit("a😀b😀c", width: 4)) == 4)
    }

    @Test func fitKeepsEscapeSequencesWhole() {
        let red = "\u{1B}[38;5;196m"
        #expect(TerminalWidth.fit("\(red)hello\u{1B}[39m", width: 7) == "\(red)hello\u{1B}[39m  \u{1B}[0m")
        #expect(TerminalWidth.fit("\(red)hello world\u{1B}[39m", width: 6) == "\(red)hello…\u{1B}[0m")
        // A style that begins right at the cut still colours "…".
        #expect(TerminalWidth.fit("ab\(red)cdef", width: 3) == "ab\(red)…\u{1B}[0m")
        let fitted = TerminalWidth.fit(TerminalStyle.bold("x") + "yz", width: 2)
        #expect(fitted == "\u{1B}[1mx\u{1B}[22m…\u{1B}[0m")
        #expect(TerminalWidth.of(fitted) == 2)
    }

    @Test func fitDropsControlCharacters() {
        #expect(TerminalWidth.fit("a\tb\u{07}", width: 3) == "ab ")
    }

    @Test func wrapWords() {
        #expect(TerminalWidth.wrap("the quick brown fox", width: 10) == ["the quick", "brown fox"])
        #expect(TerminalWidth.wrap("the quick brown fox", width: 9) == ["the quick", "brown fox"])
        #expect(TerminalWidth.wrap("the quick brown fox", width: 8) == ["the", "quick", "brown", "fox"])
        #expect(TerminalWidth.wrap("", width: 5) == [""])
        #expect(TerminalWidth.wrap("a\nb c", width: 5) == ["a", "b c"])
    }

    @Test func wrapBreaksLongWords() {
        #expect(TerminalWidth.wrap("abcdefghij", width: 4) == ["abcd", "efgh", "ij"])
        #expect(TerminalWidth.wrap("hi abcdefghij", width: 4) == ["hi", "abcd", "efgh", "ij"])
    }

    @Test func wrapWideCharacters() {
        #expect(TerminalWidth.wrap("日本語テキスト", width: 5) == ["日本", "語テ", "キス", "ト"])
        for line in TerminalWidth.wrap("これは 日本語の 文です 😀😀😀", width: 7) {
            #expect(TerminalWidth.of(line) <= 7)
        }
    }

    @Test func styles() {
        #expect(TerminalStyle.bold("x") == "\u{1B}[1mx\u{1B}[22m")
        #expect(TerminalStyle.dim("x") == "\u{1B}[2mx\u{1B}[22m")
        #expect(TerminalStyle.underline("x") == "\u{1B}[4mx\u{1B}[24m")
        #expect(TerminalStyle.reverse("x") == "\u{1B}[7mx\u{1B}[27m")
        #expect(TerminalStyle.color(33, "x") == "\u{1B}[38;5;33mx\u{1B}[39m")
        #expect(TerminalStyle.reset == "\u{1B}[0m")
    }
}
