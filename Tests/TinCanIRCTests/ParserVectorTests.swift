import Foundation
import Testing
import TinCanIRC
import TinCanTestSupport

/// The shared IRC parser test vectors (github.com/ircdocs/parser-tests), read from the installed
/// PyPI package `irc-parser-tests` (scripts/test installs it), never copied into this repository.
enum ParserVectors {
    /// Whether the vector tests run, for `.enabled(if:)`: always in CI (where a missing package
    /// fails them), elsewhere only when python3 can import the package. Otherwise they show as
    /// skipped, never as passed.
    static let available = Programs.inCI || Programs.pythonImports("parser_tests.data")

    /// Every vector file as JSON; throws when the package (or python3) is missing.
    static func load() async throws -> [String: Any] {
        let python = try Programs.require("python3")
        let script = """
            import json, sys
            try:
                import parser_tests.data as d
            except ImportError:
                sys.exit(3)
            print(json.dumps({"split": d.msg_split, "join": d.msg_join, "userhost": d.userhost_split, "mask": d.mask_match}))
            """
        let process = try TestProcess(python, ["-c", script], input: .null)
        let status = try await process.waitForExit()
        if status == 3 {
            throw HarnessError("the PyPI package irc-parser-tests is not installed (scripts/test installs it)")
        }
        guard status == 0 else { throw HarnessError("python3 failed (\(status)): \(process.stderr)") }
        guard let all = try JSONSerialization.jsonObject(with: process.stdout) as? [String: Any] else {
            throw HarnessError("the vectors are not a JSON object")
        }
        return all
    }

    static func tests(_ all: [String: Any], _ file: String) -> [[String: Any]] {
        ((all[file] as? [String: Any])?["tests"] as? [[String: Any]]) ?? []
    }
}

@Suite(.enabled(if: ParserVectors.available, "needs the PyPI package irc-parser-tests (scripts/test installs it)"))
struct ParserVectorTests {
    @Test("msg-split: every vector parses into its tags, source, verb and params")
    func split() async throws {
        let all = try await ParserVectors.load()
        let vectors = ParserVectors.tests(all, "split")
        #expect(vectors.count > 30)
        for vector in vectors {
            let input = vector["input"] as! String
            let atoms = vector["atoms"] as! [String: Any]
            let message = try IRCMessage(parsing: input)
            let tags = Dictionary(uniqueKeysWithValues: message.tags.map { ($0.key, $0.value) })
            #expect(tags == (atoms["tags"] as? [String: String] ?? [:]), "\(input)")
            #expect(message.source == atoms["source"] as? String, "\(input)")
            #expect(message.command == atoms["verb"] as? String, "\(input)")
            #expect(message.parameters == (atoms["params"] as? [String] ?? []), "\(input)")
        }
    }

    @Test("msg-join: every vector's atoms are written as one of its accepted lines")
    func join() async throws {
        let all = try await ParserVectors.load()
        let vectors = ParserVectors.tests(all, "join")
        #expect(vectors.count > 15)
        for vector in vectors {
            let atoms = vector["atoms"] as! [String: Any]
            let matches = vector["matches"] as! [String]
            // JSON objects come back unordered; the vectors accept any tag order.
            let tags = (atoms["tags"] as? [String: String] ?? [:]).map { IRCTag($0.key, $0.value) }
            let message = IRCMessage(
                tags: tags,
                source: atoms["source"] as? String,
                command: atoms["verb"] as! String,
                parameters: atoms["params"] as? [String] ?? []
            )
            #expect(matches.contains(message.line), "\(message.line.debugDescription) not in \(matches)")
            // And what was written parses back to the same atoms.
            #expect(try IRCMessage(parsing: message.line) == message)
        }
    }

    @Test("userhost-split: nick!user@host with any part missing")
    func userhost() async throws {
        let all = try await ParserVectors.load()
        let vectors = ParserVectors.tests(all, "userhost")
        #expect(vectors.count > 5)
        for vector in vectors {
            let source = vector["source"] as! String
            let atoms = vector["atoms"] as! [String: Any]
            let split = IRCSource(parsing: source)
            #expect(split.nick == atoms["nick"] as? String, "\(source)")
            #expect(split.user == atoms["user"] as? String, "\(source)")
            #expect(split.host == atoms["host"] as? String, "\(source)")
        }
    }

    @Test("mask-match: * and ? wildcards, everything else literal")
    func masks() async throws {
        let all = try await ParserVectors.load()
        let vectors = ParserVectors.tests(all, "mask")
        #expect(vectors.count > 5)
        for vector in vectors {
            let mask = IRCMask(vector["mask"] as! String)
            for subject in vector["matches"] as? [String] ?? [] {
                #expect(mask.matches(subject), "\(mask.pattern) should match \(subject)")
            }
            for subject in vector["fails"] as? [String] ?? [] {
                #expect(!mask.matches(subject), "\(mask.pattern) should not match \(subject)")
            }
        }
    }
}
