#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "supervisor.h"

/// Appends formatted text to `buffer` at `*length` (cut at the buffer's end).
__attribute__((format(printf, 4, 5))) static void append(char *buffer, size_t size, size_t *length, const char *format, ...) {
    if (*length >= size) return;
    va_list arguments;
    va_start(arguments, format);
    int n = vsnprintf(buffer + *length, size - *length, format, arguments);
    va_end(arguments);
    if (n > 0) *length += (size_t)n < size - *length ? (size_t)n : size - *length - 1;
}

/// writev until every byte of `pieces` is written (it may write less than asked).
static int writev_all(int fd, struct iovec *pieces, int count) {
    while (count > 0) {
        ssize_t n = writev(fd, pieces, count);
        if (n < 0 && errno == EINTR) continue;  // interrupted before anything was written: retry
        if (n < 0) return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        size_t done = (size_t)n;
        while (count > 0 && done >= pieces->iov_len) {
            done -= pieces->iov_len;
            pieces++;
            count--;
        }
        if (count > 0) {
            pieces->iov_base = (char *)pieces->iov_base + done;
            pieces->iov_len -= done;
        }
    }
    return 0;
}

/// fsync that retries EINTR (it may block for long on a slow disk).
static int fsync_retrying(int fd) {
    int result;
    do result = fsync(fd);
    while (result < 0 && errno == EINTR);
    return result;
}

static int open_retrying(const char *path, int flags, mode_t mode) {
    int fd;
    do fd = open(path, flags, mode);
    while (fd < 0 && errno == EINTR);  // EINTR: interrupted while blocked (slow file system)
    return fd;
}

int write_status(const char *path, const struct outcome *outcome) {
    // Everything but the run key (unbounded, from the command line) fits in a fixed buffer: the
    // numbers are short, and log_failure is at most 255 bytes.
    char rest[1024];
    size_t length = 0;
    if (outcome->task_pid > 0) append(rest, sizeof rest, &length, "task_pid=%d\n", (int)outcome->task_pid);
    append(rest, sizeof rest, &length, "started_at_ms=%lld\nfinished_at_ms=%lld\n", (long long)outcome->started_at_ms,
           (long long)outcome->finished_at_ms);
    if (outcome->exit_status >= 0) append(rest, sizeof rest, &length, "exit_status=%d\n", outcome->exit_status);
    if (outcome->exit_signal > 0) append(rest, sizeof rest, &length, "exit_signal=%d\n", outcome->exit_signal);
    if (outcome->timed_out) append(rest, sizeof rest, &length, "timed_out=1\n");
    if (outcome->stop_signal > 0) append(rest, sizeof rest, &length, "stop_signal=%d\n", outcome->stop_signal);
    append(rest, sizeof rest, &length, "log_bytes=%lld\nlog_omitted=%lld\n", (long long)outcome->log_bytes,
           (long long)outcome->log_omitted);
    if (outcome->log_failure != NULL && outcome->log_failure[0] != '\0') {
        size_t start = length + strlen("log_failure=");
        append(rest, sizeof rest, &length, "log_failure=%s\n", outcome->log_failure);
        // Values never contain a newline: one `key=value` per line.
        for (size_t i = start; i + 1 < length; i++)
            if (rest[i] == '\n' || rest[i] == '\r') rest[i] = ' ';
    }
    if (outcome->spawn_error != NULL)
        append(rest, sizeof rest, &length, "spawn_error=%s\nspawn_errno=%d\n", outcome->spawn_error, outcome->spawn_errno);

    struct iovec pieces[] = {
        {.iov_base = "version=1\nrun_key=", .iov_len = strlen("version=1\nrun_key=")},
        {.iov_base = (void *)outcome->run_key, .iov_len = strlen(outcome->run_key)},
        {.iov_base = "\n", .iov_len = 1},
        {.iov_base = rest, .iov_len = length},
    };

    char temporary[PATH_MAX];  // options.c checked that PATH.tmp fits
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    const char *step = "open";
    // O_CLOEXEC: nothing is exec'd any more, but every descriptor here is opened that way.
    int fd = open_retrying(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) goto failed;
    step = "write";
    if (writev_all(fd, pieces, (int)(sizeof pieces / sizeof pieces[0])) < 0) goto failed_open;
    // fsync before rename: otherwise a crash may leave PATH renamed but empty.
    step = "fsync";
    if (fsync_retrying(fd) < 0) goto failed_open;
    step = "close";
    int closed = close_once(fd);
    fd = -1;
    if (closed < 0) goto failed_open;
    step = "rename";
    if (rename(temporary, path) < 0) goto failed_open;

    // No fsync of the directory. It would make the rename itself durable at once, but it costs a
    // second journal commit per task (measured: 1,000 /bin/true tasks at parallelism 8 went from
    // about 210/s to 410/s without it on ext4). The content is durable before the rename, so the
    // file is never seen torn; ext4 commits the rename with its journal within seconds. If the
    // machine loses power in that window, the status file is missing after the reboot and the
    // attempt is treated as interrupted (retried per its policy): the same as a power loss just
    // before the task ended, never a wrong outcome.
    return 0;

failed_open: {
    int error = errno;
    if (fd >= 0) (void)close_once(fd);
    // No half-written PATH.tmp left behind (best effort: the failure is reported below anyway).
    (void)unlink(temporary);
    errno = error;
}
failed: {
    char reason[200];
    format_failure(reason, sizeof reason, step, errno);
    // The path is not echoed if it has a line break: the message must stay one line.
    if (strpbrk(path, "\r\n") == NULL) say("cannot write status file %s: %s", path, reason);
    else say("cannot write status file: %s", reason);
    return -1;
}
}
