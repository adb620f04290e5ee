#include "log_capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor.h"

static void fail(struct log_capture *capture, int64_t offset, const char *reason);

void capture_open(struct log_capture *capture, const char *path, int64_t head, int64_t tail, int64_t now) {
    *capture = (struct log_capture){.fd = -1, .head = head, .capacity = (size_t)tail, .last_rewrite = now};
    int fd;
    // EINTR: open can be interrupted while it blocks (a FIFO, a slow file system); retry.
    // O_CLOEXEC: the task must not inherit the log (it writes through the pipe only).
    // Not O_APPEND: Linux's pwrite ignores the offset on an O_APPEND descriptor.
    do fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) format_failure(capture->failure, sizeof capture->failure, "open", errno);
    capture->fd = fd;
}

int64_t capture_omitted(const struct log_capture *capture) {
    int64_t in_head = capture->total < capture->head ? capture->total : capture->head;
    return capture->total - in_head - (int64_t)capture->count;
}

int64_t capture_next_rewrite(const struct log_capture *capture) {
    return capture->stale ? capture->last_rewrite + LOG_REWRITE_INTERVAL_NS : -1;
}

/// Writes all of `bytes` at `offset` (pwrite may write less than asked). After a failure nothing
/// more is stored: a log with holes would be worse than a log that says where it was cut.
static void store(struct log_capture *capture, const void *bytes, size_t size, int64_t offset) {
    size_t done = 0;
    while (capture->fd >= 0 && done < size) {
        ssize_t n = pwrite(capture->fd, (const char *)bytes + done, size - done, (off_t)(offset + (int64_t)done));
        if (n < 0 && errno == EINTR) continue;  // interrupted before writing anything: retry
        if (n <= 0) {
            char reason[200];
            if (n < 0) format_failure(reason, sizeof reason, "pwrite", errno);
            else snprintf(reason, sizeof reason, "pwrite: no progress writing the log");
            fail(capture, offset + (int64_t)done, reason);
            return;
        }
        done += (size_t)n;
    }
}

/// `store`, then advances `offset` past the bytes (even if they could not be written).
static void store_advancing(struct log_capture *capture, const void *bytes, size_t size, int64_t *offset) {
    store(capture, bytes, size, *offset);
    *offset += (int64_t)size;
}

/// Stops writing after a failed write at `offset`: marks the cut in the file, remembers why, and
/// closes it.
///
/// The marker goes over the last bytes already written (ending at `offset`) and the file is cut
/// there: on a full disk, rewriting blocks that are already allocated needs no new space, while
/// appending the marker would fail like the write before it. A log shorter than the marker gets
/// it from the start, best effort.
static void fail(struct log_capture *capture, int64_t offset, const char *reason) {
    char marker[320];
    int length = snprintf(marker, sizeof marker, "\n[sluice: log cut here: %s]\n", reason);
    if (length < 0 || (size_t)length >= sizeof marker) length = (int)strlen(marker);
    int64_t start = offset > length ? offset - length : 0;
    // Best effort, results deliberately unused: the log is failing already, and its failure is
    // reported through `failure` whether or not the marker makes it into the file.
    ssize_t written;
    do written = pwrite(capture->fd, marker, (size_t)length, (off_t)start);
    while (written < 0 && errno == EINTR);
    int truncated;
    do truncated = ftruncate(capture->fd, (off_t)(start + length));
    while (truncated < 0 && errno == EINTR);
    if (capture->failure[0] == '\0') snprintf(capture->failure, sizeof capture->failure, "%s", reason);
    (void)close_once(capture->fd);  // a close error adds nothing to the failure already recorded
    capture->fd = -1;
}

