"""What one REST replica costs: its memory after real classify requests, and its throughput.

    python -m benchmarks.bench_replica [--requests 30] [--clients 2]

Starts ``python -m tools serve rest`` on a free port (one process, as one replica behind a load
balancer would run), sends ``--requests`` ``POST /v1/classify`` requests, each a different real
photo (the hand-labelled faces and the ``MEDIA`` photos of ``benchmarks/photos.py``, as JPEG, up to
the group photos of 3-5 people), from ``--clients`` threads, and prints the server's resident memory
before the first request, after the last one and at its peak (``VmHWM``), with requests per second.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from benchmarks.bench_serve import _free_port
from benchmarks.common import jpeg, machine_line

ROOT = Path(__file__).resolve().parents[1]


def real_photos(count: int) -> list[tuple[str, bytes]]:
    """``count`` different real photos as (name, JPEG bytes)."""
    from benchmarks.photos import MEDIA, labelled_faces, load_source

    photos: list[tuple[str, bytes]] = []
    for name, (source, _, _) in MEDIA.items():
        if source.rsplit(".", 1)[-1].lower() not in ("mp4", "mov"):
            photos.append((name, jpeg(load_source(source))))
    photos += [(face.id, jpeg(face.rgb)) for face in labelled_faces()]
    if len(photos) < count:
        raise SystemExit(f"only {len(photos)} different photos are available; ask for fewer requests")
    return photos[:count]


def _peak_mb(pid: int) -> float:
    """The process's peak resident memory (Linux ``VmHWM``), in MB; nan elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; exit code 1 when a request failed."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_replica", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--requests", type=int, default=30, help="classify requests, each a new photo")
    parser.add_argument("--clients", type=int, default=2, help="client threads (default 2)")
    args = parser.parse_args(argv)
    photos = real_photos(args.requests)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "tools", "serve", "rest", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.25)
        process = psutil.Process(server.pid)
        idle_mb = process.memory_info().rss / 2**20
        errors: list[str] = []
        lock = threading.Lock()
        queue = list(photos)

        def client() -> None:
            with httpx.Client(base_url=url, timeout=300) as c:
                while True:
                    with lock:
                        if not queue:
                            return
                        name, data = queue.pop()
                    r = c.post("/v1/classify", files={"image": (f"{name}.jpg", data, "image/jpeg")})
                    if r.status_code != 200 and r.status_code != 422:  # 422: a photo without a face
                        with lock:
                            errors.append(f"{name}: {r.status_code} {r.text[:100]}")

        start = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        after_mb = process.memory_info().rss / 2**20
        print(machine_line())
        print(
            f"one REST replica (python -m tools serve rest), {args.requests} classify requests of different "
            f"real photos from {args.clients} clients; load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"  resident memory: {idle_mb:.0f} MB idle, {after_mb:.0f} MB after, {_peak_mb(server.pid):.0f} MB peak"
        )
        print(
            f"  throughput: {args.requests / wall:.1f} requests/s ({1000 * wall / args.requests:.0f} ms each)"
        )
        for error in errors:
            print(f"  error: {error}")
        return 1 if errors else 0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    raise SystemExit(main())
