"""Turns image sources into the model's face crops, the same way the classifier will at inference.

The classifier detects the 68 landmarks and warps each face with the card's alignment
(``tools.faces.align_face``). RAF-DB's aligned images and FER-2013's 48x48 crops are framed
differently, so training pushes every image through that same detection and alignment; an image in
which no face is found falls back to a plain resize, and those are counted. With alignment
``{"method": "none"}`` (the synthetic smoke data, which has no real faces) every image is simply
resized, exactly as the classifier does for such a model.

The crops are computed once per dataset and split and kept in memory, and optionally in a ``.npz``
cache file (no pickle) in the run folder, so resumed runs and evaluations skip the detection.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tools.errors import FaceAgentError, NoFaceError
from tools.faces import align_face, detect_faces
from tools.images import load_image
from training.datasets import DatasetError, Split

__all__ = ["PreparedSplit", "prepare_split", "prepare_image", "cache_key"]


@dataclass
class PreparedSplit:
    """Face crops of one split, ready for the data loader.

    Attributes:
        images: (N, S, S, C) uint8 crops (RGB, or gray when C == 1).
        targets: (N,) int64 label indices.
        fallbacks: how many images had no detectable face and were resized instead.
    """

    images: np.ndarray
    targets: np.ndarray
    fallbacks: int = 0

    def __len__(self) -> int:
        return len(self.targets)


def prepare_image(
    source: Path | np.ndarray, size: int, alignment: dict[str, Any], channels: int = 3
) -> tuple[np.ndarray, bool]:
    """One model-ready crop and whether it fell back to a plain resize.

    Args:
        source: an image path or array.
        size: side of the crop (the card's ``input_size``).
        alignment: the card's alignment (``{"method": "similarity5", "margin": m, "shift_y": s}``
            or ``{"method": "none"}``).
        channels: 3 for RGB, 1 for gray (converted the way the classifier converts).

    Raises:
        DatasetError: the file cannot be read as an image.
    """
    try:
        rgb = load_image(source)  # gray FER-2013 arrays become RGB
    except FaceAgentError as exc:
        raise DatasetError(f"Cannot read the training image {source}: {exc}") from exc
    fallback = False
    crop = None
    if alignment.get("method", "similarity5") != "none":
        try:
            face = detect_faces(rgb, max_faces=1)[0]
            crop = align_face(
                rgb,
                face,
                size,
                margin=float(alignment.get("margin", 0.25)),
                shift_y=float(alignment.get("shift_y", 0.0)),
            ).image
        except NoFaceError:
            fallback = True
    if crop is None:
        interpolation = cv2.INTER_AREA if min(rgb.shape[:2]) > size else cv2.INTER_LINEAR
        crop = cv2.resize(rgb, (size, size), interpolation=interpolation)
    if channels == 1:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[..., None]
    return np.ascontiguousarray(crop), fallback


def _prepare_chunk(args: tuple[list[Path | np.ndarray], int, dict[str, Any], int]) -> tuple[np.ndarray, int]:
    sources, size, alignment, channels = args
    crops, fallbacks = [], 0
    for source in sources:
        crop, fallback = prepare_image(source, size, alignment, channels)
        crops.append(crop)
        fallbacks += fallback
    return np.stack(crops), fallbacks


def cache_key(split: Split, size: int, alignment: dict[str, Any], channels: int) -> str:
    """A short hash naming what a cache file holds: the sources, size, alignment and channels."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(json.dumps([size, channels, alignment], sort_keys=True).encode())
    for source, target in zip(split.sources, split.targets):
        if isinstance(source, np.ndarray):
            digest.update(source.tobytes())
        else:
            stat = Path(source).stat()
            digest.update(f"{source}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        digest.update(str(target).encode())
    return digest.hexdigest()


def prepare_split(
    split: Split,
    size: int,
    alignment: dict[str, Any],
    channels: int = 3,
    cache_dir: str | Path | None = None,
    name: str = "split",
    workers: int = 0,
    progress: bool = False,
) -> PreparedSplit:
    """All crops of a split, read from the cache file when one matches.

    Args:
        split: the sources and targets.
        size: crop side.
        alignment: the card's alignment.
        channels: 3 or 1.
        cache_dir: folder for ``<name>-<key>.npz`` cache files; None keeps everything in memory.
        name: split name used in the cache file name.
        workers: processes for face detection (0 = this process).
        progress: show a progress bar.
    """
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{name}-{cache_key(split, size, alignment, channels)}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                return PreparedSplit(data["images"], data["targets"], int(data["fallbacks"]))
    chunk = 64
    jobs = [(split.sources[i : i + chunk], size, alignment, channels) for i in range(0, len(split), chunk)]
    results: list[tuple[np.ndarray, int]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(split), desc=f"preparing {name}", unit="img")
    if workers > 0 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or 1)) as pool:
            for result, job in zip(pool.map(_prepare_chunk, jobs), jobs):
                results.append(result)
                if bar:
                    bar.update(len(job[0]))
    else:
        for job in jobs:
            results.append(_prepare_chunk(job))
            if bar:
                bar.update(len(job[0]))
    if bar:
        bar.close()
    images = (
        np.concatenate([r[0] for r in results]) if results else np.zeros((0, size, size, channels), np.uint8)
    )
    prepared = PreparedSplit(images, np.asarray(split.targets, dtype=np.int64), sum(r[1] for r in results))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(
            tmp, images=prepared.images, targets=prepared.targets, fallbacks=np.int64(prepared.fallbacks)
        )
        tmp.replace(path)
    return prepared
