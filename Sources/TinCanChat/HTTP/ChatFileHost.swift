import Crypto
import Foundation
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOFileSystem
import TinCanCore

/// FILEHOST (soju.im/FILEHOST): uploads with the account's name and password (HTTP Basic), and
/// downloads of what was uploaded, until it expires.
///
/// An upload is streamed to a temporary file (`.part`) in the files directory, hashed on the way
/// (SHA-256), renamed to a random name of 128 bits once complete and only then recorded in the
/// store: a failed or refused upload never leaves a file under a served name. File I/O runs on
/// NIOFileSystem's thread pool, never on the event loop.
struct ChatFileHost: Sendable {
    /// Checks an account's name and password (``ChatAccounts/login(name:folded:password:address:)``
    /// with its delays); the account's folded name, or nil.
    typealias Authenticate = @Sendable (_ name: String, _ password: String, _ address: String) async throws -> String?

    let settings: ChatHTTPConfiguration
    let store: any ChatStore
    let authenticate: Authenticate
    let origins: ChatOriginPolicy
    let logger: Logger
    /// Milliseconds since 1970.
    var now: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
    private let fileSystem = FileSystem.shared

    init(settings: ChatHTTPConfiguration, store: any ChatStore, authenticate: @escaping Authenticate, origins: ChatOriginPolicy, logger: Logger) {
        self.settings = settings
        self.store = store
        self.authenticate = authenticate
        self.origins = origins
        self.logger = logger
    }

    static let realm = "tincan"
    private static let partSuffix = ".part"

    private var directory: FilePath { FilePath(self.settings.filesDirectory) }

    /// Creates the files directory if missing and deletes what uploads cut short by a crash left.
    func prepare() async throws {
        if try await self.fileSystem.info(forFileAt: self.directory) == nil {
            try await self.fileSystem.createDirectory(at: self.directory, withIntermediateDirectories: true)
        }
        let stale = try await self.fileSystem.withDirectoryHandle(atPath: self.directory) { directory in
            try await directory.listContents().reduce(into: [FilePath]()) { names, entry in
                if entry.name.string.hasSuffix(Self.partSuffix) { names.append(entry.path) }
            }
        }
        for path in stale { _ = try? await self.fileSystem.removeItem(at: path) }
    }

    // MARK: uploads

    /// `OPTIONS /upload`: what the upload URI accepts, and CORS for a page allowed to use it.
    func options(_ request: Request) -> Response {
        guard let cors = self.cors(request) else { return Self.text(.forbidden, "Origin not allowed\n") }
        var headers = cors
        headers[.allow] = "OPTIONS, POST"
        headers[Self.uploadLimit] = self.uploadLimitValue
        headers[.accessControlAllowMethods] = "OPTIONS, POST"
        headers[.accessControlMaxAge] = "600"
        return Response(status: .noContent, headers: headers)
    }

    /// `POST /upload`; the file's URL is `<publicURL>/files/<id>`.
    func upload(_ request: Request, address: String, publicURL: String, writer: inout ResponseWriter) async throws -> Response {
        guard let cors = self.cors(request) else { return Self.text(.forbidden, "Origin not allowed\n") }
        var response = try await self.receive(request, address: address, publicURL: publicURL, writer: &writer)
        response.headers.append(contentsOf: cors)
        return response
    }

    private func receive(_ request: Request, address: String, publicURL: String, writer: inout ResponseWriter) async throws -> Response {
        guard let (name, password) = Self.basicCredentials(request.headers[.authorization]) else {
            return self.unauthorized("Log in with your account's name and password (HTTP Basic)\n")
        }
        guard let owner = try await self.authenticate(name, password, address) else {
            return self.unauthorized("Wrong account name or password\n")
        }
        let declared = request.headers[.contentLength].flatMap { Int64($0) }
        if let declared, declared > self.settings.maxUploadBytes { return self.tooLarge() }
        let stored = try await self.store.bytesStored(byAccount: owner)
        let room = self.settings.quotaBytes - stored
        if let declared, declared > room { return self.overQuota(stored) }
        if request.headers[.expect]?.lowercased() == "100-continue" {
            try await writer.writeInformationalHead(HTTPResponse(status: .continue))
        }

        let id = Self.randomID()
        let part = self.directory.appending(id + Self.partSuffix)
        let limit = min(self.settings.maxUploadBytes, room)
        let (size, digest): (Int64, String)
        do {
            guard let written = try await self.write(request.body, to: part, limit: limit) else {
                _ = try? await self.fileSystem.removeItem(at: part)
                return room < self.settings.maxUploadBytes ? self.overQuota(stored) : self.tooLarge()
            }
            (size, digest) = written
            try await self.fileSystem.moveItem(at: part, to: self.directory.appending(id))
        } catch {
            _ = try? await self.fileSystem.removeItem(at: part)
            throw error
        }
        let created = self.now()
        let record = ChatFileRecord(
            id: id, name: Self.fileName(request.headers[.contentDisposition]), contentType: Self.mediaType(request.headers[.contentType]),
            size: size, sha256: digest, owner: owner, created: created,
            expires: created + self.settings.fileLifetime.nanoseconds / 1_000_000
        )
        do {
            try await self.store.addFile(record)
        } catch {
            _ = try? await self.fileSystem.removeItem(at: self.directory.appending(id))
            throw error
        }
        self.logger.info("file uploaded", metadata: ["id": "\(id)", "owner": "\(owner)", "bytes": "\(size)"])
        let url = publicURL + "/files/" + id
        var response = Self.text(.created, url + "\n")
        response.headers[.location] = url
        return response
    }

