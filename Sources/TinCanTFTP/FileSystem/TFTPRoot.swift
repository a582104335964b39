#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The directory a TFTP server serves, as a jail: every requested name is resolved to a real path
/// and checked, component by component, to lie inside the root.
///
/// - A leading `/` is allowed and means the root, the way tftp-hpa's `-s` (chroot) treats it;
///   a name that starts with the root's own absolute path is taken relative to it as well.
/// - Refused with ERROR 2 (access violation): `..` components, NUL bytes, names longer than
///   ``maxNameLength``, and names whose real path (after following every symlink) is outside the
///   root. Symlinks that stay inside the root are followed.
///
/// The check is made on the real path, not on the string, so `a/../../etc` and a symlink to
/// `/etc` are both caught. A symlink swapped in between the check and the open is the remaining
/// race; the server opens the checked real path, never the requested name.
public struct TFTPRoot: Sendable {
    /// The root's real path (symlinks resolved), without a trailing slash.
    public let path: String
    private let components: [Substring]

    /// The longest name accepted, in bytes (a PATH_MAX-sized path is far beyond any boot file).
    public static let maxNameLength = 1024

    /// - Throws: ``TFTPError`` when `directory` does not exist or is not a directory.
    public init(_ directory: String) throws(TFTPError) {
        guard let real = TFTPRoot.realPath(directory) else {
            throw TFTPError(.fileNotFound, "root directory \(directory) does not exist")
        }
        var info = stat()
        guard stat(real, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw TFTPError(.accessViolation, "root \(directory) is not a directory")
        }
        self.path = real == "/" ? "" : real
        self.components = real.split(separator: "/")
    }

    /// The real path of the file `name` names, checked to lie inside the root.
    ///
    /// - Parameter forWriting: the file may not exist yet; then its directory must.
    /// - Throws: ``TFTPError``: ERROR 2 for names that leave the root or are malformed, ERROR 1
    ///   when the file (or, for writing, its directory) does not exist.
    public func resolve(_ name: String, forWriting: Bool = false) throws(TFTPError) -> String {
        guard !name.isEmpty else { throw TFTPError(.accessViolation, "empty file name") }
        guard name.utf8.count <= Self.maxNameLength else {
            throw TFTPError(.accessViolation, "file name longer than \(Self.maxNameLength) bytes")
        }
        guard !name.utf8.contains(0) else { throw TFTPError(.accessViolation, "file name contains a NUL byte") }
        var relative = Substring(name)
        if !self.path.isEmpty, relative.hasPrefix(self.path + "/") {
            relative = relative.dropFirst(self.path.utf8.count + 1)
        }
        let parts = relative.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !parts.contains("..") else { throw TFTPError(.accessViolation, "'..' is not allowed in file names") }
        guard let last = parts.last else { throw TFTPError(.accessViolation, "'\(name)' names a directory") }
        let candidate = self.path + "/" + parts.joined(separator: "/")

        if let real = TFTPRoot.realPath(candidate) {
            try self.checkInside(real, name: name)
            var info = stat()
            if stat(real, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                throw TFTPError(.accessViolation, "'\(name)' names a directory")
            }
            return real
        }
        // The file does not exist, or it is a symlink whose target does not exist.
        var linkInfo = stat()
        if lstat(candidate, &linkInfo) == 0, (linkInfo.st_mode & S_IFMT) == S_IFLNK {
            throw TFTPError(.accessViolation, "'\(name)' is a dangling symlink")
        }
        guard forWriting else { throw TFTPError(.fileNotFound, "'\(name)' not found") }
        let parent = self.path + "/" + parts.dropLast().joined(separator: "/")
        guard let realParent = TFTPRoot.realPath(parent) else {
            throw TFTPError(.fileNotFound, "directory of '\(name)' not found")
        }
        try self.checkInside(realParent, name: name, allowRoot: true)
        return (realParent == "/" ? "" : realParent) + "/" + last
    }

    private func checkInside(_ real: String, name: String, allowRoot: Bool = false) throws(TFTPError) {
        let parts = real.split(separator: "/")
        let inside = parts.count >= self.components.count && Array(parts.prefix(self.components.count)) == self.components
        guard inside, allowRoot || parts.count > self.components.count else {
            throw TFTPError(.accessViolation, "'\(name)' is outside the served directory")
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
