import Foundation
import Logging
import NIOCore
import Testing
import TinCanIRC
import TinCanTestSupport

@testable import TinCanChat

/// What curl got: the final status and headers (after any 100 Continue) and the body.
struct CurlResult {
    var status: Int
    var headers: [String: String]
    var body: Data

    subscript(_ name: String) -> String? { self.headers[name.lowercased()] }
}

/// Runs curl (HTTP/1.1, headers in its output) with `arguments`.
func curl(_ arguments: [String]) async throws -> CurlResult {
    let process = try TestProcess(try Programs.require("curl"), ["-sS", "-i", "--http1.1", "--max-time", "20"] + arguments, input: .null)
    let status = try await process.waitForExit(timeout: 30)
    guard status == 0 else { throw HarnessError("curl \(arguments) exited \(status): \(process.stderr)") }
    var rest = process.stdout
    while true {
        guard let end = rest.firstRange(of: Data("\r\n\r\n".utf8)) else { throw HarnessError("no headers from curl: \(rest)") }
        let lines = String(decoding: rest[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        rest = rest[end.upperBound...]
        let code = Int(lines[0].split(separator: " ")[1])!
        if code == 100 { continue }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return CurlResult(status: code, headers: headers, body: Data(rest))
    }
}

/// A store in memory with the account ann (password "correct horse").
func storeWithAnn(_ settings: ChatAccountSettings = ChatAccountSettings()) async throws -> SQLiteChatStore {
    let store = try await SQLiteChatStore.open(path: ":memory:")
    let accounts = ChatAccounts(store: store, hasher: .fast, settings: settings)
    let outcome = try await accounts.register(name: "ann", folded: "ann", password: "correct horse")
    guard case .created = outcome else { throw HarnessError("could not register ann: \(outcome)") }
    return store
}

@Suite(.timeLimit(.minutes(2)), .enabled(if: Programs.available("curl"), "curl"))
struct ChatFileHostTests {
    /// Quick failures: a wrong password is answered after the throttle's delay.
    static var configuration: ChatServerConfiguration {
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.accounts.failureDelay = .milliseconds(1)
        configuration.accounts.failureDelayMax = .milliseconds(2)
        return configuration
    }

    @Test("ISUPPORT names the upload URL; curl uploads, downloads whole, by Range (206, 416) and HEAD")
    func uploadAndDownload() async throws {
        let store = try await storeWithAnn()
        let directory = try TestData.temporaryDirectory()
        try await withHTTPChatServer(Self.configuration, http: ChatHTTPConfiguration(port: 0, filesDirectory: directory), store: store) { addresses in
            let port = addresses.http!.port!
            let visitor = try LineClient(port: addresses.plain.port!)
            try visitor.send("NICK visitor", "USER visitor 0 * :Visitor")
            let welcome = try await visitor.read(until: " 366 visitor ").joined(separator: "\n")
            // No public URL set: the address this client reached the server at.
            #expect(welcome.contains(" draft/FILEHOST=http://127.0.0.1:\(port)/upload soju.im/FILEHOST=http://127.0.0.1:\(port)/upload "))

            let data = TestData.random(count: 100_000)
            let file = directory + "/../upload.bin"
            try data.write(to: URL(fileURLWithPath: file))
            let upload = try await curl([
                "-u", "ann:correct horse", "-H", "Content-Type: image/png", "-H", "Content-Disposition: attachment; filename=\"cat pic.png\"",
                "--data-binary", "@" + file, "http://127.0.0.1:\(port)/upload",
            ])
            #expect(upload.status == 201, "\(String(decoding: upload.body, as: UTF8.self))")
            let location = try #require(upload["Location"])
            // ... and the Host the upload came with.
            #expect(location.hasPrefix("http://127.0.0.1:\(port)/files/"))
            let id = String(location.split(separator: "/").last!)
            #expect(id.count == 32 && ChatFileHost.isID(id))
            // Only the file under its id: no temporary file left.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [id])
            let record = try #require(try await store.file(id: id))
            #expect(record.size == 100_000 && record.sha256 == TestData.sha256(data) && record.owner == "ann" && record.name == "cat pic.png")

            let url = "http://127.0.0.1:\(port)/files/\(id)"
            let whole = try await curl([url])
            #expect(whole.status == 200 && whole.body == data)
            #expect(whole["Content-Type"] == "image/png")
            #expect(whole["Content-Disposition"] == "inline; filename=\"cat pic.png\"; filename*=UTF-8''cat%20pic.png")
            #expect(whole["Content-Security-Policy"] == "default-src 'none'; sandbox")
            #expect(whole["X-Content-Type-Options"] == "nosniff")
            #expect(whole["Cache-Control"]?.hasPrefix("public, max-age=") == true)
            #expect(whole["ETag"] == "\"\(record.sha256)\"")

            let part = try await curl(["-H", "Range: bytes=1000-1999", url])
            #expect(part.status == 206 && part.body == data[1000..<2000])
            #expect(part["Content-Range"] == "bytes 1000-1999/100000")
            let tail = try await curl(["-H", "Range: bytes=-10", url])
            #expect(tail.status == 206 && tail.body == data.suffix(10))
            let beyond = try await curl(["-H", "Range: bytes=200000-", url])
            #expect(beyond.status == 416 && beyond["Content-Range"] == "bytes */100000")
            let head = try await curl(["-I", url])
            #expect(head.status == 200 && head["Content-Length"] == "100000" && head.body.isEmpty)
            #expect(try await curl(["http://127.0.0.1:\(port)/files/" + String(repeating: "0", count: 32)]).status == 404)
            #expect(try await curl(["http://127.0.0.1:\(port)/files/..%2F..%2Fetc%2Fpasswd"]).status == 404)
        }
    }

    @Test("SVG and HTML are attachments, never inline")
    func attachments() {
        for type in ["image/svg+xml", "text/html", "application/octet-stream"] {
            let record = ChatFileRecord(id: "x", name: "a", contentType: type, size: 1, sha256: "", owner: "ann", created: 0, expires: 1)
            #expect(ChatFileHost.disposition(record).hasPrefix("attachment;"), "\(type)")
        }
        #expect(ChatFileHost.mediaType("text/plain; charset=UTF-8; x=y") == "text/plain; charset=utf-8")
        #expect(ChatFileHost.mediaType("not a type") == "application/octet-stream")
        #expect(ChatFileHost.fileName("attachment; filename=\"../../etc/passwd\"") == "passwd")
        #expect(ChatFileHost.fileName("attachment; filename*=UTF-8''na%C3%AFve.txt") == "naïve.txt")
        #expect(ChatFileHost.fileName(nil) == "file")
        #expect(ChatFileHost.byteRange("bytes=0-0", size: 10) == .part(0..<1))
        #expect(ChatFileHost.byteRange("bytes=5-100", size: 10) == .part(5..<10))
        #expect(ChatFileHost.byteRange("bytes=0-1,5-6", size: 10) == .whole)
        #expect(ChatFileHost.byteRange("bytes=10-", size: 10) == .unsatisfiable)
    }

    @Test("over the size limit: 413 with Upload-Limit, by Content-Length up front and while streaming; nothing kept")
    func tooLarge() async throws {
        let store = try await storeWithAnn()
        let directory = try TestData.temporaryDirectory()
        let http = ChatHTTPConfiguration(port: 0, filesDirectory: directory, maxUploadBytes: 4096)
        try await withHTTPChatServer(Self.configuration, http: http, store: store) { addresses in
            let file = directory + "/../big.bin"
            try TestData.random(count: 10_000).write(to: URL(fileURLWithPath: file))
            let upload = "http://127.0.0.1:\(addresses.http!.port!)/upload"
            let declared = try await curl(["-u", "ann:correct horse", "--data-binary", "@" + file, upload])
            #expect(declared.status == 413 && declared["Upload-Limit"] == "max-size=4096")
            let streamed = try await curl(["-u", "ann:correct horse", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + file, upload])
            #expect(streamed.status == 413 && streamed["Upload-Limit"] == "max-size=4096")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
            #expect(try await store.bytesStored(byAccount: "ann") == 0)
        }
    }

    @Test("over the quota: 413 that says so")
    func quota() async throws {
        let store = try await storeWithAnn()
        let directory = try TestData.temporaryDirectory()
        let http = ChatHTTPConfiguration(port: 0, filesDirectory: directory, maxUploadBytes: 4096, quotaBytes: 6000)
        try await withHTTPChatServer(Self.configuration, http: http, store: store) { addresses in
            let upload = "http://127.0.0.1:\(addresses.http!.port!)/upload"
            let first = try await curl(["-u", "ann:correct horse", "--data-binary", String(repeating: "a", count: 4000), upload])
            #expect(first.status == 201)
            let second = try await curl(["-u", "ann:correct horse", "--data-binary", String(repeating: "b", count: 4000), upload])
            #expect(second.status == 413)
            #expect(String(decoding: second.body, as: UTF8.self).hasPrefix("Over your quota: you keep 4000 of 6000 bytes"))
        }
    }

    @Test("without credentials or with a wrong password: 401 with WWW-Authenticate")
    func unauthorized() async throws {
        let store = try await storeWithAnn()
        try await withHTTPChatServer(Self.configuration, store: store) { addresses in
            let upload = "http://127.0.0.1:\(addresses.http!.port!)/upload"
            for credentials in [[], ["-u", "ann:wrong password"], ["-u", "nobody:correct horse"]] {
                let answer = try await curl(credentials + ["--data-binary", "hello", upload])
                #expect(answer.status == 401, "\(credentials)")
                #expect(answer["WWW-Authenticate"] == "Basic realm=\"tincan\", charset=\"UTF-8\"")
            }
        }
    }

    @Test("an HTTP connection idle after its request is closed after the idle timeout")
    func idleConnection() async throws {
        let store = try await storeWithAnn()
        var http = ChatHTTPConfiguration(port: 0, filesDirectory: try TestData.temporaryDirectory())
        http.idleTimeout = .seconds(1)
        try await withHTTPChatServer(Self.configuration, http: http, store: store) { addresses in
            let socket = try TestSocket.connect(port: addresses.http!.port!)
            socket.setTimeout(20)
            try socket.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            // Everything until the server closes: the answer, then the end of the stream.
            let text = String(decoding: try await Blocking.run { try socket.receiveAll() }, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200"), "\(text.prefix(200))")
        }
    }

    @Test("a wrong password on the HTTP port slows the next SASL attempt too: one throttle for every way in")
    func oneThrottle() async throws {
        let store = try await storeWithAnn()
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.accounts.failureDelay = .milliseconds(300)
        try await withHTTPChatServer(configuration, store: store) { addresses in
            let upload = "http://127.0.0.1:\(addresses.http!.port!)/upload"
            #expect(try await curl(["-u", "ann:wrong password", "--data-binary", "hello", upload]).status == 401)
            let client = try LineClient(port: addresses.plain.port!)
            try client.send("CAP REQ :sasl", "NICK someone", "USER x 0 * :x", "AUTHENTICATE PLAIN")
            try await client.read(until: "AUTHENTICATE +")
            let start = ContinuousClock.now
            try client.send("AUTHENTICATE " + ChatBase64.encode(Array("\0ann\0still wrong".utf8)))
            try await client.read(until: " 904 ")
            // The second failure for ann from 127.0.0.1: twice the first delay.
            #expect(ContinuousClock.now - start >= .milliseconds(600))
        }
    }

    @Test("OPTIONS /upload: Allow, Upload-Limit, CORS for the server's own page; another page's origin 403")
    func options() async throws {
        let store = try await storeWithAnn()
        try await withHTTPChatServer(Self.configuration, store: store) { addresses in
            let port = addresses.http!.port!
            let upload = "http://127.0.0.1:\(port)/upload"
            let own = try await curl(["-X", "OPTIONS", "-H", "Origin: http://127.0.0.1:\(port)", upload])
            #expect(own.status == 204)
            #expect(own["Allow"] == "OPTIONS, POST")
            #expect(own["Upload-Limit"] == "max-size=\(25 << 20)")
            #expect(own["Access-Control-Allow-Origin"] == "http://127.0.0.1:\(port)")
            #expect(own["Access-Control-Allow-Headers"] == "Authorization, Content-Type, Content-Disposition")
            #expect(own["Access-Control-Expose-Headers"]?.contains("Location") == true)
            let other = try await curl(["-X", "OPTIONS", "-H", "Origin: https://evil.example", upload])
            #expect(other.status == 403)
        }
    }

    @Test("the expiry sweep deletes an expired file's record and bytes; it is not served once expired")
    func sweep() async throws {
        let store = try await storeWithAnn()
        let directory = try TestData.temporaryDirectory()
        let http = ChatHTTPConfiguration(port: 0, filesDirectory: directory)
        try await withHTTPChatServer(Self.configuration, http: http, store: store) { addresses in
            let port = addresses.http!.port!
            let upload = try await curl(["-u", "ann:correct horse", "--data-binary", "short-lived", "http://127.0.0.1:\(port)/upload"])
            let id = try #require(upload["Location"]?.split(separator: "/").last.map(String.init))
            let record = try #require(try await store.file(id: id))
            let host = ChatFileHost(
                settings: http, store: store, authenticate: { _, _, _ in nil }, origins: ChatOriginPolicy(allowedOrigins: [], secure: false),
                logger: .init(label: "test") { _ in SwiftLogNoOpLogHandler() }
            )
            #expect(try await host.sweep(now: record.expires - 1) == 0)
            #expect(try await host.sweep(now: record.expires + 1) == 1)
            #expect(try await store.file(id: id) == nil)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
            #expect(try await curl(["http://127.0.0.1:\(port)/files/\(id)"]).status == 404)
        }
    }

    @Test("HTTPS with the server's TLS certificate: an upload and its download", .enabled(if: Programs.available("openssl")))
    func https() async throws {
        let (cert, key) = try await TestData.localhostCertificate()
        var configuration = Self.configuration
        configuration.tlsPort = 0
        configuration.tls = ChatTLSFiles(certificate: cert, privateKey: key)
        let store = try await storeWithAnn()
        try await withHTTPChatServer(configuration, http: ChatHTTPConfiguration(port: 0, publicURL: "https://localhost:1"), store: store) { addresses in
            let base = "https://localhost:\(addresses.http!.port!)"
            let resolve = ["--cacert", cert, "--resolve", "localhost:\(addresses.http!.port!):127.0.0.1"]
            let upload = try await curl(resolve + ["-u", "ann:correct horse", "-H", "Content-Type: text/plain", "--data-binary", "over tls", base + "/upload"])
            #expect(upload.status == 201)
            let location = try #require(upload["Location"])
            #expect(location.hasPrefix("https://localhost:1/files/"))
            let id = String(location.split(separator: "/").last!)
            let download = try await curl(resolve + [base + "/files/" + id])
            #expect(download.status == 200 && String(decoding: download.body, as: UTF8.self) == "over tls")
            #expect(download["Content-Disposition"] == "inline; filename=\"file\"; filename*=UTF-8''file")
        }
    }
}
