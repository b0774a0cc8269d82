"""Faces: detection (RetinaFace by default, dlib HOG selectable), landmarks, alignment, regions.

**Detection.** The default detector is RetinaFace-MobileNet0.25 (``tools.models.retinaface``), run
through ONNX Runtime from its committed graph (``tools.models.graphs``; an 8-bit copy with
``FACE_AGENT_DETECTOR_PRECISION=int8``, torch when onnxruntime is missing). It gives a box, a
probability and five landmarks (eyes, nose tip, mouth corners) per face, which is all the
classifier's 5-point alignment needs. It runs on a copy of the photo downscaled to
at most ``DETECT_SIDE`` pixels; when that first pass finds nothing, a small face or faces at very
different depths in a large photo, a second pass at up to ``DETECT_SIDE_FINE`` looks for faces too
small for the first; the faces of a group at one size are measured again at that scale, each on
its neighbourhood, only for their 68 landmarks (see ``RetinaFaceDetector._refined``). A photo with
no face is tried mirrored too. Given a photo's stored pixels, each pass reads the smallest
decode of it that has the pass's resolution. ``FACE_AGENT_DETECTOR=hog`` selects dlib's HOG detector.

**Landmarks.** dlib's 68-point shape predictor runs only when something needs the 68 points (the
geometry answerer, the explainer's facial regions), on a small upright crop cut at detection time
(or, for a photo detected on a reduced decode, when the points are first asked for), so classifying
a photo never pays for it and a face holds no reference to the whole decoded photo.

Tight face crops such as RAF-DB's aligned 100x100 images or FER-2013's 48x48 ones, where the face
fills the frame, are padded before detection; a small square image in which even that finds nothing
is taken as a face crop whose landmarks are then checked for plausibility.

Faces are ranked by prominence: the side of the box weighted by the detector's confidence, so a
large but doubtful detection does not outrank a clear face; lists of faces come most prominent first.
People name faces by the numbers they read off a photo, so every face also has a **number** in
reading order (``reading_order``): rows from top to bottom, left to right within a row, from 1.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from pathlib import Path

import cv2
import dlib
import numpy as np

from tools.errors import InvalidRequestError, ModelUnavailableError, NoFaceError
from tools.images import ImageInput, load_image

__all__ = [
    "Face",
    "AlignedFace",
    "FaceDetector",
    "HogDetector",
    "RetinaFaceDetector",
    "DETECTORS",
    "default_detector",
    "detector_name",
    "detector_precision",
    "detect_faces",
    "align_face",
    "alignment_scale",
    "region_masks",
    "REGIONS",
    "landmark_model_path",
    "DETECT_SIDE",
    "reading_order",
    "face_numbers",
    "index_of_number",
]

DETECTORS = ("retinaface", "hog")
DETECT_SIDE = 640
DETECT_SIDE_FINE = 1280  # the second, finer pass of RetinaFace (only when it pays; see below)
CROP_SIDE = 256  # images up to this size and roughly square may be tight face crops
MIN_FACE_SIDE = 12  # pixels in the original image
STRONG_SCORE, WEAK_SCORE = 0.6, 0.1  # dlib SVM margins: a clear face; a doubtful one
# RetinaFace: a face at >= 0.7 probability. Measured on real photos from packages: every face a
# person would count scored >= 0.91 (down to 24 px in a group photo), while a motorcycle headlight
# scored 0.63 and cats, coffee, textures and LFW's non-face patches less (benchmarks/bench_perception).
FACE_PROB = 0.7
# In a tight crop (the whole image is a face) real faces score >= 0.88 (all 100 faces of the LFW
# subset) and textures up to 0.75 (its 100 non-face patches): a stricter threshold there.
TIGHT_FACE_PROB = 0.8
NMS_IOU = 0.4
# The finer pass runs when the first pass suggests faces may have been too small for it: one under
# this many pixels at the working scale, or faces whose sides differ this many times (people at
# several distances: some may be further still). On the group photos of face-api's demos (1920 px,
# 3-5 people at one distance, faces 160-280 px) the finer pass found no face the first had not.
FINE_TRIGGER_SIDE = 40
FINE_TRIGGER_SPREAD = 2.0
# The mirrored pass runs on a photo with no face only where the first pass came near one: every face
# that only its mirror image showed (19 in 264 real photos turned in 30 degree steps, as is and
# mirrored: benchmarks/eval_speed_choices.py) scored >= 0.26 in the first pass; a face-free drawing
# scores 0.02, most face-free photos under 0.1. With the 8-bit graph: 18 such faces, >= 0.16.
MIRROR_TRIGGER_PROB = 0.1
PRECISIONS = ("float32", "int8")
# Two faces are in one row of a group photo when their boxes share this much of the smaller height.
ROW_OVERLAP = 0.3

# The five-point face template of ArcFace (InsightFace), in a 112x112 crop: left eye, right eye,
# nose tip, left and right mouth corners (as seen in the image). A well-known canonical face.
_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)

# The 68-point predictor was trained on dlib HOG boxes; it fits best when started from one. Measured
# on 14 real faces (astronaut, Grace Hopper, press photos, LFW), a HOG box lies at these coordinates
# of a 160 px crop aligned with margin 0.25 (sd 4-6 px); landmarks are fitted in such a crop.
_FIT_SIDE, _FIT_SIDE_MAX, _FIT_MARGIN = 160, 384, 0.25
_FIT_BOX = (43.0, 53.0, 119.0, 136.0)

REGIONS: tuple[str, ...] = ("brows", "eyes", "nose", "mouth", "cheeks_jaw", "forehead", "other")


def landmark_model_path() -> Path:
    """Path of dlib's 68-point shape predictor shipped by ``face-recognition-models``.

    The package's ``__init__`` imports pkg_resources, which is gone; so the file is located from
    the package spec without importing it.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "The landmark model is missing: install it with `pip install face-recognition-models`."
        )
    path = (
        Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    )
    if not path.is_file():
        raise ModelUnavailableError(
            f"The landmark model {path} is missing; reinstall face-recognition-models."
        )
    return path


