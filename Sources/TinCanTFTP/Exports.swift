// The types that TinCanTFTP's API speaks in, so that `import TinCanTFTP` is enough to use it: file
// contents as NIO's ByteBuffer (TFTPFileReader, TFTPFileWriter) and servers' addresses as
// SocketAddress (TFTPClient.get and put).
@_exported import struct NIOCore.ByteBuffer
@_exported import enum NIOCore.SocketAddress
