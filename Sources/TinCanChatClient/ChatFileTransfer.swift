import Foundation
import Logging
import NIOCore
import NIOFileSystem
import NIOHTTP1
import NIOPosix
import NIOSSL
import TinCanCore

/// Files through the chat server's FILEHOST (soju.im/FILEHOST): upload with the account's name
/// and password, look up a link's name and size, and download, each over one HTTP/1.1
/// connection (HTTPS when the URL says so), with progress.
///
/// A download is written under a new name that never replaces a file: `report.pdf`, then
/// `report (1).pdf`, ... It is created transactionally (NIOFileSystem writes a hidden file and
/// links it in when it is complete), so a cut-off download leaves nothing behind, and it is
/// checked against the `Content-Length` the server announced.
public struct ChatFileTransfer: Sendable {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// What a HEAD says about a link.
    public struct Info: Hashable, Sendable {
        public var name: String
        public var size: Int64?
        public var contentType: String?
    }

    /// Progress: bytes so far, and the total when known.
    public typealias Progress = @Sendable (Int64, Int64?) -> Void

    /// The account's name and password, for uploads.
    public var account: String?
    public var password: String?
    /// TLS for https URLs (default: the system's trust roots).
    public var tls: TLSConfiguration
    public var timeout: TimeAmount

    public init(account: String? = nil, password: String? = nil, tls: TLSConfiguration = .makeClientConfiguration(), timeout: TimeAmount = .seconds(30)) {
        self.account = account
        self.password = password
        self.tls = tls
        self.timeout = timeout
    }

    // MARK: the three operations

