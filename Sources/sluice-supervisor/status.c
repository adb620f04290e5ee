#include "status.h"

#include <errno.h>
#include <fcntl.h>
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

/// fdatasync that retries EINTR (it may block for long on a slow disk).
static int fdatasync_retrying(int fd) {
    int result;
    do result = fdatasync(fd);
    while (result < 0 && errno == EINTR);
    return result;
}

static int open_retrying(const char *path, int flags, mode_t mode) {
    int fd;
    do fd = open(path, flags, mode);
    while (fd < 0 && errno == EINTR);  // EINTR: interrupted while blocked (slow file system)
    return fd;
}

int append_status(const char *path, const struct outcome *outcome) {
    // Everything but the run key (unbounded, from the command line) fits in a fixed buffer: the
    // numbers are short, and log_failure is at most 255 bytes.
    //
    // Every line is `key=value` and no value holds a line break (options.c refuses a run key with
    // CR or LF; log_failure's are replaced below; the rest are numbers and fixed names). So no
    // body line is empty, `end`, or a second `version=1`: the framing the reader relies on
    // (docs/supervisor.md, "The status journal").
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
        // Values never contain a line break: one `key=value` per line.
        for (size_t i = start; i + 1 < length; i++)
            if (rest[i] == '\n' || rest[i] == '\r') rest[i] = ' ';
    }
    if (outcome->spawn_error != NULL)
        append(rest, sizeof rest, &length, "spawn_error=%s\nspawn_errno=%d\n", outcome->spawn_error, outcome->spawn_errno);

    // The record: "\n" + body + "end\n". The leading "\n" ends a torn line that a writer which
    // failed or died mid-write may have left at the end of the journal (the reader sees an empty
    // line there and drops that torn record), so that our `version=1` starts a line of its own.
    struct iovec pieces[] = {
        {.iov_base = "\nversion=1\nrun_key=", .iov_len = strlen("\nversion=1\nrun_key=")},
        {.iov_base = (void *)outcome->run_key, .iov_len = strlen(outcome->run_key)},
        {.iov_base = "\n", .iov_len = 1},
        {.iov_base = rest, .iov_len = length},
        {.iov_base = "end\n", .iov_len = strlen("end\n")},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) total += pieces[i].iov_len;

    const char *step = "open";
    char reason[200];
    // O_APPEND: every supervisor of the job appends to the same file, each write at its end at
    // the time. O_CREAT: the job's first record creates the journal (mode 0640 less the umask).
    // O_CLOEXEC: nothing is exec'd any more, but every descriptor here is opened that way.
    int fd = open_retrying(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) goto failed;

    // The whole record in ONE writev: Linux holds the inode's lock across one write to a regular
    // file (ext4, XFS, btrfs, tmpfs), and O_APPEND takes the end of the file under that lock, so
    // records of concurrent supervisors never interleave within one call. Two calls could.
    step = "write";
    ssize_t written;
    // EINTR means nothing was written (a write that made progress returns its count): retry.
    do written = writev(fd, pieces, (int)(sizeof pieces / sizeof pieces[0]));
    while (written < 0 && errno == EINTR);
    if (written < 0) goto failed_open;
    if ((size_t)written != total) {
        // A short write (full disk, quota) is a failure, and the rest is NOT written: with
        // O_APPEND it could land after another supervisor's record. What was written is a torn
        // record: no `end`, and the next record's leading "\n" cuts it off, so readers skip it.
        // Nor is it truncated away: another supervisor's record may already follow it.
        snprintf(reason, sizeof reason, "write: short write, %lld of %zu bytes", (long long)written, total);
        (void)close_once(fd);
        goto failed_with_reason;
    }

    // fdatasync, not fsync: it also flushes the metadata needed to read the data back, which
    // includes the file's new size; timestamps can wait. No fsync of the directory (it would cost
    // a second journal commit per task): only the job's first record creates the journal, and
    // ext4 commits the new directory entry with its journal within seconds. If power is lost
    // inside that window, the journal is missing after the reboot and its attempts are treated as
    // interrupted (retried per their policy), as a power loss just before the task ended would
    // be: never a wrong outcome.
    step = "fdatasync";
    if (fdatasync_retrying(fd) < 0) goto failed_open;
    step = "close";
    int closed = close_once(fd);
    fd = -1;
    if (closed < 0) goto failed;
    return 0;

failed_open: {
    int error = errno;
    (void)close_once(fd);
    errno = error;
}
failed:
    format_failure(reason, sizeof reason, step, errno);
failed_with_reason:
    // The path is not echoed if it has a line break: the message must stay one line.
    if (strpbrk(path, "\r\n") == NULL) say("cannot append to status journal %s: %s", path, reason);
    else say("cannot append to status journal: %s", reason);
    return -1;
}
