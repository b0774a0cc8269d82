"""Landmark geometry: invariances (size, rotation, mirror), the 3-D head fit, teeth from pixels, and
states on real and edited landmarks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tools import geometry as geo
from tools.faces import detect_faces
from tools.landmarks import LANDMARK_MODELS, fit_landmarks

# iBUG-68 index of each point's mirror partner (left/right swapped).
FLIP = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)
SYMMETRIC = (
    "scale_px",
    "mouth_gap",
    "mouth_width",
    "smile_lift",
    "smile_lift_min",
    "ear_mean",
    "brow_height",
    "brow_inner_gap",
    "brow_inner_height",
    "pitch_deg",
)


def mirror_points(points: np.ndarray, width: float = 512.0) -> np.ndarray:
    """The landmarks a perfect detector would give on the mirrored photo."""
    flipped = points.copy()
    flipped[:, 0] = width - 1 - flipped[:, 0]
    return flipped[FLIP]


@pytest.fixture(scope="module")
def astro_points(astronaut: np.ndarray) -> np.ndarray:
    return detect_faces(astronaut)[0].landmarks.astype(np.float64)


@pytest.fixture(scope="module")
def grace_points(grace_hopper: np.ndarray) -> np.ndarray:
    return detect_faces(grace_hopper)[0].landmarks.astype(np.float64)


def test_flip_map_is_an_involution() -> None:
    assert sorted(FLIP.tolist()) == list(range(68))
    assert (FLIP[FLIP] == np.arange(68)).all()


def test_scale_rotation_and_shift_do_not_change_measurements(astro_points: np.ndarray) -> None:
    base = geo.measure(astro_points)
    angle = math.radians(20)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = geo.measure((astro_points @ rot.T) * 2.5 + np.array([40.0, -13.0]))
    for name in base.to_dict():
        if name in ("iod_px", "scale_px"):
            assert getattr(moved, name) == pytest.approx(2.5 * getattr(base, name), rel=1e-3), name
        elif name == "roll_deg":
            assert moved.roll_deg == pytest.approx(base.roll_deg + 20, abs=0.2)
        elif base.to_dict()[name] is not None:
            assert getattr(moved, name) == pytest.approx(
                getattr(base, name), abs=2e-3 if "deg" not in name else 0.3
            ), name


def test_perfect_mirror_only_swaps_sides(astro_points: np.ndarray) -> None:
    base, mirrored = geo.measure(astro_points), geo.measure(mirror_points(astro_points))
    assert mirrored.ear_left_view == pytest.approx(base.ear_right_view)
    assert mirrored.ear_right_view == pytest.approx(base.ear_left_view)
    assert mirrored.yaw_deg == pytest.approx(-base.yaw_deg, abs=0.2)
    assert mirrored.roll_deg == pytest.approx(-base.roll_deg, abs=0.2)
    for name in SYMMETRIC:
        assert getattr(mirrored, name) == pytest.approx(
            getattr(base, name), abs=2e-3 if "deg" not in name else 0.3
        )
    a, b = geo.read(base), geo.read(mirrored)
    assert (a.mouth, a.smile, a.eyes, a.brows, a.furrowed, a.yaw, a.pitch, a.roll, a.head) == (
        b.mouth,
        b.smile,
        b.eyes,
        b.brows,
        b.furrowed,
        b.yaw,
        b.pitch,
        b.roll,
        b.head,
    )


def test_head_pose_of_a_frontal_face_and_of_a_turned_one(grace_points: np.ndarray) -> None:
    yaw, pitch, roll, scale = geo.head_pose(grace_points)
    iod = np.linalg.norm(grace_points[36:42].mean(axis=0) - grace_points[42:48].mean(axis=0))
    assert abs(yaw) < 10 and abs(pitch) < 12 and abs(roll) < 8
    assert scale == pytest.approx(iod, rel=0.15)
    # The canonical face itself, turned 30 degrees about the vertical axis and projected: the fit
    # finds the turn and a scale that does not shrink with it (the projected eye distance does).
    points = np.zeros((68, 2))
    model = np.array(list(geo.CANONICAL_FACE.values()))
    turn = math.radians(30)
    rotation = np.array(
        [[math.cos(turn), 0, math.sin(turn)], [0, 1, 0], [-math.sin(turn), 0, math.cos(turn)]]
    )
    turned = model @ rotation.T
    depth = 12.0 - turned[:, 2]
    projected = turned[:, :2] * 12.0 / depth[:, None] * 50 + 200
    points[list(geo.CANONICAL_FACE)] = projected
    # The other eye points halfway between the corners, so each eye's centre lies between its corners.
    points[[37, 38, 40, 41]] = (points[36] + points[39]) / 2
    points[[43, 44, 46, 47]] = (points[42] + points[45]) / 2
    yaw, pitch, roll, scale = geo.head_pose(points)
    assert yaw == pytest.approx(30, abs=4) and abs(pitch) < 3 and abs(roll) < 3
    assert scale == pytest.approx(50, rel=0.1)


def test_calibration_photos_read_as_they_look(astronaut, grace_hopper) -> None:
    for model in LANDMARK_MODELS:
        astro = geo.read(
            geo.measure(fit_landmarks(astronaut, detect_faces(astronaut)[:1], model)[0].points, astronaut),
            model,
        )
        grace = geo.read(
            geo.measure(
                fit_landmarks(grace_hopper, detect_faces(grace_hopper)[:1], model)[0].points, grace_hopper
            ),
            model,
        )
        assert (grace.mouth, grace.smile, grace.teeth) == ("closed", "none", "none"), model
        assert astro.smile == "broad" and astro.teeth == "visible" and astro.mouth != "closed", model
        for reading in (astro, grace):
            assert reading.eyes in ("open", "squinting"), model
            assert reading.brows == "neutral" and not reading.furrowed, model
            assert reading.head == "frontal" and reading.yaw == "frontal", model


def _edited(points: np.ndarray, iod: float) -> dict[str, np.ndarray]:
    """Landmarks edited into clear expressions (in image pixels, face upright)."""
    up = np.array([0.0, -1.0])
    opened = points.copy()
    opened[[65, 66, 67, 55, 56, 57, 58, 59, 5, 6, 7, 8, 9, 10, 11]] -= up * 0.45 * iod
    shut = points.copy()
    for eye in (range(36, 42), range(42, 48)):
        idx = list(eye)
        mid_y = shut[idx, 1].mean()
        shut[idx[1:3] + idx[4:6], 1] = mid_y + (shut[idx[1:3] + idx[4:6], 1] - mid_y) * 0.2
    raised = points.copy()
    raised[17:27] += up * 0.3 * iod
    lowered = points.copy()
    lowered[17:27] -= up * 0.2 * iod
    furrowed = points.copy()
    centre = furrowed[[21, 22]].mean(axis=0)
    furrowed[[19, 20, 21, 22, 23, 24]] = centre + (furrowed[[19, 20, 21, 22, 23, 24]] - centre) * 0.5
    smiling = points.copy()
    smiling[48] += np.array([-0.12, -0.15]) * iod
    smiling[54] += np.array([0.12, -0.15]) * iod
    wink = points.copy()
    idx = list(range(42, 48))
    mid_y = wink[idx, 1].mean()
    wink[[43, 44, 46, 47], 1] = mid_y + (wink[[43, 44, 46, 47], 1] - mid_y) * 0.1
    return {
        "opened": opened,
        "shut": shut,
        "raised": raised,
        "lowered": lowered,
        "furrowed": furrowed,
        "smiling": smiling,
        "wink": wink,
    }


def test_edited_expressions_change_the_right_state(grace_points: np.ndarray) -> None:
    iod = geo.measure(grace_points).iod_px
    base = geo.read(geo.measure(grace_points), "dlib")
    edits = {name: geo.read(geo.measure(p), "dlib") for name, p in _edited(grace_points, iod).items()}
    assert edits["opened"].mouth in ("open", "wide open") and base.mouth == "closed"
    assert edits["shut"].eyes == "closed"
    assert edits["raised"].brows == "raised" and edits["lowered"].brows == "lowered"
    assert edits["furrowed"].furrowed and not base.furrowed
    assert edits["smiling"].smile in ("smile", "broad") and base.smile == "none"
    assert edits["wink"].eyes == "winking" and edits["wink"].wink_side == "right"
    # A mirrored wink is on the other side, and nothing else changes.
    mirrored = geo.read(geo.measure(mirror_points(_edited(grace_points, iod)["wink"])), "dlib")
    assert mirrored.eyes == "winking" and mirrored.wink_side == "left"


def test_teeth_are_read_from_the_pixels_inside_the_lips(astronaut, grace_hopper, astro_points) -> None:
    astro = geo.measure(astro_points, astronaut)
    grace = geo.measure(detect_faces(grace_hopper)[0].landmarks, grace_hopper)
    assert astro.teeth_area > 3 * geo.THRESHOLDS["dlib"]["TEETH_AREA"] and astro.teeth_share > 0.3
    assert grace.teeth_area < geo.THRESHOLDS["dlib"]["TEETH_AREA"]
    # The same mouth with its inside painted as dark as a mouth cavity shows no teeth.
    dark = astronaut.copy()
    import cv2

    cv2.fillPoly(dark, [np.round(astro_points[60:68]).astype(np.int32)], (40, 20, 20))
    assert geo.measure(astro_points, dark).teeth_area < geo.THRESHOLDS["dlib"]["TEETH_AREA"]
    # Without pixels the teeth are not read, and the reading says why.
    reading = geo.read(geo.measure(astro_points))
    assert reading.teeth is None and "pixels" in reading.cant_tell["teeth"]


def test_tiny_faces_cannot_tell_eyes_and_say_why(astro_points: np.ndarray, astronaut: np.ndarray) -> None:
    small = astro_points * 0.1
    reading = geo.read(geo.measure(small, astronaut))
    assert reading.eyes is None and "too small" in reading.cant_tell["eyes"]
    assert reading.mouth in ("closed", "slightly open", "open", "wide open")  # still read


def test_thresholds_per_model_are_ordered_and_complete() -> None:
    names = set(geo.THRESHOLDS["dlib"])
    for model in LANDMARK_MODELS:
        limits = geo.thresholds(model)
        assert set(limits) == names, model
        assert limits["MOUTH_PARTED_GAP"] < limits["MOUTH_OPEN_GAP"]
        assert (
            limits["EYE_CLOSED_EAR"] < limits["EYE_WIDE_EAR"]
            and limits["EYE_NARROWED"] < limits["EYE_WIDE_EAR"]
        )
        assert limits["BROW_LOWERED"] < limits["BROW_TYPICAL"] < limits["BROW_RAISED"]
        assert limits["EYE_NARROWED"] < limits["EAR_TYPICAL"] < limits["EYE_WIDE_EAR"]


def test_label_words_cover_the_labelled_states(astronaut) -> None:
    words = geo.label_states(astronaut, detect_faces(astronaut)[0])
    assert words["smile"] == "yes" and words["teeth"] == "yes" and words["mouth_open"] == "yes"
    assert set(words) == {"smile", "mouth", "mouth_open", "teeth", "eyes", "brows", "brows_together", "head"}


def test_measurements_are_finite_for_degenerate_points() -> None:
    values = geo.measure(np.zeros((68, 2))).to_dict()
    assert all(v is None or np.isfinite(v) for v in values.values())
    geo.read(geo.measure(np.zeros((68, 2))))  # and they read without error
