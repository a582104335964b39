import Testing

@testable import TinCanTerminal

@Suite struct TerminalKeyDecoderTests {
    static let sequences: [(String, [TerminalKey])] = [
        ("\u{1B}[A", [.up]), ("\u{1B}[B", [.down]), ("\u{1B}[C", [.right]), ("\u{1B}[D", [.left]),
        ("\u{1B}OA", [.up]), ("\u{1B}OB", [.down]), ("\u{1B}OC", [.right]), ("\u{1B}OD", [.left]),
        ("\u{1B}OH", [.home]), ("\u{1B}OF", [.end]),
        ("\u{1B}[H", [.home]), ("\u{1B}[F", [.end]),
        ("\u{1B}[1~", [.home]), ("\u{1B}[7~", [.home]), ("\u{1B}[4~", [.end]), ("\u{1B}[8~", [.end]),
        ("\u{1B}[3~", [.delete]), ("\u{1B}[5~", [.pageUp]), ("\u{1B}[6~", [.pageDown]),
        ("\u{1B}[Z", [.backTab]),
        ("\u{1B}[1;3A", [.altUp]), ("\u{1B}[1;3B", [.altDown]),
        ("\u{1B}[1;5C", [.ctrlRight]), ("\u{1B}[1;5D", [.ctrlLeft]),
        ("\u{1B}[1;2A", [.up]),
        ("\r", [.enter]), ("\n", [.enter]), ("\t", [.tab]), ("\u{7F}", [.backspace]), ("\u{08}", [.backspace]),
        ("\u{01}", [.control("a")]), ("\u{03}", [.control("c")]), ("\u{1A}", [.control("z")]),
        ("\u{1B}1", [.alt("1")]), ("\u{1B}n", [.alt("n")]), ("\u{1B}é", [.alt("é")]),
        ("a", [.character("a")]), ("é", [.character("é")]), ("日本", [.character("日"), .character("本")]),
        ("😀", [.character("😀")]),
        ("x\u{1B}[Ay", [.character("x"), .up, .character("y")]),
        // Unknown sequences are consumed whole and ignored, whatever follows them.
        ("\u{1B}[99~a", [.character("a")]), ("\u{1B}[<0;10;20Mb", [.character("b")]), ("\u{1B}[15;2~", []),
        ("\u{1B}[200~hello\r\nworld\u{1B}[201~", [.paste("hello\nworld")]),
        ("\u{1B}[200~a\u{1B}[Ab\u{1B}[201~z", [.paste("a[Ab"), .character("z")]),
    ]

    @Test(arguments: sequences)
    func wholeSequence(input: String, expected: [TerminalKey]) {
        var decoder = TerminalKeyDecoder()
        #expect(decoder.feed(Array(input.utf8)) == expected)
        #expect(!decoder.hasPending)
    }

    @Test(arguments: sequences)
    func oneByteAtATime(input: String, expected: [TerminalKey]) {
        var decoder = TerminalKeyDecoder()
        var keys: [TerminalKey] = []
        for byte in input.utf8 { keys += decoder.feed([byte]) }
        #expect(keys == expected)
        #expect(!decoder.hasPending)
    }

    @Test(arguments: sequences)
    func splitAtEveryBoundary(input: String, expected: [TerminalKey]) {
        let bytes = Array(input.utf8)
        for cut in 0...bytes.count {
            var decoder = TerminalKeyDecoder()
            let keys = decoder.feed(bytes[..<cut]) + decoder.feed(bytes[cut...])
            #expect(keys == expected, "cut at \(cut)")
        }
    }

    @Test func allSequencesInOneStream() {
        var whole = TerminalKeyDecoder()
        var single = TerminalKeyDecoder()
        let input = Self.sequences.map(\.0).joined()
        let expected = Self.sequences.flatMap(\.1)
        #expect(whole.feed(Array(input.utf8)) == expected)
        var keys: [TerminalKey] = []
        for byte in input.utf8 { keys += single.feed([byte]) }
        #expect(keys == expected)
    }

    @Test func loneEscapeWaitsForFlush() {
        var decoder = TerminalKeyDecoder()
        #expect(decoder.feed([0x1B]) == [])
        #expect(decoder.hasPending)
        #expect(decoder.flush() == [.escape])
        #expect(!decoder.hasPending)
        #expect(decoder.flush() == [])
    }

    @Test func incompleteSequencesResolvedOnFlush() {
        var decoder = TerminalKeyDecoder()
        #expect(decoder.feed(Array("\u{1B}[".utf8)) == [])
        #expect(decoder.flush() == [.alt("[")])
        #expect(decoder.feed(Array("\u{1B}O".utf8)) == [])
        #expect(decoder.flush() == [.alt("O")])
        #expect(decoder.feed(Array("\u{1B}[1;".utf8)) == [])
        #expect(decoder.flush() == [])
        #expect(!decoder.hasPending)
        // A partial UTF-8 character that never completes is dropped.
        #expect(decoder.feed([0xE6, 0x97]) == [])
        #expect(decoder.flush() == [])
        #expect(decoder.feed(Array("a".utf8)) == [.character("a")])
    }

