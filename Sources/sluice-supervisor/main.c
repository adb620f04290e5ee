// sluice-supervisor: runs one task attempt outside Sluice's process and session, captures its
// output into a size-capped log, enforces its timeout and stop signals, and appends the outcome
// durably to the job's status journal. The behaviour is specified in docs/supervisor.md.
//
// Single-threaded, one poll(2) loop over a signalfd and the output pipe; no allocation besides
// the log's tail buffer; no stdio streams.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log_capture.h"
#include "options.h"
#include "spawn.h"
#include "status.h"
#include "supervisor.h"

/// How long output is still read after the task's leader was reaped: a child that left the
/// process group (setsid) may hold the pipe open forever.
#define DRAIN_NS NANOSECONDS_PER_SECOND

/// Bytes read from the pipe at a time (static: no allocation; pages are touched only when used).
static unsigned char buffer[64 * 1024];

/// The state of a running task.
struct supervision {
    pid_t pid;              // the leader, and its process group
    int output_fd;          // the pipe's read end, -1 after end-of-file
    int signal_fd;
    int64_t grace_ns;
    int reaped;
    int wait_status;
    int terminating;        // SIGTERM has been sent to the group
    int64_t kill_at;        // when SIGKILL follows; -1 if not scheduled
    int64_t timeout_at;     // when the timeout fires; -1 if none (or fired, or the leader exited)
    int64_t drain_until;    // after the leader was reaped: when reading stops
    struct log_capture *log;
    struct outcome *outcome;
};

/// Makes sure descriptors 0, 1 and 2 are open (on /dev/null if they were closed), so that every
/// descriptor the supervisor creates is above 2 and the child's dup2 onto 0, 1 and 2 cannot
/// clobber one of them (the pipe, the error pipe), nor a usage message land in the log.
static void open_standard_descriptors(void) {
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        int opened;
        do opened = open("/dev/null", O_RDWR);  // the lowest free number: `fd` itself
        while (opened < 0 && errno == EINTR);
        // If /dev/null cannot be opened the child's own open of it fails and is reported; if it
        // somehow came back above `fd`, leave it (harmless: closed at execve by the child).
        if (opened < 0) return;
    }
}

/// Sends `signal` to the task's process group.
static void signal_group(pid_t pgid, int signal) {
    // Never kill(0) or kill(-1): that would hit the supervisor or everyone.
    if (pgid <= 1) return;
    // ESRCH (the group is empty) is the expected end; EPERM (a member changed its credentials)
    // cannot be helped. Either way there is nothing more to do, so the result is not used.
    (void)kill(-pgid, signal);
}

/// Starts stopping the task (stop signal or timeout), once: SIGTERM now, SIGKILL after the grace.
static void terminate(struct supervision *s, int64_t now) {
    if (s->terminating) return;
    s->terminating = 1;
    signal_group(s->pid, SIGTERM);
    s->kill_at = now + s->grace_ns;
}

/// Reaps the leader if it has exited: SIGKILL to its group first, then waitpid.
static void reap_if_exited(struct supervision *s, int64_t now) {
    if (s->reaped) return;
    siginfo_t info;
    memset(&info, 0, sizeof info);  // with WNOHANG, si_pid stays 0 while the child runs
    int result;
    // WNOWAIT: look without reaping. While the leader is an unreaped zombie its pid (= the group
    // id) cannot be reused, so the SIGKILL below cannot reach a stranger's group.
    do result = waitid(P_PID, (id_t)s->pid, &info, WEXITED | WNOHANG | WNOWAIT);
    while (result < 0 && errno == EINTR);  // EINTR: interrupted; retry
    if (result < 0) {
        // ECHILD cannot happen (nothing else reaps it); if it did, the task is gone unobserved.
        s->reaped = 1;
        s->wait_status = -1;
    } else {
        if (info.si_pid == 0) return;  // still running (SIGCHLD also comes for stop/continue)
        // Background children the leader left would otherwise run on unsupervised, and keep
        // the pipe open until the drain time runs out.
        signal_group(s->pid, SIGKILL);
        int status = 0;
        pid_t reaped;
        do reaped = waitpid(s->pid, &status, 0);  // a zombie: returns at once
        while (reaped < 0 && errno == EINTR);
        s->reaped = 1;
        s->wait_status = reaped == s->pid ? status : -1;
    }
    s->outcome->finished_at_ms = realtime_ms();
    s->drain_until = now + DRAIN_NS;
    s->kill_at = -1;
    s->timeout_at = -1;
}

