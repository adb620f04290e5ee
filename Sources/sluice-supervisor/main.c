// sluice-supervisor: runs one task attempt for Sluice and outlives it. See docs/supervisor.md.
//
// Single-threaded, one poll(2) loop, no allocation besides the tail buffer: starting it must cost
// about what starting the task costs.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

extern char **environ;

#define EX_USAGE 64
#define EX_SOFTWARE 70

static void usage(const char *why) {
    // One line on stderr: Sluice's own stderr (its journal or lighttpd's error log).
    dprintf(2, "sluice-supervisor: %s\n", why);
    exit(EX_USAGE);
}

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t realtime_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/// Parses a non-negative decimal integer; -1 if it is not one.
static long long parse_count(const char *text) {
    if (*text == '\0') return -1;
    long long value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (value > (LLONG_MAX - 9) / 10) return -1;
        value = value * 10 + (*p - '0');
    }
    return value;
}

/// Parses seconds as "D", "D." or "D.FFF" (plain decimal, no sign or exponent) into milliseconds;
/// -1 if malformed.
static long long parse_seconds(const char *text) {
    long long whole = 0, millis = 0;
    const char *p = text;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > 1000000000LL) return -1;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        p++;
        int digits = 0;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3) millis = millis * 10 + (*p - '0');
        }
        for (; digits < 3; digits++) millis *= 10;
    }
    if (*p != '\0') return -1;
    return whole * 1000 + millis;
}

/// Writes all of `len` bytes to `fd` (write(2) may write less; EINTR is retried). 0 or -1.
static int write_all(int fd, const char *bytes, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, bytes, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        bytes += n;
        len -= (size_t)n;
    }
    return 0;
}

struct outcome {
    const char *run_key;
    pid_t task_pid;
    int64_t started_at_ms, finished_at_ms;
    int exited, exit_status, signalled, exit_signal;
    int timed_out, stop_signal;
    const char *spawn_step;
    int spawn_errno;
};

/// Writes the status file: PATH.tmp, fsync, rename, fsync of the directory. 0 or -1.
static int write_status(const char *path, const struct outcome *o, const struct capture *log) {
    char text[8192];
    int n = 0;
#define ADD(...) n += snprintf(text + n, sizeof text - (size_t)n, __VA_ARGS__)
    ADD("version=1\nrun_key=%s\n", o->run_key);
    if (o->task_pid > 0) ADD("task_pid=%d\n", (int)o->task_pid);
    ADD("started_at_ms=%lld\nfinished_at_ms=%lld\n", (long long)o->started_at_ms, (long long)o->finished_at_ms);
    if (o->exited) ADD("exit_status=%d\n", o->exit_status);
    if (o->signalled) ADD("exit_signal=%d\n", o->exit_signal);
    if (o->timed_out) ADD("timed_out=1\n");
    if (o->stop_signal) ADD("stop_signal=%d\n", o->stop_signal);
    ADD("log_bytes=%lld\nlog_omitted=%lld\n", (long long)log->total, (long long)capture_omitted(log));
    if (log->failure[0]) ADD("log_failure=%s\n", log->failure);
    if (o->spawn_step) ADD("spawn_error=%s\nspawn_errno=%d\n", o->spawn_step, o->spawn_errno);
#undef ADD
    if (n < 0 || (size_t)n >= sizeof text) return -1;

    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -1;
    int fd;
    do fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return -1;
    // fsync before rename: otherwise a crash may leave the new name pointing at an empty file.
    if (write_all(fd, text, (size_t)n) != 0 || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);  // never retried on EINTR: Linux has released the descriptor anyway
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    // fsync of the directory makes the rename itself durable.
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/// In the forked child: reports the failed step and errno to the parent and exits 127.
static void child_fail(int errpipe, const char *step) {
    int saved = errno;
    char message[64];
    int n = snprintf(message, sizeof message, "%s\n%d", step, saved);
    if (n > 0) write_all(errpipe, message, (size_t)n);
    _exit(127);
}

/// In the forked child: becomes the task. Never returns.
static void become_task(pid_t supervisor, int outfd, int errpipe, const char *cwd, const char *program, char **argv) {
    // Its own process group (pgid = pid), so cancel and timeouts reach its children too. The
    // parent calls setpgid as well: whichever runs first wins, and both agree.
    if (setpgid(0, 0) != 0) child_fail(errpipe, "setpgid");
    // If the supervisor dies (SIGKILL), the task gets SIGKILL: no task runs unsupervised.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(errpipe, "prctl");
    // PDEATHSIG only covers deaths after the prctl: if the supervisor died before, we were
    // already reparented.
    if (getppid() != supervisor) _exit(127);
    // Every signal at its default: ignored signals survive exec, and the supervisor ignores
    // none, but it may have inherited some (nohup, a shell's background job). sigaction fails
    // with EINVAL for SIGKILL, SIGSTOP and glibc's internal signals; that is fine.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < _NSIG; s++) sigaction(s, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    // The supervisor blocks the signals its signalfd reads; the mask survives exec.
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0) child_fail(errpipe, "sigprocmask");
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) child_fail(errpipe, "open /dev/null");
    if (dup2(devnull, 0) < 0) child_fail(errpipe, "dup2");
    if (dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0) child_fail(errpipe, "dup2");
    if (chdir(cwd) != 0) child_fail(errpipe, "chdir");
    // Every other descriptor the supervisor holds is close-on-exec, including the error pipe,
    // whose closing at exec tells the parent the exec succeeded.
    execve(program, argv, environ);
    child_fail(errpipe, "execve");
}

