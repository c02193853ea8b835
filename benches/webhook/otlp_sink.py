#!/usr/bin/env python3
"""A stand-in OTLP/HTTP collector for the tracing-overhead benchmark: it takes
every POST /v1/traces, answers 200 at once, and counts requests and bytes
(printed on SIGTERM or Ctrl-C). It does not decode the spans; the tracing
test (api/tests/tracing.rs) checks what they hold.

usage: otlp_sink.py [port]   (default 4318)
"""
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = {"requests": 0, "bytes": 0}


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        received["requests"] += 1
        received["bytes"] += length
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def report(*_):
    print(f"otlp sink: {received['requests']} exports, {received['bytes']} bytes", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4318
    signal.signal(signal.SIGTERM, report)
    signal.signal(signal.SIGINT, report)
    ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
