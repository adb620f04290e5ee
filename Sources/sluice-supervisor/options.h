// The command line of sluice-supervisor (docs/supervisor.md, "Command line").
#ifndef SLUICE_SUPERVISOR_OPTIONS_H
#define SLUICE_SUPERVISOR_OPTIONS_H

#include <stdint.h>

struct options {
    const char *run_key;      // --run-key
    const char *log_path;     // --log
    const char *journal_path; // --journal
    const char *directory;    // --cwd
    int64_t head_bytes;       // --head
    int64_t tail_bytes;       // --tail
    int64_t grace_ns;         // --grace
    int64_t timeout_ns;       // --timeout; 0 when not given
    const char *program;      // after `--`: the executable, an absolute path
    char **argv;              // then the task's argv (argv[0] = ARGV0), NULL-terminated
};

/// Fills `options` from the command line; on bad usage prints one line on stderr and returns -1.
int parse_options(int argc, char **argv, struct options *options);

#endif
