#!/usr/bin/env python3
"""Helpers of `scripts/bench runner` (Python standard library only; run with any python3).

    runner_report.py parse dag|procs N
        Reads the one line of JSON that a measurement printed on stdin, checks it, and prints
        "SECONDS PEAK_RSS_KB" (dag: sluice-bench runner-dag or luigi_layered.py) or
        "SECONDS PER_SECOND" (procs: sluice-bench runner-procs). Exits 1 with the reason on
        stderr if the line is not the JSON expected or its task count is not N.

    runner_report.py table RESULTS
        Prints the table of medians, the derived ratios and the floors, from RESULTS: one
        measurement a line, "ROW N SECONDS VALUE" with ROW one of sluice, luigi, procs and VALUE
        the peak RSS in KiB (sluice, luigi) or the reported tasks per second (procs).
        Floors that fail are printed as FAIL; the exit status is 0 all the same (it is a report).
"""

import json
import math
import statistics
import sys

# The floors of the issue, for this 2-core machine.
FLOOR_10K_SECONDS = 1.0
FLOOR_100K_SECONDS = 10.0
FLOOR_100K_RSS_MB = 300.0
FLOOR_PROCS_PER_SECOND = 300.0
GROWTH_NOISE_ALLOWANCE = 1.5  # the per-task cost ratio may exceed the N log N ratio by this factor


def fail(message):
    print(f"runner_report: {message}", file=sys.stderr)
    sys.exit(1)