/// Reads every pending signal from the signalfd and acts on it.
static void handle_signals(struct supervision *s, int64_t now) {
    for (;;) {
        struct signalfd_siginfo infos[8];
        ssize_t n = read(s->signal_fd, infos, sizeof infos);
        if (n < 0 && errno == EINTR) continue;  // interrupted; retry
        // EAGAIN: nothing left (the signalfd is non-blocking). Any other error cannot happen on
        // a signalfd we own; stop reading rather than spin.
        if (n <= 0) return;
        for (size_t i = 0; i < (size_t)n / sizeof infos[0]; i++) {
            int signo = (int)infos[i].ssi_signo;
            if (signo == SIGCHLD) {
                // Several exits may share one SIGCHLD; there is only one child to look at.
                reap_if_exited(s, now);
            } else if (!s->reaped && s->outcome->stop_signal == 0) {
                // SIGTERM, SIGINT or SIGHUP: the first one is recorded and starts the stop.
                // After the leader was reaped the task is over, and a stop changes nothing.
                s->outcome->stop_signal = signo;
                terminate(s, now);
            }
        }
    }
}

/// Reads one chunk of output into the log; closes the pipe at end-of-file.
static void read_output(struct supervision *s) {
    ssize_t n;
    do n = read(s->output_fd, buffer, sizeof buffer);
    while (n < 0 && errno == EINTR);  // interrupted before any data; retry
    if (n > 0) {
        capture_append(s->log, buffer, (size_t)n);
        return;
    }
    // n == 0: end-of-file, every writer is gone. A read error cannot happen on our pipe (EAGAIN
    // neither: it is blocking and poll said readable); treat it as end-of-file rather than spin.
    (void)close_once(s->output_fd);  // nothing to report: we only read from it
    s->output_fd = -1;
}

/// `deadline` as a poll(2) timeout from `now`: whole milliseconds, rounded up so that the wait
/// does not end just before the deadline and spin; -1 (forever) without a deadline.
static int poll_timeout(int64_t deadline, int64_t now) {
    if (deadline < 0) return -1;
    if (deadline <= now) return 0;
    int64_t ms = (deadline - now + 999999) / 1000000;
    return ms > 24 * 3600 * 1000 ? 24 * 3600 * 1000 : (int)ms;  // a day at most: then recompute
}

static int64_t earliest(int64_t a, int64_t b) {
    if (a < 0) return b;
    if (b < 0) return a;
    return a < b ? a : b;
}

/// The poll loop: until the leader is reaped and the pipe is at end-of-file (or drained for
/// DRAIN_NS).
static void supervise(struct supervision *s) {
    for (;;) {
        int64_t now = monotonic_ns();
        if (s->reaped && (s->output_fd < 0 || now >= s->drain_until)) break;
        if (s->timeout_at >= 0 && now >= s->timeout_at) {
            s->timeout_at = -1;
            s->outcome->timed_out = 1;
            terminate(s, now);
        }
        if (s->kill_at >= 0 && now >= s->kill_at) {
            s->kill_at = -1;
            signal_group(s->pid, SIGKILL);
        }
        capture_rewrite_if_due(s->log, now, 0);

        int64_t deadline = earliest(earliest(s->timeout_at, s->kill_at), capture_next_rewrite(s->log));
        if (s->reaped) deadline = earliest(deadline, s->drain_until);
        // A negative fd makes poll skip the entry: the pipe after end-of-file.
        struct pollfd fds[2] = {
            {.fd = s->signal_fd, .events = POLLIN},
            {.fd = s->output_fd, .events = POLLIN},
        };
        int ready = poll(fds, 2, poll_timeout(deadline, now));
        if (ready < 0) {
            if (errno == EINTR) continue;  // the deadlines are recomputed on the next pass
            // ENOMEM (the only other error with two valid entries): wait a little and retry,
            // rather than stop supervising.
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
            (void)nanosleep(&pause, NULL);  // an early wake-up only retries sooner
            continue;
        }
        now = monotonic_ns();
        if (fds[0].revents != 0) handle_signals(s, now);
        // A pipe reports POLLHUP once every writer is gone, possibly together with POLLIN while
        // data is left, so any event means "read": only read() == 0 is end-of-file.
        if (s->output_fd >= 0 && fds[1].revents != 0) read_output(s);
    }
    if (s->output_fd >= 0) {
        (void)close_once(s->output_fd);  // drain time over: whatever is left is dropped
        s->output_fd = -1;
    }
}