/// Appends to the tail ring, dropping the oldest bytes beyond its capacity (port of TailBuffer).
static void ring_append(struct log_capture *capture, const unsigned char *bytes, size_t size) {
    size_t capacity = capture->capacity;
    if (capacity == 0 || size == 0) return;
    if (capture->ring == NULL && capture->failure[0] == '\0') {
        // Allocated on first use, so a task that never gets past the head costs no tail memory.
        capture->ring = malloc(capacity);
        if (capture->ring == NULL) {
            char reason[200];
            format_failure(reason, sizeof reason, "malloc", errno);
            // Called before the bytes are counted: the file ends at `total` now.
            fail(capture, capture->total, reason);
        }
    }
    if (size >= capacity) {
        // Only the last `capacity` bytes can survive: start over with exactly those.
        bytes += size - capacity;
        size = capacity;
        capture->start = 0;
        capture->count = 0;
    }
    size_t dropped = capture->count + size > capacity ? capture->count + size - capacity : 0;
    if (capture->ring != NULL) {
        size_t end = (capture->start + capture->count) % capacity;
        size_t first = size < capacity - end ? size : capacity - end;
        memcpy(capture->ring + end, bytes, first);
        memcpy(capture->ring, bytes + first, size - first);
    }
    capture->count += size - dropped;
    capture->start = (capture->start + dropped) % capacity;
}

void capture_append(struct log_capture *capture, const unsigned char *bytes, size_t size) {
    if (capture->total < capture->head) {
        int64_t room = capture->head - capture->total;
        size_t n = (int64_t)size < room ? size : (size_t)room;
        store(capture, bytes, n, capture->total);
        capture->total += (int64_t)n;
        bytes += n;
        size -= n;
    }
    if (size == 0) return;
    ring_append(capture, bytes, size);
    int64_t offset = capture->total;
    capture->total += (int64_t)size;
    if (capture_omitted(capture) == 0) {
        // Everything so far fits: the file stays the complete output, appended in place.
        store(capture, bytes, size, offset);
    } else {
        capture->stale = 1;
    }
}

void capture_rewrite_if_due(struct log_capture *capture, int64_t now, int force) {
    if (!capture->stale) return;
    if (!force && now < capture->last_rewrite + LOG_REWRITE_INTERVAL_NS) return;
    capture->stale = 0;
    capture->last_rewrite = now;
    int64_t offset = capture->head;
    char marker[64];
    int length = snprintf(marker, sizeof marker, "\n[sluice: %lld bytes omitted]\n", (long long)capture_omitted(capture));
    store_advancing(capture, marker, (size_t)length, &offset);
    if (capture->ring != NULL) {
        size_t first = capture->count < capture->capacity - capture->start ? capture->count : capture->capacity - capture->start;
        store_advancing(capture, capture->ring + capture->start, first, &offset);
        store_advancing(capture, capture->ring, capture->count - first, &offset);
    }
    if (capture->fd < 0) return;
    // The marker's count only grows, so the file rarely shrinks; truncate anyway so that it ends
    // exactly after the tail.
    int result;
    do result = ftruncate(capture->fd, (off_t)offset);
    while (result < 0 && errno == EINTR);  // EINTR: interrupted while blocked; retry
    if (result < 0) {
        char reason[200];
        format_failure(reason, sizeof reason, "ftruncate", errno);
        fail(capture, offset, reason);
    }
}

void capture_write_message(struct log_capture *capture, const struct iovec *pieces, int count) {
    int64_t offset = 0;
    for (int i = 0; i < count; i++) store_advancing(capture, pieces[i].iov_base, pieces[i].iov_len, &offset);
}

void capture_finish(struct log_capture *capture, int64_t now) {
    capture_rewrite_if_due(capture, now, 1);
    if (capture->fd >= 0) {
        // A network file system may report a failed write-back only here.
        if (close_once(capture->fd) != 0 && capture->failure[0] == '\0')
            format_failure(capture->failure, sizeof capture->failure, "close", errno);
        capture->fd = -1;
    }
    // No free(capture->ring): the process exits right after, which returns the memory anyway.
}
