"""Facial state from the 68 landmarks: mouth, smile, eyes, brows and head pose, in numbers and words.

Every measurement is taken in a face-normalised frame: the points are rotated so the line between
the eye centres is horizontal (undoing head roll) and divided by the inter-ocular distance (IOD),
so the numbers do not depend on photo size, face size or in-plane tilt. Paired features (the two
eyes, the two brows, the two mouth corners) are combined symmetrically (means, or min/max), so a
photo and its mirror image give the same readings; only the signed directions (yaw, roll, which eye
winks) change side, as they should.

Thresholds are named constants below with a note on how they were chosen. They were calibrated on
the real photos available offline (``python -m tools.geometry`` prints the readings again):

==================  ===============  ===============  ==========  ===============
measure (per IOD)   astronaut        Grace Hopper     LFW median  LFW 5-95 %
                    photo / mirror   photo / mirror   (n=100)
==================  ===============  ===============  ==========  ===============
inner-lip gap       0.161 / 0.153    0.007 / 0.032    0.098       0.000 - 0.344
corner lift         0.157 / 0.152    0.023 / -0.022   0.019       -0.086 - 0.139
mouth width         1.015 / 0.984    0.884 / 0.841    0.889       0.674 - 1.121
eye aspect (mean)   0.323 / 0.313    0.238 / 0.268    0.325       0.157 - 0.501
brow height         0.265 / 0.262    0.301 / 0.330    0.304       0.229 - 0.393
inner-brow gap      0.461 / 0.458    0.458 / 0.440    0.383       0.235 - 0.513
inner-brow height   0.277 / 0.275    0.302 / 0.327    0.274       0.125 - 0.389
yaw index           0.006 / -0.012   -0.066 / 0.041   -0.052      -0.281 - 0.160
pitch index         0.322 / 0.320    0.327 / 0.333    0.285       0.167 - 0.393
roll (degrees)      3.1 / -3.1       -3.8 / 3.5       -2.4        -8.4 - 4.9
==================  ===============  ===============  ==========  ===============

(astronaut: smiling broadly with teeth showing, so the lips are parted; Grace Hopper: mouth closed;
LFW: 25x25 px faces whose landmarks are noisy, mostly frontal, neutral or smiling.)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "FaceGeometry",
    "FaceReading",
    "measure",
    "read",
    "thresholds",
    "MOUTH_OPEN_GAP",
    "MOUTH_OPEN_MORE_GAP",
    "MOUTH_WIDE_OPEN_GAP",
    "SMILE_LIFT",
    "SMILE_BROAD_LIFT",
    "FROWN_LIFT",
    "EYE_CLOSED_EAR",
    "EYE_SQUINT_EAR",
    "EYE_WIDE_EAR",
    "WINK_MARGIN",
    "SMALL_FACE_IOD",
    "BROW_RAISED",
    "BROW_LOWERED",
    "BROW_FURROW_GAP",
    "BROW_FURROW_INNER_HEIGHT",
    "YAW_SLIGHT",
    "YAW_TURNED",
    "PITCH_UP",
    "PITCH_DOWN",
    "ROLL_SLIGHT",
    "ROLL_TILTED",
]

# --- thresholds (all lengths are fractions of the inter-ocular distance) ----------------------------
# Chosen from the readings in the module docstring (photo and its mirror image both listed), with
# the margin to each calibration photo stated. LFW's 25 px faces give noisy landmarks, so their
# spread only bounds the "normal" range; the two large photos set the margins.
#
# Mouth: mean vertical gap between the inner lips. Grace Hopper (closed) reads 0.007 / 0.032 (photo
# / mirror), the astronaut (teeth showing, lips parted) 0.16 / 0.15. 0.08 keeps a margin of 0.05
# to Grace Hopper and 0.07 to the astronaut.
MOUTH_OPEN_GAP = 0.08
MOUTH_OPEN_MORE_GAP = 0.22  # beyond "lips parted": the mouth is plainly open
MOUTH_WIDE_OPEN_GAP = 0.38  # gaping, as in surprise or a shout (above the LFW 95th percentile, 0.34)
# Smile: how far the mouth corners sit above the midline of the lips. The astronaut's broad smile
# reads 0.157 / 0.152, Grace Hopper's closed mouth 0.023 / -0.022 (LFW median 0.02: a resting
# mouth is almost flat). 0.07 keeps ~0.05 margin to Grace Hopper and ~0.08 to the astronaut.
SMILE_LIFT = 0.07
SMILE_BROAD_LIFT = 0.12  # the astronaut's grin is "broad"; a gentle smile stays under it
# Corners pulled down (a frown / sad mouth): the mirror of the smile threshold, LFW 5th pct -0.09.
FROWN_LIFT = -0.09
# Eyes: eye aspect ratio (lid-to-lid height / corner-to-corner width, Soukupova & Cech 2016).
# Open eyes read 0.23-0.35 here (astronaut 0.30-0.35 per eye, Grace Hopper 0.23-0.27); shut lids
# fall under ~0.12 in the literature; between the two the eyes are narrowed (squinting).
# Margin from Grace Hopper's narrower eye (0.231) to the squint threshold: 0.05.
EYE_CLOSED_EAR = 0.12
EYE_SQUINT_EAR = 0.18
EYE_WIDE_EAR = 0.40  # wide open (surprise, fear); the astronaut's 0.31-0.32 mean stays below
# A wink is reported only when one eye is shut and the other open by a margin (>= 0.21), so an eye
# hovering at the squint line does not make one. The two eyes of one face differ by up to 0.05 in
# the photos (astronaut 0.35 / 0.30), so a margin of 0.03 on top of the squint line keeps Grace
# Hopper's narrower open eyes (0.23-0.27) able to wink.
WINK_MARGIN = 0.03
# Below this inter-ocular distance in pixels (LFW's 25 px faces: 7-10 px; the astronaut 43, Grace
# Hopper 90) an eye is a few pixels tall and the landmarks wander by a pixel or two: readings are
# rough, and a wink is not reported (on LFW, 11 of 100 faces "winked" from landmark noise alone).
SMALL_FACE_IOD = 24.0
# Brows: mean height of the brow points above the eye centres. Astronaut 0.26, Grace Hopper
# 0.30 / 0.33, LFW median 0.30 (5-95 %: 0.23-0.39). Raised/lowered sit beyond that range for the
# photos: margins 0.06 (astronaut to lowered) and 0.09 (Grace Hopper to raised).
BROW_RAISED = 0.42
BROW_LOWERED = 0.20
# Furrow: the inner brow ends pulled together (gap) or down towards the inner eye corners
# (height). Both photos: gap 0.44-0.46, inner height 0.28-0.33; furrowed when either falls clearly
# below (margins >= 0.1).
BROW_FURROW_GAP = 0.34
BROW_FURROW_INNER_HEIGHT = 0.16
# Head yaw: the nose tip's offset from the midline of the face outline, as a fraction of the face
# width at the cheeks (+ = towards the right of the picture). Astronaut 0.006 / -0.012, Grace
# Hopper -0.066 / 0.041 (she is turned a little, under ~10 degrees). Slight from 0.12 (~20 deg):
# margin 0.05; a photo and its mirror differ by 0.04 at most on 90 % of LFW faces.
YAW_SLIGHT = 0.12
YAW_TURNED = 0.25
# Head pitch: the nose tip's depth between the eye line (0) and the chin (1). Both photos read
# 0.32-0.33 (frontal); chin up moves the nose tip towards the eye line (smaller), chin down away.
PITCH_FRONTAL = 0.325
PITCH_UP = 0.25
PITCH_DOWN = 0.40
# Roll: angle of the eye line in degrees. Both photos read 3-5 degrees either way; a photo and its
# mirror differ by ~1 degree (2.2 at the LFW 90th percentile).
ROLL_SLIGHT = 8.0
ROLL_TILTED = 16.0

# iBUG-68 indices.
_JAW = slice(0, 17)
_EYE_A, _EYE_B = slice(36, 42), slice(42, 48)  # left and right eye as seen in the picture
_BROW_A, _BROW_B = slice(17, 22), slice(22, 27)
_INNER_TOP, _INNER_BOTTOM = [61, 62, 63], [67, 66, 65]


@dataclass(frozen=True)
class FaceGeometry:
    """Measurements of one face, normalised by the inter-ocular distance and de-rotated.

    Attributes:
        iod_px: inter-ocular distance in pixels (distance between the eye centres).
        mouth_gap: mean inner-lip gap / IOD (0 = lips together).
        mouth_width: corner-to-corner width / IOD.
        mouth_open_ratio: inner-lip gap / inner mouth width (the mouth's aspect ratio).
        smile_lift: height of the mouth corners above the lips' midline / IOD (+ = corners up).
        ear_left_view, ear_right_view: eye aspect ratio of the eye on the viewer's left/right.
        ear_mean: their mean.
        brow_height: mean height of the brows above the eye centres / IOD.
        brow_inner_gap: distance between the inner brow ends / IOD.
        brow_inner_height: height of the inner brow ends above the inner eye corners / IOD.
        yaw_index: nose-tip offset from the face-outline midline / face width (+ = towards the
            right of the picture, i.e. the person's own left).
        pitch_index: nose tip position between eye line (0) and chin (1).
        roll_deg: angle of the eye line (+ = the eye on the viewer's right is lower, i.e. the
            head leans towards the right of the picture).
        yaw_deg, pitch_deg: rough angles derived from the indices (for people; +-10 degrees).
    """

    iod_px: float
    mouth_gap: float
    mouth_width: float
    mouth_open_ratio: float
    smile_lift: float
    ear_left_view: float
    ear_right_view: float
    ear_mean: float
    brow_height: float
    brow_inner_gap: float
    brow_inner_height: float
    yaw_index: float
    pitch_index: float
    roll_deg: float
    yaw_deg: float
    pitch_deg: float

    def to_dict(self) -> dict[str, float]:
        """Plain floats rounded to 3 decimals."""
        return {k: round(float(v), 3) for k, v in asdict(self).items()}


def _ear(eye: np.ndarray) -> float:
    # Points: 0 outer/inner corner, 1-2 upper lid, 3 other corner, 4-5 lower lid.
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = np.linalg.norm(eye[0] - eye[3])
    return float(vertical / (2.0 * max(horizontal, 1e-6)))


def measure(landmarks: np.ndarray) -> FaceGeometry:
    """Measures a face from its 68 landmarks (iBUG order, any image coordinates).

    Args:
        landmarks: (68, 2) array of (x, y) points.

    Returns:
        The normalised measurements.
    """
    pts = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
    eye_a, eye_b = pts[_EYE_A].mean(axis=0), pts[_EYE_B].mean(axis=0)
    axis = eye_b - eye_a
    iod = float(max(np.linalg.norm(axis), 1e-6))
    roll = math.atan2(axis[1], axis[0])
    # Rotate by -roll about the eye midpoint and scale by IOD: eyes at (-0.5, 0) and (0.5, 0), y down.
    c, s = math.cos(-roll), math.sin(-roll)
    rot = np.array([[c, -s], [s, c]])
    p = (pts - (eye_a + eye_b) / 2) @ rot.T / iod

    gaps = p[_INNER_BOTTOM, 1] - p[_INNER_TOP, 1]
    mouth_gap = float(max(0.0, gaps.mean()))
    mouth_width = float(np.linalg.norm(p[54] - p[48]))
    inner_width = float(max(np.linalg.norm(p[64] - p[60]), 1e-6))
    lips_mid_y = float((p[_INNER_TOP, 1].mean() + p[_INNER_BOTTOM, 1].mean()) / 2)
    smile_lift = float(lips_mid_y - (p[48, 1] + p[54, 1]) / 2)

    ear_a, ear_b = _ear(p[_EYE_A]), _ear(p[_EYE_B])
    brow_height = float(-(p[_BROW_A, 1].mean() + p[_BROW_B, 1].mean()) / 2)
    brow_inner_gap = float(np.linalg.norm(p[22] - p[21]))
    brow_inner_height = float(((p[39, 1] - p[21, 1]) + (p[42, 1] - p[22, 1])) / 2)

    # Yaw: the nose tip against the midline of the face outline at cheek height (jaw points 1-3
    # and 13-15 are least affected by mouth opening).
    left_edge, right_edge = p[1:4, 0].mean(), p[13:16, 0].mean()
    width = float(max(right_edge - left_edge, 1e-6))
    yaw_index = float((p[30, 0] - (left_edge + right_edge) / 2) / width)
    chin_y = float(max(p[8, 1], 1e-6))
    pitch_index = float(p[30, 1] / chin_y)
    # Rough angles from a rigid-head model: the nose tip stands ~0.6 IOD in front of the eye plane,
    # the cheeks are ~2 IOD wide and the chin ~1.9 IOD below the eyes, so the indices move by about
    # 0.35 sin(yaw) and 0.32 sin(pitch). Good to about +-10 degrees; for words, not for science.
    yaw_deg = math.degrees(math.asin(max(-1.0, min(1.0, yaw_index / 0.35))))
    pitch_deg = math.degrees(math.asin(max(-1.0, min(1.0, (PITCH_FRONTAL - pitch_index) / 0.32))))

    return FaceGeometry(
        iod_px=iod,
        mouth_gap=mouth_gap,
        mouth_width=mouth_width,
        mouth_open_ratio=float(mouth_gap / inner_width),
        smile_lift=smile_lift,
        ear_left_view=ear_a,
        ear_right_view=ear_b,
        ear_mean=(ear_a + ear_b) / 2,
        brow_height=brow_height,
        brow_inner_gap=brow_inner_gap,
        brow_inner_height=brow_inner_height,
        yaw_index=yaw_index,
        pitch_index=pitch_index,
        roll_deg=math.degrees(roll),
        yaw_deg=yaw_deg,
        pitch_deg=pitch_deg,
    )


@dataclass(frozen=True)
class FaceReading:
    """The measurements turned into states (words), with the thresholds above.

    Sides are given as seen in the picture (``"left"`` = the viewer's left), which is the person's
    own right; a mirror image swaps them and nothing else.

    Attributes:
        mouth: ``closed``, ``slightly open`` (lips parted), ``open`` or ``wide open``.
        mouth_width: ``narrow``, ``medium`` or ``wide`` (stretched, as in a grin).
        smile: ``broad``, ``smile``, ``none`` or ``frown`` (corners turned down).
        eyes: both eyes together: ``closed``, ``squinting``, ``open``, ``wide open`` or ``winking``.
        eye_left_view, eye_right_view: each eye's own state (``closed`` ... ``wide open``).
        wink_side: the picture side of the closed eye when ``eyes == "winking"``, else None.
        brows: ``raised``, ``lowered`` or ``neutral``.
        furrowed: whether the inner brows are drawn together or pulled down.
        yaw: ``frontal``, ``slight`` or ``turned``; yaw_side: picture side the face turns to.
        pitch: ``level``, ``up`` (chin raised) or ``down``.
        roll: ``upright``, ``slight`` or ``tilted``; roll_side: picture side the head leans to.
    """

    mouth: str
    mouth_width: str
    smile: str
    eyes: str
    eye_left_view: str
    eye_right_view: str
    wink_side: str | None
    brows: str
    furrowed: bool
    yaw: str
    yaw_side: str | None
    pitch: str
    roll: str
    roll_side: str | None

    def to_dict(self) -> dict[str, object]:
        """Plain-type view."""
        return asdict(self)


# Mouth width: the astronaut's smile reads 1.0, Grace Hopper 0.84-0.88, LFW 5-95 %: 0.67-1.12.
MOUTH_NARROW_WIDTH = 0.72
MOUTH_WIDE_WIDTH = 1.12


def _eye_state(ear: float) -> str:
    if ear < EYE_CLOSED_EAR:
        return "closed"
    if ear < EYE_SQUINT_EAR:
        return "squinting"
    return "wide open" if ear >= EYE_WIDE_EAR else "open"


def _graded(
    value: float, slight: float, strong: float, low: str, mid: str, high: str
) -> tuple[str, str | None]:
    magnitude = abs(value)
    if magnitude < slight:
        return low, None
    return (mid if magnitude < strong else high), ("right" if value > 0 else "left")


def read(geometry: FaceGeometry) -> FaceReading:
    """Turns measurements into states with the module's thresholds."""
    g = geometry
    if g.mouth_gap >= MOUTH_WIDE_OPEN_GAP:
        mouth = "wide open"
    elif g.mouth_gap >= MOUTH_OPEN_MORE_GAP:
        mouth = "open"
    elif g.mouth_gap >= MOUTH_OPEN_GAP:
        mouth = "slightly open"
    else:
        mouth = "closed"
    width = (
        "narrow"
        if g.mouth_width < MOUTH_NARROW_WIDTH
        else "wide"
        if g.mouth_width > MOUTH_WIDE_WIDTH
        else "medium"
    )
    if g.smile_lift >= SMILE_BROAD_LIFT:
        smile = "broad"
    elif g.smile_lift >= SMILE_LIFT:
        smile = "smile"
    elif g.smile_lift <= FROWN_LIFT:
        smile = "frown"
    else:
        smile = "none"

    left, right = _eye_state(g.ear_left_view), _eye_state(g.ear_right_view)
    low, high = min(g.ear_left_view, g.ear_right_view), max(g.ear_left_view, g.ear_right_view)
    wink_side = None
    if low < EYE_CLOSED_EAR and high >= EYE_SQUINT_EAR + WINK_MARGIN and g.iod_px >= SMALL_FACE_IOD:
        eyes = "winking"
        wink_side = "left" if g.ear_left_view < g.ear_right_view else "right"
    else:
        # Both eyes move together; their mean is steadier than either eye's landmarks.
        eyes = _eye_state(g.ear_mean)

    brows = (
        "raised"
        if g.brow_height >= BROW_RAISED
        else "lowered"
        if g.brow_height <= BROW_LOWERED
        else "neutral"
    )
    furrowed = g.brow_inner_gap < BROW_FURROW_GAP or g.brow_inner_height < BROW_FURROW_INNER_HEIGHT

    yaw, yaw_side = _graded(g.yaw_index, YAW_SLIGHT, YAW_TURNED, "frontal", "slight", "turned")
    pitch = "up" if g.pitch_index < PITCH_UP else "down" if g.pitch_index > PITCH_DOWN else "level"
    roll, roll_side = _graded(g.roll_deg, ROLL_SLIGHT, ROLL_TILTED, "upright", "slight", "tilted")
    return FaceReading(
        mouth=mouth,
        mouth_width=width,
        smile=smile,
        eyes=eyes,
        eye_left_view=left,
        eye_right_view=right,
        wink_side=wink_side,
        brows=brows,
        furrowed=bool(furrowed),
        yaw=yaw,
        yaw_side=yaw_side,
        pitch=pitch,
        roll=roll,
        roll_side=roll_side,
    )


def label_states(rgb: np.ndarray, face: object, model: str | None = None) -> dict[str, str]:
    """The states of a face in the words of the labelled set (``tests/data/face_states.csv``)."""
    from tools.landmarks import fit_landmarks

    r = read(measure(fit_landmarks(rgb, [face], model)[0].points))  # type: ignore[list-item]
    mouth = {"closed": "closed", "slightly open": "parted", "open": "open", "wide open": "open"}[r.mouth]
    eyes = {"closed": "closed", "squinting": "narrowed", "open": "open", "wide open": "wide"}.get(
        r.eyes, "narrowed"
    )
    head = "frontal"
    if r.yaw == "turned":
        head = "turned"
    elif r.roll == "tilted":
        head = "tilted"
    elif r.pitch != "level":
        head = r.pitch
    return {
        "smile": "yes" if r.smile in ("broad", "smile") else "no",
        "mouth": mouth,
        "eyes": eyes,
        "brows": r.brows,
        "brows_together": "yes" if r.furrowed else "no",
        "head": head,
    }


def thresholds() -> dict[str, float]:
    """Every threshold by name (for evidence and documentation)."""
    return {
        name: float(value) for name, value in globals().items() if name.isupper() and isinstance(value, float)
    }


def _calibration_report() -> None:
    """Prints the readings of the offline calibration photos (``python -m tools.geometry``)."""
    import os

    import matplotlib
    from PIL import Image
    from skimage import data

    from tools.errors import NoFaceError
    from tools.faces import detect_faces

    photos = {
        "astronaut": data.astronaut(),
        "grace_hopper": np.asarray(
            Image.open(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")).convert(
                "RGB"
            )
        ),
    }
    keys = ["mouth_gap", "smile_lift", "mouth_width", "ear_mean", "brow_height", "brow_inner_gap"]
    keys += ["brow_inner_height", "yaw_index", "pitch_index", "roll_deg"]
    print(f"{'photo':22}" + "".join(f"{k[:11]:>12}" for k in keys))
    for name, rgb in photos.items():
        for label, image in ((name, rgb), (name + " (mirror)", np.ascontiguousarray(rgb[:, ::-1]))):
            values = measure(detect_faces(image)[0].landmarks).to_dict()
            print(f"{label:22}" + "".join(f"{values[k]:12.3f}" for k in keys))
    rows = []
    for face in data.lfw_subset()[:100]:
        gray = (face * 255).round().astype(np.uint8)
        try:
            rows.append(measure(detect_faces(np.repeat(gray[..., None], 3, axis=2))[0].landmarks).to_dict())
        except NoFaceError:
            continue
    table = np.array([[r[k] for k in keys] for r in rows])
    for q in (5, 50, 95):
        print(
            f"{f'LFW p{q} (n={len(rows)})':22}"
            + "".join(f"{v:12.3f}" for v in np.percentile(table, q, axis=0))
        )


if __name__ == "__main__":
    _calibration_report()
