"""A local stand-in for a third-party API, for the credentials benchmarks:
answers every GET with a small JSON body naming whether an Authorization or
X-Api-Key header came, on a thread per connection. Usage: target_server.py PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({
            "ok": True,
            "authenticated": bool(self.headers.get("Authorization") or self.headers.get("X-Api-Key")),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
