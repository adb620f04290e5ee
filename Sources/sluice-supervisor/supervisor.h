// Shared helpers of sluice-supervisor: clocks, errno formatting, messages on stderr, and the exit
// codes. See docs/supervisor.md for what the program does.
#ifndef SLUICE_SUPERVISOR_H
#define SLUICE_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>

/// Bad usage (sysexits.h EX_USAGE): nothing was started, nothing appended to the journal.
#define EXIT_BAD_USAGE 64
/// The outcome could not be appended to the status journal (sysexits.h EX_SOFTWARE).
#define EXIT_NO_STATUS 70

#define NANOSECONDS_PER_SECOND INT64_C(1000000000)

/// CLOCK_MONOTONIC in nanoseconds: every deadline (timeout, grace, rewrite, drain).
int64_t monotonic_ns(void);

/// CLOCK_REALTIME as Unix time in milliseconds: `started_at_ms` and `finished_at_ms`.
int64_t realtime_ms(void);

/// Writes "STEP: <strerror> (errno N)" into `buffer` (always NUL-terminated, cut if too long).
void format_failure(char *buffer, size_t size, const char *step, int error);

/// Writes "sluice-supervisor: " and the formatted text as one line on stderr (best effort).
void say(const char *format, ...) __attribute__((format(printf, 1, 2)));

/// write(2) until all of `size` bytes are written; 0, or -1 with errno set.
int write_all(int fd, const void *bytes, size_t size);

/// close(2) that never retries: see the comment in supervisor.c. 0, or -1 with errno set
/// (EINTR counts as success: the descriptor is gone either way).
int close_once(int fd);

#endif
