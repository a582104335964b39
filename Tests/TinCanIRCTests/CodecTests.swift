import NIOCore
import NIOTestUtils
import Testing

@testable import TinCanIRC

@Suite struct WriterTests {
    @Test("byte-exact lines with CR LF; the colon only where the last parameter needs one", arguments: [
        (IRCMessage(command: "PING", parameters: ["x"]), "PING x\r\n"),
        (IRCMessage(source: "srv", .rplWelcome, parameters: ["ann", "Welcome to tincan, ann"]), ":srv 001 ann :Welcome to tincan, ann\r\n"),
        (IRCMessage(command: "AWAY", parameters: [""]), "AWAY :\r\n"),
        (IRCMessage(command: "PRIVMSG", parameters: ["#a", ":-)"]), "PRIVMSG #a ::-)\r\n"),
        (IRCMessage(command: "QUIT"), "QUIT\r\n"),
        (
            IRCMessage(tags: [IRCTag("time", "2026-11-22T10:00:00.000Z"), IRCTag("x", "a;b c\\")], source: "a!b@c", command: "PRIVMSG", parameters: ["bob", "hi"]),
            "@time=2026-11-22T10:00:00.000Z;x=a\\:b\\sc\\\\ :a!b@c PRIVMSG bob hi\r\n"
        ),
    ])
    func write(message: IRCMessage, expected: String) throws {
        var buffer = ByteBuffer()
        let written = buffer.writeIRCMessage(message)
        #expect(String(buffer: buffer) == expected)
        #expect(written == expected.utf8.count)
        // And back.
        #expect(try IRCMessage(parsing: expected.utf8.dropLast(2)) == message)
    }

    @Test("lines with no command or with NUL are refused", arguments: ["", "   ", ":src", ":src   ", "@a=b", "@a=b :src", "PRIVMSG a :b\u{0}c", ": PING"])
    func malformed(line: String) {
        #expect(throws: IRCParseError.self) { try IRCMessage(parsing: line) }
    }
}

@Suite struct CaseMappingTests {
    @Test("rfc1459 folds A-Z and []\\^ to a-z and {}|~; ascii folds only letters")
    func folding() {
        #expect(IRCCaseMapping.rfc1459.fold("Nick[]\\^Z") == "nick{}|~z")
        #expect(IRCCaseMapping.rfc1459.fold("nick{}|~") == "nick{}|~")
        #expect(IRCCaseMapping.ascii.fold("Nick[]\\^") == "nick[]\\^")
        #expect(IRCCaseMapping.rfc1459.fold("Zoë") == "zoë")
        #expect(IRCMask("*[ANN]*").matches("x{ann}y"))
    }

    @Test("a mask of many stars against a long subject answers at once (no exponential backtracking)")
    func hostileMask() {
        let mask = IRCMask(String(repeating: "*a", count: 40) + "b")
        #expect(!mask.matches(String(repeating: "a", count: 400)))
    }
}

@Suite struct NumericTests {
    @Test("every numeric has three digits, a unique code and its conventional name")
    func numerics() {
        #expect(IRCNumeric.rplWelcome.text == "001")
        #expect(IRCNumeric.rplISupport.text == "005")
        #expect(IRCNumeric.rplLUserClient.text == "251")
        #expect(IRCNumeric.errInputTooLong.description == "ERR_INPUTTOOLONG")
        #expect(IRCNumeric(999).description == "999")
        #expect(IRCNumeric.all.count == Set(IRCNumeric.all.map(\.code)).count)
        for numeric in IRCNumeric.all {
            #expect(numeric.text.count == 3 && numeric.text.allSatisfy(\.isNumber))
            #expect(numeric.description.hasPrefix("RPL_") || numeric.description.hasPrefix("ERR_"))
        }
    }

    @Test("ISUPPORT: at most 13 tokens a line, values escaped, the closing text last")
    func isupport() {
        var tokens: [(key: String, value: String?)] = (1...14).map { ("T\($0)", nil) }
        tokens[0].value = "a b=c\\"
        let messages = IRCISupport(tokens).messages(source: "srv", nick: "ann")
        #expect(messages.count == 2)
        #expect(messages[0].parameters.count == 15)
        #expect(messages[0].parameters[1] == "T1=a\\x20b\\x3Dc\\x5C")
        #expect(messages[1].line == ":srv 005 ann T14 :are supported by this server")
    }
}

@Suite struct LineDecoderTests {
    static func line(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
    static func message(_ text: String) -> IRCInboundLine { .message(try! IRCMessage(parsing: text)) }

    @Test("lines split at LF with or without CR, whatever the chunking; empty lines ignored")
    func splitting() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (Self.line("NICK ann\r\n"), [Self.message("NICK ann")]),
                (Self.line("USER a 0 * :Ann\nPING x\r\n"), [Self.message("USER a 0 * :Ann"), Self.message("PING x")]),
                (Self.line("\r\n\n   \r\nQUIT\r\n"), [Self.message("QUIT")]),
                (Self.line(":src\r\n"), [.malformed(IRCParseError("no command"))]),
            ],
            decoderFactory: { IRCLineDecoder() }
        )
    }

    @Test("512 bytes with CR LF pass; 513 get tooLong and the next line is read as usual")
    func lineLimit() throws {
        let exact = "PRIVMSG #a :" + String(repeating: "x", count: 512 - 14)
        let over = exact + "y"
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (Self.line(exact + "\r\n"), [Self.message(exact)]),
                (Self.line(over + "\r\nPING z\r\n"), [.tooLong, Self.message("PING z")]),
                // A bare LF ending counts as CR LF.
                (Self.line(over + "\n"), [.tooLong]),
            ],
            decoderFactory: { IRCLineDecoder() }
        )
    }

    @Test("tags: 4096 bytes with @ and space pass, 4097 are too long; the rest keeps its own 512")
    func tagLimit() throws {
        let tags = "@k=" + String(repeating: "v", count: 4096 - 4) + " "
        let rest = "PRIVMSG #a :" + String(repeating: "x", count: 512 - 14)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (Self.line(tags + rest + "\r\n"), [Self.message(tags + rest)]),
                (Self.line("@kk=" + tags.dropFirst(3) + "PING\r\n"), [.tooLong]),
            ],
            decoderFactory: { IRCLineDecoder() }
        )
    }

    @Test("an endless line without LF is dropped as it comes (memory stays bounded) and reported once")
    func endlessLine() throws {
        var decoder = IRCLineDecoder()
        var buffer = ByteBuffer()
        var results: [IRCInboundLine] = []
        for _ in 0..<100 {
            buffer.writeString(String(repeating: "z", count: 1000))
            while let line = decoder.nextLine(&buffer) {
                if let line { results.append(line) }
            }
            #expect(buffer.readableBytes <= decoder.maxLineBytes + decoder.maxTagBytes)
        }
        buffer.writeString("zz\r\nPING after\r\n")
        while let line = decoder.nextLine(&buffer) {
            if let line { results.append(line) }
        }
        #expect(results == [.tooLong, Self.message("PING after")])
    }
}
