#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTinCanShims
import TinCanCLI

// A peer or a reader of our stdout that goes away must give us EPIPE to handle, not kill us.
signal(SIGPIPE, SIG_IGN)
// Password checks (scrypt) take 16 MiB each: give such blocks back when freed (see the shim).
ctincan_return_large_allocations()
await TinCanCommand.runFromCommandLine()
