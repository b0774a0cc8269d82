"""Real test photos with one, two and three faces, built from photos that ship inside packages.

- ``astronaut()``: scikit-image's astronaut, one smiling woman (512x512).
- ``grace()``: matplotlib's Grace Hopper portrait, one calm face.
- ``pair()``: Grace Hopper on the left, the astronaut on the right (the astronaut's face smaller).
- ``trio()``: Grace Hopper, the astronaut (the largest face, in the middle) and Grace Hopper
  mirrored, at three heights.
- ``coffee()``: scikit-image's cup of coffee, no face.

Cached per process: the corpus test and the session tests reuse one decoded copy of each.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import matplotlib
import numpy as np
import skimage.data
from PIL import Image

__all__ = ["GRACE_HOPPER", "PHOTOS", "astronaut", "coffee", "grace", "pair", "trio", "photo"]

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
_ASTRONAUT_FACE = (179, 83, 266, 170)  # where the face is in each source photo, for the tiles
_GRACE_FACE = (161, 137, 376, 352)


@cache
def astronaut() -> np.ndarray:
    """One smiling face."""
    return skimage.data.astronaut()


@cache
def grace() -> np.ndarray:
    """One calm face."""
    return np.asarray(Image.open(GRACE_HOPPER).convert("RGB"))


@cache
def pair() -> np.ndarray:
    """Grace Hopper (left) and the astronaut (right), side by side."""
    h = 360
    g = grace()
    left = np.asarray(Image.fromarray(g).resize((round(g.shape[1] * h / g.shape[0]), h)))
    right = np.asarray(Image.fromarray(astronaut()).resize((480, 480)))[60:420]
    return np.ascontiguousarray(np.hstack([left, right]))


def _tile(image: np.ndarray, box: tuple[int, int, int, int], side: int, mirror: bool = False) -> np.ndarray:
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * 1.25
    crop = Image.fromarray(image).crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    tile = np.asarray(crop.resize((side, side)))
    return tile[:, ::-1] if mirror else tile


@cache
def trio() -> np.ndarray:
    """Three faces: Grace Hopper (left, smallest), the astronaut (middle, largest), Grace mirrored (right)."""
    tiles = [
        (_tile(grace(), _GRACE_FACE, 200), 60),
        (_tile(astronaut(), _ASTRONAUT_FACE, 280), 10),
        (_tile(grace(), _GRACE_FACE, 230, mirror=True), 40),
    ]
    canvas = np.full((300, sum(t.shape[1] for t, _ in tiles), 3), 235, np.uint8)
    x = 0
    for tile, y in tiles:
        canvas[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
        x += tile.shape[1]
    return canvas


@cache
def coffee() -> np.ndarray:
    """A cup of coffee: no face."""
    return skimage.data.coffee()


PHOTOS = {"astronaut": astronaut, "grace": grace, "pair": pair, "trio": trio, "coffee": coffee}


def photo(name: str) -> np.ndarray:
    """One of ``PHOTOS`` by name (read-only array)."""
    image = PHOTOS[name]()
    image.setflags(write=False)
    return image
