"""Resident memory of the inference processes, each measured in a fresh process.

    python -m benchmarks.bench_memory [--requests 30]

1. **One-photo classify**: a fresh interpreter classifies one real photo (``obama.jpg``) and reports
   its peak resident set size (``VmHWM``) and whether torch was imported; once through the Python
   API (``from tools import classify``), once through the CLI (``python -m tools classify``).
   Target: <= 350 MB, torch not imported.
2. **REST server**: ``python -m tools serve rest`` receives ``--requests`` ``POST /v1/classify``
   requests, each a different real photo (the mixed set of ``bench_perception``: portraits, group
   photos of 1920 px, a 2560x1912 photo, a 1524x1036 PNG, each also sent brightness-shifted so no
   upload repeats); its resident memory (``VmRSS``) and peak (``VmHWM``) are read from /proc after
   the last answer, and whether it loaded torch (its shared library in the process's memory maps).
   Target: <= 450 MB after 30 requests.

Memory does not depend on the machine's load, so these figures are comparable between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLASSIFY_TARGET_MB = 350.0
SERVER_TARGET_MB = 450.0

_PEAK = """
def _peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_API_CHILD = (
    _PEAK
    + """
import json, sys
from tools import classify
preds = classify(sys.argv[1])
print(json.dumps({"faces": len(preds), "label": preds[0].label, "peak_mb": _peak_mb(),
                  "torch": "torch" in sys.modules}))
"""
)

_CLI_CHILD = (
    _PEAK
    + """
import contextlib, io, json, sys
from tools.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["classify", sys.argv[1]])
print(json.dumps({"exit": code, "peak_mb": _peak_mb(), "torch": "torch" in sys.modules}))
"""
)


def _child(script: str, photo: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", script, str(photo)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"the classify process failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def one_photo() -> dict[str, dict]:
    """Peak RSS and torch import of a fresh process classifying one photo, API and CLI."""
    from benchmarks.photos import media_path

    photo = media_path("obama")
    return {"api": _child(_API_CHILD, photo), "cli": _child(_CLI_CHILD, photo)}


def _status(pid: int) -> dict[str, float]:
    figures = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                figures[key] = int(value.split()[0]) / 1024
    return figures


def _maps_torch(pid: int) -> bool:
    """Whether the process has torch's shared library mapped (it imported torch)."""
    with open(f"/proc/{pid}/maps") as handle:
        return any("libtorch" in line for line in handle)


def server_photos(count: int) -> list[bytes]:
    """``count`` different uploads: the mixed set, then brightness-shifted JPEG copies of it."""
    import numpy as np

    from benchmarks.bench_perception import mixed_uploads
    from benchmarks.common import jpeg
    from tools.images import load_image

    base = [data for _, data in mixed_uploads()]
    photos = list(base[:count])
    shift = 8
    while len(photos) < count:
        for data in base[: count - len(photos)]:
            rgb = load_image(data).astype(np.int16)
            photos.append(jpeg(np.clip(rgb + shift, 0, 255).astype(np.uint8)))
        shift += 8
    return photos


def rest_server(requests: int = 30) -> dict:
    """RSS of a REST server after ``requests`` classify requests, each a different photo."""
    from tests.serving import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    photos = server_photos(requests)
    server = subprocess.Popen(
        [sys.executable, "-m", "tools", "serve", "rest", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the REST server did not start") from None
                time.sleep(0.25)
        started = _status(server.pid)
        statuses: dict[int, int] = {}
        faces = 0
        with httpx.Client(base_url=url, timeout=300) as client:
            for i, photo in enumerate(photos):
                r = client.post("/v1/classify", files={"image": (f"p{i}.jpg", photo, "image/jpeg")})
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    faces += len(r.json()["faces"])
        after = _status(server.pid)
        return {
            "requests": len(photos),
            "statuses": statuses,
            "faces": faces,
            "rss_started_mb": started["VmRSS"],
            "rss_after_mb": after["VmRSS"],
            "peak_mb": after["VmHWM"],
            "torch": _maps_torch(server.pid),
        }
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    """Prints both parts; exit code 1 when a target is missed."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_memory", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--requests", type=int, default=30, help="classify requests to the server (default 30)"
    )
    args = parser.parse_args(argv)
    ok = True
    print("1. one-photo classify process (obama.jpg), fresh interpreter")
    for name, facts in one_photo().items():
        good = facts["peak_mb"] <= CLASSIFY_TARGET_MB and not facts["torch"]
        ok &= good
        print(
            f"  {name:4} peak RSS {facts['peak_mb']:6.0f} MB, torch imported: {facts['torch']!s:5} "
            f"(target <= {CLASSIFY_TARGET_MB:g} MB, no torch) {'OK' if good else 'MISSED'}"
        )
    print(f"\n2. REST server after {args.requests} classify requests of different photos")
    facts = rest_server(args.requests)
    good = facts["rss_after_mb"] <= SERVER_TARGET_MB
    ok &= good
    print(
        f"  statuses {facts['statuses']}, {facts['faces']} faces; RSS at start {facts['rss_started_mb']:.0f} MB, "
        f"after {facts['rss_after_mb']:.0f} MB, peak {facts['peak_mb']:.0f} MB; torch loaded: {facts['torch']}"
    )
    print(
        f"  RSS after the requests {facts['rss_after_mb']:.0f} MB (target <= {SERVER_TARGET_MB:g} MB) "
        f"{'OK' if good else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