    @Test func escapeThenKey() {
        var decoder = TerminalKeyDecoder()
        #expect(decoder.feed([0x1B, 0x1B]) == [.escape])
        #expect(decoder.flush() == [.escape])
        #expect(decoder.feed([0x1B, 0x7F]) == [.escape, .backspace])
    }

    @Test func utf8SplitAcrossFeeds() {
        var decoder = TerminalKeyDecoder()
        let bytes = Array("é日😀".utf8)
        #expect(bytes.count == 9)
        var keys: [TerminalKey] = []
        keys += decoder.feed(bytes[0..<1])
        #expect(keys.isEmpty && decoder.hasPending)
        keys += decoder.feed(bytes[1..<4])
        #expect(keys == [.character("é")])
        keys += decoder.feed(bytes[4..<7])
        keys += decoder.feed(bytes[7..<9])
        #expect(keys == [.character("é"), .character("日"), .character("😀")])
        #expect(!decoder.hasPending)
    }

    @Test func graphemeClusterInOneReadIsOneCharacter() {
        var decoder = TerminalKeyDecoder()
        #expect(decoder.feed(Array("e\u{301}👍🏽".utf8)) == [.character("e\u{301}"), .character("👍🏽")])
    }

    @Test func invalidUTF8BecomesReplacementCharacter() {
        var decoder = TerminalKeyDecoder()
        #expect(decoder.feed([0xFF, 0x41]) == [.character("\u{FFFD}"), .character("A")])
    }

    @Test func pasteStaysOpenAcrossFlushAndEndsOnItsMarker() {
        var decoder = TerminalKeyDecoder()
        #expect(decoder.feed(Array("\u{1B}[200~line one\r".utf8)) == [])
        #expect(decoder.isInPaste)
        #expect(decoder.flush() == [])
        #expect(decoder.feed(Array("line two\u{1B}[20".utf8)) == [])
        #expect(decoder.feed(Array("1~".utf8)) == [.paste("line one\nline two")])
        #expect(!decoder.hasPending)
    }

    @Test func pasteWithoutEndMarkerEndsOnRequest() {
        var decoder = TerminalKeyDecoder()
        #expect(decoder.feed(Array("\u{1B}[200~abc".utf8)) == [])
        #expect(decoder.endPaste() == [.paste("abc")])
        #expect(decoder.feed(Array("d".utf8)) == [.character("d")])
    }

    @Test func pasteDropsControlCharacters() {
        var decoder = TerminalKeyDecoder()
        #expect(decoder.feed(Array("\u{1B}[200~a\tb\u{07}c\u{1B}[201~".utf8)) == [.paste("a\tbc")])
    }

    @Test func randomSplitsOfRandomStreams() {
        // A fixed linear congruential generator: the same cases on every run.
        var seed: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        for _ in 0..<200 {
            var input: [UInt8] = []
            var expected: [TerminalKey] = []
            for _ in 0..<(1 + next(12)) {
                let (text, keys) = Self.sequences[next(Self.sequences.count)]
                input += Array(text.utf8)
                expected += keys
            }
            var decoder = TerminalKeyDecoder()
            var keys: [TerminalKey] = []
            var start = 0
            while start < input.count {
                let end = min(input.count, start + 1 + next(6))
                keys += decoder.feed(input[start..<end])
                start = end
            }
            #expect(keys == expected)
            #expect(!decoder.hasPending)
        }
    }

    @Test func largePasteInManyReads() {
        let body = String(repeating: "0123456789abcdef\n", count: 8192)  // 136 KiB
        let bytes = Array("\u{1B}[200~\(body)\u{1B}[201~!".utf8)
        var decoder = TerminalKeyDecoder()
        var keys: [TerminalKey] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + 1021)  // so that the end marker is cut somewhere
            keys += decoder.feed(bytes[start..<end])
            start = end
        }
        #expect(keys == [.paste(body), .character("!")])
    }

    @Test func pasteIsBounded() {
        var decoder = TerminalKeyDecoder()
        _ = decoder.feed(Array("\u{1B}[200~".utf8))
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        for _ in 0..<20 { _ = decoder.feed(chunk) }  // 1.25 MiB
        let keys = decoder.feed(Array("\u{1B}[201~".utf8))
        guard case .paste(let text)? = keys.first else {
            Issue.record("no paste: \(keys)")
            return
        }
        #expect(text.utf8.count <= TerminalKeyDecoder.pasteLimit + 6)
        #expect(text.utf8.count >= TerminalKeyDecoder.pasteLimit)
    }
}
