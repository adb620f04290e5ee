#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"

const char *spawn_step_name(int step) {
    switch (step) {
    case STEP_PIPE: return "pipe";
    case STEP_FORK: return "fork";
    case STEP_SETPGID: return "setpgid";
    case STEP_PRCTL: return "prctl";
    case STEP_SIGPROCMASK: return "sigprocmask";
    case STEP_SIGACTION: return "sigaction";
    case STEP_OPEN_DEV_NULL: return "open /dev/null";
    case STEP_DUP2: return "dup2";
    case STEP_CHDIR: return "chdir";
    case STEP_CLOSE_RANGE: return "close_range";
    case STEP_EXECVE: return "execve";
    case STEP_SIGNALFD: return "signalfd";
    default: return "unknown";
    }
}

/// In the child: reports `step` and errno through the error pipe and exits 127.
__attribute__((noreturn)) static void child_failed(int error_fd, int step) {
    int32_t message[2] = {step, errno};
    // 8 bytes to a pipe are written whole or not at all (less than PIPE_BUF). If the write fails
    // there is nothing left to do: the parent then reads end-of-file and sees exit status 127.
    (void)write_all(error_fd, message, sizeof message);
    _exit(127);
}

/// dup2 that retries EINTR (possible when it has to close `to` on some file systems).
static int dup2_retrying(int from, int to) {
    int result;
    do result = dup2(from, to);
    while (result < 0 && errno == EINTR);
    return result;
}

/// The child between fork and execve. Single-threaded parent, so anything may be called here.
/// Every descriptor the supervisor made is above 2 (main keeps 0, 1 and 2 open), so none of them
/// is clobbered by the dup2 onto 0, 1 and 2.
__attribute__((noreturn)) static void child(const struct options *options, int output_fd, int error_fd, pid_t supervisor) {
    // Its own process group (pgid = pid), so a stop reaches the task's children too.
    if (setpgid(0, 0) < 0) child_failed(error_fd, STEP_SETPGID);
    // Die with the supervisor: nobody would capture, time out or report the task otherwise.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_failed(error_fd, STEP_PRCTL);
    // The race: if the supervisor died between fork and prctl, the death signal was armed too
    // late and will never come; we have been reparented, so getppid() tells.
    if (getppid() != supervisor) _exit(127);

    // Every signal at its default disposition: ignored signals survive execve, and whatever the
    // supervisor inherited ignored must not reach the task. glibc's sigaction refuses its
    // internal signals 32 and 33 (EINVAL) although they, too, can arrive ignored (posix_spawn
    // without them in its sigdefault set ignores them in the child), so the kernel's
    // rt_sigaction is called directly. An all-zero kernel struct sigaction is SIG_DFL, no flags,
    // an empty mask, whatever its layout. SIGKILL and SIGSTOP cannot be changed (EINVAL).
    // Dispositions first, mask second: once unblocked, a pending stop signal must act by default.
    unsigned long default_action[8] = {0};
    for (int signal = 1; signal < _NSIG; signal++) {
        if (syscall(SYS_rt_sigaction, signal, default_action, NULL, _NSIG / 8) < 0 && errno != EINVAL)
            child_failed(error_fd, STEP_SIGACTION);
    }
    // The mask survives execve, and the supervisor blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP for
    // its signalfd: a task with SIGTERM blocked could not be stopped.
    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, NULL) < 0) child_failed(error_fd, STEP_SIGPROCMASK);

    int null_fd;
    // No O_CLOEXEC: the copy on 0 must survive execve; the original (above 2) is closed below.
    do null_fd = open("/dev/null", O_RDONLY);
    while (null_fd < 0 && errno == EINTR);
    if (null_fd < 0) child_failed(error_fd, STEP_OPEN_DEV_NULL);
    // dup2 clears close-on-exec on the copy only: 0, 1 and 2 survive execve while the pipe's
    // originals (close-on-exec, and closed below anyway) do not.
    if (null_fd != STDIN_FILENO && dup2_retrying(null_fd, STDIN_FILENO) < 0) child_failed(error_fd, STEP_DUP2);
    if (dup2_retrying(output_fd, STDOUT_FILENO) < 0) child_failed(error_fd, STEP_DUP2);
    if (dup2_retrying(output_fd, STDERR_FILENO) < 0) child_failed(error_fd, STEP_DUP2);

    if (chdir(options->directory) < 0) child_failed(error_fd, STEP_CHDIR);

    // Nothing but 0, 1 and 2 reaches the task, whatever the supervisor inherited without
    // close-on-exec. The error pipe stays until execve closes it (it is close-on-exec), which is
    // how the parent learns that execve succeeded. close_range (Linux 5.9, glibc 2.34) closes a
    // range in one call; closefrom(3) would take the error pipe with it.
    if (error_fd > 3 && close_range(3, (unsigned)error_fd - 1, 0) < 0) child_failed(error_fd, STEP_CLOSE_RANGE);
    if (close_range((unsigned)error_fd + 1, ~0U, 0) < 0) child_failed(error_fd, STEP_CLOSE_RANGE);

    extern char **environ;
    // The supervisor's environment is the task's: Sluice passes the task's complete one.
    execve(options->program, options->argv, environ);
    child_failed(error_fd, STEP_EXECVE);
}

