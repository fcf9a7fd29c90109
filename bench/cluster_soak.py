"""glancelab as a service among services: three API nodes behind HAProxy on PostgreSQL and
a shared S3 store, and every dependency failing once under load.

Part 1, scale: GET /v2/images/{id} through HAProxy with 1, 2 and 3 nodes (one worker
each), 16 clients, each for --scale-seconds; where the CPU went (HAProxy, the nodes,
PostgreSQL, the clients) and the PostgreSQL connections at peak. On 2 cores no gain from
more nodes is expected: the nodes share the same two cores.

Part 2, soak: 32 clients (bench/soak.py's mix: list, show, create+patch, upload,
download checked against its md5, delete) through HAProxy for --seconds, during which:
kill -9 of a whole node (restarted later), a PostgreSQL restart, S3 stopped and started,
200 slow clients (half at HAProxy, half straight at a node), and a rolling restart of
every node (drain file, stop, start). Prints requests, 5xx by cause, images stuck, bytes
lost (every active image re-read), and the failover gap: how long after the kill
clients still saw errors.
Usage: .venv/bin/python bench/cluster_soak.py [--seconds 120] [--clients 32]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "api"))
import requests  # noqa: E402

import soak  # noqa: E402
from harness import ApiServer, Haproxy, Postgres, Service, free_port, free_port_block  # noqa: E402
from helpers import ADMIN  # noqa: E402

NODES = 3


# -- where the CPU goes ---------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def _children(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as handle:
                kids = [int(kid) for kid in handle.read().split()]
        except OSError:
            kids = []
        found += kids
        todo += kids
    return found


def _postgres_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def cpu_snapshot(nodes: list[ApiServer], balancer: Haproxy) -> dict[str, float]:
    with open(os.path.join(balancer.state_dir, "pid")) as handle:
        haproxy_pid = int(handle.read().split()[0])
    api = sum(_cpu_seconds(pid) for node in nodes if node.process
              for pid in [node.process.pid, *_children(node.process.pid)])
    return {"haproxy": _cpu_seconds(haproxy_pid), "api nodes": api,
            "postgresql": sum(_cpu_seconds(pid) for pid in _postgres_pids()),
            "clients (this process)": sum(os.times()[:2])}


def scale(nodes: list[ApiServer], work: str, postgres: Postgres, seconds: float) -> list[dict]:
    session = requests.Session()
    session.headers.update(ADMIN)
    image = session.post(f"{nodes[0].url}/v2/images", json={"name": "scale"}).json()["id"]
    results = []
    for count in range(1, NODES + 1):
        balancer = Haproxy(os.path.join(work, f"lb-scale-{count}"), nodes[:count]).start()
        for index in range(count):
            balancer.wait_for(index, "UP")
        stop = time.monotonic() + seconds
        done = [0]
        peak = [0]
        lock = threading.Lock()

        def client() -> None:
            own = requests.Session()
            own.headers.update(ADMIN)
            while time.monotonic() < stop:
                if own.get(f"{balancer.url}/v2/images/{image}", timeout=30).status_code == 200:
                    with lock:
                        done[0] += 1

        def watch() -> None:
            while time.monotonic() < stop:
                peak[0] = max(peak[0], postgres.connections())
                time.sleep(0.2)

        before = cpu_snapshot(nodes, balancer)
        with concurrent.futures.ThreadPoolExecutor(17) as pool:
            futures = [pool.submit(client) for _ in range(16)] + [pool.submit(watch)]
            for future in futures:
                future.result()
        after = cpu_snapshot(nodes, balancer)
        spent = {name: after[name] - before[name] for name in after}
        total = sum(spent.values()) or 1.0
        results.append({"nodes": count, "requests_per_s": round(done[0] / seconds),
                        "cpu_share": {name: f"{100 * value / total:.0f}%"
                                      for name, value in spent.items()},
                        "postgresql_connections_peak": peak[0]})
        balancer.stop()
    base = results[0]["requests_per_s"] or 1
    for row in results:
        row["ratio_to_one_node"] = round(row["requests_per_s"] / base, 2)
    return results


# -- the soak -------------------------------------------------------------------------------

class Timeline:
    def __init__(self):
        self.started = time.monotonic()
        self.events: list[str] = []
        self.moments: dict[str, float] = {}

    def note(self, name: str, text: str) -> None:
        self.moments[name] = time.monotonic()
        self.events.append(f"{time.monotonic() - self.started:5.1f}s {text}")


class TimedTally(soak.Tally):
    """soak.Tally, also keeping when each failure happened and what it said."""

    def __init__(self):
        super().__init__()
        self.failures: list[tuple[float, str, str]] = []

    def note(self, kind: str, seconds: float, detail: str = "") -> None:
        super().note(kind, seconds, detail)
        if kind not in ("2xx", "4xx"):
            with self.lock:
                self.failures.append((time.monotonic(), kind, detail))


def cause(kind: str, detail: str) -> str:
    text = detail.lower()
    if kind == "connection cut":
        return "connection cut"
    if "metadata database" in text:
        return f"{kind} database unavailable"
    if "store" in text or "s3" in text:
        return f"{kind} store unavailable"
    if "no server is available" in text:
        return f"{kind} no node available (HAProxy)"
    return f"{kind} other"


def trickle(targets: list[str], count: int, seconds: float) -> None:
    """count connections spread over targets, each sending a header byte a second."""
    sockets = []
    for index in range(count):
        host, port = targets[index % len(targets)].split("//")[1].split(":")
        try:
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"GET /v2/images HTTP/1.1\r\nHost: x\r\n")
            sockets.append(sock)
        except OSError:
            pass
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for sock in sockets:
            try:
                sock.send(b"X")
            except OSError:
                pass
        time.sleep(1)
    for sock in sockets:
        sock.close()


def faults(nodes: list[ApiServer], balancer: Haproxy, postgres: Postgres, s3: Service,
           seconds: float, timeline: Timeline) -> None:
    def at(fraction: float) -> None:
        time.sleep(max(0.0, timeline.started + seconds * fraction - time.monotonic()))

    at(0.12)
    os.killpg(nodes[0].process.pid, signal.SIGKILL)
    nodes[0].process.wait()
    nodes[0].process = None
    timeline.note("kill", "kill -9 of node 1 (master and workers)")
    at(0.22)
    nodes[0].start()
    timeline.note("node back", "node 1 started again")
    at(0.30)
    postgres.halt()
    timeline.note("pg down", "PostgreSQL stopped")
    time.sleep(3)
    postgres.start()
    timeline.note("pg up", "PostgreSQL started again")
    at(0.42)
    s3.stop()
    timeline.note("s3 down", "S3 stopped")
    at(0.50)
    s3.start()
    timeline.note("s3 up", "S3 started again")
    at(0.55)
    slow = threading.Thread(target=trickle, args=([balancer.url, nodes[1].url], 200,
                                                  seconds * 0.15))
    slow.start()
    timeline.note("slow", "200 slow clients (100 at HAProxy, 100 at node 2)")
    at(0.72)
    for index, node in enumerate(nodes):
        open(node.drain_file, "w").close()
        balancer.wait_for(index, "DOWN")
        node.stop()
        os.remove(node.drain_file)
        node.start()
        balancer.wait_for(index, "UP")
    timeline.note("rolled", "rolling restart of every node done")
    slow.join()


def failover_gap(tally: TimedTally, timeline: Timeline) -> float:
    """Seconds from the kill to the last failure before node 1 came back (the
    killed node's in-flight requests, and any request sent to it before HAProxy saw it
    down)."""
    kill, back = timeline.moments["kill"], timeline.moments["node back"]
    during = [when for when, _kind, _detail in tally.failures if kill <= when < back]
    return round(max(during) - kill, 2) if during else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--scale-seconds", type=float, default=8)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="glancelab-cluster-", dir=os.environ.get("BENCH_DIR"))
    os.chmod(work, 0o755)  # PostgreSQL runs as its own user
    s3 = Service("s3", os.path.join(work, "s3"), free_port_block(8)).start()
    postgres = Postgres(os.path.join(work, "postgres"), max_connections=100).start()
    database = postgres.new_database()
    nodes: list[ApiServer] = []
    balancer = None
    try:
        for index in range(NODES):
            port = free_port()
            node = ApiServer(os.path.join(work, f"node{index + 1}"), database, workers=1,
                             port=port, extra_conf=f"""
                [DEFAULT]
                enabled_backends = local:file, s3:s3
                client_socket_timeout = 10
                worker_self_reference_url = http://127.0.0.1:{port}
                [glance_store]
                default_backend = s3
                [local]
                filesystem_store_datadir = {work}/shared-files
                [healthcheck]
                disable_by_file_path = {work}/node{index + 1}/drain
                """ + s3.store_section("s3", "cluster", s3_store_large_object_size="1",
                                       s3_store_large_object_chunk_size="5"))
            node.base_store_conf = False
            node.drain_file = f"{work}/node{index + 1}/drain"
            nodes.append(node.start())
        scaled = scale(nodes, work, postgres, args.scale_seconds)
        for node in nodes:  # the soak runs two workers a node
            node.stop()
            node.workers = 2
            node.start()
        balancer = Haproxy(os.path.join(work, "lb"), nodes).start()
        for index in range(NODES):
            balancer.wait_for(index, "UP")
        timeline, tally, images = Timeline(), TimedTally(), soak.Images()
        stop_at = time.monotonic() + args.seconds
        clients = [threading.Thread(target=soak.client,
                                    args=(balancer.url, stop_at, tally, images, n))
                   for n in range(args.clients)]
        for thread in clients:
            thread.start()
        faults(nodes, balancer, postgres, s3, args.seconds, timeline)
        for thread in clients:
            thread.join()
        checked = soak.final_check(balancer.url, images)
    finally:
        if balancer:
            balancer.stop()
        for node in nodes:
            node.stop()
        s3.stop()
        postgres.stop()
    by_cause: dict[str, int] = {}
    for _when, kind, detail in tally.failures:
        by_cause[cause(kind, detail)] = by_cause.get(cause(kind, detail), 0) + 1
    latencies = sorted(tally.latencies)
    print(json.dumps({
        "scale_through_haproxy": scaled,
        "soak": {"nodes": NODES, "clients": args.clients, "seconds": args.seconds,
                 "events": timeline.events, "requests": len(latencies),
                 "answers": dict(sorted(tally.by_class.items())),
                 "5xx_and_cuts_by_cause": dict(sorted(by_cause.items())),
                 "failover_gap_s": failover_gap(tally, timeline),
                 "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
                 "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
                 "targets": {"500s": tally.by_class.get("500", 0), **checked,
                             "corrupt_downloads_during_run": tally.corrupt_downloads},
                 "examples": tally.examples},
    }, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
