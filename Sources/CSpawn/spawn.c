#define _GNU_SOURCE
#include <spawn.h>
#include <fcntl.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <signal.h>
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

int cspawn_pidfd_send_signal(int pidfd, int sig) {
#ifdef SYS_pidfd_send_signal
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int cspawn_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int cspawn_epoll_add(int epfd, int fd, unsigned long long token) {
    struct epoll_event event = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = token };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int cspawn_epoll_wait(int epfd, unsigned long long *tokens, int max, int timeout) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, events, max, timeout);
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}

int cspawn_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC);
}

int cspawn_posix_spawn_setsid(void) {
    return POSIX_SPAWN_SETSID;
}