    /// Streams the body to `path`: its size and SHA-256, or nil once it passes `limit` (the file
    /// is left for the caller to delete).
    private func write(_ body: RequestBody, to path: FilePath, limit: Int64) async throws -> (Int64, String)? {
        try await self.fileSystem.withFileHandle(forWritingAt: path, options: .newFile(replaceExisting: false)) { handle in
            var hash = SHA256()
            var size: Int64 = 0
            let complete = try await handle.withBufferedWriter { writer in
                for try await chunk in body {
                    size += Int64(chunk.readableBytes)
                    guard size <= limit else { return false }
                    chunk.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
                    _ = try await writer.write(contentsOf: chunk)
                }
                return true
            }
            guard complete else { return nil }
            // On disk before it is announced (DESIGN: nothing acknowledged is lost).
            try await handle.synchronize()
            return (size, hash.finalize().map { String(format: "%02x", $0) }.joined())
        }
    }

    // MARK: downloads

    /// `GET` and `HEAD /files/<id>`, with `Range` (one range; several are answered whole, as
    /// RFC 9110 allows).
    func download(_ request: Request, id: String) async throws -> Response {
        guard Self.isID(id), let record = try await self.store.file(id: id), record.expires > self.now() else {
            return Self.text(.notFound, "No such file (or it has expired)\n")
        }
        var headers = HTTPFields()
        headers[.contentType] = record.contentType
        headers[.contentDisposition] = Self.disposition(record)
        headers[.contentSecurityPolicy] = "default-src 'none'; sandbox"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.acceptRanges] = "bytes"
        let etag = "\"\(record.sha256)\""
        headers[.eTag] = etag
        // The bytes under an id never change: cacheable until the file expires.
        let seconds = max(0, (record.expires - self.now()) / 1000)
        headers[.cacheControl] = "public, max-age=\(seconds), immutable"
        if request.headers[.ifNoneMatch] == etag { return Response(status: .notModified, headers: headers) }

