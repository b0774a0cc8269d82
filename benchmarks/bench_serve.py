"""Throughput and latency of the REST API: a real uvicorn process, real HTTP, concurrent clients.

    python -m benchmarks.bench_serve [--clients 8] [--requests 25] [--workers N] [--access-log]

Starts ``python -m tools serve rest`` on a free port and sends ``--clients`` x ``--requests``
``POST /v1/classify`` requests from as many threads, in three runs:

* new photo: every request uploads a photo the server has not seen (decode, detect, classify);
* same photo: every request uploads one photo (the per-image cache answers after the first);
* mixed: classify, ask, describe and explain in turn on new photos.

Prints requests/s and p50/p95 latency (ms) for each run, and the server's queue limit. The server
writes no access log unless ``--access-log`` (then one line per request on stderr, as in production);
either way every request passes the request-id and metrics layers.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.common import grace_hopper, jpeg, machine_line

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = [
    ("/v1/classify", {}),
    ("/v1/ask", {"question": "Is the mouth open?"}),
    ("/v1/describe", {}),
    ("/v1/explain", {}),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _photos(count: int) -> list[bytes]:
    """``count`` different JPEGs (astronaut and Grace Hopper, brightness shifted), ~512 px."""
    from skimage import data

    faces = [data.astronaut().astype(np.int16), grace_hopper().astype(np.int16)]
    return [jpeg(np.clip(faces[i % 2] + (i // 2) % 40 - 20, 0, 255).astype(np.uint8)) for i in range(count)]


def _run(url: str, clients: int, requests: int, jobs: list[tuple[str, dict, bytes]]) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as c:
            for n in range(requests):
                path, fields, photo = jobs[(k * requests + n) % len(jobs)]
                start = time.perf_counter()
                r = c.post(path, files={"image": ("p.jpg", photo, "image/jpeg")}, data=fields)
                took = time.perf_counter() - start
                with lock:
                    latencies.append(took)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:120]}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "rps": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25, help="requests per client and run")
    parser.add_argument("--workers", type=int, default=None, help="server threads (default: its own)")
    parser.add_argument("--access-log", action="store_true", help="let the server log each request")
    args = parser.parse_args(argv)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tools", "serve", "rest", "--port", str(port)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    stderr = None
    if not args.access_log:
        command.append("--no-access-log")
    else:
        stderr = subprocess.DEVNULL  # written, not shown
    server = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, "FACE_AGENT_TORCH_THREADS": "1"}, stderr=stderr
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=1).json()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.25)
        total = args.clients * args.requests
        print(machine_line())
        print(
            f"REST API at {url}: {args.clients} clients x {args.requests} requests; queue {health['queue']}"
        )
        fresh = _photos(total * 3 + 1)
        runs = {
            "classify, new photo": [("/v1/classify", {}, p) for p in fresh[:total]],
            "classify, same photo": [("/v1/classify", {}, fresh[-1])],
            "mixed endpoints, new photo": [
                (*ENDPOINTS[i % len(ENDPOINTS)], p) for i, p in enumerate(fresh[total : 2 * total])
            ],
        }
        _run(url, 2, 2, [("/v1/explain", {}, fresh[-1])])  # warm-up: every code path once
        print(f"{'run':30} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8}")
        failed = False
        for name, jobs in runs.items():
            r = _run(url, args.clients, args.requests, jobs)
            failed |= r["errors"] > 0
            print(
                f"{name:30} {r['requests']:8d} {r['errors']:6d} {r['rps']:7.1f} {r['p50_ms']:8.0f} {r['p95_ms']:8.0f}",
                flush=True,
            )
        return 1 if failed else 0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    raise SystemExit(main())
