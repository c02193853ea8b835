#!/usr/bin/env python3
"""Tiny JetStream API client over the raw NATS protocol (no nats CLI needed).

usage: js_api.py [--url nats://127.0.0.1:4222] info|delete STREAM
Prints the JSON reply of $JS.API.STREAM.INFO.<stream> / $JS.API.STREAM.DELETE.<stream>.
"""
import json, socket, sys, urllib.parse

def request(host, port, subject, payload=b"", timeout=5.0):
    s = socket.create_connection((host, port), timeout=timeout)
    f = s.makefile("rb")
    f.readline()  # INFO {...}
    inbox = "_INBOX.benchff"
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"bench-js-api"}\r\n')
    s.sendall(f"SUB {inbox} 1\r\n".encode())
    s.sendall(f"PUB {subject} {inbox} {len(payload)}\r\n".encode() + payload + b"\r\n")
    s.sendall(b"PING\r\n")
    while True:
        line = f.readline()
        if not line:
            raise SystemExit("connection closed")
        if line.startswith(b"MSG"):
            size = int(line.split()[-1])
            data = f.read(size + 2)[:size]
            s.close()
            return json.loads(data)
        if line.startswith(b"PING"):
            s.sendall(b"PONG\r\n")
        if line.startswith(b"-ERR"):
            raise SystemExit(line.decode().strip())

def main():
    args = sys.argv[1:]
    url = "nats://127.0.0.1:4222"
    if args[:1] == ["--url"]:
        url, args = args[1], args[2:]
    op, stream = args
    u = urllib.parse.urlparse(url)
    subject = {"info": "$JS.API.STREAM.INFO.", "delete": "$JS.API.STREAM.DELETE."}[op] + stream
    print(json.dumps(request(u.hostname, u.port or 4222, subject)))

if __name__ == "__main__":
    main()
