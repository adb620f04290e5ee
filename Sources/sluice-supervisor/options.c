#include "options.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "supervisor.h"

/// The largest --head or --tail: far beyond any sensible log, and small enough that offsets and
/// sums of head, tail and marker never overflow a 64-bit off_t.
#define MAX_BYTES (INT64_C(1) << 50)
/// The largest --grace or --timeout in whole seconds (about 31 years): deadlines in nanoseconds
/// since boot then stay far below INT64_MAX.
#define MAX_SECONDS INT64_C(1000000000)

/// A non-negative decimal integer, digits only (no sign, no spaces), at most MAX_BYTES.
static int parse_bytes(const char *text, int64_t *result) {
    if (*text == '\0') return -1;
    int64_t value = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return -1;
        value = value * 10 + (*p - '0');
        if (value > MAX_BYTES) return -1;
    }
    *result = value;
    return 0;
}

/// Seconds as DIGITS or DIGITS.DIGITS (no sign, no exponent), at most MAX_SECONDS; in
/// nanoseconds, digits beyond the ninth decimal rounding up.
static int parse_seconds(const char *text, int64_t *result) {
    const char *p = text;
    int64_t seconds = 0;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        seconds = seconds * 10 + (*p - '0');
        if (seconds > MAX_SECONDS) return -1;
    }
    int64_t fraction = 0;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return -1;
        int64_t scale = NANOSECONDS_PER_SECOND / 10;
        int round_up = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (scale > 0) {
                fraction += (*p - '0') * scale;
                scale /= 10;
            } else if (*p != '0') {
                round_up = 1;
            }
        }
        fraction += round_up;
    }
    if (*p != '\0') return -1;
    *result = seconds * NANOSECONDS_PER_SECOND + fraction;
    return 0;
}

int parse_options(int argc, char **argv, struct options *options) {
    *options = (struct options){0};
    const char *head = NULL, *tail = NULL, *grace = NULL, *timeout = NULL;
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
        const char *name = argv[i];
        const char **slot = NULL;
        if (strcmp(name, "--run-key") == 0) slot = &options->run_key;
        else if (strcmp(name, "--log") == 0) slot = &options->log_path;
        else if (strcmp(name, "--journal") == 0) slot = &options->journal_path;
        else if (strcmp(name, "--cwd") == 0) slot = &options->directory;
        else if (strcmp(name, "--head") == 0) slot = &head;
        else if (strcmp(name, "--tail") == 0) slot = &tail;
        else if (strcmp(name, "--grace") == 0) slot = &grace;
        else if (strcmp(name, "--timeout") == 0) slot = &timeout;
        else {
            // Echoed only without line breaks (the message must stay one line), and cut short.
            if (strpbrk(name, "\r\n") != NULL) say("unknown option (argument %d)", i);
            else say("unknown option %.100s", name);
            return -1;
        }
        if (i + 1 >= argc) {
            say("%s needs a value", name);
            return -1;
        }
        if (*slot != NULL) {
            say("%s given twice", name);
            return -1;
        }
        *slot = argv[i + 1];
    }
    if (i >= argc) {
        say("no -- before the program and its argv");
        return -1;
    }
    static const struct {
        const char *name;
        size_t offset;
    } required[] = {
        {"--run-key", offsetof(struct options, run_key)},
        {"--log", offsetof(struct options, log_path)},
        {"--journal", offsetof(struct options, journal_path)},
        {"--cwd", offsetof(struct options, directory)},
    };
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
        const char *value = *(const char **)((char *)options + required[r].offset);
        if (value == NULL) {
            say("%s is required", required[r].name);
            return -1;
        }
        if (*value == '\0') {
            say("%s must not be empty", required[r].name);
            return -1;
        }
    }
    // A journal record is one `key=value` per line, framed by the lines `version=1` and `end`: a
    // line break in the run key could end its line early and forge or break that framing. CR too,
    // although readers split on LF only: values never contain a line break of either kind.
    if (strpbrk(options->run_key, "\r\n") != NULL) {
        say("--run-key must not contain a line break (CR or LF)");
        return -1;
    }
    // open(2) would refuse a longer path (ENAMETOOLONG), but only after the task ran, and its
    // outcome would be lost: refuse it before starting anything.
    if (strlen(options->journal_path) >= PATH_MAX) {
        say("--journal path is too long");
        return -1;
    }
    if (head == NULL || parse_bytes(head, &options->head_bytes) != 0) {
        say(head == NULL ? "--head is required" : "--head needs a non-negative integer");
        return -1;
    }
    if (tail == NULL || parse_bytes(tail, &options->tail_bytes) != 0) {
        say(tail == NULL ? "--tail is required" : "--tail needs a non-negative integer");
        return -1;
    }
    if (grace == NULL || parse_seconds(grace, &options->grace_ns) != 0) {
        say(grace == NULL ? "--grace is required" : "--grace needs seconds, e.g. 5 or 0.5");
        return -1;
    }
    if (timeout != NULL && (parse_seconds(timeout, &options->timeout_ns) != 0 || options->timeout_ns == 0)) {
        say("--timeout needs seconds greater than 0, e.g. 60 or 0.5");
        return -1;
    }
    if (i + 2 >= argc) {
        say("-- must be followed by PROGRAM and ARGV0");
        return -1;
    }
    options->program = argv[i + 1];
    options->argv = &argv[i + 2];  // the kernel ends argv with NULL
    // Sluice resolves PATH itself; a relative program would be looked up after chdir(DIR).
    if (options->program[0] != '/') {
        say("PROGRAM must be an absolute path");
        return -1;
    }
    return 0;
}
