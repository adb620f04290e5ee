#ifndef CSPAWN_H
#define CSPAWN_H
#include <spawn.h>

// glibc declares these two file actions only under _GNU_SOURCE, which Swift's Glibc module does
// not define; these wrappers are compiled with it (see spawn.c). Both exist since glibc 2.34.

/// Makes the child chdir(2) to `path` before exec (posix_spawn_file_actions_addchdir_np).
int cspawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// Makes the child close every descriptor >= `lowfd` before exec
/// (posix_spawn_file_actions_addclosefrom_np), so tasks never inherit the FastCGI socket or
/// client connections that libfcgi opened without O_CLOEXEC.
int cspawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd);
#endif
