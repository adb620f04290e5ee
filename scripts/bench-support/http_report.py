#!/usr/bin/env python3
"""Helpers of `scripts/bench http` (Python standard library only; run with any python3).

    http_report.py config DATA_DIR TOKEN_SHA256 THREADS
        Prints the Sluice configuration (JSON) of the benchmark: base path /sluice, data in
        DATA_DIR, THREADS FastCGI threads, no rate limits, one role "bench" (view, trigger, logs
        on every pipeline) held by the service token whose SHA-256 is TOKEN_SHA256, and two
        pipelines of `noop` tasks: "quick" (one task; what the trigger benchmark triggers) and
        "big" (1,000 tasks in 100 layers of width 10, task (k, j) named t{k}_{j} needing
        (k-1, j) and (k-1, (j+1) % 10): the DAG of `scripts/bench runner`).

    http_report.py token
        Reads the output of `sluice token new` on stdin and prints "TOKEN SHA256".

    http_report.py job-state
        Reads a job's JSON (GET /api/v1/jobs/{id}) on stdin and prints "ID STATE TASKS".

    http_report.py wrk
        Reads the output of `wrk --latency` on stdin and prints
        "REQ_PER_S P50_MS P99_MS REQUESTS NON_2XX_3XX SOCKET_ERRORS".
        Exits 1 with the reason on stderr if a number is missing.

    http_report.py samples FILE MARKER OUT
        Server times from lighttpd's access log, whose lines end in `%D "%{User-Agent}i"`: the %D
        (microseconds lighttpd spent on the request) of the lines whose user agent is MARKER and
        whose status is 200, written to OUT in milliseconds, one a line. Prints
        "COUNT MEDIAN_MS P99_MS".

    http_report.py table RESULTS CEILING_LABEL
        Prints the table of medians, ratios to the ceiling, server times and the floors from
        RESULTS: one line per measurement, either
            wrk ROUND TARGET REQ_PER_S P50_MS P99_MS REQUESTS NON_2XX_3XX SOCKET_ERRORS APP_US LIGHTTPD_US
        (APP_US, LIGHTTPD_US: CPU time per request of the responder and of lighttpd during the run)
        or  server ROUND TARGET COUNT MEDIAN_MS P99_MS SAMPLES_FILE
        or  size ROUND BYTES (of the 100,000-task job page)
        Floors that fail are printed as FAIL; the exit status is 0 all the same (it is a report).
"""

import json
import re
import statistics
import sys

# The floors of the issue.
FLOOR_JOB_JSON_RATIO = 0.6  # small job JSON req/s over the hello ceiling's
FLOOR_PAGE_SERVER_MS = 50.0  # median server time of the 1,000-task job page
FLOOR_JOB_JSON_RATIO_16 = 0.7  # issue 15: small job JSON at 16 connections
FLOOR_TRIGGERS_16 = 3000.0  # issue 15: durable triggers/s at 16 connections
FLOOR_TRIGGER_RATIO_16 = 0.15  # issue 15: the same over the ceiling
FLOOR_TRIGGER_P99_MS = 20.0  # issue 15: trigger p99 at 16 connections
FLOOR_HEALTHZ_WATCHED_P99_MS = 5.0  # issue 15: /healthz p99 while 1,000 long-polls wait
FLOOR_TRIGGER_WATCHED_RATIO = 0.8  # triggers/s while they wait over triggers/s without (both @16)
FLOOR_HUGE_PAGE_MS = 100.0  # issue 16: server time of the 100,000-task job page
FLOOR_HUGE_PAGE_BYTES = 200 << 10  # issue 16: its HTML

