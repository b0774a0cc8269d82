"""The 68 facial landmarks the voice measures, from one of several landmark models.

- ``faceapi`` (default): face-api.js's ``FaceLandmark68Net`` (MIT), exported to ONNX by
  ``scripts/convert_faceapi_landmarks.py`` (``models/weights/faceapi_landmark68.onnx``) and run in
  ONNX Runtime on a 112 px crop aligned on the detector's five points.
- ``faceapi-tiny``: its 77 KB ``FaceLandmark68TinyNet``, the same way.
- ``facemesh``: MediaPipe's attention FaceMesh (``tools.models.facemesh``: 478 points, lips, lids
  and irises refined), read in the 68-point scheme through a fixed index map (``FACEMESH_TO_68``);
  all its points stay available. ``facemesh-base``: the plain 468-point mesh, the same way.
- ``dlib``: dlib's regression-tree shape predictor (``tools.faces``: ``Face.landmarks``).

``FACE_AGENT_LANDMARKS`` picks one for the process (like ``FACE_AGENT_DETECTOR``); the benchmark
that chose the default is ``benchmarks/bench_states.py`` (see docs/PERFORMANCE.md). Nothing here
imports torch: the networks run in ONNX Runtime and the crops are cut with OpenCV.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tools.errors import FaceAgentError, InvalidRequestError, ModelUnavailableError
from tools.faces import Face, _umeyama, canonical_points

__all__ = [
    "DEFAULT_LANDMARKS",
    "FACEMESH_TO_68",
    "LANDMARK_MODELS",
    "ONNX_FILES",
    "FaceApiLandmarks",
    "Landmarks",
    "face_landmarks",
    "fit_landmarks",
    "landmark_model_name",
    "preload",
]

LANDMARK_MODELS = ("faceapi", "faceapi-tiny", "facemesh", "facemesh-base", "dlib")
DEFAULT_LANDMARKS = "facemesh"
_WEIGHTS = Path(__file__).resolve().parent / "models" / "weights"
# name -> (file, sha256); made by scripts/convert_faceapi_landmarks.py (see models/weights/SOURCE.md).
ONNX_FILES: dict[str, tuple[Path, str]] = {
    "faceapi": (
        _WEIGHTS / "faceapi_landmark68.onnx",
        "6bcbd54267aceeba94e31897246166055bcfd291753375a315d28a75e8ba56e4",
    ),
    "faceapi-tiny": (
        _WEIGHTS / "faceapi_landmark68_tiny.onnx",
        "5a7ce3993641987fbbcd494495e44175e6b785398a3b0c8a82de69bd8bbccb42",
    ),
}
CROP_SIDE = 112
# face-api runs its landmark nets on the detector's box (SSD MobileNet) padded to a square. In the
# frame of the five-point template that square needs a slightly negative margin (the crop a little
# tighter than the template face) and the face moved up: measured on face-api's own boxes for 18
# faces of 11 package photos (scripts/make_faceapi_landmarks_reference.py): median margin -0.04,
# shift -0.07 (boxes vary: margin -0.11 to 0.02, shift -0.18 to -0.02).
CROP_MARGIN, CROP_SHIFT = -0.04, -0.07

# MediaPipe FaceMesh index for each iBUG-68 point: jaw 0-16, brows 17-26 (upper edge), nose bridge
# 27-30, nostrils 31-35, eyes 36-47 (corner, two upper-lid, corner, two lower-lid points), outer
# lips 48-59, inner lips 60-67.
FACEMESH_TO_68 = (
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    78, 82, 13, 312, 308, 317, 14, 87,
)  # fmt: skip


@dataclass(frozen=True)
class Landmarks:
    """One face's landmarks from one model.

    Attributes:
        points: (68, 2) float32 (x, y) in pixels of the original image, iBUG-68 order.
        model: the landmark model that gave them (one of ``LANDMARK_MODELS``).
        dense: FaceMesh's (468 or 478, 3) points for the FaceMesh models, else None.
        face_prob: FaceMesh's probability that its crop held a face (None for the other models).
    """

    points: np.ndarray
    model: str
    dense: np.ndarray | None = None
    face_prob: float | None = None


def landmark_model_name(name: str | None = None) -> str:
    """The landmark model to use: ``name``, else ``FACE_AGENT_LANDMARKS``, else ``DEFAULT_LANDMARKS``.

    Raises:
        InvalidRequestError: an unknown name.
    """
    chosen = (name or os.environ.get("FACE_AGENT_LANDMARKS") or DEFAULT_LANDMARKS).strip().lower()
    if chosen not in LANDMARK_MODELS:
        raise InvalidRequestError(
            f"Unknown landmark model {chosen!r}; choose one of {', '.join(LANDMARK_MODELS)}."
        )
    return chosen


_PRELOAD_LOCK = threading.Lock()
_PRELOADS: dict[str | None, threading.Thread] = {}


def preload(model: str | None = None) -> threading.Thread:
    """Loads a landmark model (``landmark_model_name(model)``) in a background thread, so that the
    first question about a face does not wait for it; returns the daemon thread, started once per
    process and model. dlib's predictor is left to its first use: it holds the interpreter lock
    while it loads."""
    try:
        name: str | None = landmark_model_name(model)
    except FaceAgentError:
        name = None  # the first question says what is wrong

    def load() -> None:
        try:
            if name in ("facemesh", "facemesh-base"):
                from tools.models.facemesh import default_facemesh

                default_facemesh("base" if name == "facemesh-base" else "attention")
            elif name not in (None, "dlib"):
                _faceapi(name)
        except FaceAgentError:
            pass  # the first question says what is missing

    with _PRELOAD_LOCK:
        if name not in _PRELOADS:
            _PRELOADS[name] = threading.Thread(target=load, name="landmarks-preload", daemon=True)
            _PRELOADS[name].start()
        return _PRELOADS[name]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FaceApiLandmarks:
    """A face-api.js landmark net in ONNX Runtime; thread-safe (ONNX Runtime sessions are).

    Args:
        name: ``faceapi`` or ``faceapi-tiny``.
        path: another ONNX file of the same interface (the shipped one, sha256-checked, when None).
        threads: intra-op threads (1: a 112 px network gains nothing from a second one, and
            requests run side by side).

    Raises:
        ModelUnavailableError: the file is missing, altered or does not load.
    """

    def __init__(self, name: str = "faceapi", path: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        if name not in ONNX_FILES:
            raise InvalidRequestError(f"No face-api landmark net {name!r}; known: {', '.join(ONNX_FILES)}.")
        self.name = name
        shipped, digest = ONNX_FILES[name]
        source = Path(path) if path else shipped
        regenerate = "run `python scripts/convert_faceapi_landmarks.py` (or restore the file from git)"
        if not source.is_file():
            raise ModelUnavailableError(f"The landmark model {source} is missing: {regenerate}.")
        if path is None and _sha256(source) != digest:
            raise ModelUnavailableError(
                f"The landmark model {source} does not match its checksum: {regenerate}."
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # No spin-waiting: spinning threads would steal the cores from the other networks of the
        # request and from concurrent requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session: Any = ort.InferenceSession(
                str(source), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a damaged file or an old runtime: say which
            raise ModelUnavailableError(f"Could not load the landmark model {source}: {exc}") from exc

    def run_crops(self, crops: np.ndarray) -> np.ndarray:
        """The network on (N, 112, 112, 3) uint8 RGB crops: (N, 68, 2) points in crop pixels."""
        crops = np.ascontiguousarray(crops, dtype=np.uint8)
        return self._session.run(None, {"crop": crops})[0] * np.float32(CROP_SIDE)

    def fit(self, rgb: np.ndarray, faces: Sequence[Face]) -> list[np.ndarray]:
        """68 points per face (image pixels), all faces of a photo in one batch."""
        if not faces:
            return []
        matrices = [
            _umeyama(f.points5(), canonical_points(CROP_SIDE, CROP_MARGIN, CROP_SHIFT)) for f in faces
        ]
        points = self.run_crops(np.stack([cut(rgb, m, CROP_SIDE) for m in matrices]))
        out = []
        for m, p in zip(matrices, points, strict=True):
            inverse = _invert(m)
            out.append((p.astype(np.float64) @ inverse[:, :2].T + inverse[:, 2]).astype(np.float32))
        return out


def _invert(matrix: np.ndarray) -> np.ndarray:
    full = np.vstack([np.asarray(matrix, np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def cut(rgb: np.ndarray, matrix: np.ndarray, side: int, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """The ``side`` px crop of ``rgb`` under the 2x3 image -> crop ``matrix``.

    Only the part of the photo the crop covers is read: when the crop shrinks the face a lot, that
    part is area-downsampled first (one warp that shrinks by more than 2 aliases), never the whole
    photo, so a face in a 16 MP photo costs what it costs in a small one.
    """
    inverse = _invert(matrix)
    corners = (
        np.array([[0, 0], [side, 0], [0, side], [side, side]], np.float64) @ inverse[:, :2].T + inverse[:, 2]
    )
    h, w = rgb.shape[:2]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((side, side, 3), np.uint8)
    region = rgb[y0:y1, x0:x1]
    to_region = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.5:
        factor = min(1.0, 2.0 * scale)
        size = (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor)))
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        to_region = np.diag([size[0] / (x1 - x0), size[1] / (y1 - y0), 1.0]) @ to_region
    warp = (np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_region))[:2]
    return cv2.warpAffine(
        np.ascontiguousarray(region), warp, (side, side), flags=cv2.INTER_LINEAR, borderMode=border
    )


@lru_cache(maxsize=4)
def _faceapi(name: str) -> FaceApiLandmarks:
    return FaceApiLandmarks(name)


def fit_landmarks(rgb: np.ndarray, faces: Sequence[Face], model: str | None = None) -> list[Landmarks]:
    """The landmarks of each face of an RGB image with one model (see ``landmark_model_name``).

    Args:
        rgb: the (H, W, 3) uint8 image the faces were found in.
        faces: faces found in it (their five points frame the crops).
        model: a name of ``LANDMARK_MODELS``; None for ``FACE_AGENT_LANDMARKS`` or the default.

    Raises:
        InvalidRequestError: an unknown model name.
        ModelUnavailableError: the model's file is missing or altered.
    """
    name = landmark_model_name(model)
    if name == "dlib":
        return [Landmarks(np.asarray(f.landmarks, np.float32), name) for f in faces]
    if name in ("facemesh", "facemesh-base"):
        try:
            from tools.models.facemesh import fit_meshes
        except ImportError as exc:  # pragma: no cover - shipped with the project
            raise ModelUnavailableError(f"FaceMesh is not available here ({exc}).") from exc
        meshes = fit_meshes(rgb, list(faces), model="base" if name == "facemesh-base" else "attention")
        return [
            Landmarks(m.points[list(FACEMESH_TO_68), :2].astype(np.float32), name, m.points, m.face_prob)
            for m in meshes
        ]
    return [Landmarks(p, name) for p in _faceapi(name).fit(rgb, list(faces))]


def face_landmarks(record: Any, index: int, model: str | None = None) -> Landmarks:
    """The landmarks of face ``index`` of an ``ImageRecord``, computed once per record, face and model.

    Raises:
        InvalidRequestError: an index out of range or an unknown model name.
        NoFaceError: the photo has no face.
    """
    name = landmark_model_name(model)
    face = record.face(index)
    return record.cached(("landmarks", name, index), lambda: fit_landmarks(record.rgb, [face], name)[0])