def one_json_object(text, fail):
    """The one JSON object a sluice-bench run prints, and its line; `fail` otherwise."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        fail(f"expected one line of JSON, got {len(lines)} lines: {text[:300]!r}")
    try:
        data = json.loads(lines[0])
    except json.JSONDecodeError as error:
        fail(f"not JSON ({error}): {lines[0][:300]!r}")
    if not isinstance(data, dict):
        fail(f"not a JSON object: {lines[0][:300]!r}")
    return data, lines[0]


def parse(kind, n, text):
    data, _ = one_json_object(text, fail)
    second = "peak_rss_kb" if kind == "dag" else "per_second"
    for key in ("tasks", "seconds", second):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            fail(f"no number under '{key}': {lines[0][:300]!r}")
    if data["tasks"] != n:
        fail(f"ran {data['tasks']} tasks, not {n}: {lines[0][:300]!r}")
    if data["seconds"] <= 0:
        fail(f"seconds must be positive: {lines[0][:300]!r}")
    value = f"{data[second]:.6f}".rstrip("0").rstrip(".")  # plain decimal, never 1e+06
    print(f"{data['seconds']:.6f} {value}")


def mb(kib):
    """Decimal megabytes (10^6 bytes) from KiB, the unit of VmHWM and ru_maxrss."""
    return kib * 1024 / 1e6


def table(path):
    samples = {}  # (row, n) -> list of (seconds, value)
    with open(path) as results:
        for line in results:
            if not line.strip():
                continue
            row, n, seconds, value = line.split()
            samples.setdefault((row, int(n)), []).append((float(seconds), float(value)))

    def median_seconds(row, n):
        runs = samples.get((row, n))
        return statistics.median(s for s, _ in runs) if runs else None

    labels = {
        "sluice": "Sluice noop DAG",
        "luigi": "Luigi 3.8.1 noop DAG",
        "procs": "Sluice /bin/true @ par. 8",
    }
    order = {"sluice": 0, "luigi": 1, "procs": 2}
    header = ("benchmark", "N", "runs", "median s", "tasks/s", "µs/task", "peak RSS MB")
    print(f"{header[0]:<26} | {header[1]:>6} | {header[2]:>4} | {header[3]:>9} | {header[4]:>9} | "
          f"{header[5]:>9} | {header[6]:>11}")
    print(f"{'-' * 27}|{'-' * 8}|{'-' * 6}|{'-' * 11}|{'-' * 11}|{'-' * 11}|{'-' * 12}")
    for row, n in sorted(samples, key=lambda key: (order[key[0]], key[1])):
        runs = samples[(row, n)]
        seconds = median_seconds(row, n)
        rss = f"{mb(statistics.median(v for _, v in runs)):.1f}" if row != "procs" else "-"
        print(f"{labels[row]:<26} | {n:>6} | {len(runs):>4} | {seconds:>9.4f} | {n / seconds:>9.0f} | "
              f"{seconds / n * 1e6:>9.1f} | {rss:>11}")
    print("(each row: the median of its runs; tasks/s = N / median s; peak RSS = median of the "
          "runs' peaks, VmHWM or ru_maxrss, 1 MB = 10^6 bytes)")

    print()
    for n in (1000, 4000):  # the sizes measured on both sides
        ours, theirs = median_seconds("sluice", n), median_seconds("luigi", n)
        if ours is not None and theirs is not None:
            print(f"speed-up, Sluice vs Luigi at N={n}: {theirs / ours:.1f}x "
                  f"(Luigi median {theirs:.3f} s / Sluice median {ours:.4f} s)")
        else:
            print(f"speed-up, Sluice vs Luigi at N={n}: n/a (not measured in this run)")
    l1, l4 = median_seconds("luigi", 1000), median_seconds("luigi", 4000)
    if l1 is not None and l4 is not None:
        print(f"Luigi growth, per-task cost at 4k / at 1k: {(l4 / 4000) / (l1 / 1000):.2f} "
              f"(for information; N log N would give {math.log(4000) / math.log(1000):.2f})")

    results = []

    def floor(name, ok, detail):
        verdict = "SKIP" if ok is None else ("PASS" if ok else "FAIL")
        results.append(verdict)
        print(f"  {verdict}  {name}: {detail}")

    print("\nfloors:")
    s10k, s100k = median_seconds("sluice", 10000), median_seconds("sluice", 100000)
    if s10k is None:
        floor("10k tasks < 1 s", None, "not measured")
    else:
        floor("10k tasks < 1 s", s10k < FLOOR_10K_SECONDS, f"median {s10k:.4f} s")
    if s100k is None:
        floor("100k tasks < 10 s", None, "not measured (--quick)")
        floor("100k peak RSS < 300 MB", None, "not measured (--quick)")
        floor("growth no faster than N log N", None, "needs 100k (--quick)")
    else:
        floor("100k tasks < 10 s", s100k < FLOOR_100K_SECONDS, f"median {s100k:.3f} s")
        worst = max(mb(v) for _, v in samples[("sluice", 100000)])
        floor("100k peak RSS < 300 MB", worst < FLOOR_100K_RSS_MB,
              f"largest peak of the runs {worst:.1f} MB")
        if s10k is None:
            floor("growth no faster than N log N", None, "needs 10k")
        else:
            ratio = (s100k / 100000) / (s10k / 10000)
            bound = math.log(100000) / math.log(10000)
            floor("growth no faster than N log N", ratio <= bound * GROWTH_NOISE_ALLOWANCE,
                  f"per-task cost at 100k / at 10k = {ratio:.2f}; N log N gives {bound:.2f}, "
                  f"allowed up to {bound:.2f} x {GROWTH_NOISE_ALLOWANCE} = "
                  f"{bound * GROWTH_NOISE_ALLOWANCE:.2f} for noise on a shared machine")
    procs = [key for key in samples if key[0] == "procs"]
    if not procs:
        floor("subprocess tasks >= 300/s", None, "not measured")
    for key in procs:
        rate = key[1] / median_seconds(*key)
        floor("subprocess tasks >= 300/s", rate >= FLOOR_PROCS_PER_SECOND,
              f"{rate:.0f} tasks/s ({key[1]} tasks, median {median_seconds(*key):.3f} s)")
    failed = results.count("FAIL")
    print(f"\n{'FAIL: ' + str(failed) + ' floor(s) not met' if failed else 'all floors measured are met'}"
          f"{' (' + str(results.count('SKIP')) + ' skipped)' if 'SKIP' in results else ''}")


def main(argv):
    if len(argv) == 4 and argv[1] == "parse" and argv[2] in ("dag", "procs") and argv[3].isdigit():
        parse(argv[2], int(argv[3]), sys.stdin.read())
    elif len(argv) == 3 and argv[1] == "table":
        table(argv[2])
    else:
        fail("usage: runner_report.py parse dag|procs N < JSON | runner_report.py table RESULTS")


if __name__ == "__main__":
    main(sys.argv)
