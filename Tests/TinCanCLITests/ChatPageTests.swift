import Foundation
import Testing
import TinCanTestSupport

/// The chat page in real browsers: Debian's chromium, headless, through chromium-driver and
/// Selenium (PyPI), against the built `tincan chat serve` (scripts/interop/page_browser.py and
/// page_input.py). One test at a time: each runs two or three chromiums, and CI has two cores.
extension HeavyTests {
@Suite(.serialized, .timeLimit(.minutes(4))) struct ChatPageBrowserTests {
    /// chromium, chromedriver and Selenium here (always true in CI, where a missing one fails).
    static let available = Programs.inCI
        || (Programs.available("chromium", "chromedriver", "python3") && Programs.pythonImports("selenium"))

    @Test(
        "browsers sign up, chat in the lobby and privately, see presence, get offline messages marked new, send files, refuse a wrong password; screenshots drew",
        .enabled(if: ChatPageBrowserTests.available, "chromium, chromium-driver and python3 with selenium")
    )
    func scenarios() async throws {
        let run = try Run()
        defer { run.remove() }
        let (python, shots, settings) = (run.python, run.shots, run.settings)
        let (server, port) = try await chatServer(settings + ["--http-port", "0"])
        defer { server.kill() }
        let httpPort = try await chatHTTPPort(server)

        let peer = try TestProcess(
            python, [ChatInteropTests.scripts + "/page_browser.py", "http://127.0.0.1:\(httpPort)", String(port), shots], input: .pipe
        )
        defer { peer.kill() }
        // The last scenario: the server restarts (same database, same HTTP port) under the page.
        // (A run that failed before it says "restart: not needed".)
        var again: TestProcess?
        defer { again?.kill() }
        if try await peer.waitForStderr("restart: ", timeout: 200).contains("restart: please") {
            server.kill()
            _ = try await server.waitForExit()
            _ = try await peer.waitForStderr("restart: offline seen", timeout: 60)
            again = try await chatServer(settings + ["--http-port", String(httpPort)]).0
            try peer.write("started\n")
        }
        let status = try await peer.waitForExit(timeout: 120)
        let json = try Self.expectPassed(peer, status: status)
        let screenshots = json["screenshots"] as? [String: [String: Any]] ?? [:]
        for name in ["login-desktop", "lobby-desktop", "buffers-phone", "conversation-phone-dark"] {
            let shot = try #require(screenshots[name], "no screenshot \(name)")
            #expect((shot["colors"] as? Int ?? 0) >= 8, "\(name) looks blank: \(shot)")
        }
        #expect(screenshots["buffers-phone"]?["width"] as? Int ?? 0 <= 400, "the phone screenshot is not narrow")
    }

    @Test(
        "the page's input paths: a dropped file, a pasted image, a cancelled upload, notifications, the keyboard alone on a desktop and a phone; a lobby past the quiet-presence mark",
        .enabled(if: ChatPageBrowserTests.available, "chromium, chromium-driver and python3 with selenium")
    )
    func inputPaths() async throws {
        let run = try Run()
        defer { run.remove() }
        let (python, shots, settings) = (run.python, run.shots, run.settings)
        // The last scenario fills the lobby past the mark (page_input.py's QUIET).
        let (server, port) = try await chatServer(settings + ["--http-port", "0", "--quiet-presence", "10"])
        defer { server.kill() }
        let httpPort = try await chatHTTPPort(server)

        let peer = try TestProcess(
            python, [ChatInteropTests.scripts + "/page_input.py", "http://127.0.0.1:\(httpPort)", String(port), shots], input: .null
        )
        defer { peer.kill() }
        // Some 30 s when all pass; a failed scenario costs its wait (30 s) and the next starts anew.
        let status = try await peer.waitForExit(timeout: 210)
        let json = try Self.expectPassed(peer, status: status)
        // The seven scenarios of page_input.py (more may be appended).
        #expect((json["steps"] as? [[String: Any]] ?? []).count >= 7, "\(json["steps"] ?? "no steps")")
        let shot = (json["screenshots"] as? [String: [String: Any]])?["large-lobby-desktop"]
        #expect((shot?["colors"] as? Int ?? 0) >= 8, "the large lobby's screenshot: \(shot ?? [:])")
    }

    /// What both tests need: the programs, a directory for the server's files, where screenshots go.
    private struct Run {
        let python: String
        let directory: String
        let shots: String
        /// The server's settings (its database, files and upload limit in the directory).
        let settings: [String]

        init() throws {
            self.python = try Programs.require("python3")
            _ = try Programs.require("chromium")
            _ = try Programs.require("chromedriver")
            self.directory = try TestData.temporaryDirectory()
            self.shots = ProcessInfo.processInfo.environment["TINCAN_PAGE_SCREENSHOTS"] ?? self.directory + "/screenshots"
            self.settings = ["--db", self.directory + "/chat.sqlite", "--files", self.directory + "/files", "--max-upload", "1M", "--no-flood-limit"]
        }

        func remove() { try? FileManager.default.removeItem(atPath: self.directory) }
    }

    /// The script's JSON report, once it is checked: every step passed and the script ran to its end.
    private static func expectPassed(_ peer: TestProcess, status: Int32) throws -> [String: Any] {
        let json = try #require(
            try JSONSerialization.jsonObject(with: peer.stdout) as? [String: Any], "no report; stderr: \(peer.stderr.suffix(3000))"
        )
        let steps = json["steps"] as? [[String: Any]] ?? []
        for step in steps {
            #expect(step["ok"] as? Bool == true, "\(step["name"] ?? "?"): \(step["detail"] ?? "")")
        }
        #expect(status == 0 && json["completed"] as? Bool == true, "\(steps.map { $0["name"] ?? "" })")
        return json
    }
}
}
