#!/usr/bin/env python3
"""How FlowForge copes with large workflows: the CPU one long chain costs, and
what a maximum-size fan-out does to everybody else's webhooks.

usage:
  bench.py chain   --bin target/release/flowforge [--nodes 1000] [--database-url URL]
  bench.py fanout  --bin target/release/flowforge [--width 99] [--depth 9] [--seconds 20]

`chain` runs one execution of a chain of `--nodes` Set nodes and prints the
server's CPU seconds (user + system, from /proc) and the wall time it took.
`fanout` starts an execution whose trigger fans out to `--width` nodes that
each fan out to `--depth` more (99 x 9 + 100 = 991 nodes: near the default
1,000-node limit) while four clients call another workflow's webhook in a
loop, and prints those calls' latency percentiles during the fan-out.

The server runs on the embedded store in a temporary directory unless
`--database-url` names a PostgreSQL database (it should be empty). Only
127.0.0.1 is used. Needs Python 3.9+ and nothing else.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The access token every API call carries (set once the server is up).
TOKEN = None


def call(method, url, body=None, timeout=120):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    if TOKEN is not None:
        request.add_header("authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Server:
    def __init__(self, binary, database_url):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = tempfile.TemporaryDirectory(prefix="ff-shape-")
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
        env.update(FLOWFORGE_DATA_DIR=self.data.name, RUST_LOG="warn")
        if database_url:
            env["DATABASE_URL"] = database_url
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}"], env=env
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if call("GET", f"{self.base}/health/ready", timeout=2)[0] == 200:
                    self.sign_in()
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the server did not become ready")

    def sign_in(self):
        """Registers the installation's first account (its owner) and signs in."""
        global TOKEN
        TOKEN = None
        account = {"email": "bench@flowforge.test", "password": "a benchmark passphrase"}
        call("POST", f"{self.base}/api/v1/auth/register", dict(account, name="Bench"))
        status, tokens = call("POST", f"{self.base}/api/v1/auth/login", account)
        if status != 200:
            raise SystemExit(f"sign-in refused ({status}): {tokens}")
        TOKEN = tokens["access_token"]

    def create(self, workflow):
        status, body = call("POST", f"{self.base}/api/v1/workflows", workflow)
        if status != 201:
            raise SystemExit(f"workflow refused ({status}): {body}")
        return body["id"]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)
        self.data.cleanup()


def chain(args):
    nodes = [{"name": "Start", "type": "manual_trigger"}]
    connections = {}
    for n in range(1, args.nodes):
        nodes.append({"name": f"N{n}", "type": "set", "parameters": {"fields": {"n": n}}})
        connections[nodes[-2]["name"]] = {"main": [[{"node": f"N{n}"}]]}
    server = Server(args.bin, args.database_url)
    try:
        workflow = server.create({"name": f"chain of {args.nodes}", "nodes": nodes, "connections": connections})
        before, started = cpu_seconds(server.process.pid), time.time()
        status, body = call(
            "POST", f"{server.base}/api/v1/workflows/{workflow}/executions?wait=true&timeout_ms=60000"
        )
        execution = body.get("execution_id")
        while True:
            status, detail = call("GET", f"{server.base}/api/v1/executions/{execution}")
            if detail.get("status") in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.05)
        wall, cpu = time.time() - started, cpu_seconds(server.process.pid) - before
        print(f"chain of {args.nodes} nodes: {detail['status']}, {cpu:.2f} CPU-s, {wall:.2f} s wall")
    finally:
        server.stop()


def fanout(args):
    nodes = [{"name": "Start", "type": "manual_trigger"}]
    connections = {"Start": {"main": [[{"node": f"B{b}"} for b in range(args.width)]]}}
    for b in range(args.width):
        nodes.append({"name": f"B{b}", "type": "set", "parameters": {"fields": {"b": b}}})
        connections[f"B{b}"] = {"main": [[{"node": f"L{b}_{l}"} for l in range(args.depth)]]}
        for l in range(args.depth):
            nodes.append({"name": f"L{b}_{l}", "type": "set", "parameters": {"fields": {"l": l}}})
    server = Server(args.bin, args.database_url)
    try:
        wide = server.create({"name": "wide", "nodes": nodes, "connections": connections})
        hook = server.create({
            "name": "other",
            "nodes": [
                {"name": "Hook", "type": "webhook", "parameters": {"path": "other", "method": "POST", "response_mode": "last_node"}},
                {"name": "Sum", "type": "set", "parameters": {"fields": {"sum": "{{ $json.body.a + $json.body.b }}"}}},
            ],
            "connections": {"Hook": {"main": [[{"node": "Sum"}]]}},
        })
        status, body = call("POST", f"{server.base}/api/v1/workflows/{hook}/activate")
        if status >= 300:
            raise SystemExit(f"activation refused ({status}): {body}")
        latencies, failures, stop = [], [], threading.Event()

        def client():
            while not stop.is_set():
                started = time.time()
                try:
                    status, _ = call("POST", f"{server.base}/webhook/other", {"a": 1, "b": 2}, timeout=60)
                except OSError as error:
                    status = str(error)
                if status == 200:
                    latencies.append(time.time() - started)
                else:
                    failures.append(status)

        status, started = call("POST", f"{server.base}/api/v1/workflows/{wide}/executions")
        execution = started["execution_id"]
        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        began, before = time.time(), cpu_seconds(server.process.pid)
        while time.time() - began < args.seconds:
            _, detail = call("GET", f"{server.base}/api/v1/executions/{execution}")
            if detail.get("status") in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.1)
        fanout_done = time.time() - began
        stop.set()
        for thread in threads:
            thread.join()
        latencies.sort()

        def pct(p):
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

        print(
            f"fan-out of {len(nodes)} nodes: {detail.get('status')} after {fanout_done:.1f} s, "
            f"{cpu_seconds(server.process.pid) - before:.1f} CPU-s; other webhook meanwhile: "
            f"{len(latencies)} answered, {len(failures)} failed, "
            f"p50 {pct(0.50):.0f} ms, p99 {pct(0.99):.0f} ms, max {pct(1.0):.0f} ms"
        )
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shape", choices=["chain", "fanout"])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--width", type=int, default=99)
    parser.add_argument("--depth", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    {"chain": chain, "fanout": fanout}[args.shape](args)


if __name__ == "__main__":
    sys.exit(main())
