import Foundation
import Testing
import TinCanTestSupport

@testable import TinCanChat

/// The chat page as the HTTP port serves it: the package's resources at `/` and `/static/`.
@Suite(.timeLimit(.minutes(2)), .enabled(if: Programs.available("curl"), "curl"))
struct ChatWebPageTests {
    @Test("/ is the page's HTML with a CSP for its own scripts and origin; each module has its type; ETag revalidates to 304")
    func served() async throws {
        try await withHTTPChatServer { addresses in
            let base = "http://127.0.0.1:\(addresses.http!.port!)"
            let page = try await curl([base + "/"])
            #expect(page.status == 200)
            #expect(page["content-type"] == "text/html; charset=utf-8")
            #expect(page["cache-control"] == "no-cache")
            #expect(page["x-content-type-options"] == "nosniff")
            let policy = try #require(page["content-security-policy"])
            #expect(policy.contains("default-src 'none'; script-src 'self'; style-src 'self';"), "\(policy)")
            #expect(policy.contains("connect-src 'self' ws://127.0.0.1:\(addresses.http!.port!) wss://127.0.0.1:\(addresses.http!.port!);"), "\(policy)")
            let html = String(decoding: page.body, as: UTF8.self)
            #expect(html.contains("<script type=\"module\" src=\"/static/main.js\"></script>"))
            // No inline script: every <script> names its file.
            #expect(html.components(separatedBy: "<script").count == 2)
            for test in ["login-nick", "login-password", "login-submit", "register-submit", "login-error", "messages", "composer", "file-input", "upload-progress"] {
                #expect(html.contains("data-test=\"\(test)\""), "data-test=\(test)")
            }

            for (name, type) in [
                ("main.js", "text/javascript; charset=utf-8"), ("irc.js", "text/javascript; charset=utf-8"),
                ("connection.js", "text/javascript; charset=utf-8"), ("store.js", "text/javascript; charset=utf-8"),
                ("views.js", "text/javascript; charset=utf-8"), ("client.js", "text/javascript; charset=utf-8"),
                ("files.js", "text/javascript; charset=utf-8"), ("style.css", "text/css; charset=utf-8"), ("icon.svg", "image/svg+xml"),
            ] {
                let file = try await curl([base + "/static/" + name])
                #expect(file.status == 200, "\(name)")
                #expect(file["content-type"] == type, "\(name)")
                #expect(file["content-length"] == String(file.body.count), "\(name)")
                let etag = try #require(file["etag"], "\(name)")
                let again = try await curl(["-H", "If-None-Match: \(etag)", base + "/static/" + name])
                #expect(again.status == 304 && again.body.isEmpty, "\(name)")
            }
            let head = try await curl(["-I", base + "/static/main.js"])
            #expect(head.status == 200 && head.body.isEmpty)
            #expect(try await curl([base + "/static/nothing.js"]).status == 404)
            #expect(try await curl([base + "/static/../Package.swift"]).status == 404)
            #expect(try await curl(["--path-as-is", base + "/static/../../Package.swift"]).status == 404)
        }
    }

    @Test("the CSP leaves out a Host that is not plainly host:port")
    func policyHost() {
        #expect(ChatWebPage.policy(host: "chat.example.org").contains("connect-src 'self' ws://chat.example.org wss://chat.example.org;"))
        #expect(ChatWebPage.policy(host: "[::1]:8080").contains("ws://[::1]:8080 wss://[::1]:8080;"))
        #expect(ChatWebPage.policy(host: "evil.org; script-src *").contains("connect-src 'self'; base-uri"))
        #expect(ChatWebPage.policy(host: nil).contains("connect-src 'self'; base-uri"))
    }

    @Test("a page without resources answers 404 for its files")
    func missing() {
        let page = ChatWebPage(directory: nil)
        #expect(page.files.isEmpty)
        #expect(ChatWebPage.contentType(of: "x.exe") == nil)
        #expect(ChatWebPage.bundled.files["/"] != nil, "the package's Web resources were not found")
    }
}
