#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A plain blocking BSD socket for tests: the far end that tincan talks to, with every wait bounded
/// by a receive/send timeout so a broken test fails instead of hanging.
public final class TestSocket: @unchecked Sendable {
    // @unchecked: the descriptor is an Int32 used from one test at a time.
    public private(set) var fd: CInt
    public static let defaultTimeout: Double = 10

    init(fd: CInt, timeout: Double = TestSocket.defaultTimeout) {
        self.fd = fd
        self.setTimeout(timeout)
    }

    deinit { if self.fd >= 0 { Glibc.close(self.fd) } }

    public func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(self.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    // MARK: making sockets

    /// A TCP socket listening on `host` with a kernel-chosen port.
    public static func listen(host: String = "127.0.0.1", backlog: CInt = 16) throws -> TestSocket {
        let (storage, length, family) = try sockaddr(host: host, port: 0)
        let fd = socket(family, CInt(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw posixError("socket") }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        var address = storage
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { Glibc.close(fd); throw posixError("bind") }
        guard Glibc.listen(fd, backlog) == 0 else { Glibc.close(fd); throw posixError("listen") }
        return TestSocket(fd: fd)
    }

    /// A TCP connection to `host`:`port`; `receiveBuffer` fixes the kernel's receive buffer
    /// (no autotuning), so that a peer that does not read fills it soon.
    public static func connect(host: String = "127.0.0.1", port: Int, receiveBuffer: Int? = nil) throws -> TestSocket {
        let (storage, length, family) = try sockaddr(host: host, port: port)
        let fd = socket(family, CInt(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw posixError("socket") }
        if var size = receiveBuffer.map(CInt.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        var address = storage
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        guard rc == 0 else { Glibc.close(fd); throw posixError("connect to \(host):\(port)") }
        return TestSocket(fd: fd)
    }

    /// A UDP socket bound to `host` with a kernel-chosen port.
    public static func udp(host: String = "127.0.0.1") throws -> TestSocket {
        let (storage, length, family) = try sockaddr(host: host, port: 0)
        let fd = socket(family, CInt(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw posixError("socket") }
        var address = storage
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { Glibc.close(fd); throw posixError("bind") }
        return TestSocket(fd: fd)
    }

    /// The local port.
    public var port: Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { getsockname(self.fd, $0, &length) }
        }
        return TestSocket.port(of: storage)
    }

    static func port(of storage: sockaddr_storage) -> Int {
        var copy = storage
        return withUnsafePointer(to: &copy) { pointer in
            if storage.ss_family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    // MARK: using them

    /// Accepts one connection.
    public func accept() throws -> TestSocket {
        let client = Glibc.accept(self.fd, nil, nil)
        guard client >= 0 else { throw posixError("accept") }
        return TestSocket(fd: client)
    }

    /// Sends all of `data`.
    public func send(_ data: Data) throws {
        try data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.send(self.fd, base + offset, buffer.count - offset, CInt(MSG_NOSIGNAL))
                guard n > 0 else { throw posixError("send") }
                offset += n
            }
        }
    }

    public func send(_ text: String) throws { try self.send(Data(text.utf8)) }

    /// Reads until the peer's FIN; throws on timeout or reset.
    public func receiveAll() throws -> Data {
        var result = Data()
        while let chunk = try self.receiveSome() { result.append(chunk) }
        return result
    }

    /// Reads at least `count` bytes (or until FIN).
    public func receive(count: Int) throws -> Data {
        var result = Data()
        while result.count < count, let chunk = try self.receiveSome(max: count - result.count) { result.append(chunk) }
        return result
    }

    /// One read: nil at end of stream.
    public func receiveSome(max: Int = 65536) throws -> Data? {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let n = Glibc.recv(self.fd, &buffer, max, 0)
            if n > 0 { return Data(buffer[0..<n]) }
            if n == 0 { return nil }
            if errno == EINTR { continue }
            throw posixError("recv")
        }
    }

    /// One datagram and its sender's port.
    public func receiveDatagram(max: Int = 65536) throws -> (Data, Int) {
        var buffer = [UInt8](repeating: 0, count: max)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { recvfrom(self.fd, &buffer, max, 0, $0, &length) }
        }
        guard n >= 0 else { throw posixError("recvfrom") }
        return (Data(buffer[0..<n]), TestSocket.port(of: storage))
    }

    /// Sends one datagram to `host`:`port`.
    public func sendDatagram(_ data: Data, host: String = "127.0.0.1", port: Int) throws {
        let (storage, length, _) = try TestSocket.sockaddr(host: host, port: port)
        var address = storage
        let n = data.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                    sendto(self.fd, buffer.baseAddress, buffer.count, 0, $0, length)
                }
            }
        }
        guard n == data.count else { throw posixError("sendto") }
    }

    /// Sends FIN.
    public func shutdownWrite() { _ = Glibc.shutdown(self.fd, CInt(SHUT_WR)) }

    /// Closes with an RST instead of a FIN (SO_LINGER 0).
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(self.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        self.close()
    }

    public func close() {
        if self.fd >= 0 { Glibc.close(self.fd) }
        self.fd = -1
    }

    static func sockaddr(host: String, port: Int) throws -> (sockaddr_storage, socklen_t, CInt) {
        var storage = sockaddr_storage()
        if host.contains(":") {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1 else { throw HarnessError("bad address \(host)") }
            withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee = sin6 } }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size), AF_INET6)
        }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, host, &sin.sin_addr) == 1 else { throw HarnessError("bad address \(host)") }
        withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee = sin } }
        return (storage, socklen_t(MemoryLayout<sockaddr_in>.size), AF_INET)
    }
}

func posixError(_ what: String) -> HarnessError {
    HarnessError("\(what): \(String(cString: strerror(errno)))")
}

extension TestSocket {
    /// ``receiveAll()`` off the cooperative pool.
    public func receiveAllAsync() async throws -> Data { try await Blocking.run { try self.receiveAll() } }
    /// ``receive(count:)`` off the cooperative pool.
    public func receiveAsync(count: Int) async throws -> Data { try await Blocking.run { try self.receive(count: count) } }
}

extension Data {
    /// The bytes as UTF-8 text, for assertions.
    public var text: String { String(decoding: self, as: UTF8.self) }
}
