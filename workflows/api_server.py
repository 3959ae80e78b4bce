#!/usr/bin/env python3
"""api_server.py: a tiny local JSON API for the api_to_sqlite example workflow (no internet).

Listens on 127.0.0.1 on a free port, writes the port to --port-file and its process id to
--pid-file once it listens, and stops by itself after --lifetime seconds, or on SIGTERM (the
workflow's last task sends it); it removes both files when it stops. Python 3 standard library only.

  GET  /api/orders?day=YYYY-MM-DD   200 {"day", "orders": [{"id", "customer", "amount"}, ...]}
  POST /api/ack                     writes the JSON body to --ack-file (atomically), 200 {"ok": true}
"""
import argparse
import json
import os
import random
import signal
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CUSTOMERS = ["acme", "globex", "initech", "umbrella"]


def orders_for(day):
    """A deterministic set of orders for a day: the same day always gives the same orders."""
    rng = random.Random(day)
    base = int("".join(c for c in day if c.isdigit()) or "0") * 100
    return [{"id": base + i, "customer": rng.choice(CUSTOMERS),
             "amount": round(rng.uniform(5, 500), 2)} for i in range(rng.randint(8, 12))]


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ack_file = None

    def log_message(self, fmt, *args):
        pass

    def _send(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/api/orders":
            self._send(404, {"error": "no such endpoint: " + url.path})
            return
        day = urllib.parse.parse_qs(url.query).get("day", ["2026-11-29"])[0]
        self._send(200, {"day": day, "orders": orders_for(day)})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        if self.path != "/api/ack":
            self._send(404, {"error": "no such endpoint: " + self.path})
            return
        try:
            doc = json.loads(body)
        except ValueError as e:
            self._send(400, {"error": "body is not JSON: %s" % e})
            return
        write_atomically(self.ack_file, json.dumps(doc, indent=2) + "\n")
        self._send(200, {"ok": True})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--pid-file", required=True)
    ap.add_argument("--ack-file", required=True)
    ap.add_argument("--lifetime", type=float, default=30.0)
    args = ap.parse_args()
    Handler.ack_file = args.ack_file
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    write_atomically(args.pid_file, "%d\n" % os.getpid())
    write_atomically(args.port_file, "%d\n" % srv.server_address[1])
    timer = threading.Timer(args.lifetime, srv.shutdown)
    timer.daemon = True
    timer.start()
    # SIGTERM (the workflow's stop task) ends serve_forever cleanly; shutdown() waits for the
    # loop, so it is called from another thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        for path in (args.port_file, args.pid_file):
            try:
                os.remove(path)
            except OSError:
                pass


if __name__ == "__main__":
    main()
