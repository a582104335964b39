#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation

/// Finds the programs tests run: the built `tincan`, and the interop peers (socat, ncat, nc).
public enum Programs {
    /// The `tincan` binary: `$TINCAN_BIN`, or the one built beside the test bundle.
    public static var tincan: String {
        if let path = ProcessInfo.processInfo.environment["TINCAN_BIN"] { return path }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // Test bundles may sit inside a `.xctest` directory on some platforms.
        while directory.pathExtension == "xctest" || directory.lastPathComponent == "Contents" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("tincan").path
    }

    /// True in CI (`CI=true`), where a missing interop peer is a failure rather than a skip.
    public static var inCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"]?.lowercased()
        return value == "true" || value == "1"
    }

    /// The full path of `name` on PATH (or in the sbin directories, where servers such as
    /// in.tftpd live and which a user's PATH may lack), or nil.
    public static func find(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin:/usr/local/sbin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Whether a test that needs the programs `names` should run, for `.enabled(if:)`: true when
    /// all are installed, and always in CI, where the test then fails on a missing one
    /// (``require(_:)``) instead of showing as skipped.
    public static func available(_ names: String...) -> Bool {
        inCI || names.allSatisfy { find($0) != nil }
    }

    /// Whether python3 is here and can import `module` (a PyPI package a test drives), for
    /// `.enabled(if:)` with ``inCI``.
    public static func pythonImports(_ module: String) -> Bool {
        guard let python = find("python3") else { return false }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: python)
        probe.arguments = ["-c", "import \(module)"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }

    /// The full path of an interop peer the test needs; throws when it is missing (a failure: the
    /// test should have been skipped by ``available(_:)`` outside CI).
    public static func require(_ name: String) throws -> String {
        if let path = find(name) { return path }
        throw HarnessError("interop peer '\(name)' is not installed (scripts/test installs it)")
    }
}

/// Test data helpers.
public enum TestData {
    /// `count` pseudo-random bytes from a fixed seed (the same bytes every run).
    public static func random(count: Int, seed: UInt64 = 0x5EED) -> Data {
        var state = seed
        var data = Data(count: count)
        data.withUnsafeMutableBytes { buffer in
            let words = buffer.bindMemory(to: UInt64.self)
            for index in words.indices {
                // SplitMix64: fast, and good enough to defeat any compression on the path.
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                words[index] = z ^ (z >> 31)
            }
            for index in (words.count * 8)..<buffer.count { buffer[index] = UInt8(truncatingIfNeeded: index) }
        }
        return data
    }

    /// Hex SHA-256 of `data`.
    public static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// A self-signed certificate for `localhost` (EC P-256, one day) and its key, PEM files made
    /// by openssl in a fresh directory: (certificate, key).
    public static func localhostCertificate() async throws -> (certificate: String, key: String) {
        let directory = try Self.temporaryDirectory()
        let (certificate, key) = (directory + "/cert.pem", directory + "/key.pem")
        let make = try TestProcess(try Programs.require("openssl"), [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", "/CN=localhost", "-days", "1", "-keyout", key, "-out", certificate,
        ], input: .null)
        guard try await make.waitForExit() == 0 else { throw HarnessError("openssl req failed: \(make.stderr)") }
        return (certificate, key)
    }

    /// A fresh empty directory under the system temporary directory.
    public static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "tincan-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
