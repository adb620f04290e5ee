#!/usr/bin/env python3
"""The Luigi reference of `scripts/bench runner`: the layered DAG of no-op tasks in Luigi.

    python luigi_layered.py N

N is a multiple of 10. The DAG is the one `sluice-bench runner-dag --tasks N` runs: L = N / 10
layers of width 10; task (k, j) is named t{k}_{j}; layer 0 needs nothing; for k >= 1, (k, j)
needs (k-1, j) and (k-1, (j+1) % 10). The build asks for the 10 tasks of the last layer, which
pulls in all N.

Luigi runs with its in-process local scheduler and one worker (luigi.build(..., local_scheduler=
True, workers=1)); with one worker Luigi runs each task in this process, without forking.

Prints one line of JSON on stdout:

    {"tasks": N, "seconds": S, "peak_rss_kb": K}

S is the wall time of luigi.build() alone (from just before the call to just after it: Python's
start-up and `import luigi` are not counted); K is this process's peak RSS (ru_maxrss, which
Linux reports in KiB), so the interpreter and Luigi itself are in it, as the whole sluice-bench
process is in Sluice's figure. Exits non-zero, with the reason on stderr, if Luigi does not
report success or if not every task ran exactly once.
"""

import json
import logging
import resource
import sys
import time

import luigi
from luigi.execution_summary import LuigiStatusCode

WIDTH = 10

# Tasks that have run, by (layer, index), and how often each ran. This is the whole "output" of a
# task: complete() looks here rather than at a file target. That is deliberate. Luigi's usual
# completeness check is a Target on disk (LocalTarget.exists(), a stat per call, and Luigi calls
# complete() several times per task); keeping it in memory removes the file system from the
# reference, so what is measured is Luigi's own scheduling and bookkeeping cost — the part that
# corresponds to Sluice's runner. This favours Luigi: Sluice, by contrast, records every task
# state change in a durable SQLite store (WAL, synchronous=FULL).
done = set()
runs = {}


class Layered(luigi.Task):
    """Task t{layer}_{index} of the layered DAG; it does nothing but note that it has run."""

    layer = luigi.IntParameter()
    index = luigi.IntParameter()

    def requires(self):
        if self.layer == 0:
            return []
        return [
            Layered(layer=self.layer - 1, index=self.index),
            Layered(layer=self.layer - 1, index=(self.index + 1) % WIDTH),
        ]

    def complete(self):
        return (self.layer, self.index) in done

    def run(self):
        key = (self.layer, self.index)
        runs[key] = runs.get(key, 0) + 1
        done.add(key)


def fail(message):
    print(f"luigi_layered: {message}", file=sys.stderr)
    sys.exit(1)


def main(argv):
    if len(argv) != 2:
        fail("usage: luigi_layered.py N   (N a positive multiple of 10)")
    try:
        n = int(argv[1])
    except ValueError:
        fail(f"N must be a whole number, not {argv[1]!r}")
    if n <= 0 or n % WIDTH:
        fail(f"N must be a positive multiple of {WIDTH}, not {n}")
    layers = n // WIDTH

    # Luigi logs every scheduling and run step at DEBUG/INFO; log_level="WARNING" below makes its
    # own logging setup (InterfaceLogging) quiet, and this covers any logger set up before it.
    logging.getLogger("luigi").setLevel(logging.WARNING)
    logging.getLogger("luigi-interface").setLevel(logging.WARNING)

    roots = [Layered(layer=layers - 1, index=j) for j in range(WIDTH)]

    start = time.perf_counter()
    result = luigi.build(
        roots,
        local_scheduler=True,
        workers=1,
        log_level="WARNING",
        detailed_summary=True,
    )
    seconds = time.perf_counter() - start
    peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    # build() returns only "scheduling succeeded" unless detailed_summary=True; with it, the
    # status also says whether any task failed or was left pending.
    if result.status is not LuigiStatusCode.SUCCESS:
        fail(f"Luigi reports {result.status.name}: {result.one_line_summary}")
    if not result.scheduling_succeeded:
        fail(f"Luigi reports that scheduling failed: {result.one_line_summary}")
    if len(done) != n:
        fail(f"{len(done)} of {n} tasks ran")
    twice = sorted(f"t{k}_{j}" for (k, j), count in runs.items() if count != 1)
    if twice:
        fail(f"{len(twice)} tasks ran more than once, e.g. {', '.join(twice[:5])}")

    print(json.dumps({"tasks": n, "seconds": round(seconds, 6), "peak_rss_kb": peak_rss_kb}))


if __name__ == "__main__":
    main(sys.argv)
