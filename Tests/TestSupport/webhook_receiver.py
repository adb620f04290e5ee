#!/usr/bin/env python3
"""A webhook receiver for Sluice's notification tests, independent of Sluice's code.

    webhook_receiver.py SECRET_FILE PORT_FILE LOG_FILE [PORT]

Listens on 127.0.0.1 (PORT, or any free port), writes the port to PORT_FILE, and for every
request appends one JSON line to LOG_FILE:
  {"path", "delivery", "event", "attempt", "timestamp", "signature_valid", "status", "body"}

It verifies X-Sluice-Signature-256 with Python's hmac module: "sha256=" + hex HMAC-SHA256 under
the secret over "<X-Sluice-Timestamp>.<body>", and refuses (401) a wrong signature or a
timestamp more than 300 s away. Paths:
  /hook             200
  /hook?fail=N      500 for the first N requests of each delivery id, then 200
  /redirect         302 to /hook (a sender must not follow it)
  /slow             waits 5 s, then 200
"""
import hashlib
import os
import hmac
import http.server
import json
import sys
import threading
import time
import urllib.parse

secret_file, port_file, log_file = sys.argv[1:4]
port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
with open(secret_file, "rb") as f:
    secret = f.read().rstrip(b"\n")
seen = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        delivery = self.headers.get("X-Sluice-Delivery")
        timestamp = self.headers.get("X-Sluice-Timestamp", "")
        signature = self.headers.get("X-Sluice-Signature-256", "")
        expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, signature)
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 300
        with lock:
            seen[delivery] = seen.get(delivery, 0) + 1
            count = seen[delivery]
        if not (valid and fresh):
            status = 401
        elif url.path == "/redirect":
            status = 302
        elif url.path == "/slow":
            time.sleep(5)
            status = 200
        elif count <= int(query.get("fail", ["0"])[0]):
            status = 500
        else:
            status = 200
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        record = {
            "path": url.path, "delivery": delivery, "event": self.headers.get("X-Sluice-Event"),
            "attempt": self.headers.get("X-Sluice-Attempt"), "timestamp": timestamp,
            "signature_valid": valid, "status": status, "body": parsed,
            "content_type": self.headers.get("Content-Type"),
        }
        with lock:
            with open(log_file, "a") as log:
                log.write(json.dumps(record) + "\n")
        if status == 302:
            self.answer(302, [("Location", "/hook")])
        else:
            self.answer(status)


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
