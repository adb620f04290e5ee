#define _GNU_SOURCE
#include <spawn.h>
#include <fcntl.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "CSpawn.h"

int cspawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int cspawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}

int cspawn_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int cspawn_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    // syscall(2) is variadic, which Swift cannot call; flags 0 is the only value the kernel
    // accepts besides PIDFD_NONBLOCK, and the descriptor it returns is always close-on-exec.
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    // Built against kernel headers older than Linux 5.3: behave like a kernel without it.
    errno = ENOSYS;
    return -1;
#endif
}
