"""Holds N long-polls open against Sluice for `scripts/bench http` (the watchers phase).

    watchers.py HOST PORT PATH TOKEN ETAG N

Opens N connections, sends each `GET PATH` (a job's JSON with `?wait=60`) with the service token
and `If-None-Match: ETAG`, prints `sent N` once all are written, then waits for every answer and
prints one JSON line: the count of answers by status, and how many connections failed.
"""

import asyncio
import collections
import json
import resource
import sys


async def one(host, port, request):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as error:
        return None, f"connect: {error}"
    writer.write(request)
    await writer.drain()
    return (reader, writer), None


async def status_of(reader, writer):
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=120)
        parts = line.split()
        return int(parts[1]) if len(parts) > 1 else 0
    except (asyncio.TimeoutError, OSError, ValueError):
        return 0
    finally:
        writer.close()


async def main(host, port, path, token, etag, count):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"If-None-Match: {etag}\r\nConnection: close\r\n\r\n"
    ).encode()
    opened = []
    failures = collections.Counter()
    # In batches, so the listen backlog is never the limit.
    for start in range(0, count, 100):
        results = await asyncio.gather(*(one(host, port, request) for _ in range(start, min(count, start + 100))))
        for pair, error in results:
            if pair:
                opened.append(pair)
            else:
                failures[error] += 1
    print(f"sent {len(opened)}", flush=True)
    statuses = await asyncio.gather(*(status_of(r, w) for r, w in opened))
    print(json.dumps({"statuses": dict(collections.Counter(str(s) for s in statuses)), "failed": dict(failures)}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit("usage: watchers.py HOST PORT PATH TOKEN ETAG N")
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])))
