import Testing

@testable import TinCanTerminal

@Suite struct TerminalRendererTests {
    static let size = TerminalSize(rows: 3, columns: 5)

    @Test func firstFrameRepaintsEverything() {
        var renderer = TerminalRenderer()
        let output = renderer.render(TerminalFrame(rows: ["one", "two", "three!"], cursor: (2, 1)), size: Self.size)
        #expect(output == "\u{1B}[?25l\u{1B}[0m\u{1B}[2J"
            + "\u{1B}[1;1Hone  " + "\u{1B}[2;1Htwo  " + "\u{1B}[3;1Hthre…"
            + "\u{1B}[3;2H\u{1B}[?25h")
    }

    @Test func nextFrameRewritesOnlyChangedRows() {
        var renderer = TerminalRenderer()
        _ = renderer.render(TerminalFrame(rows: ["one", "two", "three"], cursor: (2, 1)), size: Self.size)
        let output = renderer.render(TerminalFrame(rows: ["one", "2", "three"], cursor: (2, 1)), size: Self.size)
        #expect(output == "\u{1B}[?25l\u{1B}[2;1H\u{1B}[2K2    \u{1B}[3;2H\u{1B}[?25h")
    }

    @Test func sameFrameWritesNothing() {
        var renderer = TerminalRenderer()
        let frame = TerminalFrame(rows: ["a"], cursor: nil)
        _ = renderer.render(frame, size: Self.size)
        #expect(renderer.render(frame, size: Self.size) == "")
        // Text that fits to the same row is the same row.
        #expect(renderer.render(TerminalFrame(rows: ["a    "], cursor: nil), size: Self.size) == "")
    }

    @Test func cursorOnlyMoves() {
        var renderer = TerminalRenderer()
        _ = renderer.render(TerminalFrame(rows: ["abc"], cursor: (0, 0)), size: Self.size)
        #expect(renderer.render(TerminalFrame(rows: ["abc"], cursor: (0, 3)), size: Self.size)
            == "\u{1B}[1;4H\u{1B}[?25h")
        #expect(renderer.render(TerminalFrame(rows: ["abc"], cursor: nil), size: Self.size) == "\u{1B}[?25l")
        #expect(renderer.render(TerminalFrame(rows: ["abX"], cursor: nil), size: Self.size)
            == "\u{1B}[?25l\u{1B}[1;1H\u{1B}[2KabX  ")
    }

    @Test func sizeChangeAndInvalidateRepaint() {
        var renderer = TerminalRenderer()
        let frame = TerminalFrame(rows: ["ab", "cd"], cursor: nil)
        _ = renderer.render(frame, size: TerminalSize(rows: 2, columns: 3))
        #expect(renderer.render(frame, size: TerminalSize(rows: 2, columns: 4))
            == "\u{1B}[?25l\u{1B}[0m\u{1B}[2J\u{1B}[1;1Hab  \u{1B}[2;1Hcd  ")
        renderer.invalidate()
        #expect(renderer.render(frame, size: TerminalSize(rows: 2, columns: 4))
            == "\u{1B}[?25l\u{1B}[0m\u{1B}[2J\u{1B}[1;1Hab  \u{1B}[2;1Hcd  ")
    }

    @Test func styledRowsAreResetAndCursorClamped() {
        var renderer = TerminalRenderer()
        let output = renderer.render(
            TerminalFrame(rows: [TerminalStyle.reverse("bar")], cursor: (9, 9)),
            size: TerminalSize(rows: 1, columns: 4)
        )
        #expect(output == "\u{1B}[?25l\u{1B}[0m\u{1B}[2J"
            + "\u{1B}[1;1H\u{1B}[7mbar\u{1B}[27m \u{1B}[0m" + "\u{1B}[1;4H\u{1B}[?25h")
    }

    @Test func frameEquality() {
        #expect(TerminalFrame(rows: ["a"], cursor: (1, 2)) == TerminalFrame(rows: ["a"], cursor: (1, 2)))
        #expect(TerminalFrame(rows: ["a"], cursor: (1, 2)) != TerminalFrame(rows: ["a"], cursor: nil))
        #expect(TerminalFrame(rows: ["a"], cursor: (1, 2)) != TerminalFrame(rows: ["a"], cursor: (2, 1)))
    }
}
