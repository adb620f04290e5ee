// The status file: the attempt's outcome, written durably (docs/supervisor.md, "The status file").
#ifndef SLUICE_SUPERVISOR_STATUS_H
#define SLUICE_SUPERVISOR_STATUS_H

#include <stdint.h>
#include <sys/types.h>

struct outcome {
    const char *run_key;
    pid_t task_pid;          // 0: fork did not succeed (key left out)
    int64_t started_at_ms;
    int64_t finished_at_ms;
    int exit_status;         // -1: the task did not exit (key left out)
    int exit_signal;         // 0: not killed by a signal (key left out)
    int timed_out;
    int stop_signal;         // 0: none arrived (key left out)
    int64_t log_bytes;
    int64_t log_omitted;
    const char *log_failure; // empty or NULL: none (key left out)
    const char *spawn_error; // NULL: the task started (spawn_error and spawn_errno left out)
    int spawn_errno;
};

/// Writes `outcome` to `path` durably: PATH.tmp (mode 0640 less the umask), write, fsync,
/// rename to PATH, fsync of the directory. Returns 0, or -1 after one line on stderr.
int write_status(const char *path, const struct outcome *outcome);

#endif
