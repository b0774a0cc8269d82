"""Fuzz the video reader for a set time.

    .venv/bin/python -m benchmarks.fuzz_videos --seconds 60

Feeds ``tools.video`` (the header check, then decoding every frame) mutated real MP4, MOV, WebM,
MKV, AVI, GIF and Y4M files — bytes flipped, cut, inserted, duplicated, chunks swapped — and random
bytes, and counts how many inputs escaped as anything but the project's own ``InvalidVideoError``
(the target is 0). Decoded frames must be RGB uint8 arrays. Prints the figures and exits 1 if
anything escaped. The classifier is left out: garbage frames are ordinary arrays to it.
"""

from __future__ import annotations

import argparse
import io
import time
import traceback
from collections import Counter

import numpy as np
from PIL import Image

from tools.errors import InvalidVideoError
from tools.video import VideoLimits, probe_video, read_frames

LIMITS = VideoLimits(max_duration_s=60, max_frames=600)


def _seeds() -> list[bytes]:
    import av

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(6)]
    seeds = []
    for container, codec, pix_fmt in (
        ("mp4", "libx264", "yuv420p"),
        ("mov", "mpeg4", "yuv420p"),
        ("webm", "libvpx", "yuv420p"),
        ("matroska", "libx264", "yuv420p"),
        ("avi", "mjpeg", "yuvj420p"),
    ):
        buffer = io.BytesIO()
        out = av.open(buffer, "w", format=container)
        stream = out.add_stream(codec, rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        out.close()
        seeds.append(buffer.getvalue())
    gif = io.BytesIO()
    images = [Image.fromarray(f) for f in frames]
    images[0].save(gif, "GIF", save_all=True, append_images=images[1:], duration=200)
    seeds.append(gif.getvalue())
    y4m = b"YUV4MPEG2 W64 H48 F5:1 Ip A1:1 C420jpeg\n" + b"".join(
        b"FRAME\n" + rng.integers(0, 255, 64 * 48 * 3 // 2, dtype=np.uint8).tobytes() for _ in range(3)
    )
    seeds.append(y4m)
    return seeds


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        op = rng.choice(["flip", "cut", "insert", "dup", "swap", "zero"])
        pos = int(rng.integers(0, max(1, len(out))))
        if op == "flip" and out:
            out[pos] = int(rng.integers(0, 256))
        elif op == "cut":
            out = out[:pos]
        elif op == "insert":
            out[pos:pos] = rng.bytes(int(rng.integers(1, 32)))
        elif op == "dup":
            out[pos:pos] = out[pos : pos + int(rng.integers(1, 256))]
        elif op == "swap" and len(out) > 64:
            other = int(rng.integers(0, len(out) - 32))
            out[pos : pos + 32], out[other : other + 32] = out[other : other + 32], out[pos : pos + 32]
        elif op == "zero":
            out[pos : pos + int(rng.integers(1, 512))] = bytes(min(len(out) - pos, int(rng.integers(1, 512))))
    return bytes(out)


def _read(data: bytes) -> int:
    probe_video(data, LIMITS)
    count = 0
    for _, rgb in read_frames(data, limits=LIMITS):
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        count += 1
    return count


def run(seconds: float, seed: int = 0) -> tuple[int, Counter, list[str]]:
    """Fuzzes until ``seconds`` have passed; returns (inputs tried, outcome counts, escape reports)."""
    rng = np.random.default_rng(seed)
    seeds = _seeds()
    outcomes: Counter = Counter()
    escapes: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if rng.random() < 0.05:
            data = rng.bytes(int(rng.integers(0, 2048)))
        else:
            data = _mutate(seeds[int(rng.integers(0, len(seeds)))], rng)
        try:
            _read(data)
            outcomes["decoded"] += 1
        except InvalidVideoError:
            outcomes["InvalidVideoError"] += 1
        except Exception as exc:  # noqa: BLE001 - counting escapes is the point
            outcomes["escaped"] += 1
            if len(escapes) < 5:
                escapes.append(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")
    return sum(outcomes.values()), outcomes, escapes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tried, outcomes, escapes = run(args.seconds, args.seed)
    print(f"fuzzed the video reader for {args.seconds:.0f} s: {tried} inputs tried")
    for name, count in outcomes.most_common():
        print(f"  {name}: {count}")
    for report in escapes:
        print(report)
    return 1 if outcomes["escaped"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
