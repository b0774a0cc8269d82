"""Fuzz the image decoder with hypothesis for a set time.

    .venv/bin/python -m benchmarks.fuzz_images --seconds 60

Feeds ``tools.images.load_image`` random bytes, mutated real PNG/JPEG/GIF/TIFF/WebP/BMP files and
random numpy arrays (any dtype, shape, NaN/inf), and counts how many inputs escaped as anything but
the project's own ``InvalidImageError`` (the target is 0). Every other outcome — an RGB uint8 array
or ``InvalidImageError`` — is accepted. Prints the figures and exits 1 if anything escaped.
"""

from __future__ import annotations

import argparse
import io
import time
import traceback
import warnings
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from tools.errors import InvalidImageError
from tools.images import load_image


def _seed_files() -> list[bytes]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    seeds = []
    for fmt, mode in (
        ("PNG", "RGB"),
        ("PNG", "RGBA"),
        ("PNG", "P"),
        ("JPEG", "RGB"),
        ("GIF", "P"),
        ("TIFF", "CMYK"),
        ("WEBP", "RGB"),
        ("BMP", "RGB"),
        ("PNG", "I;16"),
    ):
        image = Image.fromarray(pixels).convert(mode if mode != "I;16" else "I")
        if mode == "I;16":
            image = Image.fromarray(pixels[..., 0].astype(np.uint16) * 257)
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        seeds.append(buffer.getvalue())
    return seeds


SEEDS = _seed_files()


@st.composite
def mutated_file(draw: st.DrawFn) -> bytes:
    """A real image file with bytes flipped, cut, duplicated or inserted."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            data = data[:pos]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 64))]
    return bytes(data)


arrays = hnp.arrays(
    dtype=st.sampled_from(
        [np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64, np.bool_, np.complex64]
    ),
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=40),
    elements=None,
)

inputs = st.one_of(st.binary(max_size=512), mutated_file(), arrays, st.text(max_size=40).map(str.encode))


def run(seconds: float) -> tuple[int, Counter, list[str]]:
    """Fuzzes until ``seconds`` have passed; returns (inputs tried, outcome counts, escape reports)."""
    outcomes: Counter = Counter()
    escapes: list[str] = []
    deadline = time.monotonic() + seconds

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(inputs)
    def one(source: object) -> None:
        if time.monotonic() > deadline:
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = load_image(source)
            assert result.dtype == np.uint8 and result.ndim == 3 and result.shape[2] == 3
            outcomes["decoded"] += 1
        except InvalidImageError:
            outcomes["InvalidImageError"] += 1
        except Exception as exc:  # noqa: BLE001 - counting escapes is the point
            outcomes["escaped"] += 1
            if len(escapes) < 5:
                escapes.append(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")

    while time.monotonic() < deadline:
        one()
    return sum(outcomes.values()), outcomes, escapes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    args = parser.parse_args()
    tried, outcomes, escapes = run(args.seconds)
    print(f"fuzzed load_image for {args.seconds:.0f} s: {tried} inputs tried")
    print(
        f"  decoded: {outcomes['decoded']}  InvalidImageError: {outcomes['InvalidImageError']}  escaped: {outcomes['escaped']}"
    )
    for report in escapes:
        print(report)
    return 1 if outcomes["escaped"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