# Targets in the order of the table: (key, label). The key is what scripts/bench writes.
TARGETS = [
    ("hello", "hello (C libfcgi) GET /hello"),
    ("healthz", "GET /sluice/healthz"),
    ("job-json", "GET /sluice/api/v1/jobs/{id} (1 task)"),
    ("job-json-1k", "GET /sluice/api/v1/jobs/{id} (1,000 tasks)"),
    ("job-page-1k", "GET /sluice/jobs/{id} (1,000 tasks)"),
    ("trigger", "POST /sluice/api/v1/pipelines/quick/jobs"),
    ("healthz-w", "GET /sluice/healthz, long-polls waiting"),
    ("trigger-w", "POST /sluice/api/v1/pipelines/quick/jobs, long-polls waiting"),
]


def fail(message):
    print(f"http_report: {message}", file=sys.stderr)
    sys.exit(1)


# --- config -------------------------------------------------------------------------------------


def config(data_dir, sha256, threads):
    width, layers = 10, 100
    # The page benchmark of issue 16: 100,000 noop tasks in 20 layers (a to t) of 5,000, each
    # needing one task of the layer before. JSON5 (unquoted names, one line a task, no spaces),
    # so the file stays under `sluice check`'s 4 MiB.
    huge = []
    for k in range(20):
        layer = chr(ord("a") + k)
        for j in range(5000):
            needs = f',needs:["{chr(ord("a") + k - 1)}{j}"]' if k > 0 else ""
            huge.append(f'{layer}{j}:{{kind:"noop"{needs}}}')
    tasks = []
    for k in range(layers):
        for j in range(width):
            task = {"kind": "noop"}
            if k > 0:
                task["needs"] = [f"t{k - 1}_{j}", f"t{k - 1}_{(j + 1) % width}"]
            tasks.append(f"        {json.dumps(f't{k}_{j}')}: {json.dumps(task)}")
    server = {"base_path": "/sluice", "data_dir": data_dir, "threads": int(threads), "metrics_peers": ["127.0.0.1"]}
    roles = {"bench": {"grants": [{"pipelines": ["*"], "verbs": ["view", "trigger", "logs"]}]}}
    identity = {"service_tokens": [{"name": "bench", "sha256": sha256, "roles": ["bench"]}]}
    quick = {"description": "One noop task (the trigger benchmark)", "tasks": {"only": {"kind": "noop"}}}
    # The watchers phase: a job that runs until the file <data_dir>/release appears.
    held = {"description": "Runs until released (the long-poll benchmark)", "tasks": {"wait": {
        "run": ["/bin/sh", "-c", "while [ ! -e release ]; do sleep 0.1; done"], "working_dir": data_dir}}}
    # JSON (a subset of JSON5) but for the tasks of "huge", one task a line.
    print("\n".join([
        "{",
        f'  "server": {json.dumps(server)},',
        f'  "roles": {json.dumps(roles)},',
        f'  "identity": {json.dumps(identity)},',
        '  "pipelines": {',
        f'    "quick": {json.dumps(quick)},',
        f'    "held": {json.dumps(held)},',
        '    "big": {',
        '      "description": "1,000 noop tasks in 100 layers of width 10",',
        '      "tasks": {',
        ",\n".join(tasks),
        "      }",
        "    },",
        '    "huge": {',
        '      "description": "100,000 noop tasks in 20 layers of 5,000",',
        '      "tasks": {',
        ",\n".join(huge),
        "      }",
        "    }",
        "  }",
        "}",
    ]))


def token(text):
    found = re.search(r"^\s+(\S+)\s*$", text.split("Add this entry", 1)[0], re.MULTILINE)
    digest = re.search(r'sha256:\s*"([0-9a-f]{64})"', text)
    if not found or not digest:
        fail(f"cannot find the token and its sha256 in the output of `sluice token new`: {text[:400]!r}")
    print(found.group(1), digest.group(1))


def job_state(text):
    try:
        job = json.loads(text)
        counts = job.get("task_counts")
        print(job["id"], job["state"], sum(counts.values()) if counts is not None else len(job.get("tasks") or []))
    except (ValueError, KeyError, TypeError) as error:
        fail(f"not a job's JSON ({error}): {text[:300]!r}")


