// A task log with a size cap: the first `head` bytes of output, then (only if output was left
// out) a marker line `\n[sluice: N bytes omitted]\n`, then the last `tail` bytes of output.
//
// The head is written as it arrives. While everything fits in head + tail the file is the
// complete output, appended in place. Once bytes are omitted, the tail is kept in memory (a ring
// of `tail` bytes, allocated on first use: the only dynamic allocation of the supervisor) and
// marker + tail are rewritten after the head at most once per second, and once more at the end;
// the file is then truncated to end right after the tail.
//
// If a write fails (full disk, I/O error), the marker `\n[sluice: log cut here: REASON]\n` is
// written over the last bytes already written, ending at the failed offset, the file is cut right
// after it and closed, and nothing more is stored; REASON is kept as `failure`. Output is still
// counted either way.
//
// Same behaviour as the Swift LogCapture it replaces (Sources/Workflow/LogCapture.swift).
#ifndef SLUICE_SUPERVISOR_LOG_CAPTURE_H
#define SLUICE_SUPERVISOR_LOG_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/// Least time between two rewrites of marker and tail while the task runs.
#define LOG_REWRITE_INTERVAL_NS INT64_C(1000000000)

struct log_capture {
    int fd;            // the log, or -1 if it could not be opened or a write failed
    int64_t head;      // bytes kept from the start
    int64_t total;     // every byte appended so far
    int stale;         // whether the file lacks tail bytes that a rewrite would add
    int64_t last_rewrite;  // monotonic ns of the last rewrite (initially of the open)
    // The tail: a ring of `capacity` bytes; `ring` is NULL until first needed (and stays NULL if
    // malloc failed, while `count` still says how many bytes it would hold).
    unsigned char *ring;
    size_t capacity, start, count;
    char failure[256];  // why the log stopped being written; empty if it did not
};

/// Creates (or truncates) the log at `path`, mode 0640 less the umask. If that fails, output is
/// still counted but not stored, and `failure` says why (`open: …`).
void capture_open(struct log_capture *capture, const char *path, int64_t head, int64_t tail, int64_t now);

/// Adds output: to the file while it is within the head or nothing has been omitted yet, and
/// always to the tail once past the head.
void capture_append(struct log_capture *capture, const unsigned char *bytes, size_t size);

/// Bytes that are neither in the head nor in the tail.
int64_t capture_omitted(const struct log_capture *capture);

/// When the next rewrite is due (monotonic ns), or -1 if the file is up to date.
int64_t capture_next_rewrite(const struct log_capture *capture);

/// Rewrites marker and tail after the head if they changed and the last rewrite is at least
/// LOG_REWRITE_INTERVAL_NS old (or at once with `force`).
void capture_rewrite_if_due(struct log_capture *capture, int64_t now, int force);

/// Writes `count` pieces one after another from offset 0, ignoring the limits: the one line
/// that says why the task could not start (nothing else is in the log then).
void capture_write_message(struct log_capture *capture, const struct iovec *pieces, int count);

/// Brings the file up to date and closes it.
void capture_finish(struct log_capture *capture, int64_t now);

#endif
