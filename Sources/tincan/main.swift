#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TinCanCLI

// A peer or a reader of our stdout that goes away must give us EPIPE to handle, not kill us.
signal(SIGPIPE, SIG_IGN)
await TinCanCommand.runFromCommandLine()
