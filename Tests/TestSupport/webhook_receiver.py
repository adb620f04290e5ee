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
  /redirect?code=N  N (default 302) to /hook (a sender must not follow it)
  /slow             waits 5 s, then 200
  /trickle          a status line, then a header byte every 0.5 s for 20 s (never ends its head)
  /bigredirect      302 with a 50 MB body, sent as fast as the socket takes it
Requests with any other method are logged too (path, method) and answered 405, so a followed
redirect (which would turn a POST into a GET) shows in the log.
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

    def do_GET(self):
        with lock:
            with open(log_file, "a") as log:
                log.write(json.dumps({"path": urllib.parse.urlsplit(self.path).path, "method": self.command, "status": 405,
                                      "signature_valid": False}) + "\n")
        self.answer(405)

    do_PUT = do_GET
    do_HEAD = do_GET

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
            status = int(query.get("code", ["302"])[0])
        elif url.path in ("/trickle", "/bigredirect"):
            status = 0
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
            "content_type": self.headers.get("Content-Type"), "method": self.command,
        }
        with lock:
            with open(log_file, "a") as log:
                log.write(json.dumps(record) + "\n")
        try:
            if url.path == "/trickle":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(40):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(0.5)
            elif url.path == "/bigredirect":
                self.send_response(302)
                self.send_header("Location", "/hook")
                self.send_header("Content-Length", str(50 * 1024 * 1024))
                self.end_headers()
                chunk = b"x" * (1024 * 1024)
                for _ in range(50):
                    self.wfile.write(chunk)
            elif 300 <= status < 400:
                self.answer(status, [("Location", "/hook")])
            else:
                self.answer(status)
        except (BrokenPipeError, ConnectionResetError):
            pass


# socketserver listens with a backlog of 5 by default: 16 senders at once (WebhookSenderTests)
# overflowed it now and then, and the kernel answered the extra connections with a reset.
http.server.ThreadingHTTPServer.request_queue_size = 128
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
