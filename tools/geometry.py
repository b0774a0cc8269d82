"""Facial state from the 68 landmarks (and the pixels of the mouth): measures in numbers, states in words.

**Measures.** Every length is taken in a face-normalised frame: the points are rotated so the line
between the eye centres is level (undoing head roll) and divided by the face's scale, the number of
pixels one inter-ocular distance (IOD) spans *at the face's depth*, from a perspective-n-point fit of
a canonical 3-D face (``CANONICAL_FACE``) to the rigid points (eye corners, nose). Unlike the
projected IOD, that scale does not shrink when the head turns, so a turned face's mouth gap or brow
height is not inflated. The same fit gives the head's yaw, pitch and roll in degrees. Paired
features (eyes, brows, mouth corners) are combined symmetrically, so a photo and its mirror image
give the same readings with sides swapped.

- smile: the mouth corners' lift above the lips' midline, the lower corner's too (a one-sided sneer
  lifts one), and the mouth's width (a grin stretches it);
- mouth: the mean gap between the inner lips;
- teeth: inside the inner-lip contour, the share of pixels brighter than the lips by a margin and
  no more coloured than them (``_teeth``), times the contour's area: the visible teeth as a
  fraction of IOD squared;
- eyes: the eye aspect ratio (lid-to-lid height over corner-to-corner width) of each eye, read
  narrowed under a higher threshold when the mouth smiles (the cheeks a smile raises squeeze the
  eyes from below);
- brows: their height above the eye corners, the gap between their inner ends and the inner ends'
  height above the inner eye corners;
- head: yaw, pitch and roll of the 3-D fit.

**Thresholds** depend on the landmark model (each draws its points a little differently: face-api's
inner lips meet later than dlib's, FaceMesh's brows sit on their upper edge). They were set on the
development part of ``tests/data/face_states.csv`` (real faces labelled by eye by a person who had not
seen the code) by ``python -m benchmarks.calibrate_states``, never on its held-out part; see
``THRESHOLDS`` and docs/PERFORMANCE.md.

**Can't tell.** A state is not read when the face is too small for it (the eyes of a face whose eyes
are under ``MIN_IOD_EYES`` px apart are a pixel or two tall) or the mouth region's pixels are not
available; ``FaceReading.cant_tell`` says which states and why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

__all__ = [
    "CANONICAL_FACE",
    "FaceGeometry",
    "FaceReading",
    "MIN_IOD_EYES",
    "MIN_IOD_TEETH",
    "SMALL_FACE_IOD",
    "THRESHOLDS",
    "label_states",
    "label_words",
    "smile_score",
    "measure",
    "read",
    "thresholds",
]

# iBUG-68 indices.
_EYE_A, _EYE_B = slice(36, 42), slice(42, 48)  # left and right eye as seen in the picture
_BROW_A, _BROW_B = slice(17, 22), slice(22, 27)
_INNER_TOP, _INNER_BOTTOM = [61, 62, 63], [67, 66, 65]
_EYE_CORNERS = [36, 39, 42, 45]

# A canonical face in 3-D (x to the picture's right, y down, z towards the camera), in inter-ocular
# distances with the eye centres at (+-0.5, 0, 0): the median of MediaPipe FaceMesh's 3-D points
# (read in the 68-point scheme) over the 20 frontal faces of the development part, made symmetric.
# Only rigid points: the eye corners and the nose, which expressions barely move.
CANONICAL_FACE: dict[int, tuple[float, float, float]] = {
    27: (0.0, -0.092, 0.291),
    28: (0.0, 0.156, 0.447),
    29: (0.0, 0.365, 0.624),
    30: (0.0, 0.504, 0.659),
    31: (-0.215, 0.634, 0.332),
    33: (0.0, 0.702, 0.372),
    35: (0.215, 0.634, 0.332),
    36: (-0.705, 0.0, -0.04),
    39: (-0.277, 0.02, 0.04),
    42: (0.277, 0.02, 0.04),
    45: (0.705, 0.0, -0.04),
}
# The camera of the fit: focal length in face scales (a face of 1 IOD seen from ~12 IODs, about
# 75 cm for an adult). Tied to the face, not the photo, so the fit is the same at any size.
_FOCAL_IODS = 12.0

# Under this many pixels between the eye centres an eye is a pixel or two tall and a mouth a few
# pixels: their states are not read. (LFW's 25 px faces, 8-11 px between the eyes, are still read,
# roughly; the labeller could not tell most of their eyes either.)
MIN_IOD_EYES = 7.0
MIN_IOD_TEETH = 7.0
# Under this the readings are rough, and the answers say so.
SMALL_FACE_IOD = 24.0

# Per landmark model; set on the development faces (see the module docstring). Lengths are in IODs
# of the fit's scale, angles in degrees, areas in IOD squared.
_COMMON: dict[str, float] = {
    "MOUTH_PARTED_GAP": 0.06,
    "MOUTH_OPEN_GAP": 0.22,
    "SMILE_WIDTH_WEIGHT": 0.3,
    "SMILE_SCORE": 0.07,
    "SMILE_MIN_LIFT": -0.3,
    "TEETH_AREA": 0.01,
    "EYE_CLOSED_EAR": 0.12,
    "EYE_NARROWED": 0.18,
    "EYE_SMILE_NARROWED": 0.18,
    "EYE_WIDE_EAR": 0.40,
    "BROW_RAISED": 0.42,
    "BROW_LOWERED": 0.20,
    "BROW_TOGETHER_GAP": 0.34,
    "BROW_TOGETHER_INNER": 0.0,
    "YAW_TURNED": 25.0,
    "PITCH_OFFSET": 0.0,
    "PITCH_UP": 20.0,
    "PITCH_DOWN": 20.0,
    "ROLL_TILTED": 12.0,
    "BROW_TYPICAL": 0.33,
    "EAR_TYPICAL": 0.3,
    "BROW_GAP_TYPICAL": 0.4,
}
THRESHOLDS: dict[str, dict[str, float]] = {
    "dlib": {
        "MOUTH_PARTED_GAP": 0.06,
        "MOUTH_OPEN_GAP": 0.27,
        "SMILE_WIDTH_WEIGHT": 0.75,
        "SMILE_SCORE": -0.035,
        "SMILE_MIN_LIFT": -0.06,
        "TEETH_AREA": 0.0105,
        "EYE_CLOSED_EAR": 0.0925,
        "EYE_NARROWED": 0.2675,
        "EYE_SMILE_NARROWED": 0.265,
        "EYE_WIDE_EAR": 0.5,
        "BROW_RAISED": 0.445,
        "BROW_LOWERED": 0.21,
        "BROW_TOGETHER_GAP": 0.31,
        "BROW_TOGETHER_INNER": 0.175,
        "YAW_TURNED": 19.5,
        "PITCH_OFFSET": 1.5,
        "PITCH_UP": 20,
        "PITCH_DOWN": 19.5,
        "ROLL_TILTED": 10.5,
        "BROW_TYPICAL": 0.358,
        "EAR_TYPICAL": 0.315,
        "BROW_GAP_TYPICAL": 0.4,
    },
    "faceapi": {
        "MOUTH_PARTED_GAP": 0.0725,
        "MOUTH_OPEN_GAP": 0.345,
        "SMILE_WIDTH_WEIGHT": 1,
        "SMILE_SCORE": -0.1675,
        "SMILE_MIN_LIFT": -0.075,
        "TEETH_AREA": 0.0145,
        "EYE_CLOSED_EAR": 0.2225,
        "EYE_NARROWED": 0.2775,
        "EYE_SMILE_NARROWED": 0.2675,
        "EYE_WIDE_EAR": 0.405,
        "BROW_RAISED": 0.44,
        "BROW_LOWERED": 0.235,
        "BROW_TOGETHER_GAP": 0.53,
        "BROW_TOGETHER_INNER": 0.225,
        "YAW_TURNED": 17.5,
        "PITCH_OFFSET": -7,
        "PITCH_UP": 22,
        "PITCH_DOWN": 21.5,
        "ROLL_TILTED": 11,
        "BROW_TYPICAL": 0.359,
        "EAR_TYPICAL": 0.304,
        "BROW_GAP_TYPICAL": 0.607,
    },
    "faceapi-tiny": {
        "MOUTH_PARTED_GAP": 0.09,
        "MOUTH_OPEN_GAP": 0.305,
        "SMILE_WIDTH_WEIGHT": 0.25,
        "SMILE_SCORE": -0.035,
        "SMILE_MIN_LIFT": -0.065,
        "TEETH_AREA": 0.017,
        "EYE_CLOSED_EAR": 0.2,
        "EYE_NARROWED": 0.1675,
        "EYE_SMILE_NARROWED": 0.2625,
        "EYE_WIDE_EAR": 0.415,
        "BROW_RAISED": 0.465,
        "BROW_LOWERED": 0.24,
        "BROW_TOGETHER_GAP": 0.51,
        "BROW_TOGETHER_INNER": 0.215,
        "YAW_TURNED": 17,
        "PITCH_OFFSET": -7,
        "PITCH_UP": 19.5,
        "PITCH_DOWN": 19,
        "ROLL_TILTED": 10,
        "BROW_TYPICAL": 0.376,
        "EAR_TYPICAL": 0.292,
        "BROW_GAP_TYPICAL": 0.631,
    },
    "facemesh": {
        "MOUTH_PARTED_GAP": 0.02,
        "MOUTH_OPEN_GAP": 0.265,
        "SMILE_WIDTH_WEIGHT": 0.75,
        "SMILE_SCORE": -0.11,
        "SMILE_MIN_LIFT": -0.035,
        "TEETH_AREA": 0.0185,
        "EYE_CLOSED_EAR": 0.055,
        "EYE_NARROWED": 0.1025,
        "EYE_SMILE_NARROWED": 0.2275,
        "EYE_WIDE_EAR": 0.405,
        "BROW_RAISED": 0.445,
        "BROW_LOWERED": 0.22,
        "BROW_TOGETHER_GAP": 0.365,
        "BROW_TOGETHER_INNER": 0.245,
        "YAW_TURNED": 21.5,
        "PITCH_OFFSET": -2,
        "PITCH_UP": 19.5,
        "PITCH_DOWN": 19,
        "ROLL_TILTED": 10,
        "BROW_TYPICAL": 0.371,
        "EAR_TYPICAL": 0.291,
        "BROW_GAP_TYPICAL": 0.462,
    },
    "facemesh-base": {
        "MOUTH_PARTED_GAP": 0.035,
        "MOUTH_OPEN_GAP": 0.325,
        "SMILE_WIDTH_WEIGHT": 0.35,
        "SMILE_SCORE": -0.02,
        "SMILE_MIN_LIFT": -0.025,
        "TEETH_AREA": 0.011,
        "EYE_CLOSED_EAR": 0.1525,
        "EYE_NARROWED": 0.1525,
        "EYE_SMILE_NARROWED": 0.2275,
        "EYE_WIDE_EAR": 0.38,
        "BROW_RAISED": 0.45,
        "BROW_LOWERED": 0.23,
        "BROW_TOGETHER_GAP": 0.39,
        "BROW_TOGETHER_INNER": 0.255,
        "YAW_TURNED": 19.5,
        "PITCH_OFFSET": -3.5,
        "PITCH_UP": 21,
        "PITCH_DOWN": 20.5,
        "ROLL_TILTED": 11.5,
        "BROW_TYPICAL": 0.351,
        "EAR_TYPICAL": 0.279,
        "BROW_GAP_TYPICAL": 0.451,
    },
}


def thresholds(model: str | None = None) -> dict[str, float]:
    """Every threshold of one landmark model by name (``FACE_AGENT_LANDMARKS`` or the default)."""
    from tools.landmarks import landmark_model_name

    return dict(THRESHOLDS[landmark_model_name(model)])


@dataclass(frozen=True)
class FaceGeometry:
    """Measurements of one face, de-rotated and normalised by the face's scale.

    Attributes:
        iod_px: distance between the eye centres in the picture, in pixels.
        scale_px: pixels per inter-ocular distance at the face's depth (the 3-D fit's scale; equal
            to ``iod_px`` for a frontal face, larger for a turned one).
        mouth_gap: mean inner-lip gap (0 = lips together).
        mouth_width: corner-to-corner width (corrected for yaw).
        smile_lift: height of the mouth corners above the lips' midline (+ = corners up).
        smile_lift_min: the same for the lower of the two corners.
        teeth_area: visible teeth inside the inner-lip contour, in IOD squared (None: no pixels).
        teeth_share: the share of the contour's pixels that look like teeth (None: no pixels).
        ear_left_view, ear_right_view: eye aspect ratio of the eye on the viewer's left/right.
        ear_mean: their mean.
        brow_height: mean height of the brows above the eye corners.
        brow_inner_gap: distance between the inner brow ends (corrected for yaw).
        brow_inner_height: height of the inner brow ends above the inner eye corners.
        yaw_deg: + = the face turns towards the right of the picture (the person's own left).
        pitch_deg: + = chin up.
        roll_deg: + = the head leans towards the right of the picture.
    """

    iod_px: float
    scale_px: float
    mouth_gap: float
    mouth_width: float
    smile_lift: float
    smile_lift_min: float
    teeth_area: float | None
    teeth_share: float | None
    ear_left_view: float
    ear_right_view: float
    ear_mean: float
    brow_height: float
    brow_inner_gap: float
    brow_inner_height: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float

    def to_dict(self) -> dict[str, float | None]:
        """Plain floats rounded to 3 decimals (None where not measured)."""
        return {k: None if v is None else round(float(v), 3) for k, v in asdict(self).items()}


def _ear(eye: np.ndarray) -> float:
    # Points: 0 outer/inner corner, 1-2 upper lid, 3 other corner, 4-5 lower lid (Soukupova & Cech 2016).
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = np.linalg.norm(eye[0] - eye[3])
    return float(vertical / (2.0 * max(horizontal, 1e-6)))


def head_pose(points: np.ndarray) -> tuple[float, float, float, float]:
    """Yaw, pitch, roll (degrees) and scale (pixels per IOD) of the canonical face fitted to 68 points.

    A perspective-n-point fit (``cv2.solvePnP``) of ``CANONICAL_FACE`` to its points, with a camera
    whose focal length is tied to the face's size, so the result does not depend on where the face
    is in the photo or how large it is.
    """
    pts = np.asarray(points, np.float64)
    index = list(CANONICAL_FACE)
    image = pts[index]
    eye_a, eye_b = pts[_EYE_A].mean(axis=0), pts[_EYE_B].mean(axis=0)
    iod = float(max(np.linalg.norm(eye_b - eye_a), 1e-6))
    centre = image.mean(axis=0)
    focal = _FOCAL_IODS * iod
    camera = np.array([[focal, 0.0, centre[0]], [0.0, focal, centre[1]], [0.0, 0.0, 1.0]])
    # OpenCV's object frame: z away from the camera, so the canonical z (towards it) changes sign.
    model = np.array([(x, y, -z) for x, y, z in CANONICAL_FACE.values()], np.float64)
    roll0 = math.atan2(eye_b[1] - eye_a[1], eye_b[0] - eye_a[0])
    rvec0 = np.array([[0.0], [0.0], [roll0]])
    tvec0 = np.array([[0.0], [0.0], [_FOCAL_IODS]])
    try:
        ok, rvec, tvec = cv2.solvePnP(
            model, image, camera, None, rvec0, tvec0, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
        )
    except cv2.error:
        ok = False
    if not ok or not np.all(np.isfinite(rvec)) or float(tvec[2, 0]) <= 1e-6:
        return 0.0, 0.0, math.degrees(roll0), iod
    rotation, _ = cv2.Rodrigues(rvec)
    forward = rotation @ np.array([0.0, 0.0, -1.0])  # where the face points, in camera axes
    across = rotation @ np.array([1.0, 0.0, 0.0])
    roll_rad = math.atan2(across[1], across[0])
    # Yaw and pitch in the head's own upright frame (the roll undone about the optical axis), so a
    # photo turned in its plane keeps them.
    c, s = math.cos(-roll_rad), math.sin(-roll_rad)
    fx, fy = c * forward[0] - s * forward[1], s * forward[0] + c * forward[1]
    yaw = math.degrees(math.atan2(fx, -forward[2]))
    pitch = math.degrees(math.atan2(-fy, math.hypot(fx, forward[2])))
    roll = math.degrees(roll_rad)
    return yaw, pitch, roll, focal / float(tvec[2, 0])


def _teeth(rgb: np.ndarray, points: np.ndarray, scale: float) -> tuple[float, float] | None:
    """(teeth area in IOD squared, share of the inner mouth) from the pixels inside the inner lips.

    Teeth are the pixels of the inner-lip contour that are clearly brighter than the lips around
    them (Lab lightness at least ``_TEETH_LIGHTER`` above the lips' median) and no more coloured than
    the lips (chroma at most the lips' median, and at most a plain ``_TEETH_CHROMA`` for gray photos).
    The dark mouth cavity and the tongue fail the first test, lips and skin the second.
    """
    pts = np.asarray(points, np.float64)
    outer, inner = pts[48:60], pts[60:68]
    h, w = rgb.shape[:2]
    x0, y0 = np.floor(outer.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(outer.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    # A small mouth is upsampled (up to 4x, to about 64 px wide) so its contour covers whole pixels;
    # a large one is read as it is.
    k = float(np.clip(64.0 / max(x1 - x0, 1), 1.0, 4.0))
    crop = cv2.resize(
        np.ascontiguousarray(rgb[y0:y1, x0:x1]),
        (int((x1 - x0) * k), int((y1 - y0) * k)),
        interpolation=cv2.INTER_LINEAR,
    )
    shift = np.array([x0, y0], np.float64)
    inner_mask = np.zeros(crop.shape[:2], np.uint8)
    lips_mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(lips_mask, [np.round((outer - shift) * k).astype(np.int32)], 1)
    cv2.fillPoly(inner_mask, [np.round((inner - shift) * k).astype(np.int32)], 1)
    lips_mask &= 1 - inner_mask
    inside = inner_mask.astype(bool)
    if not inside.any():
        return 0.0, 0.0
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    lightness = lab[..., 0]
    chroma = np.hypot(lab[..., 1] - 128.0, lab[..., 2] - 128.0)
    ring = lips_mask.astype(bool)
    if not ring.any():
        return 0.0, 0.0
    lip_l = float(np.median(lightness[ring]))
    lip_c = float(np.median(chroma[ring]))
    teeth = inside & (lightness >= lip_l + _TEETH_LIGHTER) & (chroma <= max(lip_c, _TEETH_CHROMA))
    share = float(teeth.sum() / inside.sum())
    area = float(teeth.sum()) / (k * k) / max(scale * scale, 1e-6)
    return area, share


_TEETH_LIGHTER = 12.0
_TEETH_CHROMA = 8.0


def measure(landmarks: np.ndarray, rgb: np.ndarray | None = None) -> FaceGeometry:
    """Measures a face from its 68 landmarks (iBUG order, image pixels) and, for the teeth, its photo.

    Args:
        landmarks: (68, 2) array of (x, y) points.
        rgb: the (H, W, 3) uint8 photo the points are in; without it the teeth are not measured.

    Returns:
        The normalised measurements.
    """
    pts = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
    eye_a, eye_b = pts[_EYE_A].mean(axis=0), pts[_EYE_B].mean(axis=0)
    axis = eye_b - eye_a
    iod = float(max(np.linalg.norm(axis), 1e-6))
    roll = math.atan2(axis[1], axis[0])
    yaw, pitch, roll_fit, scale = head_pose(pts)
    scale = float(scale) if math.isfinite(scale) and scale > 1e-6 else iod
    # A fit far from the eye distance is a failed fit (degenerate points): trust the eyes instead.
    if not 0.5 * iod <= scale <= 4.0 * iod:
        scale = iod
    # Rotate by -roll about the eye midpoint and scale: eyes at about (-0.5, 0) and (0.5, 0), y down.
    c, s = math.cos(-roll), math.sin(-roll)
    rot = np.array([[c, -s], [s, c]])
    p = (pts - (eye_a + eye_b) / 2) @ rot.T / scale
    across = max(math.cos(math.radians(yaw)), 0.5)  # horizontal lengths shrink with yaw

    gaps = p[_INNER_BOTTOM, 1] - p[_INNER_TOP, 1]
    mouth_gap = float(max(0.0, gaps.mean()))
    mouth_width = float(np.linalg.norm(p[54] - p[48])) / across
    lips_mid_y = float((p[_INNER_TOP, 1].mean() + p[_INNER_BOTTOM, 1].mean()) / 2)
    lifts = (lips_mid_y - p[48, 1], lips_mid_y - p[54, 1])
    teeth = _teeth(rgb, pts, scale) if rgb is not None else None

    ear_a, ear_b = _ear(p[_EYE_A]), _ear(p[_EYE_B])
    corners_y = float(p[_EYE_CORNERS, 1].mean())
    brow_height = float(corners_y - (p[_BROW_A, 1].mean() + p[_BROW_B, 1].mean()) / 2)
    brow_inner_gap = float(np.linalg.norm(p[22] - p[21])) / across
    brow_inner_height = float(((p[39, 1] - p[21, 1]) + (p[42, 1] - p[22, 1])) / 2)

    return FaceGeometry(
        iod_px=iod,
        scale_px=scale,
        mouth_gap=mouth_gap,
        mouth_width=mouth_width,
        smile_lift=float(sum(lifts) / 2),
        smile_lift_min=float(min(lifts)),
        teeth_area=None if teeth is None else teeth[0],
        teeth_share=None if teeth is None else teeth[1],
        ear_left_view=ear_a,
        ear_right_view=ear_b,
        ear_mean=(ear_a + ear_b) / 2,
        brow_height=brow_height,
        brow_inner_gap=brow_inner_gap,
        brow_inner_height=brow_inner_height,
        yaw_deg=float(yaw),
        pitch_deg=float(pitch),
        roll_deg=float(roll_fit),
    )


@dataclass(frozen=True)
class FaceReading:
    """The measurements turned into states (words) with one landmark model's thresholds.

    Sides are given as seen in the picture (``"left"`` = the viewer's left), which is the person's
    own right; a mirror image swaps them and nothing else.

    Attributes:
        mouth: ``closed``, ``slightly open`` (lips parted), ``open`` or ``wide open``.
        mouth_width: ``narrow``, ``medium`` or ``wide`` (stretched, as in a grin).
        smile: ``broad``, ``smile``, ``none`` or ``frown`` (corners turned down).
        teeth: ``visible``, ``none`` or None (can't tell).
        eyes: both eyes together: ``closed``, ``squinting`` (narrowed), ``open``, ``wide open`` or
            ``winking``; None when the face is too small to tell.
        eye_left_view, eye_right_view: each eye's own state.
        wink_side: the picture side of the closed eye when ``eyes == "winking"``, else None.
        brows: ``raised``, ``lowered`` or ``neutral``.
        furrowed: whether the inner brows are drawn together.
        yaw: ``frontal``, ``slight`` or ``turned``; yaw_side: the picture side the face turns to.
        pitch: ``level``, ``up`` (chin raised) or ``down``.
        roll: ``upright``, ``slight`` or ``tilted``; roll_side: the picture side the head leans to.
        head: the most marked of the three: ``frontal``, ``turned``, ``tilted``, ``up`` or ``down``.
        model: the landmark model whose thresholds were used.
        cant_tell: state -> why it was not read (the face too small, no pixels).
    """

    mouth: str
    mouth_width: str
    smile: str
    teeth: str | None
    eyes: str | None
    eye_left_view: str | None
    eye_right_view: str | None
    wink_side: str | None
    brows: str
    furrowed: bool
    yaw: str
    yaw_side: str | None
    pitch: str
    roll: str
    roll_side: str | None
    head: str
    model: str = "faceapi"
    cant_tell: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Plain-type view."""
        return asdict(self)


# Mouth width (IOD): a resting mouth reads about 0.85-0.9, a grin over 1.1.
MOUTH_NARROW_WIDTH = 0.72
MOUTH_WIDE_WIDTH = 1.12


# Not labelled in the set (no threshold can be fitted): fixed multiples of fitted ones.
WIDE_OPEN_FACTOR = 1.7  # "wide open" (gaping): this many times the open-mouth gap
FROWN_LIFT = -0.09  # corners this far below the lips' midline: turned down
WINK_MARGIN = 0.03  # a wink: one eye closed, the other open by this margin past "narrowed"


def _eye_state(ear: float, t: dict[str, float], narrowed: float) -> str:
    if ear < t["EYE_CLOSED_EAR"]:
        return "closed"
    if ear < narrowed:
        return "squinting"
    return "wide open" if ear >= t["EYE_WIDE_EAR"] else "open"


def _side(value: float) -> str:
    return "right" if value > 0 else "left"


def smile_score(g: FaceGeometry, t: dict[str, float]) -> float:
    """The corners' lift plus the mouth's stretch beyond its resting width (1 IOD), weighted."""
    return g.smile_lift + t["SMILE_WIDTH_WEIGHT"] * (g.mouth_width - 1.0)


def read(
    geometry: FaceGeometry, model: str | None = None, limits: dict[str, float] | None = None
) -> FaceReading:
    """Turns measurements into states with the thresholds of the landmark model that gave them.

    Args:
        geometry: the measurements.
        model: the landmark model they come from (``FACE_AGENT_LANDMARKS`` or the default when None).
        limits: thresholds to use instead of the model's (for calibration).
    """
    from tools.landmarks import landmark_model_name

    name = landmark_model_name(model)
    t = limits if limits is not None else THRESHOLDS[name]
    g = geometry
    cant_tell: dict[str, str] = {}

    teeth: str | None
    if g.teeth_area is None:
        teeth = None
        cant_tell["teeth"] = "the photo's pixels were not available to look inside the mouth"
    elif g.iod_px < MIN_IOD_TEETH:
        teeth = None
        cant_tell["teeth"] = f"the face is too small (its eyes are {g.iod_px:.0f} px apart) to see teeth"
    else:
        teeth = "visible" if g.teeth_area >= t["TEETH_AREA"] else "none"

    if g.mouth_gap >= WIDE_OPEN_FACTOR * t["MOUTH_OPEN_GAP"]:
        mouth = "wide open"
    elif g.mouth_gap >= t["MOUTH_OPEN_GAP"]:
        mouth = "open"
    elif g.mouth_gap >= t["MOUTH_PARTED_GAP"] or teeth == "visible":
        mouth = "slightly open"  # teeth seen between the lips part them, whatever the points say
    else:
        mouth = "closed"
    width = (
        "narrow"
        if g.mouth_width < MOUTH_NARROW_WIDTH
        else "wide"
        if g.mouth_width > MOUTH_WIDE_WIDTH
        else "medium"
    )
    if smile_score(g, t) >= t["SMILE_SCORE"] and g.smile_lift_min >= t["SMILE_MIN_LIFT"]:
        smile = "broad" if teeth == "visible" or width == "wide" else "smile"
    elif g.smile_lift <= FROWN_LIFT:
        smile = "frown"
    else:
        smile = "none"

    eyes: str | None
    left: str | None
    right: str | None
    wink_side = None
    if g.iod_px < MIN_IOD_EYES:
        eyes = left = right = None
        cant_tell["eyes"] = (
            f"the face is too small (its eyes are {g.iod_px:.0f} px apart, each only a pixel or two tall)"
        )
    else:
        # A smile's raised cheeks push the lower lids up and squeeze the eyes: on a smiling face an
        # aperture that would be open on a resting one reads narrowed (people see the squeeze), so a
        # smile has its own, higher threshold. It can only narrow: never under EYE_NARROWED.
        narrowed = t["EYE_NARROWED"]
        if smile in ("broad", "smile"):
            narrowed = max(narrowed, t["EYE_SMILE_NARROWED"])
        left, right = _eye_state(g.ear_left_view, t, narrowed), _eye_state(g.ear_right_view, t, narrowed)
        low, high = min(g.ear_left_view, g.ear_right_view), max(g.ear_left_view, g.ear_right_view)
        if (
            low < t["EYE_CLOSED_EAR"]
            and high >= t["EYE_NARROWED"] + WINK_MARGIN
            and g.iod_px >= SMALL_FACE_IOD
        ):
            eyes = "winking"
            wink_side = "left" if g.ear_left_view < g.ear_right_view else "right"
        elif g.ear_mean < t["EYE_CLOSED_EAR"]:
            eyes = "closed"
        elif g.ear_mean < narrowed:
            eyes = "squinting"
        elif g.ear_mean >= t["EYE_WIDE_EAR"]:
            eyes = "wide open"
        else:
            eyes = "open"

    brows = (
        "raised"
        if g.brow_height >= t["BROW_RAISED"]
        else "lowered"
        if g.brow_height <= t["BROW_LOWERED"]
        else "neutral"
    )
    furrowed = g.brow_inner_gap < t["BROW_TOGETHER_GAP"] or g.brow_inner_height < t["BROW_TOGETHER_INNER"]

    pitch_value = g.pitch_deg - t["PITCH_OFFSET"]
    yaw_ratio = abs(g.yaw_deg) / t["YAW_TURNED"]
    roll_ratio = abs(g.roll_deg) / t["ROLL_TILTED"]
    pitch_ratio = pitch_value / t["PITCH_UP"] if pitch_value > 0 else -pitch_value / t["PITCH_DOWN"]
    yaw = "turned" if yaw_ratio >= 1 else "slight" if yaw_ratio >= 0.5 else "frontal"
    roll = "tilted" if roll_ratio >= 1 else "slight" if roll_ratio >= 0.5 else "upright"
    pitch = ("up" if pitch_value > 0 else "down") if pitch_ratio >= 1 else "level"
    ratios = {"turned": yaw_ratio, "tilted": roll_ratio, ("up" if pitch_value > 0 else "down"): pitch_ratio}
    strongest = max(ratios, key=lambda k: ratios[k])
    head = strongest if ratios[strongest] >= 1 else "frontal"
    return FaceReading(
        mouth=mouth,
        mouth_width=width,
        smile=smile,
        teeth=teeth,
        eyes=eyes,
        eye_left_view=left,
        eye_right_view=right,
        wink_side=wink_side,
        brows=brows,
        furrowed=bool(furrowed),
        yaw=yaw,
        yaw_side=_side(g.yaw_deg) if yaw != "frontal" else None,
        pitch=pitch,
        roll=roll,
        roll_side=_side(g.roll_deg) if roll != "upright" else None,
        head=head,
        model=name,
        cant_tell=cant_tell,
    )


_LABEL_WORDS: dict[str, dict[Any, str]] = {
    "mouth": {"closed": "closed", "slightly open": "parted", "open": "open", "wide open": "open"},
    "eyes": {
        "closed": "closed",
        "squinting": "narrowed",
        "winking": "narrowed",
        "open": "open",
        "wide open": "wide",
    },
    "teeth": {"visible": "yes", "none": "no"},
}


def label_words(r: FaceReading) -> dict[str, str]:
    """A reading in the words of the labelled set (``tests/data/face_states.csv``); states it
    cannot tell are left out."""
    out = {
        "smile": "yes" if r.smile in ("broad", "smile") else "no",
        "mouth": _LABEL_WORDS["mouth"][r.mouth],
        "mouth_open": "no" if r.mouth == "closed" else "yes",
        "brows": r.brows,
        "brows_together": "yes" if r.furrowed else "no",
        "head": r.head,
    }
    if r.teeth is not None:
        out["teeth"] = _LABEL_WORDS["teeth"][r.teeth]
    if r.eyes is not None:
        out["eyes"] = _LABEL_WORDS["eyes"][r.eyes]
    return out


def label_states(rgb: np.ndarray, face: Any, model: str | None = None) -> dict[str, str]:
    """The states of a detected face in the words of the labelled set (see ``label_words``)."""
    from tools.landmarks import fit_landmarks

    return label_words(read(measure(fit_landmarks(rgb, [face], model)[0].points, rgb), model))