static void close_pair(int fds[2]) {
    (void)close_once(fds[0]);  // on an error path: nothing to add to the error being reported
    (void)close_once(fds[1]);
}

void spawn_task(const struct options *options, struct spawned_task *task) {
    *task = (struct spawned_task){.pid = 0, .output_fd = -1, .step = STEP_NONE};
    int output[2], errors[2];
    // O_CLOEXEC everywhere: the task gets the write end only as its stdout and stderr (dup2'd),
    // and must never hold the read end or the error pipe open after execve.
    if (pipe2(output, O_CLOEXEC) < 0) {
        task->step = STEP_PIPE;
        task->error = errno;
        return;
    }
    if (pipe2(errors, O_CLOEXEC) < 0) {
        task->step = STEP_PIPE;
        task->error = errno;
        close_pair(output);
        return;
    }
    pid_t supervisor = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        task->step = STEP_FORK;
        task->error = errno;
        close_pair(output);
        close_pair(errors);
        return;
    }
    if (pid == 0) child(options, output[1], errors[1], supervisor);

    task->pid = pid;
    // The parent must not keep a writer: end-of-file on the pipe comes only once every write end
    // is closed. Errors are ignored: the descriptors are released either way.
    (void)close_once(output[1]);
    (void)close_once(errors[1]);
    // The usual race: either side may run first, so both put the child in its own group; a stop
    // signal sent right after fork then reaches the group even if the child has not run yet.
    // EACCES (the child has already called execve) and ESRCH (it has already exited) are
    // harmless; any other failure shows up in the child's own setpgid, reported below.
    (void)setpgid(pid, pid);

    // Blocks until execve (end-of-file: close-on-exec closed the write end) or a failure report.
    int32_t message[2];
    ssize_t n;
    do n = read(errors[0], message, sizeof message);
    while (n < 0 && errno == EINTR);  // EINTR: interrupted before any data; retry
    (void)close_once(errors[0]);
    // Anything but a whole message (end-of-file, or a read error that cannot happen on a pipe we
    // own) means the task runs: its exit status will tell the rest.
    if (n != (ssize_t)sizeof message) {
        task->output_fd = output[0];
        return;
    }
    task->step = message[0];
    task->error = message[1];
    (void)close_once(output[0]);
    int status = 0;
    pid_t reaped;
    do reaped = waitpid(pid, &status, 0);  // it exits 127 right after writing the message
    while (reaped < 0 && errno == EINTR);
    task->wait_status = status;
}
