// Starting the task: fork, then in the child its own process group, the death signal, default
// signal dispositions and an empty mask, stdin from /dev/null, stdout and stderr onto a pipe, the
// working directory, no other descriptors, and execve. Failures before execve come back to the
// parent through a close-on-exec error pipe as (step, errno).
#ifndef SLUICE_SUPERVISOR_SPAWN_H
#define SLUICE_SUPERVISOR_SPAWN_H

#include <sys/types.h>

#include "options.h"

/// The step that failed (`spawn_error` in the status record).
enum spawn_step {
    STEP_NONE = 0,
    STEP_PIPE,
    STEP_FORK,
    STEP_SETPGID,
    STEP_PRCTL,
    STEP_SIGPROCMASK,
    STEP_SIGACTION,
    STEP_OPEN_DEV_NULL,
    STEP_DUP2,
    STEP_CHDIR,
    STEP_CLOSE_RANGE,
    STEP_EXECVE,
    STEP_SIGNALFD,
};

/// The name of `step` as the status record and the log line spell it.
const char *spawn_step_name(int step);

struct spawned_task {
    pid_t pid;       // > 0 if fork succeeded (also the process group id)
    int output_fd;   // the pipe's read end (close-on-exec), or -1
    int step;        // STEP_NONE if the task runs, else the step that failed
    int error;       // errno of that step
    int wait_status; // when a step in the child failed: its reaped waitpid status
};

/// Starts the task. On success `step` is STEP_NONE and the caller owns `output_fd` and must reap
/// `pid`; on failure the child (if any) has been reaped and no descriptor is left open.
void spawn_task(const struct options *options, struct spawned_task *task);

#endif
