// The types that TinCan's API speaks in, so that `import TinCan` is enough to use it:
// bytes as NIO's ByteBuffer (with `String(buffer:)` and `ByteBuffer(string:)`), addresses as
// SocketAddress, and the one error type with its kinds.
@_exported import struct NIOCore.ByteBuffer
@_exported import enum NIOCore.SocketAddress
@_exported import struct TinCanCore.TinCanError
