import Crypto
import Foundation
import HTTPTypes
import HummingbirdCore
import NIOCore

/// The chat page (Sources/TinCanChat/Web, a package resource): `index.html` at `/`, the rest at
/// `/static/<name>`.
///
/// The files are a few kilobytes each and never change while the server runs, so they are read
/// once, when the HTTP port starts (before it answers anything, off the event loop), and served
/// from memory: no file I/O per request. Each has an ETag (its SHA-256), and every answer says
/// `no-cache`, so a browser revalidates and gets 304 for what it has: the names carry no version,
/// and a new build must reach the page at once.
struct ChatWebPage: Sendable {
    struct File: Sendable {
        let bytes: ByteBuffer
        let contentType: String
        let etag: String
    }

    /// By request path: `/` and `/static/<name>`.
    let files: [String: File]

    /// The page from the package's resources; empty (`/` answers a plain-text note, the rest 404)
    /// when the resource bundle is not beside the program.
    static let bundled = ChatWebPage(directory: Self.resourceDirectory())

    /// SwiftPM puts the resources in `tincan_TinCanChat.resources` beside the built program (the
    /// test runner included). They are looked for here rather than through `Bundle.module`, which
    /// stops the program when the bundle is missing (a binary copied somewhere alone): a chat
    /// server without its page should still serve IRC, the WebSocket and files.
    private static func resourceDirectory() -> URL? {
        let bundle = "tincan_TinCanChat.resources"
        var places = [Bundle.main.bundleURL]
        if let program = Bundle.main.executableURL?.resolvingSymlinksInPath() { places.append(program.deletingLastPathComponent()) }
        for place in places {
            let directory = place.appendingPathComponent(bundle).appendingPathComponent("Web")
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("index.html").path) { return directory }
        }
        return nil
    }

    init(directory: URL?) {
        var files: [String: File] = [:]
        let names = directory.flatMap { try? FileManager.default.contentsOfDirectory(atPath: $0.path) } ?? []
        for name in names.sorted() {
            guard let directory, let type = Self.contentType(of: name),
                let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path)
            else { continue }
            let digest = SHA256.hash(data: data).prefix(16).map { String(format: "%02x", $0) }.joined()
            let file = File(bytes: ByteBuffer(bytes: data), contentType: type, etag: "\"\(digest)\"")
            files[name == "index.html" ? "/" : "/static/" + name] = file
        }
        self.files = files
    }

    /// Only these kinds are served, each with its charset where it has one.
    static func contentType(of name: String) -> String? {
        switch name.split(separator: ".").last.map({ $0.lowercased() }) ?? "" {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "webmanifest": "application/manifest+json"
        default: nil
        }
    }

    /// The answer for `path`, or nil when the page has no such file.
    func response(path: String, request: Request) -> Response? {
        guard let file = self.files[path] else { return nil }
        var headers = HTTPFields()
        headers[.contentType] = file.contentType
        headers[.cacheControl] = "no-cache"
        headers[.eTag] = file.etag
        headers[.xContentTypeOptions] = "nosniff"
        headers[.contentSecurityPolicy] = Self.policy(host: request.head.authority)
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        if request.headers[.ifNoneMatch] == file.etag { return Response(status: .notModified, headers: headers) }
        headers[.contentLength] = String(file.bytes.readableBytes)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: file.bytes))
    }

    /// The page's own scripts and styles only, no inline script, and connections to its own
    /// origin only: `'self'`, and the WebSocket's `ws:`/`wss:` forms of the request's host, which
    /// older browsers do not count as `'self'`. Images from the origin (previews of this server's
    /// files) and `blob:` (a pasted image before it is sent).
    static func policy(host: String?) -> String {
        var connect = "'self'"
        // A Host that is not plainly host[:port] is left out rather than written into the header.
        if let host, !host.isEmpty, host.utf8.allSatisfy({ Self.hostBytes.contains($0) }) {
            connect += " ws://\(host) wss://\(host)"
        }
        return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src \(connect); "
            + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }

    static let hostBytes = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]".utf8)
}
