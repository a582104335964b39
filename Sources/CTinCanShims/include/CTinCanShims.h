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

#endif
