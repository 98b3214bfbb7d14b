#!/usr/bin/env python3
"""A static file server with HTTP Range, for web seed (BEP 19) tests.

Python 3.11's `http.server` answers every GET with 200 and the whole file
(it has no Range support), so a web seed test needs this instead:

    range_server.py --root DIR [--host ADDR] [--port N] [--corrupt]

Serves the files under DIR (never outside it) with `Range: bytes=A-B`
answered 206 and a Content-Range; without Range, 200 and the whole file.
--corrupt flips every byte it sends (a server whose copy is damaged).
Prints one JSON line {"event": "listening", "port": N} on stdout once it
listens, then one {"event": "request", "client", "path", "range", "status"} line
per request.
"""
import argparse
import json
import os
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--corrupt", action="store_true")
    args = ap.parse_args()
    root = os.path.realpath(args.root)

    def emit(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a) -> None:  # no stderr chatter
            pass

        def _plain(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            emit({"event": "request", "client": self.client_address[0], "path": self.path, "range": self.headers.get("Range"), "status": status})

        def do_GET(self) -> None:
            rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            full = os.path.realpath(os.path.join(root, rel.lstrip("/")))
            if not (full == root or full.startswith(root + os.sep)) or not os.path.isfile(full):
                return self._plain(404)
            size = os.path.getsize(full)
            start, end, status = 0, size - 1, 200
            m = RANGE.match(self.headers.get("Range") or "")
            if m:
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
                if start > end:
                    return self._plain(416)
                status = 206
            length = end - start + 1
            self.send_response(status)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            emit({"event": "request", "client": self.client_address[0], "path": self.path, "range": self.headers.get("Range"), "status": status})
            with open(full, "rb") as f:
                f.seek(start)
                left = length
                while left > 0:
                    chunk = f.read(min(left, 1 << 16))
                    if not chunk:
                        break
                    if args.corrupt:
                        chunk = bytes(b ^ 0xFF for b in chunk)
                    try:
                        self.wfile.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    left -= len(chunk)

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    emit({"event": "listening", "port": server.server_address[1]})
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