    /// Uploads the file at `path` to `url` (the FILEHOST URL); returns the file's link.
    public func upload(_ path: String, to url: String, progress: Progress? = nil) async throws -> String {
        guard let account, let password else { throw Failure("uploading needs an account: log in with a password") }
        let name = (path as NSString).lastPathComponent
        let info = try await FileSystem.shared.info(forFileAt: FilePath(path))
        guard let info, info.type == .regular else { throw Failure("\(path): not a regular file") }
        let size = info.size
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "")
        head.headers.add(name: "Authorization", value: "Basic " + Data("\(account):\(password)".utf8).base64EncodedString())
        head.headers.add(name: "Content-Type", value: Self.mediaType(name))
        head.headers.add(name: "Content-Disposition", value: ContentDisposition.header("attachment", fileName: name))
        head.headers.add(name: "Content-Length", value: String(size))
        let response = try await self.exchange(url, head: head) { writer in
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
                var sent: Int64 = 0
                for try await chunk in handle.readChunks(chunkLength: .kibibytes(64)) {
                    try await writer.write(.body(.byteBuffer(chunk)))
                    sent += Int64(chunk.readableBytes)
                    progress?(sent, size)
                }
            }
        } body: { _, _ in }
        switch response.head.status.code {
        case 201:
            guard let location = response.head.headers.first(name: "Location") else { throw Failure("the server stored the file but gave no link") }
            return location
        case 401: throw Failure("upload refused: wrong account or password")
        case 413: throw Failure("too large for this server" + (response.head.headers.first(name: "Upload-Limit").map { " (max \($0) bytes)" } ?? ""))
        default: throw Failure("upload refused: HTTP \(response.head.status.code) \(response.text)")
        }
    }

    /// What the server says of a file link: its name (from `Content-Disposition`) and size.
    public func info(_ url: String) async throws -> Info {
        let response = try await self.exchange(url, head: HTTPRequestHead(version: .http1_1, method: .HEAD, uri: ""), send: nil) { _, _ in }
        guard response.head.status.code == 200 else { throw Failure("\(url): HTTP \(response.head.status.code)") }
        return Info(
            name: ContentDisposition.fileName(response.head.headers.first(name: "Content-Disposition")),
            size: response.head.headers.first(name: "Content-Length").flatMap { Int64($0) },
            contentType: response.head.headers.first(name: "Content-Type")
        )
    }

    /// Downloads `url` into `directory` (made if missing) under the name the server gives, or a
    /// new one beside it; returns the path.
    public func download(_ url: String, into directory: String, progress: Progress? = nil) async throws -> String {
        try await FileSystem.shared.createDirectory(at: FilePath(directory), withIntermediateDirectories: true)
        var result: String?
        let box = Box()
        let response = try await self.exchange(url, head: HTTPRequestHead(version: .http1_1, method: .GET, uri: ""), send: nil) { head, parts in
            guard head.status.code == 200 else { return }
            let name = ContentDisposition.fileName(head.headers.first(name: "Content-Disposition"))
            let expected = head.headers.first(name: "Content-Length").flatMap { Int64($0) }
            let path = try await Self.freshPath(for: name, in: directory)
            var received: Int64 = 0
            try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(path), options: .newFile(replaceExisting: false)) { handle in
                try await handle.withBufferedWriter { writer in
                    for try await chunk in parts {
                        received += Int64(chunk.readableBytes)
                        _ = try await writer.write(contentsOf: chunk)
                        progress?(received, expected)
                    }
                }
                if let expected, received != expected {
                    // Thrown inside: the transactional file is dropped, never linked in.
                    throw Failure("\(name): \(received) of \(expected) bytes arrived")
                }
            }
            box.path = path
        }
        result = box.path
        guard response.head.status.code == 200, let result else {
            throw Failure(response.head.status.code == 404 ? "\(url): no such file (or it has expired)" : "\(url): HTTP \(response.head.status.code)")
        }
        return result
    }

    // MARK: HTTP

    private final class Box: @unchecked Sendable {
        // Written once by the body closure before `exchange` returns, read after.
        var path: String?
    }

    struct Response {
        var head: HTTPResponseHead
        var body: ByteBuffer
        var text: String { String(buffer: self.body).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// One request on a new connection. `send` writes the body (nil: none); `body` consumes a
    /// 200 answer's body as it comes (other answers are collected, up to 4 KiB, for the error).
    private func exchange(
        _ url: String,
        head: HTTPRequestHead,
        send: ((NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>) async throws -> Void)?,
        body: @escaping @Sendable (HTTPResponseHead, AsyncThrowingStream<ByteBuffer, any Error>) async throws -> Void
    ) async throws -> Response {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { throw Failure("\(url): not an http(s) URL") }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        var head = head
        head.uri = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath) + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        head.headers.replaceOrAdd(name: "Host", value: components.port.map { "\(host):\($0)" } ?? host)
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        head.headers.replaceOrAdd(name: "User-Agent", value: "tincan-chat")
        if send == nil, head.method != .GET, head.method != .HEAD { head.headers.replaceOrAdd(name: "Content-Length", value: "0") }
        let context = scheme == "https" ? try NIOSSLContext(configuration: self.tls) : nil
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(self.timeout)
            .connect(host: bare, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        let name = bare.contains(":") || bare.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : bare
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: name))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        return try await connection.executeThenClose { inbound, outbound in
            // A server may answer before it has read the whole body (401, 413) and close: then the
            // write fails, and its answer is still read below.
            var sendError: (any Error)?
            do {
                try await outbound.write(.head(head))
                if let send { try await send(outbound) }
                try await outbound.write(.end(nil))
            } catch {
                sendError = error
            }
            var iterator = inbound.makeAsyncIterator()
            var responseHead: HTTPResponseHead?
            while responseHead == nil {
                let part: HTTPClientResponsePart?
                do {
                    part = try await iterator.next()
                } catch where sendError != nil {
                    part = nil
                }
                switch part {
                case .head(let h) where h.status.code >= 200: responseHead = h
                case .head, .body: continue
                case .end: continue
                case nil:
                    if let sendError { throw Failure("\(url): the server closed the connection while the request was sent (\(sendError))") }
                    throw Failure("\(url): the server closed the connection without answering")
                }
            }
            let answer = responseHead!
            var collected = ByteBuffer()
            if answer.status.code == 200, head.method == .GET {
                let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
                // The body is handed over chunk by chunk; the consumer writes it as it comes.
                async let consumed: Void = body(answer, stream)
                do {
                    loop: while let part = try await iterator.next() {
                        switch part {
                        case .body(let chunk): continuation.yield(chunk)
                        case .end: break loop
                        case .head: continue
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
                try await consumed
            } else if head.method != .HEAD {
                loop: while let part = try await iterator.next() {
                    switch part {
                    case .body(var chunk):
                        if collected.readableBytes < 4096 { collected.writeBuffer(&chunk) }
                    case .end: break loop
                    case .head: continue
                    }
                }
            }
            return Response(head: answer, body: collected)
        }
    }

    /// `name` in `directory`, or `name (1).ext`, `name (2).ext`, ... whichever does not exist yet.
    static func freshPath(for name: String, in directory: String) async throws -> String {
        let base = (name as NSString).deletingPathExtension
        let ext = (name as NSString).pathExtension
        for attempt in 0..<10_000 {
            let candidate = attempt == 0 ? name : "\(base) (\(attempt))" + (ext.isEmpty ? "" : "." + ext)
            let path = (directory as NSString).appendingPathComponent(candidate)
            if try await FileSystem.shared.info(forFileAt: FilePath(path)) == nil { return path }
        }
        throw Failure("\(directory): too many files named \(name)")
    }

    /// The media type for an upload, from its extension (the server shows images inline).
    static func mediaType(_ name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "gif": "image/gif"
        case "webp": "image/webp"
        case "txt", "log", "md": "text/plain; charset=utf-8"
        case "pdf": "application/pdf"
        case "zip": "application/zip"
        default: "application/octet-stream"
        }
    }
}
