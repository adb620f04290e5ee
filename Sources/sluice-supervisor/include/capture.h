// The task log with a head + tail cap, as docs/supervisor.md describes.
#ifndef SLUICE_SUPERVISOR_CAPTURE_H
#define SLUICE_SUPERVISOR_CAPTURE_H
#include <stddef.h>
#include <stdint.h>

struct capture {
    int fd;              // the log, -1 if it could not be opened or a write failed
    int64_t head;        // bytes kept from the start
    int64_t tail_cap;    // bytes kept from the end
    char *tail;          // ring buffer of the last tail_cap bytes
    int64_t tail_len;    // bytes in the ring
    int64_t tail_start;  // index of the oldest byte in the ring
    int64_t total;       // every byte appended
    int stale;           // the file lacks tail bytes a rewrite would add
    int64_t last_rewrite_ms;
    char failure[256];   // why the log stopped being written, "" if it did not
};

/// Creates or truncates the log (mode 0640 less the umask); on failure output is still counted.
void capture_open(struct capture *c, const char *path, int64_t head, int64_t tail);
/// Adds output.
void capture_append(struct capture *c, const char *bytes, size_t len);
/// Bytes in neither the head nor the tail.
int64_t capture_omitted(const struct capture *c);
/// When (monotonic ms) the next rewrite of marker + tail is due, or -1 if the file is current.
int64_t capture_next_rewrite(const struct capture *c);
/// Rewrites marker and tail after the head if due (or at once with `force`).
void capture_rewrite_if_due(struct capture *c, int force);
/// Brings the file up to date and closes it.
void capture_finish(struct capture *c);
#endif
