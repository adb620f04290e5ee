// The head + tail log capture: the first `head` bytes as they arrive; if output exceeds head +
// tail, a marker `\n[sluice: N bytes omitted]\n` and the last `tail` bytes, rewritten after the
// head at most about once a second and once more at the end. Same behaviour as the Swift
// LogCapture it replaces.
#define _GNU_SOURCE
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void capture_open(struct capture *c, const char *path, int64_t head, int64_t tail) {
    memset(c, 0, sizeof *c);
    int fd;
    do fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    while (fd < 0 && errno == EINTR);
    c->fd = fd;
    if (fd < 0) snprintf(c->failure, sizeof c->failure, "open: %s (errno %d)", strerror(errno), errno);
    c->head = head;
    c->tail_cap = tail;
    // Allocated lazily in capture_append: most tasks never get past the head.
    c->last_rewrite_ms = now_ms();
}

int64_t capture_omitted(const struct capture *c) {
    int64_t in_head = c->total < c->head ? c->total : c->head;
    return c->total - in_head - c->tail_len;
}

/// Stops writing after a failed write at `offset`: the cut marker goes over the last bytes
/// already written (ending at `offset`), and the file is cut right after it. On a full disk,
/// rewriting allocated blocks needs no new space, while appending would fail again.
static void fail(struct capture *c, int64_t offset, const char *call, int err) {
    if (!c->failure[0]) snprintf(c->failure, sizeof c->failure, "%s: %s (errno %d)", call, strerror(err), err);
    char marker[320];
    int n = snprintf(marker, sizeof marker, "\n[sluice: log cut here: %s]\n", c->failure);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof marker) n = (int)sizeof marker - 1;
    int64_t start = offset - n > 0 ? offset - n : 0;
    (void)!pwrite(c->fd, marker, (size_t)n, start);
    (void)!ftruncate(c->fd, start + n);
    close(c->fd);  // never retried on EINTR: Linux has released the descriptor anyway
    c->fd = -1;
}

/// Writes all of `len` bytes at `offset` (pwrite may write less). After a failure nothing more
/// is stored: a log with holes would be worse.
static void store(struct capture *c, const char *bytes, size_t len, int64_t offset) {
    size_t done = 0;
    while (c->fd >= 0 && done < len) {
        ssize_t n = pwrite(c->fd, bytes + done, len - done, offset + (int64_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fail(c, offset + (int64_t)done, "pwrite", errno);
            return;
        }
        if (n == 0) {
            fail(c, offset + (int64_t)done, "pwrite", EIO);
            return;
        }
        done += (size_t)n;
    }
}

static void tail_append(struct capture *c, const char *bytes, size_t len) {
    if (c->tail_cap == 0) return;
    if (!c->tail) {
        c->tail = malloc((size_t)c->tail_cap);
        if (!c->tail) {
            // No memory for the tail: keep the head only; the marker still counts what is lost.
            c->tail_cap = 0;
            return;
        }
    }
    if ((int64_t)len >= c->tail_cap) {
        memcpy(c->tail, bytes + len - (size_t)c->tail_cap, (size_t)c->tail_cap);
        c->tail_start = 0;
        c->tail_len = c->tail_cap;
        return;
    }
    for (size_t i = 0; i < len;) {
        int64_t end = (c->tail_start + c->tail_len) % c->tail_cap;
        int64_t room = c->tail_len < c->tail_cap ? c->tail_cap - c->tail_len : 0;
        if (room == 0) {
            // Full: overwrite the oldest byte(s).
            int64_t chunk = c->tail_cap - c->tail_start;
            if (chunk > (int64_t)(len - i)) chunk = (int64_t)(len - i);
            memcpy(c->tail + c->tail_start, bytes + i, (size_t)chunk);
            c->tail_start = (c->tail_start + chunk) % c->tail_cap;
            i += (size_t)chunk;
        } else {
            int64_t chunk = c->tail_cap - end;
            if (chunk > room) chunk = room;
            if (chunk > (int64_t)(len - i)) chunk = (int64_t)(len - i);
            memcpy(c->tail + end, bytes + i, (size_t)chunk);
            c->tail_len += chunk;
            i += (size_t)chunk;
        }
    }
}

void capture_append(struct capture *c, const char *bytes, size_t len) {
    if (c->total < c->head) {
        size_t n = (size_t)(c->head - c->total) < len ? (size_t)(c->head - c->total) : len;
        store(c, bytes, n, c->total);
        c->total += (int64_t)n;
        bytes += n;
        len -= n;
    }
    if (len == 0) return;
    tail_append(c, bytes, len);
    int64_t offset = c->total;
    c->total += (int64_t)len;
    if (capture_omitted(c) == 0) {
        // Everything so far fits: the file stays the complete output, appended in place.
        store(c, bytes, len, offset);
    } else {
        c->stale = 1;
    }
}

int64_t capture_next_rewrite(const struct capture *c) { return c->stale ? c->last_rewrite_ms + 1000 : -1; }

void capture_rewrite_if_due(struct capture *c, int force) {
    if (!c->stale) return;
    int64_t now = now_ms();
    if (!force && now < c->last_rewrite_ms + 1000) return;
    c->stale = 0;
    c->last_rewrite_ms = now;
    char marker[64];
    int n = snprintf(marker, sizeof marker, "\n[sluice: %lld bytes omitted]\n", (long long)capture_omitted(c));
    int64_t offset = c->head;
    store(c, marker, (size_t)n, offset);
    offset += n;
    if (c->tail_len > 0) {
        int64_t first = c->tail_cap - c->tail_start;
        if (first > c->tail_len) first = c->tail_len;
        store(c, c->tail + c->tail_start, (size_t)first, offset);
        offset += first;
        store(c, c->tail, (size_t)(c->tail_len - first), offset);
        offset += c->tail_len - first;
    }
    // The marker's count only grows, so the file rarely shrinks; truncate anyway so that it
    // ends exactly after the tail.
    if (c->fd >= 0 && ftruncate(c->fd, offset) != 0) fail(c, offset, "ftruncate", errno);
}

void capture_finish(struct capture *c) {
    capture_rewrite_if_due(c, 1);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->tail);
    c->tail = NULL;
}