# --- wrk ----------------------------------------------------------------------------------------

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def duration_ms(text):
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not match:
        fail(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def parse_wrk(text):
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in ", text, re.MULTILINE)
    if not (rate and p50 and p99 and total):
        fail(f"cannot read Requests/sec and the 50%/99% latencies from wrk's output:\n{text}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    print(
        f"{float(rate.group(1)):.2f} {duration_ms(p50.group(1)):.3f} {duration_ms(p99.group(1)):.3f} "
        f"{total.group(1)} {non2xx.group(1) if non2xx else 0} {socket_errors}"
    )


# --- access log ---------------------------------------------------------------------------------

# ... "GET /sluice/jobs/1 HTTP/1.1" 200 123456 4321 "marker"
ACCESS_LINE = re.compile(r'"(?:[^"\\]|\\.)*" (\d{3}) (?:\d+|-) (\d+) "((?:[^"\\]|\\.)*)"$')


def percentile(values, fraction):
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return 0.0
    rank = max(1, -(-len(values) * fraction // 1))  # ceil(n * fraction), at least 1
    return values[int(rank) - 1]


def server_times(path, marker):
    times = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            match = ACCESS_LINE.search(line.rstrip("\n"))
            if match and match.group(3) == marker and match.group(1) == "200":
                times.append(int(match.group(2)) / 1000.0)
    times.sort()
    if not times:
        fail(f"no line with user agent {marker!r} and status 200 in {path}")
    return times


def samples(path, marker, out):
    times = server_times(path, marker)
    with open(out, "w") as f:
        f.write("\n".join(f"{t:.3f}" for t in times) + "\n")
    print(f"{len(times)} {statistics.median(times):.3f} {percentile(times, 0.99):.3f}")


# --- table --------------------------------------------------------------------------------------


def fmt_ratio(r):
    return f"{r:.2f}" if r >= 0.1 else f"{r:.3f}"


def fmt_us(us):
    return f"{us:.0f} us" if us < 10000 else f"{us / 1000:.1f} ms"


def fmt_ms(ms):
    return f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms"


def split_key(key):
    """'trigger@16' -> ('trigger', 16); a key without '@' was measured at 8 connections."""
    base, _, connections = key.partition("@")
    return base, int(connections) if connections else 8


def paired_ratio(wrk, key, c):
    """The median over rounds of req/s divided by the ceiling measured right before it (the
    hello~KEY@C runs); None without such pairs. Pairs share the machine's state, which on a shared
    VM drifts by a third within minutes: a median of each side alone mixes fast and slow spells."""
    pairs = wrk.get((f"hello~{key}", c))
    rows = wrk.get((key, c))
    if not pairs or not rows or len(pairs) != len(rows):
        return None
    return statistics.median(r[0] / h[0] for r, h in zip(rows, pairs) if h[0] > 0)


def table(path, ceiling_label):
    wrk = {}  # (target, connections) -> list of (rps, p50, p99, requests, non2xx, socket errors, app us, lighttpd us)
    server = {}  # target -> list of (count, median, p99, samples file)
    page_sizes = []  # bytes of the 100,000-task job page, one per measurement
    with open(path) as results:
        for line in results:
            fields = line.split()
            if not fields:
                continue
            if fields[0] == "wrk":
                values = tuple(float(v) for v in fields[3:11])
                wrk.setdefault(split_key(fields[2]), []).append(values)
            elif fields[0] == "size":
                page_sizes.append(int(fields[2]))
            elif fields[0] == "server":
                server.setdefault(fields[2], []).append(
                    (int(fields[3]), float(fields[4]), float(fields[5]), fields[6]))
    counts = sorted({c for _, c in wrk})
    ceilings = {}
    for c in counts:
        if ("hello", c) not in wrk:
            fail(f"no hello (ceiling) measurement at {c} connections in the results")
        ceilings[c] = statistics.median(r[0] for r in wrk[("hello", c)])

    labels = dict(TARGETS)
    labels["hello"] = f"hello ({ceiling_label}) GET /hello"
    labels["job-page-100k-cold"] = "GET /sluice/jobs/{id} (100,000 tasks), the first view after it finished"
    labels["job-page-100k"] = "GET /sluice/jobs/{id} (100,000 tasks), viewed again"
    width = max(len(labels[k]) for k, _ in TARGETS if any((k, c) in wrk for c in counts)) + 6
    header = (f"{'target':<{width}} | {'req/s (median)':>14} | {'p50':>9} | {'p99':>9} | {'ratio':>5} | "
              f"{'app CPU/req':>11} | {'lighttpd CPU/req':>16} | runs")
    print(header)
    print("|".join("-" * len(part) for part in header.split("|")))
    notes = []
    ratios = {}
    medians = {}
    for c in counts:
        for key, _ in TARGETS:
            if (key, c) not in wrk:
                continue
            rows = wrk[(key, c)]
            rps = statistics.median(r[0] for r in rows)
            p50 = statistics.median(r[1] for r in rows)
            p99 = statistics.median(r[2] for r in rows)
            app = statistics.median(r[6] for r in rows)
            light = statistics.median(r[7] for r in rows)
            paired = paired_ratio(wrk, key, c)
            if paired is None:  # no paired ceiling (the watchers' rows): the ceiling row's median
                paired = rps / ceilings[c] if ceilings[c] else 0.0
            ratios[(key, c)] = paired
            medians[(key, c)] = (rps, p50, p99, app)
            label = f"{labels[key]} @{c}"
            print(f"{label:<{width}} | {rps:>14.0f} | {fmt_ms(p50):>9} | {fmt_ms(p99):>9} | {fmt_ratio(ratios[(key, c)]):>5} | "
                  f"{fmt_us(app):>11} | {fmt_us(light):>16} | {len(rows)}")
            bad = sum(int(r[4]) for r in rows)
            socket_errors = sum(int(r[5]) for r in rows)
            if bad or socket_errors:
                total = sum(int(r[3]) for r in rows)
                notes.append(
                    f"{key}@{c}: {bad} of {total} responses were not 2xx/3xx, {socket_errors} socket errors "
                    "(wrk counts them in req/s: this row is not valid)")
    print()
    print("per-round req/s (ratio to the ceiling measured right before it, else to the ceiling of the same round):")
    for c in counts:
        for key, _ in TARGETS:
            if (key, c) not in wrk:
                continue
            cells = []
            hello = wrk.get((f"hello~{key}", c)) or wrk[("hello", c)]
            for i, r in enumerate(wrk[(key, c)]):
                same_round = hello[i][0] if i < len(hello) else ceilings[c]
                cells.append(f"{r[0]:.0f} ({fmt_ratio(r[0] / same_round)})")
            print(f"  {key}@{c}: {' '.join(cells)}")
    print("CPU/req: user + system time of the process over the wrk run, divided by the requests wrk counted;")
    print("  the trigger row's includes the runner running the triggered jobs during the run.")
    for note in notes:
        print(f"warning: {note}")

    page = None
    huge = {}
    if server:
        print()
        print("server time (lighttpd access log %D: request read to response written), sequential requests:")
        for key, rows in server.items():
            # Pool every sample of every round for the median and p99.
            samples = []
            for _, _, _, samples_file in rows:
                with open(samples_file) as f:
                    samples.extend(float(v) for v in f.read().split())
            samples.sort()
            median = statistics.median(samples)
            p99 = percentile(samples, 0.99)
            per_round = " ".join(f"{r[1]:.2f}" for r in rows)
            print(f"  {labels.get(key, key)}: median {fmt_ms(median)}, p99 {fmt_ms(p99)} over {len(samples)} requests "
                  f"in {len(rows)} round(s); per-round medians (ms): {per_round}")
            if key == "job-page-1k":
                page = median
            if key in ("job-page-100k", "job-page-100k-cold"):
                huge[key] = median

    print()
    print("floors:")
    def floor(ok, text):
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    for c, minimum in ((8, FLOOR_JOB_JSON_RATIO), (16, FLOOR_JOB_JSON_RATIO_16)):
        if ("job-json", c) in ratios:
            ratio = ratios[("job-json", c)]
            floor(ratio >= minimum, f"job JSON (1-task job) @{c} >= {minimum} of the ceiling: {ratio:.2f}")
    if ("job-json", 8) not in ratios and ("job-json", 16) not in ratios:
        print("  (job JSON not measured)")
    if ("trigger", 16) in medians:
        rps, _, p99, _ = medians[("trigger", 16)]
        ratio = ratios[("trigger", 16)]
        floor(rps >= FLOOR_TRIGGERS_16, f"durable triggers @16 >= {FLOOR_TRIGGERS_16:.0f}/s: {rps:.0f}/s")
        floor(ratio >= FLOOR_TRIGGER_RATIO_16, f"durable triggers @16 >= {FLOOR_TRIGGER_RATIO_16} of the ceiling: {ratio:.2f}")
        floor(p99 < FLOOR_TRIGGER_P99_MS, f"trigger p99 @16 < {FLOOR_TRIGGER_P99_MS:.0f} ms: {p99:.1f} ms")
    else:
        print("  (triggers at 16 connections not measured)")
    if ("healthz-w", 8) in medians:
        p99 = medians[("healthz-w", 8)][2]
        floor(p99 < FLOOR_HEALTHZ_WATCHED_P99_MS, f"/healthz p99 @8 with the long-polls waiting < {FLOOR_HEALTHZ_WATCHED_P99_MS:.0f} ms: {p99:.2f} ms")
    if ("trigger-w", 16) in medians and ("trigger", 16) in medians:
        kept = medians[("trigger-w", 16)][0] / medians[("trigger", 16)][0]
        floor(kept >= FLOOR_TRIGGER_WATCHED_RATIO,
              f"triggers @16 with the long-polls waiting >= {FLOOR_TRIGGER_WATCHED_RATIO} of the rate without: {kept:.2f}")
    if page is not None:
        floor(page < FLOOR_PAGE_SERVER_MS, f"1,000-task job page server time (median) < {FLOOR_PAGE_SERVER_MS:.0f} ms: {page:.2f} ms")
    else:
        print("  (job page server time not measured)")
    if "job-page-100k" in huge:
        floor(huge["job-page-100k"] < FLOOR_HUGE_PAGE_MS,
              f"100,000-task job page server time (median, finished job viewed again) < {FLOOR_HUGE_PAGE_MS:.0f} ms: {huge['job-page-100k']:.2f} ms")
    if "job-page-100k-cold" in huge:
        floor(huge["job-page-100k-cold"] < FLOOR_HUGE_PAGE_MS,
              f"100,000-task job page server time (first view after it finished) < {FLOOR_HUGE_PAGE_MS:.0f} ms: {huge['job-page-100k-cold']:.2f} ms")
    for size in page_sizes:
        floor(size < FLOOR_HUGE_PAGE_BYTES, f"100,000-task job page HTML < {FLOOR_HUGE_PAGE_BYTES >> 10} KB: {size / 1024:.1f} KB")


def main(argv):
    if len(argv) == 5 and argv[1] == "config":
        config(argv[2], argv[3], argv[4])
    elif len(argv) == 2 and argv[1] == "token":
        token(sys.stdin.read())
    elif len(argv) == 2 and argv[1] == "job-state":
        job_state(sys.stdin.read())
    elif len(argv) == 2 and argv[1] == "wrk":
        parse_wrk(sys.stdin.read())
    elif len(argv) == 5 and argv[1] == "samples":
        samples(argv[2], argv[3], argv[4])
    elif len(argv) == 4 and argv[1] == "table":
        table(argv[2], argv[3])
    else:
        fail("usage: http_report.py config DATA_DIR SHA256 THREADS | token | job-state | wrk | "
             "samples FILE MARKER OUT | table RESULTS CEILING_LABEL")


if __name__ == "__main__":
    main(sys.argv)