int main(int argc, char **argv) {
    const char *run_key = NULL, *log_path = NULL, *status_path = NULL, *cwd = NULL;
    long long head = -1, tail = -1, grace_ms = -1, timeout_ms = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *option = argv[i];
        if (strcmp(option, "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc) usage("option without a value");
        const char *value = argv[++i];
        if (strcmp(option, "--run-key") == 0) run_key = value;
        else if (strcmp(option, "--log") == 0) log_path = value;
        else if (strcmp(option, "--status") == 0) status_path = value;
        else if (strcmp(option, "--cwd") == 0) cwd = value;
        else if (strcmp(option, "--head") == 0) {
            if ((head = parse_count(value)) < 0) usage("--head needs a whole number of bytes");
        } else if (strcmp(option, "--tail") == 0) {
            if ((tail = parse_count(value)) < 0) usage("--tail needs a whole number of bytes");
        } else if (strcmp(option, "--grace") == 0) {
            if ((grace_ms = parse_seconds(value)) < 0) usage("--grace needs seconds");
        } else if (strcmp(option, "--timeout") == 0) {
            if ((timeout_ms = parse_seconds(value)) <= 0) usage("--timeout needs seconds > 0");
        } else usage("unknown option");
    }
    if (!run_key || !log_path || !status_path || !cwd || head < 0 || tail < 0 || grace_ms < 0)
        usage("missing option (--run-key, --log, --status, --head, --tail, --grace, --cwd are required)");
    if (i + 1 >= argc) usage("expected -- PROGRAM ARGV0 [ARG...]");
    const char *program = argv[i];
    char **task_argv = argv + i + 1;
    if (program[0] != '/') usage("PROGRAM must be an absolute path");
    if (strchr(run_key, '\n')) usage("--run-key must not contain a newline");

    // Sluice starts us with POSIX_SPAWN_SETSID; when started otherwise, leave the caller's
    // session so its end or its process-group signals do not reach us.
    if (getsid(0) != getpid()) setsid();

    // Signals are read through a signalfd, which only sees blocked signals.
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    sigprocmask(SIG_BLOCK, &handled, NULL);
    // A write to a closed pipe must be an EPIPE, not our death (we only write files, but still).
    signal(SIGPIPE, SIG_IGN);
    int sigfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);

    struct capture log;
    capture_open(&log, log_path, head, tail);

    struct outcome o;
    memset(&o, 0, sizeof o);
    o.run_key = run_key;
    o.started_at_ms = realtime_ms();

    int out[2], errpipe[2];
    if (sigfd < 0) {
        o.spawn_step = "signalfd";
        o.spawn_errno = errno;
    } else if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errpipe, O_CLOEXEC) != 0) {
        o.spawn_step = "pipe";
        o.spawn_errno = errno;
    } else {
        pid_t self = getpid();
        pid_t child = fork();
        if (child < 0) {
            o.spawn_step = "fork";
            o.spawn_errno = errno;
        } else if (child == 0) {
            become_task(self, out[1], errpipe[1], cwd, program, task_argv);
        } else {
            setpgid(child, child);  // see become_task: either side may run first
            o.task_pid = child;
            // Our copies of the write ends must go: end-of-file only comes once every writer
            // is gone.
            close(out[1]);
            close(errpipe[1]);
            char report[64];
            ssize_t n;
            do n = read(errpipe[0], report, sizeof report - 1);
            while (n < 0 && errno == EINTR);
            close(errpipe[0]);
            if (n > 0) {
                // "step\nerrno": the exec did not happen.
                report[n] = '\0';
                char *newline = strchr(report, '\n');
                static char step[32];
                if (newline) *newline = '\0';
                snprintf(step, sizeof step, "%s", report);
                o.spawn_step = step;
                o.spawn_errno = newline ? atoi(newline + 1) : 0;
                int status;
                while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
                close(out[0]);
            } else {
                // The task runs: copy its output, watch its deadlines, wait for it.
                int64_t start = monotonic_ms();
                int64_t timeout_at = timeout_ms > 0 ? start + timeout_ms : -1;
                int64_t kill_at = -1, drain_until = -1;
                int reaped = 0, output_open = 1;
                char buffer[65536];
                for (;;) {
                    int64_t now = monotonic_ms();
                    if (reaped && (!output_open || now >= drain_until)) break;
                    if (!reaped && timeout_at >= 0 && now >= timeout_at && !o.timed_out && !o.stop_signal) {
                        o.timed_out = 1;
                        kill(-child, SIGTERM);
                        kill_at = now + grace_ms;
                    }
                    if (!reaped && kill_at >= 0 && now >= kill_at) {
                        kill(-child, SIGKILL);
                        kill_at = -1;
                    }
                    int64_t next = -1;
#define SOONER(t) \
    if ((t) >= 0 && (next < 0 || (t) < next)) next = (t)
                    if (!reaped && !o.timed_out && !o.stop_signal) SOONER(timeout_at);
                    if (!reaped) SOONER(kill_at);
                    if (reaped) SOONER(drain_until);
                    SOONER(capture_next_rewrite(&log));
#undef SOONER
                    int wait_ms = next < 0 ? -1 : (int)(next > now ? (next - now > INT_MAX ? INT_MAX : next - now) : 0);
                    struct pollfd fds[2] = {
                        {.fd = output_open ? out[0] : -1, .events = POLLIN},
                        {.fd = reaped ? -1 : sigfd, .events = POLLIN},
                    };
                    int ready = poll(fds, 2, wait_ms);
                    if (ready < 0 && errno != EINTR) break;
                    // POLLHUP may come with data left: any event means "read"; 0 is end-of-file.
                    if (ready > 0 && fds[0].revents) {
                        ssize_t got = read(out[0], buffer, sizeof buffer);
                        if (got > 0) capture_append(&log, buffer, (size_t)got);
                        else if (got == 0 || (errno != EINTR && errno != EAGAIN)) output_open = 0;
                    }
                    if (ready > 0 && fds[1].revents) {
                        struct signalfd_siginfo info;
                        while (read(sigfd, &info, sizeof info) == (ssize_t)sizeof info) {
                            int sig = (int)info.ssi_signo;
                            if (sig == SIGCHLD || reaped) continue;
                            if (!o.stop_signal) {
                                o.stop_signal = sig;
                                kill(-child, SIGTERM);
                                if (kill_at < 0) kill_at = monotonic_ms() + grace_ms;
                            }
                        }
                        // SIGCHLD (or a missed one): reap if the leader has exited.
                        int status;
                        pid_t r;
                        do r = waitpid(child, &status, WNOHANG);
                        while (r < 0 && errno == EINTR);
                        if (r == child) {
                            reaped = 1;
                            o.finished_at_ms = realtime_ms();
                            if (WIFEXITED(status)) {
                                o.exited = 1;
                                o.exit_status = WEXITSTATUS(status);
                            } else {
                                o.signalled = 1;
                                o.exit_signal = WTERMSIG(status);
                            }
                            // The task is over once its leader is: background children it left
                            // in its group would otherwise run unsupervised. The group id stays
                            // reserved while any member lives, so it names no stranger.
                            kill(-child, SIGKILL);
                            drain_until = monotonic_ms() + 1000;
                        }
                    }
                    capture_rewrite_if_due(&log, 0);
                }
                close(out[0]);
            }
        }
    }
    if (!o.finished_at_ms) o.finished_at_ms = realtime_ms();
    if (o.spawn_step) {
        char line[PATH_MAX + 512];
        int n = snprintf(line, sizeof line, "sluice: cannot start %s in %s: %s (%s, errno %d)\n", task_argv[0], cwd,
                         strerror(o.spawn_errno), o.spawn_step, o.spawn_errno);
        if (n > 0) capture_append(&log, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    capture_finish(&log);
    if (write_status(status_path, &o, &log) != 0) {
        dprintf(2, "sluice-supervisor: cannot write %s: %s\n", status_path, strerror(errno));
        return EX_SOFTWARE;
    }
    return 0;
}
