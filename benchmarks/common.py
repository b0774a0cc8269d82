"""Shared pieces of the speed benchmarks: test photos, timing helpers and a line about the machine.

The photos are real faces shipped inside installed packages (scikit-image's astronaut and LFW
subset, matplotlib's Grace Hopper), kept in memory as JPEG bytes like an upload.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "QUESTION",
    "astronaut_variants",
    "large_photo",
    "grace_hopper",
    "jpeg",
    "machine_line",
    "median_ms",
    "timed",
]

QUESTION = "what is she feeling and why, and is the mouth open?"


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB array (in memory)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def astronaut_variants(count: int) -> list[bytes]:
    """``count`` different JPEG photos of the astronaut (512 px): each a new upload, the same face.

    Each copy has its brightness shifted by a few levels, so every one has a new content hash and is
    decoded, detected and classified afresh, while the work per photo stays the same.
    """
    from skimage import data

    base = np.asarray(data.astronaut()).astype(np.int16)
    return [
        jpeg(np.clip(base + (i % 13) - 6 + 13 * (i // 13), 0, 255).astype(np.uint8)) for i in range(count)
    ]


def large_photo(seed: int, side: int = 4000) -> tuple[bytes, str]:
    """A ``side`` x ``side`` JPEG (16 MP by default, ~1 MB) with one real face on a random backdrop.

    Even seeds show the smiling astronaut, odd seeds Grace Hopper (mouth closed), enlarged to
    50-80% of the side at a random place, so every seed is a different photo of a known face.

    Returns:
        The JPEG bytes and the face's name (``astronaut`` or ``grace_hopper``).
    """
    import cv2
    from skimage import data

    rng = np.random.default_rng(seed)
    name = "astronaut" if seed % 2 == 0 else "grace_hopper"
    face = data.astronaut() if name == "astronaut" else grace_hopper()
    canvas = cv2.resize(
        rng.integers(0, 255, (12, 12, 3), dtype=np.uint8), (side, side), interpolation=cv2.INTER_CUBIC
    )
    width = int(side * rng.uniform(0.5, 0.8))
    face = cv2.resize(
        face, (width, round(width * face.shape[0] / face.shape[1])), interpolation=cv2.INTER_CUBIC
    )
    y = int(rng.integers(0, side - face.shape[0]))
    x = int(rng.integers(0, side - face.shape[1]))
    canvas[y : y + face.shape[0], x : x + face.shape[1]] = face
    return jpeg(canvas, quality=90), name


def grace_hopper() -> np.ndarray:
    """matplotlib's sample photo of Grace Hopper (512x600 RGB)."""
    import matplotlib

    path = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    return np.asarray(Image.open(path).convert("RGB"))


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def median_ms(values: list[float]) -> float:
    """Median of a list of seconds, in milliseconds."""
    return 1000 * statistics.median(values)


def machine_line() -> str:
    """Cores, load average and torch threads, for the header of every benchmark."""
    import torch

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load}, torch {torch.__version__} with {torch.get_num_threads()} threads"
