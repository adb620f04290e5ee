#include "supervisor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t clock_ns(clockid_t clock) {
    struct timespec now;
    // clock_gettime fails only with EINVAL for a clock the kernel lacks; both clocks used here
    // exist on every Linux, so a failure cannot happen. Read it as time 0 rather than abort
    // before the outcome is written.
    if (clock_gettime(clock, &now) != 0) return 0;
    return (int64_t)now.tv_sec * NANOSECONDS_PER_SECOND + now.tv_nsec;
}

int64_t monotonic_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

int64_t realtime_ms(void) { return clock_ns(CLOCK_REALTIME) / 1000000; }

void format_failure(char *buffer, size_t size, const char *step, int error) {
    // glibc's strerror returns a static string for every known number (and formats unknown ones
    // into a thread-local buffer), and we never call setlocale, so the text is the C locale's.
    snprintf(buffer, size, "%s: %s (errno %d)", step, strerror(error), error);
}

void say(const char *format, ...) {
    // No stdio streams: format into a buffer and write(2) it in one call, so the line is never
    // split or held back in a FILE buffer (we may _exit or be killed without flushing).
    char line[1024];
    size_t prefix = (size_t)snprintf(line, sizeof line, "sluice-supervisor: ");
    va_list arguments;
    va_start(arguments, format);
    int n = vsnprintf(line + prefix, sizeof line - prefix - 1, format, arguments);
    va_end(arguments);
    size_t length = prefix + (n < 0 ? 0 : (size_t)n);
    if (length > sizeof line - 2) length = sizeof line - 2;  // cut: still one line
    line[length++] = '\n';
    // Best effort: if stderr is gone there is nobody left to tell.
    (void)write_all(STDERR_FILENO, line, length);
}

int write_all(int fd, const void *bytes, size_t size) {
    const char *p = bytes;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            // EINTR: interrupted before anything was written (only possible while a signal is
            // unblocked with a handler; we have none, but a stop/continue may still interrupt).
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) {
            errno = EIO;  // no progress on a regular file or pipe: treat as an I/O error
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

int close_once(int fd) {
    // Never retry close on EINTR: Linux releases the descriptor before it can be interrupted, so
    // a retry could close a descriptor that has been reused meanwhile.
    if (close(fd) == 0 || errno == EINTR) return 0;
    return -1;
}
