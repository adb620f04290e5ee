#!/usr/bin/env python3
"""Helpers of `scripts/bench runner --store postgres` (Python standard library only).

    stores_report.py check dag|hosts STORE N < JSON
        Checks the one line of JSON that `sluice-bench runner-dag` (N: tasks) or
        `sluice-bench runner-hosts` (N: hosts) printed: the expected keys, store and count.
        Prints the line again (compact) for the results file, or exits 1 with the reason.

    stores_report.py summary dag|hosts < JSON
        One line for the progress log.

    stores_report.py table RESULTS DAG_TASKS
        The table of medians from RESULTS (one measurement a line: "dag|hosts STORE HOSTS JSON"),
        where the time of the PostgreSQL 10k DAG goes, the per-run figures and the floor.
        A floor that fails is printed as FAIL; the exit status is 0 all the same (it is a report).
"""

import json
import math
import statistics
import sys

import runner_report  # beside this file: the same one-line JSON reader

# The floor for the PostgreSQL store on this 2-core machine.
FLOOR_PG_DAG_SECONDS = 3.0
FLOOR_PG_DAG_TASKS = 10000

LABELS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def fail(message):
    print(f"stores_report: {message}", file=sys.stderr)
    sys.exit(1)


def number(data, key, line):
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        fail(f"no number under '{key}': {line[:300]!r}")
    return value


def load(text):
    return runner_report.one_json_object(text, fail)


def check(kind, store, n, text):
    data, line = load(text)
    if data.get("store") != store:
        fail(f"ran on store {data.get('store')!r}, not {store!r}: {line[:300]!r}")
    if kind == "dag":
        for key in ("tasks", "seconds", "trigger_seconds"):
            number(data, key, line)
        if data["tasks"] != n:
            fail(f"ran {data['tasks']} tasks, not {n}: {line[:300]!r}")
    else:
        for key in ("hosts", "jobs", "tasks", "seconds", "submit_seconds", "triggers_per_second",
                    "jobs_per_second", "tasks_per_second", "trigger_p50_ms", "trigger_p99_ms"):
            number(data, key, line)
        if data["hosts"] != n:
            fail(f"ran {data['hosts']} hosts, not {n}: {line[:300]!r}")
        split = data.get("jobs_by_host")
        if not isinstance(split, list) or len(split) != n or sum(split) != data["jobs"]:
            fail(f"jobs_by_host does not add up to the jobs: {line[:300]!r}")
    if not isinstance(data.get("store_seconds"), dict):
        fail(f"no store_seconds: {line[:300]!r}")
    print(json.dumps(data, separators=(",", ":")))


def store_time(data, method):
    return data.get("store_seconds", {}).get(method, {}).get("seconds", 0.0)


def store_calls(data, method):
    return data.get("store_seconds", {}).get(method, {}).get("calls", 0)


def summary(kind, text):
    data, _ = load(text)
    if kind == "dag":
        line = (f"{data['seconds']:.3f} s (trigger {data['trigger_seconds']:.3f} s, store record "
                f"{store_time(data, 'record'):.3f} s)")
        if "pg_commit_ms" in data:
            line += f"; round trip {data['pg_round_trip_ms']:.3f} ms, commit {data['pg_commit_ms']:.2f} ms"
    else:
        line = (f"{data['triggers_per_second']:.0f} triggers/s, {data['jobs_per_second']:.1f} jobs/s, "
                f"{data['tasks_per_second']:.0f} tasks/s, jobs by host {'/'.join(map(str, data['jobs_by_host']))}")
    print(line)


