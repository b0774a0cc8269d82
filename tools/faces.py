"""Faces: detection (dlib HOG), 68 landmarks, similarity alignment and facial regions.

Detection runs on a copy downscaled to at most ``DETECT_SIDE`` pixels (boxes are mapped back), so a
12-megapixel phone photo costs the same as a 640 px one. Tight face crops such as RAF-DB's aligned
100x100 images or FER-2013's 48x48 ones, where the face fills the frame and the detector's window
does not fit, are padded and enlarged before detection; a small square image in which even that
finds nothing is taken as a face crop whose landmarks are then checked for plausibility.

Faces are ranked by prominence: the side of the box weighted by the detector's confidence, so a
large but doubtful detection does not outrank a clear face.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import dlib
import numpy as np

from tools.errors import ModelUnavailableError, NoFaceError
from tools.images import ImageInput, load_image

__all__ = [
    "Face",
    "AlignedFace",
    "FaceDetector",
    "detect_faces",
    "align_face",
    "region_masks",
    "REGIONS",
    "landmark_model_path",
    "DETECT_SIDE",
]

DETECT_SIDE = 640
CROP_SIDE = 256  # images up to this size and roughly square may be tight face crops
MIN_FACE_SIDE = 12  # pixels in the original image
STRONG_SCORE, WEAK_SCORE = 0.6, 0.1  # dlib SVM margins: a clear face; a doubtful one

# The five-point face template of ArcFace (InsightFace), in a 112x112 crop: left eye, right eye,
# nose tip, left and right mouth corners (as seen in the image). A well-known canonical face.
_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)

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


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: (x0, y0, x1, y1) in pixels of the original image.
        score: the detector's confidence (dlib's SVM margin; > 0 means a face). ``nan`` for a tight
            crop taken as a whole.
        landmarks: (68, 2) float array of (x, y) points in the original image (iBUG 68 order).
        source: ``detector`` or ``whole-image`` (a tight crop that the detector could not frame).
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray = field(repr=False)
    source: str = "detector"

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

    def points5(self) -> np.ndarray:
        """Eye centres, nose tip and mouth corners as a (5, 2) array, template order."""
        pts = self.landmarks
        return np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48], pts[54]]).astype(
            np.float64
        )


@dataclass(frozen=True)
class AlignedFace:
    """A face warped to the canonical pose of a model's input.

    Attributes:
        image: (size, size, 3) RGB uint8 crop.
        matrix: 2x3 affine matrix taking original-image (x, y) to crop coordinates.
        landmarks: (68, 2) landmarks in crop coordinates.
    """

    image: np.ndarray = field(repr=False)
    matrix: np.ndarray = field(repr=False)
    landmarks: np.ndarray = field(repr=False)

    @property
    def size(self) -> int:
        """Side of the square crop."""
        return int(self.image.shape[0])


class FaceDetector:
    """dlib's HOG detector and 68-point predictor; thread-safe (calls are serialised)."""

    def __init__(self, predictor_path: str | Path | None = None) -> None:
        path = Path(predictor_path) if predictor_path else landmark_model_path()
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise ModelUnavailableError(f"Could not load the landmark model {path}: {exc}") from exc
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
        rect = dlib.rectangle(*(int(round(v)) for v in box))
        with self._lock:
            shape = self._predictor(gray, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

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
            faces = self._whole_image(gray)
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

    def _whole_image(self, gray: np.ndarray) -> list[Face]:
        h, w = gray.shape
        if float(gray.std()) < 8.0:
            return []  # a flat image has no face to fit landmarks to
        scale = max(1.0, 200 / max(h, w))
        big = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale > 1 else gray
        bh, bw = big.shape
        # dlib frames a face from the brows to the chin; in a tight crop that is most of the frame.
        box = (0.08 * bw, 0.12 * bh, 0.92 * bw, 0.98 * bh)
        points = self.landmarks(big, box) / scale
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


@lru_cache(maxsize=1)
def _default_detector() -> FaceDetector:
    return FaceDetector()


def detect_faces(image: ImageInput, max_faces: int = 20, min_score: float = 0.0) -> list[Face]:
    """Finds the faces in an image with the shared default detector, most prominent first.

    Raises:
        InvalidImageError: the input is not a readable image.
        NoFaceError: no face was found.
    """
    rgb = image if _is_rgb_array(image) else load_image(image)
    faces = _default_detector().detect(rgb, max_faces=max_faces, min_score=min_score)
    if not faces:
        h, w = rgb.shape[:2]
        raise NoFaceError(
            f"No face found in this {w}x{h} image. Use a photo where a face is clearly visible, "
            "upright and roughly frontal, well lit and at least about 40 pixels wide."
        )
    return faces


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
        # Shrinking a lot in one warp aliases; area-downsample first to about twice the target scale.
        factor = min(1.0, 2.0 * scale)
        h, w = rgb.shape[:2]
        source = cv2.resize(
            rgb, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA
        )
        to_source = np.diag([source.shape[1] / w, source.shape[0] / h, 1.0])
    warp = matrix @ np.linalg.inv(to_source)
    crop = cv2.warpAffine(
        source, warp[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    points = face.landmarks.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    return AlignedFace(np.ascontiguousarray(crop), matrix, points.astype(np.float32))


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
