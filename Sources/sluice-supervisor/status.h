// The status journal: the attempt's outcome, appended durably as one record to the job's journal
// (docs/supervisor.md, "The status journal").
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

/// Appends `outcome` to the journal at `path` durably, as one record "\n" + body + "end\n" in a
/// single writev on an O_APPEND descriptor (the journal is created, mode 0640 less the umask, if
/// it does not exist), then fdatasync. Returns 0, or -1 after one line on stderr (a short write
/// is a failure; the torn record it leaves is skipped by readers).
int append_status(const char *path, const struct outcome *outcome);

#endif