def table(path, dag_tasks):
    runs = {}  # (kind, store, hosts) -> [data]
    order = []
    with open(path) as results:
        for line in results:
            if not line.strip():
                continue
            kind, store, hosts, text = line.split(" ", 3)
            key = (kind, store, int(hosts))
            if key not in runs:
                order.append(key)
            runs.setdefault(key, []).append(json.loads(text))

    def med(key, field):
        values = [d[field] for d in runs.get(key, [])]
        return statistics.median(values) if values else None

    rows = sorted({(store, hosts) for _, store, hosts in runs}, key=lambda r: (r[0] != "sqlite", r[1]))
    hosts_any = next((runs[k][0] for k in order if k[0] == "hosts"), None)
    header = ("store", "hosts", f"{dag_tasks // 1000}k DAG s", "triggers/s", "trigger p50 ms", "jobs/s",
              "tasks/s", "jobs per host", "runs")
    widths = (10, 5, 9, 10, 14, 7, 7, 13, 4)
    print(" | ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths))))
    print("-|-".join("-" * w for w in widths))
    for store, hosts in rows:
        dag = med(("dag", store, hosts), "seconds")
        key = ("hosts", store, hosts)
        cells = [LABELS.get(store, store), str(hosts), f"{dag:.3f}" if dag is not None else "-"]
        if key in runs:
            # The split of the run whose tasks/s is the median (the lower middle one for an even count).
            by_rate = sorted(runs[key], key=lambda d: d["tasks_per_second"])
            middle = by_rate[(len(by_rate) - 1) // 2]
            cells += [f"{med(key, 'triggers_per_second'):.0f}", f"{med(key, 'trigger_p50_ms'):.1f}",
                      f"{med(key, 'jobs_per_second'):.1f}", f"{med(key, 'tasks_per_second'):.0f}",
                      "/".join(map(str, middle["jobs_by_host"]))]
        else:
            cells += ["-"] * 5
        count = max(len(runs.get(("dag", store, hosts), [])), len(runs.get(key, [])))
        cells.append(str(count))
        print(" | ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(cells, widths))))
    if hosts_any is not None:
        print(f"(medians of the runs; {dag_tasks:,}-task DAG: layered noop tasks, one job, trigger to succeeded; "
              f"triggers/s: {hosts_any['jobs']} triggers of {hosts_any['tasks_per_job']}-task jobs from "
              f"{hosts_any['submitters']} threads while the hosts run; jobs/s and tasks/s: from the first trigger "
              f"to the last job's commit, tasks `{'/bin/true' if hosts_any['task'] == 'true' else 'noop'}`, "
              f"parallelism {hosts_any['parallelism']} per host; jobs per host: of the median run)")

    # Where the time of each store's DAG goes: the store calls of the timed span (medians).
    print()
    for store in ("sqlite", "postgres"):
        key = ("dag", store, 1)
        if key not in runs:
            continue
        data = runs[key]
        parts = []
        for method in ("submit", "job", "claim", "record", "recordProcesses", "unfinishedJobs"):
            values = [store_time(d, method) for d in data]
            if any(v > 0 for v in values):
                parts.append(f"{method} {statistics.median(values):.3f} s")
        rest = statistics.median(d["seconds"] - sum(store_time(d, m) for m in d.get("store_seconds", {})) for d in data)
        line = f"{LABELS[store]} {dag_tasks:,}-task DAG, median time in store calls: {', '.join(parts)}; outside them {rest:.3f} s"
        print(line)
        if store == "postgres":
            trip = statistics.median(d["pg_round_trip_ms"] for d in data if "pg_round_trip_ms" in d)
            commit = statistics.median(d["pg_commit_ms"] for d in data if "pg_commit_ms" in d)
            record = statistics.median(store_time(d, "record") for d in data)
            print(f"  PostgreSQL latencies on a connection of its own before each run (medians): SELECT 1 round trip "
                  f"{trip:.3f} ms, commit of a one-row insert {commit:.2f} ms; the record call writes the "
                  f"{dag_tasks:,} task changes set-based (UPDATE ... FROM unnest) in one transaction: {record / dag_tasks * 1e6:.0f} µs per "
                  f"task change")
    for key in order:
        if key[0] != "hosts":
            continue
        data = runs[key]
        methods = sorted({m for d in data for m in d.get("store_seconds", {})})
        parts = [f"{m} {statistics.median(store_time(d, m) for d in data):.2f} s / "
                 f"{statistics.median(store_calls(d, m) for d in data):.0f} calls" for m in methods]
        print(f"{LABELS[key[1]]} {key[2]} host(s), time in store calls summed over threads, and calls "
              f"(medians): {', '.join(parts)}")

    print("\nper-run figures:")
    for key in order:
        kind, store, hosts = key
        label = f"{LABELS[store]} {hosts} host(s)"
        if kind == "dag":
            print(f"  {label} {dag_tasks // 1000}k DAG s: " + " ".join(f"{d['seconds']:.3f}" for d in runs[key]))
        else:
            print(f"  {label} triggers/s: " + " ".join(f"{d['triggers_per_second']:.0f}" for d in runs[key])
                  + "; tasks/s: " + " ".join(f"{d['tasks_per_second']:.0f}" for d in runs[key])
                  + "; jobs per host: " + " ".join("/".join(map(str, d["jobs_by_host"])) for d in runs[key]))

    print("\nfloors:")
    pg = med(("dag", "postgres", 1), "seconds")
    if pg is None or dag_tasks != FLOOR_PG_DAG_TASKS:
        print(f"  SKIP  PostgreSQL {FLOOR_PG_DAG_TASKS // 1000}k noop DAG < {FLOOR_PG_DAG_SECONDS:g} s: not measured")
    else:
        verdict = "PASS" if pg < FLOOR_PG_DAG_SECONDS else "FAIL"
        worst = max(d["seconds"] for d in runs[("dag", "postgres", 1)])
        print(f"  {verdict}  PostgreSQL {FLOOR_PG_DAG_TASKS // 1000}k noop DAG < {FLOOR_PG_DAG_SECONDS:g} s: "
              f"median {pg:.3f} s (slowest run {worst:.3f} s)")


def main(argv):
    if len(argv) == 5 and argv[1] == "check" and argv[2] in ("dag", "hosts") and argv[4].isdigit():
        check(argv[2], argv[3], int(argv[4]), sys.stdin.read())
    elif len(argv) == 3 and argv[1] == "summary" and argv[2] in ("dag", "hosts"):
        summary(argv[2], sys.stdin.read())
    elif len(argv) == 4 and argv[1] == "table" and argv[3].isdigit():
        table(argv[2], int(argv[3]))
    else:
        fail("usage: stores_report.py check dag|hosts STORE N < JSON | summary dag|hosts < JSON | table RESULTS DAG_TASKS")


if __name__ == "__main__":
    main(sys.argv)
