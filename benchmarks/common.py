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