class _LandmarkModel:
    """dlib's 68-point shape predictor; calls are serialised (dlib objects are not thread-safe)."""

    def __init__(self, path: str | Path | None = None) -> None:
        path = Path(path) if path else landmark_model_path()
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise ModelUnavailableError(f"Could not load the landmark model {path}: {exc}") from exc
        self._lock = threading.Lock()

    def fit(self, gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """68 (x, y) points for a face box on an 8-bit gray image."""
        rect = dlib.rectangle(*(int(round(v)) for v in box))
        with self._lock:
            shape = self._predictor(gray, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


@lru_cache(maxsize=1)
def _landmark_model() -> _LandmarkModel:
    return _LandmarkModel()


class Face:
    """One detected face.

    Attributes:
        box: (x0, y0, x1, y1) in pixels of the original image.
        score: the detector's confidence: RetinaFace's face probability, or dlib's SVM margin
            (> 0 means a face); ``nan`` for a tight crop taken as a whole.
        source: ``detector`` or ``whole-image`` (a tight crop that the detector could not frame).
        detector: which detector found it (``retinaface``, ``hog``).
    """

    __slots__ = ("_fit", "_landmarks", "_lock", "_points5", "box", "detector", "score", "source")

    def __init__(
        self,
        box: tuple[int, int, int, int],
        score: float,
        landmarks: np.ndarray | None = None,
        source: str = "detector",
        *,
        points5: np.ndarray | None = None,
        fit: Callable[[], np.ndarray] | None = None,
        detector: str = "hog",
    ) -> None:
        if landmarks is None and (points5 is None or fit is None):
            raise ValueError("A face needs its 68 landmarks, or five points and a way to fit the 68.")
        self.box = tuple(int(v) for v in box)
        self.score = float(score)
        self.source = source
        self.detector = detector
        self._landmarks = None if landmarks is None else np.asarray(landmarks, np.float32)
        self._points5 = None if points5 is None else np.asarray(points5, np.float64)
        self._fit = fit
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Face(box={self.box}, score={self.score:.4g}, source={self.source!r}, detector={self.detector!r})"

    @property
    def landmarks(self) -> np.ndarray:
        """(68, 2) float array of (x, y) points in the original image (iBUG 68 order).

        Fitted on first use for RetinaFace faces (about 2 ms), then kept.
        """
        if self._landmarks is None:
            with self._lock:
                if self._landmarks is None:
                    self._landmarks = np.asarray(self._fit(), np.float32)  # type: ignore[misc]
                    self._fit = None
        return self._landmarks

    @property
    def has_landmarks(self) -> bool:
        """Whether the 68 points are already known (no fitting needed to read them)."""
        return self._landmarks is not None

    @property
    def size(self) -> float:
        """The box's side length (geometric mean of width and height)."""
        x0, y0, x1, y1 = self.box
        return float(np.sqrt(max(1, x1 - x0) * max(1, y1 - y0)))

    @property
    def prominence(self) -> float:
        """Ranking key: side length weighted by detector confidence."""
        confidence = 1.0 if np.isnan(self.score) else 0.5 + min(max(self.score, 0.0), 2.0) / 4.0
        return self.size * confidence

    def rescaled(self, factor: float) -> Face:
        """The same face in a copy of the image ``factor`` times as large (boxes and points scaled;
        68 landmarks not fitted yet are fitted on this face's crop when asked for, then scaled)."""
        if factor == 1.0:
            return self
        box = tuple(int(round(v * factor)) for v in self.box)
        points5 = None if self._points5 is None else self._points5 * factor
        if self._landmarks is not None:
            return Face(
                box,
                self.score,
                self._landmarks * factor,
                self.source,
                points5=points5,
                detector=self.detector,
            )
        return Face(
            box,
            self.score,
            None,
            self.source,
            points5=points5,
            fit=lambda: self.landmarks * factor,
            detector=self.detector,
        )

    def points5(self) -> np.ndarray:
        """Eye centres, nose tip and mouth corners as a (5, 2) array, template order."""
        if self._points5 is not None:
            return self._points5.copy()
        pts = self.landmarks
        return np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48], pts[54]]).astype(
            np.float64
        )


class AlignedFace:
    """A face warped to the canonical pose of a model's input.

    Attributes:
        image: (size, size, 3) RGB uint8 crop.
        matrix: 2x3 affine matrix taking original-image (x, y) to crop coordinates.
        landmarks: (68, 2) landmarks in crop coordinates (fitted on first use when the face's
            68 points are not known yet).
    """

    __slots__ = ("_face", "_landmarks", "image", "matrix")

    def __init__(
        self,
        image: np.ndarray,
        matrix: np.ndarray,
        landmarks: np.ndarray | None = None,
        *,
        face: Face | None = None,
    ):
        if landmarks is None and face is None:
            raise ValueError("An aligned face needs its landmarks or the face they come from.")
        self.image = image
        self.matrix = matrix
        self._landmarks = None if landmarks is None else np.asarray(landmarks, np.float32)
        self._face = face

    @property
    def landmarks(self) -> np.ndarray:
        """(68, 2) landmarks in crop coordinates."""
        if self._landmarks is None:
            self._landmarks = self.to_crop(self._face.landmarks)  # type: ignore[union-attr]
        return self._landmarks

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) points of the original image in this crop's coordinates (float32)."""
        points = np.asarray(points, np.float64)
        return (points @ self.matrix[:, :2].T + self.matrix[:, 2]).astype(np.float32)

    @property
    def size(self) -> int:
        """Side of the square crop."""
        return int(self.image.shape[0])


