#ifndef CSPAWN_H
#define CSPAWN_H
#include <spawn.h>
#include <sys/types.h>

// glibc declares these two file actions only under _GNU_SOURCE, which Swift's Glibc module does
// not define; these wrappers are compiled with it (see spawn.c). Both exist since glibc 2.34.

/// Makes the child chdir(2) to `path` before exec (posix_spawn_file_actions_addchdir_np).
int cspawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// Makes the child close every descriptor >= `lowfd` before exec
/// (posix_spawn_file_actions_addclosefrom_np), so tasks never inherit the FastCGI socket or
/// client connections that libfcgi opened without O_CLOEXEC.
int cspawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd);

/// pipe2(fds, O_CLOEXEC): a pipe whose two ends are close-on-exec from the moment they exist.
/// pipe2 is another _GNU_SOURCE-only declaration. pipe() followed by fcntl(FD_CLOEXEC) would
/// leave a window in which another thread's fork+exec inherits the write end, and a stray copy
/// of the write end means the reader never sees end-of-file. Returns 0, or -1 with errno set.
int cspawn_pipe_cloexec(int fds[2]);

/// pidfd_open(pid, 0) (Linux 5.3+): a close-on-exec descriptor that refers to process `pid`
/// and becomes readable for poll(2) when it exits. glibc 2.36 only added a pidfd_open()
/// function, and Swift cannot call the variadic syscall(2), hence this wrapper. Returns the
/// descriptor, or -1 with errno set (ENOSYS on older kernels).
int cspawn_pidfd_open(pid_t pid);

/// pidfd_send_signal(pidfd, sig, NULL, 0) (Linux 5.1+): signals the process the pidfd refers to,
/// never a stranger that reused its pid. Another syscall(2)-only call. Returns 0, or -1 with
/// errno set (ESRCH once the process has exited).
int cspawn_pidfd_send_signal(int pidfd, int sig);

/// epoll_create1(EPOLL_CLOEXEC). Returns the descriptor, or -1 with errno set.
int cspawn_epoll_create(void);

/// Adds `fd` to `epfd` for readability, once (EPOLLIN | EPOLLONESHOT), carrying `token`.
/// `struct epoll_event` is packed on x86-64, which Swift imports awkwardly, hence this wrapper.
/// Returns 0, or -1 with errno set.
int cspawn_epoll_add(int epfd, int fd, unsigned long long token);

/// epoll_wait on `epfd` for at most `max` events, storing each event's token in `tokens`.
/// Returns the number of events, or -1 with errno set (EINTR included: the caller retries).
int cspawn_epoll_wait(int epfd, unsigned long long *tokens, int max, int timeout);

/// POSIX_SPAWN_SETSID (glibc 2.26+), which glibc's spawn.h defines only under _GNU_SOURCE:
/// the child calls setsid() before exec.
int cspawn_posix_spawn_setsid(void);

/// eventfd(0, EFD_CLOEXEC): a counter descriptor used to wake an epoll loop.
int cspawn_eventfd(void);
#endif