int main(int argc, char **argv) {
    open_standard_descriptors();

    // signalfd only sees signals that are blocked (otherwise they are delivered the usual way,
    // which for SIGTERM means death before any outcome is written), so block them first thing.
    // SIGCHLD too: blocked before fork, a child that exits at once is still noticed.
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    // SIGPIPE is blocked too (and never read): a message to a stderr whose reader is gone must
    // fail with EPIPE, not kill the supervisor before it appends its outcome to the journal.
    sigset_t blocked = handled;
    sigaddset(&blocked, SIGPIPE);
    int setup_step = STEP_NONE, setup_error = 0;
    if (sigprocmask(SIG_BLOCK, &blocked, NULL) < 0) {
        setup_step = STEP_SIGPROCMASK;
        setup_error = errno;
    }

    struct options options;
    if (parse_options(argc, argv, &options) != 0) return EXIT_BAD_USAGE;

    // Out of Sluice's session and process group, so a signal to either never reaches us.
    // Sluice starts us with POSIX_SPAWN_SETSID already, and setsid() then fails with EPERM, as
    // it does for any process group leader (started by a shell with job control, say): we are
    // in a group of our own then, which is what matters, so EPERM is not an error.
    (void)setsid();

    struct outcome outcome = {.run_key = options.run_key, .exit_status = -1};
    struct log_capture log;
    capture_open(&log, options.log_path, options.head_bytes, options.tail_bytes, monotonic_ns());

    // SIGCHLD inherited as SIG_IGN (or with SA_NOCLDWAIT) makes the kernel reap the child
    // itself: waitid would then fail and the exit status be lost. So SIG_DFL, flags 0. SIGTERM,
    // SIGINT and SIGHUP need no reset: the kernel never discards a blocked signal as ignored,
    // so they reach the signalfd even if inherited as SIG_IGN.
    if (setup_step == STEP_NONE) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = SIG_DFL;
        if (sigaction(SIGCHLD, &action, NULL) < 0) {
            setup_step = STEP_SIGACTION;
            setup_error = errno;
        }
    }
    int signal_fd = -1;
    if (setup_step == STEP_NONE) {
        // Non-blocking, so the loop can read every pending signal until EAGAIN; close-on-exec,
        // so the task never holds it.
        signal_fd = signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC);
        if (signal_fd < 0) {
            setup_step = STEP_SIGNALFD;
            setup_error = errno;
        }
    }

    outcome.started_at_ms = realtime_ms();
    int64_t started = monotonic_ns();
    struct spawned_task task = {.step = setup_step, .error = setup_error, .output_fd = -1};
    if (setup_step == STEP_NONE) spawn_task(&options, &task);
    outcome.task_pid = task.pid;

    if (task.step != STEP_NONE) {
        outcome.finished_at_ms = realtime_ms();
        outcome.spawn_error = spawn_step_name(task.step);
        outcome.spawn_errno = task.error;
        // The log holds one line: sluice: cannot start ARGV0 in DIR: <strerror> (STEP, errno N)
        const char *text = strerror(task.error);
        char suffix[256];
        int length = snprintf(suffix, sizeof suffix, ": %s (%s, errno %d)\n", text, outcome.spawn_error, task.error);
        if (length < 0 || (size_t)length >= sizeof suffix) length = (int)strlen(suffix);
        struct iovec line[] = {
            {.iov_base = "sluice: cannot start ", .iov_len = strlen("sluice: cannot start ")},
            {.iov_base = options.argv[0], .iov_len = strlen(options.argv[0])},
            {.iov_base = " in ", .iov_len = 4},
            {.iov_base = (void *)options.directory, .iov_len = strlen(options.directory)},
            {.iov_base = suffix, .iov_len = (size_t)length},
        };
        capture_write_message(&log, line, (int)(sizeof line / sizeof line[0]));
    } else {
        struct supervision s = {
            .pid = task.pid,
            .output_fd = task.output_fd,
            .signal_fd = signal_fd,
            .grace_ns = options.grace_ns,
            .kill_at = -1,
            .timeout_at = options.timeout_ns > 0 ? started + options.timeout_ns : -1,
            .drain_until = -1,
            .log = &log,
            .outcome = &outcome,
        };
        supervise(&s);
        if (s.wait_status >= 0 && WIFEXITED(s.wait_status)) outcome.exit_status = WEXITSTATUS(s.wait_status);
        if (s.wait_status >= 0 && WIFSIGNALED(s.wait_status)) outcome.exit_signal = WTERMSIG(s.wait_status);
    }

    capture_finish(&log, monotonic_ns());
    outcome.log_bytes = log.total;
    outcome.log_omitted = capture_omitted(&log);
    outcome.log_failure = log.failure;
    return append_status(options.journal_path, &outcome) == 0 ? 0 : EXIT_NO_STATUS;
}