def _lazy_landmarks(rgb: np.ndarray, points5: np.ndarray) -> Callable[[], np.ndarray]:
    """A function fitting the 68 landmarks later, from a small upright crop cut now.

    The crop (160-384 px) is aligned on the five points, so the predictor always starts from the box it
    was trained on, whatever the face's size or roll, and nothing holds on to the whole photo.
    """
    # At the face's own resolution (no detail lost to downscaling), between 160 and 384 px.
    unit = _umeyama(points5, canonical_points(1.0, _FIT_MARGIN))
    native = 1.0 / max(float(np.sqrt(abs(np.linalg.det(unit[:, :2])))), 1e-6)
    side = int(np.clip(round(native), _FIT_SIDE, _FIT_SIDE_MAX))
    matrix = _umeyama(points5, canonical_points(side, _FIT_MARGIN))
    # Only the crop is turned gray: the whole photo is never converted for points rarely asked for.
    crop = cv2.cvtColor(
        cv2.warpAffine(rgb, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
        cv2.COLOR_RGB2GRAY,
    )
    inverse = cv2.invertAffineTransform(matrix)
    box = tuple(v * side / _FIT_SIDE for v in _FIT_BOX)

    def fit() -> np.ndarray:
        model = _landmark_model()
        points = model.fit(crop, box).astype(np.float64)
        # Once more from the box a HOG detection would have given for these points (measured on
        # 29 real faces: the landmarks' bounding box, 14% higher at the top, 6% short at the chin).
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        w, h = x1 - x0, y1 - y0
        points = model.fit(crop, (x0 - 0.02 * w, y0 - 0.14 * h, x1 + 0.02 * w, y1 - 0.06 * h)).astype(
            np.float64
        )
        return points @ inverse[:, :2].T + inverse[:, 2]

    return fit


class HogDetector:
    """dlib's HOG detector with 68-point landmarks; thread-safe (calls are serialised)."""

    name = "hog"

    def __init__(self, predictor_path: str | Path | None = None) -> None:
        self._landmarks = _LandmarkModel(predictor_path) if predictor_path else _landmark_model()
        self._detector = dlib.get_frontal_face_detector()
        self._lock = threading.Lock()

    def _detect(
        self, gray: np.ndarray, upsample: int
    ) -> list[tuple[tuple[float, float, float, float], float]]:
        with self._lock:
            rects, scores, _ = self._detector.run(gray, upsample, 0.0)
        return [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores)]

    def landmarks(self, gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """68 (x, y) points for a face box on an 8-bit gray image."""
        return self._landmarks.fit(gray, box)

    def detect(self, image: ImageInput, max_faces: int = 20, min_score: float = 0.0) -> list[Face]:
        """Finds faces, most prominent first.

        Args:
            image: anything ``load_image`` accepts (an RGB array is used as is).
            max_faces: keep at most this many.
            min_score: detections with a lower detector score are dropped as too weak.

        Returns:
            The faces found, possibly none.
        """
        rgb = image if _is_rgb_array(image) else load_image(image)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        h, w = gray.shape
        found = self._detect_scaled(gray, min_score)
        if not found and max(h, w) <= CROP_SIDE:
            found = self._detect_padded(gray, min_score)
        kept: dict[int, Face] = {}
        strong = False
        # Strongest first: once a clear face is in, weak detections are dropped below anyway, so
        # their landmarks (~2 ms each; the astronaut has one such) are never computed.
        for i in sorted(range(len(found)), key=lambda i: -found[i][1]):
            box, score = found[i]
            if strong and score < WEAK_SCORE:
                continue
            box = _clip_box(box, w, h)
            if min(box[2] - box[0], box[3] - box[1]) < MIN_FACE_SIDE:
                continue
            points = self.landmarks(gray, box)
            if _plausible(points, box):
                kept[i] = Face(tuple(int(round(v)) for v in box), round(score, 4), points)
                strong = strong or score >= STRONG_SCORE
        faces = [kept[i] for i in sorted(kept)]  # detector order, as before the ranking below
        if any(f.score >= STRONG_SCORE for f in faces):
            # Beside a clear face, a barely-above-threshold detection is nearly always texture.
            faces = [f for f in faces if f.score >= WEAK_SCORE]
        if not faces and max(h, w) <= CROP_SIDE and 0.7 <= w / h <= 1.45:
            faces = _whole_image(gray)
        faces.sort(key=lambda f: f.prominence, reverse=True)
        return faces[:max_faces]

    def _detect_scaled(self, gray: np.ndarray, min_score: float) -> list:
        h, w = gray.shape
        scale = min(1.0, DETECT_SIDE / max(h, w))
        small = (
            cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            if scale < 1
            else gray
        )
        found = self._detect(small, 0)
        if not found and max(small.shape) <= DETECT_SIDE:
            # Faces under ~80 px need one upsampling; 4x the cost, so only when the first pass is empty.
            found = self._detect(small, 1)
        return [(tuple(v / scale for v in box), s) for box, s in found if s >= min_score]

    def _detect_padded(self, gray: np.ndarray, min_score: float) -> list:
        # A tight crop: give the detector's window room around the face, and enough pixels.
        h, w = gray.shape
        pad = int(round(0.3 * max(h, w)))
        padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        scale = max(1.0, 320 / max(padded.shape))
        big = (
            cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            if scale > 1
            else padded
        )
        found = self._detect(big, 0) or self._detect(big, 1)
        return [(tuple(v / scale - pad for v in box), s) for box, s in found if s >= min_score]


FaceDetector = HogDetector  # the name of earlier versions


class RetinaFaceDetector:
    """RetinaFace-MobileNet0.25 with five landmarks per face; thread-safe.

    Args:
        backend: ``auto`` (ONNX Runtime when installed, else torch), ``onnx`` or ``torch``.
        threads: intra-op threads of the ONNX Runtime session (torch uses its own setting).
        precision: ONNX Runtime's graph: ``float32`` (the torch network's numbers) or ``int8``
            (8-bit convolutions: 20-26% less CPU, the same faces on the labelled, group and
            face-free photos, but five points ~3% of the eye distance off, which moves emotion and
            facial-state readings near their thresholds; docs/PERFORMANCE.md). None:
            ``FACE_AGENT_DETECTOR_PRECISION``, else ``float32``.
    """

    name = "retinaface"

    def __init__(
        self, backend: str = "auto", threads: int | None = None, precision: str | None = None
    ) -> None:
        if backend not in ("auto", "onnx", "torch"):
            raise InvalidRequestError(f"Unknown detector backend {backend!r}; use auto, onnx or torch.")
        precision = detector_precision(precision)
        self._torch_model = None
        self._session = None
        if backend in ("auto", "onnx"):
            from tools.models.graphs import RETINAFACE, RETINAFACE_INT8, session

            try:
                # A committed graph (scripts/export_onnx.py, scripts/quantize_retinaface.py): no
                # torch, no export at start-up.
                graph = RETINAFACE_INT8 if precision == "int8" else RETINAFACE
                self._session = session(graph.read(), threads or min(2, os.cpu_count() or 1))
            except ModelUnavailableError as exc:  # no runtime, or the graph is missing: torch works
                if backend == "onnx":
                    raise ModelUnavailableError(
                        f"The ONNX Runtime detector is unavailable ({exc}): `pip install onnxruntime`, "
                        "or use backend='torch'."
                    ) from exc
        if self._session is None:
            from tools.models.retinaface import load_retinaface

            self._torch_model = load_retinaface()
        self.backend = "onnx" if self._session is not None else "torch"
        self.precision = precision if self._session is not None else "float32"
        self._lock = threading.Lock()  # the torch path shares one module; ORT sessions are thread-safe

    def _run(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw outputs for one RGB uint8 image (H, W, 3)."""
        if self._session is not None:  # the graph makes its own input from the pixels
            boxes, scores, landmarks = self._session.run(None, {"image": np.ascontiguousarray(rgb)[None]})
        else:
            import torch

            from tools.models.retinaface import network_input

            with self._lock, torch.inference_mode():
                x = torch.from_numpy(network_input(rgb))
                boxes, scores, landmarks = (t.numpy() for t in self._torch_model(x))  # type: ignore[misc]
        return boxes[0], scores[0], landmarks[0]

    def _pass(
        self, rgb: np.ndarray, scale: float, pad: int = 0, best: list[float] | None = None
    ) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """One detection pass at ``scale`` (optionally on a copy padded by ``pad`` px): boxes,
        probabilities and five points in original-image pixels, after non-maximum suppression.
        The highest face probability of any anchor is appended to ``best`` when given."""
        from tools.models.retinaface import decode, priors_at

        source = rgb
        if pad:
            source = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        h, w = source.shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if scale != 1.0:
            source = cv2.resize(source, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        offsets, probs, landmark_offsets = self._run(source)
        if best is not None:
            best.append(float(probs.max(initial=0.0)))
        keep = probs >= FACE_PROB
        if not keep.any():
            return []
        priors = priors_at(size[1], size[0], np.flatnonzero(keep))
        boxes, points = decode(offsets[keep], landmark_offsets[keep], priors)
        frame = np.array(size, np.float32)
        boxes = boxes * np.tile(frame, 2) / scale - pad
        points = points * frame / scale - pad
        order = _nms(boxes, probs[keep], NMS_IOU)
        return [(boxes[i], float(probs[keep][i]), points[i]) for i in order]

    def detect(self, image: ImageInput, max_faces: int = 20, min_score: float = 0.0) -> list[Face]:
        """Finds faces, most prominent first.

        Args:
            image: anything ``load_image`` accepts (an RGB array is used as is), or a photo's
                stored pixels (``tools.pixels.StoredPixels``): each pass then reads the smallest
                decode that has its resolution, and the full photo is decoded only for a pass that
                needs it or when the 68 landmarks are first asked for.
            max_faces: keep at most this many.
            min_score: detections with a lower face probability are dropped (the detector's own
                threshold, ``FACE_PROB``, applies anyway).

        Returns:
            The faces found, possibly none.
        """
        source = image if _is_pixel_source(image) else None
        rgb = None if source is not None else (image if _is_rgb_array(image) else load_image(image))
        h, w = (source.shape if source is not None else rgb.shape)[:2]  # type: ignore[union-attr]

        def pixels(scale: float) -> tuple[np.ndarray, float]:
            return source.reduced(scale) if source is not None else (rgb, 1.0)  # type: ignore[return-value]

        long_side = max(h, w)
        tight = long_side <= CROP_SIDE
        refine_scale: float | None = None
        if tight:
            # A tight crop: the face fills the frame; give the anchors room and enough pixels.
            rgb = pixels(1.0)[0]
            pad = int(round(0.3 * long_side))
            found = self._pass(rgb, max(1.0, 320 / (long_side + 2 * pad)), pad)
        else:
            scale = min(1.0, DETECT_SIDE / long_side)
            best: list[float] = []
            found = self._scaled_pass(pixels, scale, best)
            fine_scale = min(1.0, DETECT_SIDE_FINE / long_side)
            sides = [_side(b) for b, _, _ in found]
            if long_side > DETECT_SIDE and (
                not found
                or min(sides) * scale < FINE_TRIGGER_SIDE
                or max(sides) >= FINE_TRIGGER_SPREAD * min(sides)
            ):
                # Nothing, a small face, or faces at very different depths: faces under ~16 px at the
                # first scale may have been missed. A portrait, or a group of people at one distance
                # from the camera (faces of a fair size), never pays for this pass.
                found = _merge(found, self._scaled_pass(pixels, fine_scale))
            elif long_side > DETECT_SIDE and len(found) >= 2:
                # A group at one distance: the finer pass could add no face. Its five points are
                # measured again at that scale only for the 68 landmarks, when they are asked for.
                refine_scale = fine_scale
            if not found and best[0] >= MIRROR_TRIGGER_PROB:
                # The network is not mirror-symmetric: a profile facing one way can score under the
                # threshold while its mirror image does not. Only photos with no face, and something
                # that came near one, pay for this.
                array, factor = pixels(scale)
                mirrored = self._pass(np.ascontiguousarray(array[:, ::-1]), scale / factor)
                found = _rescaled(_unmirror(mirrored, array.shape[1]), factor)
        faces = []
        for box, prob, points in found:
            if prob < max(min_score, TIGHT_FACE_PROB if tight else 0.0):
                continue
            x0, y0, x1, y1 = _clip_box(tuple(float(v) for v in box), w, h)
            if min(x1 - x0, y1 - y0) < MIN_FACE_SIDE or not _plausible5(points):
                continue
            points = points.astype(np.float64)
            if source is None:
                # The fit's crop is cut now, so that the face holds no reference to the whole photo.
                fit_points = (
                    points if refine_scale is None else self._refined(pixels, box, points, refine_scale)
                )
                fit = _lazy_landmarks(rgb, fit_points)
            else:
                measure = None
                if refine_scale is not None:
                    measure = partial(self._refined, pixels, box, points, refine_scale)
                fit = _deferred_landmarks(source.array, points, measure)
            faces.append(
                Face(
                    (round(x0), round(y0), round(x1), round(y1)),
                    round(prob, 4),
                    points5=points,
                    fit=fit,
                    detector=self.name,
                )
            )
        faces.sort(key=lambda f: f.prominence, reverse=True)
        return faces[:max_faces]

    def _scaled_pass(
        self,
        pixels: Callable[[float], tuple[np.ndarray, float]],
        scale: float,
        best: list[float] | None = None,
    ) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """``_pass`` at ``scale`` of the full photo, run on the smallest decode that has it."""
        array, factor = pixels(scale)
        return _rescaled(self._pass(array, scale / factor, best=best), factor)

    def _refined(
        self,
        pixels: Callable[[float], tuple[np.ndarray, float]],
        box: np.ndarray,
        points: np.ndarray,
        scale: float,
    ) -> np.ndarray:
        """A face's five points measured again at ``scale``, on its own neighbourhood (half a face of
        room around its box); the points given when that finds no plausible face there.

        Only the 68-landmark fit of a group photo's faces starts from these: they are as close to
        dlib's 68-point fit as a whole pass at that scale (27 faces of the group photos of
        ``benchmarks.photos.MEDIA``: mean distance 0.093 of the inter-ocular distance; the first
        pass's, 0.113), so the geometry answers stay those of the finer scale. The classifier aligns
        on the first pass's points: read both ways, hand-labelled group faces came out no worse
        without this step (docs/PERFORMANCE.md), which costs a network run and the full decode.
        """
        from tools.models.retinaface import decode, priors_at

        array, factor = pixels(scale)
        local = scale / factor
        h, w = array.shape[:2]
        x0, y0, x1, y1 = (float(v) * factor for v in box)
        room = 0.5 * max(x1 - x0, y1 - y0)
        left, top = int(max(0.0, x0 - room)), int(max(0.0, y0 - room))
        right, bottom = int(min(w, np.ceil(x1 + room))), int(min(h, np.ceil(y1 + room)))
        region = array[top:bottom, left:right]
        size = (max(1, round((right - left) * local)), max(1, round((bottom - top) * local)))
        if size != (right - left, bottom - top):
            region = cv2.resize(region, size, interpolation=cv2.INTER_AREA if local < 1 else cv2.INTER_LINEAR)
        offsets, probs, landmark_offsets = self._run(np.ascontiguousarray(region))
        keep = probs >= FACE_PROB
        if not keep.any():
            return points
        boxes, pts = decode(
            offsets[keep], landmark_offsets[keep], priors_at(size[1], size[0], np.flatnonzero(keep))
        )
        # Relative to the region -> its pixels in the decode -> the photo's pixels.
        extent = np.array((right - left, bottom - top), np.float32)
        origin = np.array((left, top), np.float32)
        boxes = (boxes * np.tile(extent, 2) + np.tile(origin, 2)) / factor
        pts = (pts * extent + origin) / factor
        overlap = _iou(np.asarray(box, np.float32), boxes)
        best = int(np.argmax(overlap))
        if overlap[best] > NMS_IOU and _plausible5(pts[best]):
            return pts[best].astype(np.float64)
        return points


def _rescaled(found: list, factor: float) -> list:
    """Detections on a copy ``factor`` times the photo's size, in the photo's pixels."""
    if factor == 1.0:
        return found
    return [(box / factor, prob, points / factor) for box, prob, points in found]


def _deferred_landmarks(
    full: Callable[[], np.ndarray], points5: np.ndarray, measure: Callable[[], np.ndarray] | None = None
) -> Callable[[], np.ndarray]:
    """``_lazy_landmarks`` whose crop is cut from the full photo only when the points are first
    asked for (a photo detected on a reduced decode is decoded whole then, if ever), aligned on
    ``points5`` or on the points ``measure`` gives then."""
    return lambda: _lazy_landmarks(full(), points5 if measure is None else measure())()


def _is_pixel_source(image: object) -> bool:
    """A photo's stored pixels (``tools.pixels.StoredPixels``): a shape, reduced decodes, the array."""
    return all(callable(getattr(image, name, None)) for name in ("reduced", "array")) and hasattr(
        image, "shape"
    )


def _unmirror(found: list, width: int) -> list:
    """Detections made on a mirrored photo, mapped back: x flipped, left and right points swapped."""
    out = []
    for box, prob, points in found:
        flipped = np.array([width - 1 - box[2], box[1], width - 1 - box[0], box[3]], np.float32)
        mirrored = points[[1, 0, 2, 4, 3]].copy()  # image-left eye and mouth corner first again
        mirrored[:, 0] = width - 1 - mirrored[:, 0]
        out.append((flipped, prob, mirrored))
    return out


def _side(box: np.ndarray) -> float:
    return float(np.sqrt(max(1.0, box[2] - box[0]) * max(1.0, box[3] - box[1])))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices of the kept boxes, best first."""
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if order:
            rest = np.array(order)
            order = [int(j) for j in rest[_iou(boxes[i], boxes[rest]) <= threshold]]
    return keep


def _merge(first: list, fine: list) -> list:
    """Both passes' faces, each face once (the finer pass's box where they overlap)."""
    merged = list(fine)
    for box, prob, points in first:
        if not fine or _iou(box, np.stack([b for b, _, _ in fine])).max() <= NMS_IOU:
            merged.append((box, prob, points))
    return merged


def _plausible5(points: np.ndarray) -> bool:
    """Five points that can be a face: eyes apart, the mouth on the far side of the eyes from the top."""
    left_eye, right_eye, _nose, mouth_l, mouth_r = points
    eye_dist = float(np.linalg.norm(right_eye - left_eye))
    mouth = (mouth_l + mouth_r) / 2
    eye_mid = (left_eye + right_eye) / 2
    eye_mouth = float(np.linalg.norm(mouth - eye_mid))
    if eye_dist < 2 or eye_mouth < 2:
        return False
    return 0.4 <= eye_mouth / eye_dist <= 8.0  # a profile's eyes nearly meet


def _whole_image(gray: np.ndarray) -> list[Face]:
    """A tight crop the detector could not frame, taken whole if its landmarks are plausible."""
    h, w = gray.shape
    if float(gray.std()) < 8.0:
        return []  # a flat image has no face to fit landmarks to
    scale = max(1.0, 200 / max(h, w))
    big = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale > 1 else gray
    bh, bw = big.shape
    # dlib frames a face from the brows to the chin; in a tight crop that is most of the frame.
    box = (0.08 * bw, 0.12 * bh, 0.92 * bw, 0.98 * bh)
    points = _landmark_model().fit(big, box) / scale
    full = (0.0, 0.0, float(w - 1), float(h - 1))
    if not _plausible(points, full):
        return []
    return [Face((0, 0, w - 1, h - 1), float("nan"), points, source="whole-image")]


def _is_rgb_array(image: object) -> bool:
    return (
        isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    )


def _clip_box(box: tuple[float, ...], w: int, h: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    return (max(0.0, x0), max(0.0, y0), min(float(w - 1), x1), min(float(h - 1), y1))


def _plausible(points: np.ndarray, box: tuple[float, ...]) -> bool:
    """Rejects landmark sets that cannot be a face: eyes below the mouth, eyes collapsed, etc."""
    side = max(1.0, np.sqrt((box[2] - box[0]) * (box[3] - box[1])))
    left_eye, right_eye = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    eye_mid = (left_eye + right_eye) / 2
    mouth = points[48:68].mean(axis=0)
    eye_dist = float(np.linalg.norm(right_eye - left_eye))
    eye_mouth = float(np.linalg.norm(mouth - eye_mid))
    if not 0.15 * side <= eye_dist <= 0.9 * side:
        return False
    if not 0.15 * side <= eye_mouth <= 1.0 * side:
        return False
    # The mouth lies on the far side of the eye line from the brows.
    eye_axis = (right_eye - left_eye) / max(eye_dist, 1e-6)
    normal = np.array([-eye_axis[1], eye_axis[0]])
    brows = points[17:27].mean(axis=0)
    return float(np.dot(mouth - eye_mid, normal)) * float(np.dot(brows - eye_mid, normal)) < 0


def detector_name(name: str | None = None) -> str:
    """The detector to use: ``name``, else ``FACE_AGENT_DETECTOR``, else ``retinaface``.

    Raises:
        InvalidRequestError: an unknown name.
    """
    chosen = (name or os.environ.get("FACE_AGENT_DETECTOR") or "retinaface").strip().lower()
    if chosen not in DETECTORS:
        raise InvalidRequestError(f"Unknown face detector {chosen!r}; choose one of {', '.join(DETECTORS)}.")
    return chosen


def detector_precision(precision: str | None = None) -> str:
    """RetinaFace's graph: ``precision``, else ``FACE_AGENT_DETECTOR_PRECISION``, else ``float32``.

    Raises:
        InvalidRequestError: an unknown precision.
    """
    chosen = (precision or os.environ.get("FACE_AGENT_DETECTOR_PRECISION") or "float32").strip().lower()
    if chosen not in PRECISIONS:
        raise InvalidRequestError(
            f"Unknown detector precision {chosen!r}; choose one of {', '.join(PRECISIONS)}."
        )
    return chosen


@lru_cache(maxsize=8)
def _detector(name: str, threads: int | None, precision: str) -> HogDetector | RetinaFaceDetector:
    if name == "retinaface":
        return RetinaFaceDetector(threads=threads, precision=precision)
    return HogDetector()


def default_detector(name: str | None = None, threads: int | None = None) -> HogDetector | RetinaFaceDetector:
    """The shared detector of ``name`` (see ``detector_name``), built once per process.

    Args:
        name: ``retinaface`` or ``hog``; None for ``FACE_AGENT_DETECTOR`` or the default.
        threads: RetinaFace's intra-op threads (None: up to 2). Batch workers use 1 each.
    """
    chosen = detector_name(name)
    if chosen != "retinaface":
        return _detector(chosen, None, "float32")
    return _detector(chosen, threads, detector_precision())


def detect_faces(
    image: ImageInput,
    max_faces: int = 20,
    min_score: float = 0.0,
    detector: str | HogDetector | RetinaFaceDetector | None = None,
) -> list[Face]:
    """Finds the faces in an image with a shared detector, most prominent first.

    Args:
        image: a path, bytes, PIL image or RGB/gray array, or a photo's stored pixels
            (``tools.pixels.StoredPixels``; see ``RetinaFaceDetector.detect``).
        max_faces: keep at most this many.
        min_score: drop detections below this detector score.
        detector: ``retinaface``, ``hog`` or a detector object; None for ``FACE_AGENT_DETECTOR``
            or the default.

    Raises:
        InvalidImageError: the input is not a readable image.
        NoFaceError: no face was found.
    """
    chosen = (
        detector if isinstance(detector, HogDetector | RetinaFaceDetector) else default_detector(detector)
    )
    if _is_pixel_source(image):
        rgb = image if isinstance(chosen, RetinaFaceDetector) else image.array()  # type: ignore[union-attr]
    else:
        rgb = image if _is_rgb_array(image) else load_image(image)
    faces = chosen.detect(rgb, max_faces=max_faces, min_score=min_score)
    if not faces:
        h, w = rgb.shape[:2]
        raise NoFaceError(
            f"No face found in this {w}x{h} image. Use a photo where a face is clearly visible, "
            "well lit and at least about 24 pixels wide."
        )
    return faces


def reading_order(boxes: Sequence[Sequence[float]]) -> list[int]:
    """The number of each face as people read them off a photo: rows from top to bottom, left to
    right within a row, counted from 1.

    Faces are taken from the top (by the centre of their box); a face joins the current row when its
    box overlaps some face of that row vertically by at least ``ROW_OVERLAP`` of the smaller face's
    height, so people side by side with heads at different heights are one row (numbered left to
    right), and a new row starts only where no face of the row above reaches down to it.

    Args:
        boxes: (x0, y0, x1, y1) per face, in any order (usually most prominent first).

    Returns:
        The number of each box, in the order given.
    """

    def same_row(i: int, j: int) -> bool:
        a, b = boxes[i], boxes[j]
        overlap = min(a[3], b[3]) - max(a[1], b[1])
        return overlap >= ROW_OVERLAP * min(a[3] - a[1], b[3] - b[1])

    centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes]
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: (centres[i][1], centres[i][0])):
        if rows and any(same_row(i, j) for j in rows[-1]):
            rows[-1].append(i)
        else:
            rows.append([i])
    numbers = [0] * len(boxes)
    counter = 1
    for row in rows:
        for i in sorted(row, key=lambda i: centres[i][0]):
            numbers[i] = counter
            counter += 1
    return numbers


def face_numbers(faces: Sequence[Face]) -> list[int]:
    """The reading-order number of each face (see ``reading_order``), in the order given."""
    return reading_order([f.box for f in faces])


def index_of_number(faces: Sequence[Face], number: int | None) -> int:
    """The list position of the face people call ``number``; the most prominent (0) for None.

    Raises:
        InvalidRequestError: ``number`` is not a whole number from 1 to the number of faces.
    """
    if number is None:
        return 0
    count = len(faces)
    if isinstance(number, bool) or not isinstance(number, int | np.integer) or number < 1:
        raise InvalidRequestError(
            f"Faces are numbered from 1 in reading order (left to right, then top to bottom); "
            f"{number!r} is not a face number."
        )
    if number > count:
        raise InvalidRequestError(
            f"Face {number} was asked for, but this photo has {count} face{'s' if count != 1 else ''}"
            + (f" (numbered 1 to {count}, left to right, then top to bottom)." if count > 1 else ".")
        )
    return face_numbers(faces).index(int(number))


def _umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) src -> dst."""
    n = src.shape[0]
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / n
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    var = (src_c**2).sum() / n
    scale = (s * d).sum() / var if var > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def canonical_points(size: int, margin: float = 0.25, shift_y: float = 0.0) -> np.ndarray:
    """Where the five template points land in a ``size`` crop with ``margin`` around the face."""
    unit = _TEMPLATE_112 / 112.0
    return ((unit - 0.5) / (1.0 + 2.0 * margin) + 0.5 + np.array([0.0, shift_y])) * size


