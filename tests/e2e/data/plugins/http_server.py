#!/usr/bin/env python3
"""http_server.py: the loopback HTTP server of the http plugin's end-to-end tests.

Binds 127.0.0.1 on a free port (or --port), writes the port number to --port-file once it
listens, and serves until --lifetime seconds have passed (a safety net: the tests also kill it).
Python 3 standard library only.

Endpoints:
  GET  /json                 200 {"x": 42, "name": "dagflow", "items": [1, 2, 3]} (application/json)
  GET  /text                 200 "hello" (text/plain)
  POST|PUT|PATCH /echo       200 {"method", "content_type", "body": the request body as text,
                             "json": the body parsed when it is JSON, else null}
  ANY  /status/CODE          CODE with body "status CODE body" (text/plain)
  ANY  /flaky/KEY?fail=N     503 "flaky failure I of N" for the first N requests of KEY, then 200
                             {"key", "calls"}
  ANY  /hang                 reads the request and never answers (until the server exits)
  GET  /headers              200 the request headers as JSON (lower-case names)
  GET  /slow?ms=M            200 {"slept_ms": M} after M milliseconds
"""
import argparse
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTERS = {}
COUNTERS_LOCK = threading.Lock()
STOP = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the tests read results, not logs
        pass

    def _send(self, code, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Test-Server", "dagflow")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        body = self._body()
        if parts == ["json"]:
            self._send(200, json.dumps({"x": 42, "name": "dagflow", "items": [1, 2, 3]}))
        elif parts == ["text"]:
            self._send(200, "hello", "text/plain")
        elif parts == ["echo"]:
            text = body.decode("utf-8", "replace")
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            self._send(200, json.dumps({"method": self.command,
                                        "content_type": self.headers.get("Content-Type"),
                                        "body": text, "json": parsed}))
        elif len(parts) == 2 and parts[0] == "status" and parts[1].isdigit():
            code = int(parts[1])
            self._send(code, "status %d body" % code, "text/plain")
        elif len(parts) == 2 and parts[0] == "flaky":
            fail = int(query.get("fail", ["2"])[0])
            with COUNTERS_LOCK:
                COUNTERS[parts[1]] = COUNTERS.get(parts[1], 0) + 1
                calls = COUNTERS[parts[1]]
            if calls <= fail:
                self._send(503, "flaky failure %d of %d" % (calls, fail), "text/plain")
            else:
                self._send(200, json.dumps({"key": parts[1], "calls": calls}))
        elif parts == ["hang"]:
            STOP.wait()
            self.close_connection = True
        elif parts == ["headers"]:
            self._send(200, json.dumps({k.lower(): v for k, v in self.headers.items()}))
        elif parts == ["slow"]:
            ms = int(query.get("ms", ["100"])[0])
            time.sleep(ms / 1000.0)
            self._send(200, json.dumps({"slept_ms": ms}))
        else:
            self._send(404, "no such endpoint: %s" % url.path, "text/plain")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # many concurrent test requests: no SYN drops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifetime", type=float, default=60.0)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)  # readers never see a half-written file
    timer = threading.Timer(args.lifetime, lambda: (STOP.set(), srv.shutdown()))
    timer.daemon = True
    timer.start()
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        STOP.set()
        srv.server_close()


if __name__ == "__main__":
    main()
