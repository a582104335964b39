#ifndef CTINCAN_SHIMS_H
#define CTINCAN_SHIMS_H

#include <spawn.h>

/// Adds a file action that closes every descriptor >= `from` in the child.
///
/// SwiftNIO opens sockets without close-on-exec, so without this every child (an `--exec` command)
/// would inherit every socket of the process and keep other clients' connections open after we
/// close them. glibc's `posix_spawn_file_actions_addclosefrom_np` is a GNU extension that Swift's
/// Glibc module does not import; this shim compiles it with _GNU_SOURCE.
int ctincan_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// Makes malloc hand blocks of 1 MiB and more straight back to the system when freed.
///
/// Checking a chat password (scrypt) takes 16 MiB for a moment. glibc raises its mmap threshold to
/// the largest block freed, so after the first login such blocks would come from the heap and stay
/// in the process (about 50 MiB after a thousand logins); a fixed threshold gives them back.
/// `mallopt` is in malloc.h, which Swift's Glibc module does not import.
void ctincan_return_large_allocations(void);

#endif