        var status = HTTPResponse.Status.ok
        var wanted: Range<Int64> = 0..<record.size
        if let header = request.headers[.range], request.headers[.ifRange].map({ $0 == etag }) ?? true {
            switch Self.byteRange(header, size: record.size) {
            case .whole:
                break
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(record.size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            case .part(let part):
                status = .partialContent
                wanted = part
                headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound - 1)/\(record.size)"
            }
        }
        let range = wanted
        headers[.contentLength] = String(range.count)
        if request.method == .head || range.isEmpty { return Response(status: status, headers: headers) }
        let path = self.directory.appending(id)
        let fileSystem = self.fileSystem
        let body = ResponseBody(contentLength: Int(range.count)) { writer in
            try await fileSystem.withFileHandle(forReadingAt: path) { handle in
                for try await chunk in handle.readChunks(in: range, chunkLength: .kibibytes(64)) {
                    try await writer.write(chunk)
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    enum ByteRange: Equatable {
        case whole
        case part(Range<Int64>)
        case unsatisfiable
    }

    /// A `Range` header (RFC 9110 14.2) for a file of `size` bytes: `bytes=a-b`, `bytes=a-`,
    /// `bytes=-n`. Anything else, several ranges among it, is served whole.
    static func byteRange(_ header: String, size: Int64) -> ByteRange {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let (first, last) = (spec[..<dash], spec[spec.index(after: dash)...])
        if first.isEmpty {
            guard let suffix = Int64(last), suffix >= 0 else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .part(max(0, size - suffix)..<size)
        }
        guard let start = Int64(first), start >= 0 else { return .whole }
        var end = size - 1
        if !last.isEmpty {
            guard let given = Int64(last), given >= start else { return .whole }
            end = min(given, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .part(start..<(end + 1))
    }

    // MARK: expiry

    /// Deletes the files that expired before `now`: their records, then their bytes. Returns how many.
    @discardableResult
    func sweep(now: Int64) async throws -> Int {
        let expired = try await self.store.removeFiles(expiredBefore: now)
        for record in expired where Self.isID(record.id) {
            _ = try? await self.fileSystem.removeItem(at: self.directory.appending(record.id))
        }
        if !expired.isEmpty { self.logger.info("expired files deleted", metadata: ["count": "\(expired.count)"]) }
        return expired.count
    }

    // MARK: headers

    static let uploadLimit = HTTPField.Name("Upload-Limit")!

    /// `Upload-Limit` as the IETF resumable-uploads draft writes it.
    private var uploadLimitValue: String { "max-size=\(self.settings.maxUploadBytes)" }

    /// The CORS headers for the request's page, or nil when its origin is not allowed (a request
    /// without `Origin` is not a page's and needs none).
    private func cors(_ request: Request) -> HTTPFields? {
        let origin = request.headers[.origin]
        guard self.origins.allows(origin: origin, host: request.head.authority) else { return nil }
        var headers = HTTPFields()
        guard let origin else { return headers }
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlAllowCredentials] = "true"
        headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Content-Disposition"
        headers[.accessControlExposeHeaders] = "Location, Upload-Limit"
        headers[.vary] = "Origin"
        return headers
    }

    private func unauthorized(_ text: String) -> Response {
        var response = Self.text(.unauthorized, text)
        response.headers[.wwwAuthenticate] = "Basic realm=\"\(Self.realm)\", charset=\"UTF-8\""
        return response
    }

    private func tooLarge() -> Response {
        var response = Self.text(.contentTooLarge, "The file is larger than the limit of \(self.settings.maxUploadBytes) bytes\n")
        response.headers[Self.uploadLimit] = self.uploadLimitValue
        // What the client has not sent yet is not read: the connection ends with this answer.
        response.headers[.connection] = "close"
        return response
    }

    private func overQuota(_ stored: Int64) -> Response {
        var response = Self.text(
            .contentTooLarge,
            "Over your quota: you keep \(stored) of \(self.settings.quotaBytes) bytes in files; they are deleted as they expire\n"
        )
        response.headers[.connection] = "close"
        return response
    }

    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }

    /// `Authorization: Basic base64(name:password)`.
    static func basicCredentials(_ header: String?) -> (String, String)? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        guard let data = Data(base64Encoded: header.dropFirst(6).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// 128 random bits, as 32 lowercase hex digits: unguessable, and safe in a URL and a file name.
    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    static func isID(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The uploaded media type without parameters but `charset`, or `application/octet-stream`
    /// for none or anything that is not `type/subtype`.
    static func mediaType(_ header: String?) -> String {
        let fallback = "application/octet-stream"
        guard let header else { return fallback }
        let parts = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        let type = parts[0].lowercased()
        let token = { (text: Substring) in
            !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "!#$&-^_.+".contains($0)) }
        }
        let halves = type.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, token(halves[0]), token(halves[1]) else { return fallback }
        let charset = parts.dropFirst().first { $0.lowercased().hasPrefix("charset=") }.map { $0.lowercased() }
        guard let charset, token(Substring(charset.dropFirst(8))) else { return type }
        return type + "; " + charset
    }

    /// The name from the upload's `Content-Disposition` ("file" for none).
    static func fileName(_ header: String?) -> String { ContentDisposition.fileName(header) }

    /// Media types a browser may show in the page: images that run no script, and plain text.
    /// SVG (scripts) and HTML never are.
    static let inlineTypes: Set<String> = ["image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"]

    /// `inline` for the safe types, `attachment` otherwise, with the original name as ASCII and
    /// as UTF-8 (RFC 6266).
    static func disposition(_ record: ChatFileRecord) -> String {
        let type = record.contentType.split(separator: ";")[0].lowercased()
        let kind = Self.inlineTypes.contains(type) ? "inline" : "attachment"
        return ContentDisposition.header(kind, fileName: record.name)
    }
}