def alignment_scale(face: Face, size: int, margin: float = 0.25, shift_y: float = 0.0) -> float:
    """Crop pixels per photo pixel of ``align_face`` with these arguments (under 1: the face shrinks)."""
    matrix = _umeyama(face.points5(), canonical_points(size, margin, shift_y))
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def align_face(
    rgb: np.ndarray, face: Face, size: int, margin: float = 0.25, shift_y: float = 0.0
) -> AlignedFace:
    """Warps a face upright to a square crop with eyes and mouth at canonical positions.

    Args:
        rgb: the original RGB image.
        face: a face found in it.
        size: side of the output crop.
        margin: extra room around the template face, as a fraction of its extent on each side.
        shift_y: moves the face down (positive) or up in the crop, as a fraction of ``size``.
    """
    matrix = _umeyama(face.points5(), canonical_points(size, margin, shift_y))
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    source, to_source = rgb, np.eye(3)
    if scale < 0.5:
        # Shrinking a lot in one warp aliases; area-downsample first to about twice the target scale,
        # only the part of the photo the crop covers (with room for the interpolation at its edges).
        factor = min(1.0, 2.0 * scale)
        h, w = rgb.shape[:2]
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inverse[:, :2].T
        corners += inverse[:, 2]
        pad = int(np.ceil(2.0 / factor))
        x0, y0 = (max(0, int(np.floor(v)) - pad) for v in corners.min(axis=0))
        x1, y1 = (
            min(w, int(np.ceil(corners[:, 0].max())) + pad),
            min(h, int(np.ceil(corners[:, 1].max())) + pad),
        )
        if x1 - x0 < 2 or y1 - y0 < 2:  # the crop lies outside the photo: the border is all it shows
            x0, y0, x1, y1 = 0, 0, w, h
        region = rgb[y0:y1, x0:x1]
        source = cv2.resize(
            region,
            (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor))),
            interpolation=cv2.INTER_AREA,
        )
        to_source = np.diag([source.shape[1] / (x1 - x0), source.shape[0] / (y1 - y0), 1.0]) @ np.array(
            [[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]]
        )
    warp = matrix @ np.linalg.inv(to_source)
    crop = cv2.warpAffine(
        source, warp[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if face.has_landmarks:
        points = face.landmarks.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
        return AlignedFace(np.ascontiguousarray(crop), matrix, points.astype(np.float32))
    return AlignedFace(np.ascontiguousarray(crop), matrix, face=face)  # the 68 points when asked for


def _scaled_hull(points: np.ndarray, factor: float) -> np.ndarray:
    centre = points.mean(axis=0)
    hull = cv2.convexHull(((points - centre) * factor + centre).astype(np.float32))
    return np.round(hull).astype(np.int32)


def region_masks(landmarks: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Splits a face crop into facial regions, from its 68 landmarks in crop coordinates.

    Every pixel belongs to exactly one region of ``REGIONS`` (``other`` is background and hair).
    Where regions touch, the more specific one wins: eyes, brows, mouth, nose, forehead, cheeks/jaw.

    Returns:
        ``{region: bool array (size, size)}``.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    eye_dist = float(np.linalg.norm(pts[42:48].mean(axis=0) - pts[36:42].mean(axis=0)))
    canvas = {name: np.zeros((size, size), np.uint8) for name in REGIONS}
    for eye in (pts[36:42], pts[42:48]):
        cv2.fillConvexPoly(canvas["eyes"], _scaled_hull(eye, 1.8), 1)
    thickness = max(1, int(round(0.18 * eye_dist)))
    for brow in (pts[17:22], pts[22:27]):
        cv2.polylines(canvas["brows"], [np.round(brow).astype(np.int32)], False, 1, thickness)
    cv2.fillConvexPoly(canvas["mouth"], _scaled_hull(pts[48:60], 1.25), 1)
    cv2.fillConvexPoly(canvas["nose"], _scaled_hull(np.vstack([pts[27:36], pts[[39, 42]]]), 1.15), 1)
    # Forehead: from the brows up by about one eye distance, as wide as the brows.
    brows = pts[17:27]
    up = brows.mean(axis=0) - pts[27:31].mean(axis=0)
    up = up / max(np.linalg.norm(up), 1e-6)
    top = brows[::-1] + up * 0.9 * eye_dist
    cv2.fillPoly(canvas["forehead"], [np.round(np.vstack([brows, top])).astype(np.int32)], 1)
    face_outline = np.vstack([pts[0:17], pts[17:27] + up * 0.2 * eye_dist])
    cv2.fillConvexPoly(
        canvas["cheeks_jaw"], np.round(cv2.convexHull(face_outline.astype(np.float32))).astype(np.int32), 1
    )
    taken = np.zeros((size, size), bool)
    masks: dict[str, np.ndarray] = {}
    for name in ("eyes", "brows", "mouth", "nose", "forehead", "cheeks_jaw"):
        mask = canvas[name].astype(bool) & ~taken
        masks[name] = mask
        taken |= mask
    masks["other"] = ~taken
    return {name: masks[name] for name in REGIONS}
