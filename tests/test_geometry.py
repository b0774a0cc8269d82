"""Landmark geometry: invariances (size, rotation, mirror) and states on real and edited landmarks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tools import geometry as geo
from tools.faces import detect_faces

# iBUG-68 index of each point's mirror partner (left/right swapped).
FLIP = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
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
        if name == "iod_px":
            assert moved.iod_px == pytest.approx(2.5 * base.iod_px, rel=1e-6)
        elif name == "roll_deg":
            assert moved.roll_deg == pytest.approx(base.roll_deg + 20, abs=1e-6)
        else:
            assert getattr(moved, name) == pytest.approx(getattr(base, name), abs=1e-6), name


def test_perfect_mirror_only_swaps_sides(astro_points: np.ndarray) -> None:
    base, mirrored = geo.measure(astro_points), geo.measure(mirror_points(astro_points))
    assert mirrored.ear_left_view == pytest.approx(base.ear_right_view)
    assert mirrored.ear_right_view == pytest.approx(base.ear_left_view)
    assert mirrored.yaw_index == pytest.approx(-base.yaw_index, abs=1e-9)
    assert mirrored.roll_deg == pytest.approx(-base.roll_deg, abs=1e-9)
    for name in (
        "mouth_gap",
        "mouth_width",
        "smile_lift",
        "ear_mean",
        "brow_height",
        "brow_inner_gap",
        "pitch_index",
    ):
        assert getattr(mirrored, name) == pytest.approx(getattr(base, name), abs=1e-9), name
    a, b = geo.read(base), geo.read(mirrored)
    assert (a.mouth, a.smile, a.eyes, a.brows, a.furrowed, a.yaw, a.pitch, a.roll) == (
        b.mouth,
        b.smile,
        b.eyes,
        b.brows,
        b.furrowed,
        b.yaw,
        b.pitch,
        b.roll,
    )


def test_calibration_photos_read_as_documented(astro_points: np.ndarray, grace_points: np.ndarray) -> None:
    astro, grace = geo.read(geo.measure(astro_points)), geo.read(geo.measure(grace_points))
    assert grace.mouth == "closed"
    assert grace.smile == "none"
    assert astro.mouth == "slightly open"  # a broad smile with teeth showing parts the lips
    assert astro.smile == "broad"
    for reading in (astro, grace):
        assert reading.eyes == "open"
        assert reading.brows == "neutral" and not reading.furrowed
        assert (reading.yaw, reading.pitch, reading.roll) == ("frontal", "level", "upright")


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
    raised[17:27] += up * 0.25 * iod
    furrowed = points.copy()
    centre = furrowed[[21, 22]].mean(axis=0)
    furrowed[[19, 20, 21, 22, 23, 24]] = centre + (furrowed[[19, 20, 21, 22, 23, 24]] - centre) * 0.5
    turned = points.copy()
    turned[27:36] += np.array([0.6, 0.0]) * iod  # nose shifted towards the picture's right
    wink = points.copy()
    idx = list(range(42, 48))
    mid_y = wink[idx, 1].mean()
    wink[[43, 44, 46, 47], 1] = mid_y + (wink[[43, 44, 46, 47], 1] - mid_y) * 0.1
    return {
        "opened": opened,
        "shut": shut,
        "raised": raised,
        "furrowed": furrowed,
        "turned": turned,
        "wink": wink,
    }


def test_edited_expressions_change_the_right_state(grace_points: np.ndarray) -> None:
    iod = geo.measure(grace_points).iod_px
    edits = {name: geo.read(geo.measure(p)) for name, p in _edited(grace_points, iod).items()}
    assert edits["opened"].mouth in ("open", "wide open")
    assert edits["shut"].eyes == "closed"
    assert edits["raised"].brows == "raised"
    assert edits["furrowed"].furrowed
    assert edits["turned"].yaw in ("slight", "turned") and edits["turned"].yaw_side == "right"
    assert edits["wink"].eyes == "winking" and edits["wink"].wink_side == "right"
    # A mirrored wink is on the other side, and nothing else changes.
    mirrored = geo.read(geo.measure(mirror_points(_edited(grace_points, iod)["wink"])))
    assert mirrored.eyes == "winking" and mirrored.wink_side == "left"


def test_thresholds_are_ordered_and_named() -> None:
    limits = geo.thresholds()
    assert limits["MOUTH_OPEN_GAP"] < limits["MOUTH_OPEN_MORE_GAP"] < limits["MOUTH_WIDE_OPEN_GAP"]
    assert limits["EYE_CLOSED_EAR"] < limits["EYE_SQUINT_EAR"] < limits["EYE_WIDE_EAR"]
    assert limits["BROW_LOWERED"] < limits["BROW_RAISED"]
    assert limits["YAW_SLIGHT"] < limits["YAW_TURNED"] and limits["ROLL_SLIGHT"] < limits["ROLL_TILTED"]
    assert limits["PITCH_UP"] < limits["PITCH_DOWN"]


def test_measurements_are_finite_for_degenerate_points() -> None:
    values = geo.measure(np.zeros((68, 2))).to_dict()
    assert all(np.isfinite(v) for v in values.values())
