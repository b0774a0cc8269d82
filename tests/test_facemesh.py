"""MediaPipe FaceMesh in ONNX Runtime: exactness against TF.js, the crop, the regions, real photos.

``tests/data/facemesh_reference.json`` holds fixed 192x192 crops and what the original TF.js graph
model gave for them, run in Node with the TF.js 4.22 CPU backend
(``scripts/make_facemesh_reference.py``). Measured when written: max |ONNX - TF.js| is 1.5e-4 crop
pixels over the 468 x 3 coordinates of five crops (tolerance 1e-3), 5e-8 in face probability.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmarks.photos import MEDIA, load_source
from tools.errors import ModelUnavailableError
from tools.faces import default_detector
from tools.models.facemesh import (
    CROP_TEMPLATE,
    INPUT_SIZE,
    NUM_POINTS,
    ONNX_PATH,
    ONNX_SHA256,
    REGIONS,
    FaceMesh,
    Mesh,
    default_facemesh,
    fit_meshes,
    mesh_roi,
)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((Path(__file__).parent / "data" / "facemesh_reference.json").read_text())
CROPS = REFERENCE["crops"]
MESH_TOLERANCE = 1e-3  # crop pixels
FLAG_TOLERANCE = 1e-5


def _pixels(record: dict) -> np.ndarray:
    """The stored crop as 192x192x3 uint8 RGB."""
    if "fill" in record:
        return np.full((INPUT_SIZE, INPUT_SIZE, 3), record["fill"], np.uint8)
    if "seed" in record:
        pixels = np.random.default_rng(record["seed"]).integers(
            0, 256, size=(INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8
        )
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == record["sha256"], (
            "numpy's noise stream changed"
        )
        return pixels
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(record["png"]))).convert("RGB"))


@pytest.fixture(scope="module")
def photos() -> dict[str, tuple[np.ndarray, list]]:
    """Real photos and the faces RetinaFace finds in them."""
    detector = default_detector()
    names = (
        "posed_surprise",
        "posed_happy",
        "posed_anger",
        "posed_disgust",
        "astronaut",
        "grace",
        "multi_face",
    )
    out = {}
    for name in names:
        rgb = load_source(MEDIA[name][0])
        out[name] = (rgb, detector.detect(rgb))
    return out


@pytest.fixture(scope="module")
def meshes(photos) -> dict[str, list[Mesh]]:
    return {name: fit_meshes(rgb, faces) for name, (rgb, faces) in photos.items()}


def _iod(mesh: Mesh) -> float:
    """Distance between the outer eye corners, the scale every tolerance below is relative to."""
    return float(np.linalg.norm(mesh.points[33, :2] - mesh.points[263, :2]))


# --- exactness -----------------------------------------------------------------------------------


@pytest.mark.parametrize("record", CROPS, ids=[r["name"] for r in CROPS])
def test_matches_tfjs_reference(record):
    points, probs = default_facemesh().run_crops(_pixels(record)[None])
    assert points.shape == (1, NUM_POINTS, 3)
    assert np.abs(points.reshape(-1) - np.asarray(record["mesh"])).max() <= MESH_TOLERANCE
    assert abs(float(probs[0]) - record["faceflag"]) <= FLAG_TOLERANCE


def test_batch_matches_tfjs_reference():
    points, probs = default_facemesh().run_crops(np.stack([_pixels(r) for r in CROPS]))
    assert (
        np.abs(points.reshape(len(CROPS), -1) - np.asarray([r["mesh"] for r in CROPS])).max()
        <= MESH_TOLERANCE
    )
    assert np.abs(probs - np.asarray([r["faceflag"] for r in CROPS])).max() <= FLAG_TOLERANCE


def test_reference_faces_are_faces_and_noise_is_not():
    flags = {r["name"]: r["faceflag"] for r in CROPS}
    assert flags["astronaut"] > 0.99 and flags["posed_surprise"] > 0.99
    assert max(flags["gray128"], flags["noise0"], flags["noise1"]) < 0.01


def test_shipped_file_is_the_documented_one():
    data = ONNX_PATH.read_bytes()
    assert len(data) <= 3_000_000
    assert hashlib.sha256(data).hexdigest() == ONNX_SHA256
    source = (ONNX_PATH.parent / "SOURCE.md").read_text()
    assert ONNX_SHA256 in source and "Apache-2.0" in source
    assert (ONNX_PATH.parent / "LICENSE.human-models").is_file()


def test_unloadable_model_is_a_clear_error(tmp_path):
    broken = tmp_path / "facemesh.onnx"
    broken.write_bytes(b"not an onnx graph")
    with pytest.raises(ModelUnavailableError, match="FaceMesh"):
        FaceMesh(broken)
    with pytest.raises(ModelUnavailableError, match="convert_facemesh"):
        FaceMesh(tmp_path / "missing.onnx")


def test_runner_imports_no_torch():
    code = (
        "import sys\n"
        "from tools.faces import HogDetector\n"
        "from tools.models.facemesh import fit_meshes\n"
        "from benchmarks.photos import MEDIA, load_source\n"
        "rgb = load_source(MEDIA['grace'][0])\n"
        "meshes = fit_meshes(rgb, HogDetector().detect(rgb))\n"
        "assert len(meshes) == 1 and meshes[0].face_prob > 0.9, meshes\n"
        "assert 'onnxruntime' in sys.modules\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --- the crop ------------------------------------------------------------------------------------


def test_crop_template_is_level_and_symmetric():
    left_eye, right_eye, nose, mouth_left, mouth_right = CROP_TEMPLATE
    assert left_eye[1] == right_eye[1] and mouth_left[1] == mouth_right[1]
    centre = INPUT_SIZE / 2
    assert left_eye[0] + right_eye[0] == pytest.approx(2 * centre)
    assert mouth_left[0] + mouth_right[0] == pytest.approx(2 * centre)
    assert nose[0] == pytest.approx(centre)


def test_one_pass_is_near_mediapipes_tracking_fixed_point(photos, meshes):
    """The crop from the five points lands where MediaPipe's own tracking rule settles."""
    for name in ("posed_surprise", "posed_happy", "astronaut", "grace"):
        rgb = photos[name][0]
        mesh = meshes[name][0]
        tracked = mesh
        for _ in range(3):
            tracked = default_facemesh().run(rgb, [mesh_roi(tracked.points)])[0]
        error = np.linalg.norm(mesh.points[:, :2] - tracked.points[:, :2], axis=1).mean() / _iod(mesh)
        assert error < 0.04, (name, error)


def test_refine_runs_a_second_pass_from_the_landmarks(photos, meshes):
    rgb, faces = photos["posed_disgust"]
    refined = fit_meshes(rgb, faces, refine=True)[0]
    assert refined.face_prob > 0.9
    np.testing.assert_allclose(refined.matrix, mesh_roi(meshes["posed_disgust"][0].points))


def test_crop_points_are_the_networks_own_output(photos, meshes):
    rgb, _ = photos["astronaut"]
    mesh = meshes["astronaut"][0]
    facemesh = default_facemesh()
    points, _ = facemesh.run_crops(facemesh.crop(rgb, mesh.matrix)[None])
    np.testing.assert_allclose(mesh.crop_points, points[0], atol=1e-3)


def test_faces_of_a_photo_run_in_one_batch_like_one_by_one(photos, meshes):
    rgb, faces = photos["multi_face"]
    assert len(faces) == 5
    for face, batched in zip(faces, meshes["multi_face"], strict=True):
        alone = fit_meshes(rgb, [face])[0]
        np.testing.assert_allclose(alone.points, batched.points, atol=1e-3)


def test_five_points_may_be_given_as_arrays(photos, meshes):
    rgb, faces = photos["grace"]
    from_array = fit_meshes(rgb, [faces[0].points5()])[0]
    np.testing.assert_allclose(from_array.points, meshes["grace"][0].points, atol=1e-4)
    assert fit_meshes(rgb, []) == []


# --- real photos ---------------------------------------------------------------------------------


def test_real_faces_fit_inside_their_boxes(photos, meshes):
    for name, (_, faces) in photos.items():
        for face, mesh in zip(faces, meshes[name], strict=True):
            assert mesh.points.shape == (NUM_POINTS, 3) and mesh.points.dtype == np.float32
            assert mesh.face_prob > 0.9, (name, mesh.face_prob)
            x0, y0, x1, y1 = face.box
            w, h = x1 - x0, y1 - y0
            xy = mesh.points[:, :2]
            inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
            # The mesh reaches the forehead and the cheeks' edge, a little outside a detector box.
            near = (
                (xy[:, 0] >= x0 - w / 4)
                & (xy[:, 0] <= x1 + w / 4)
                & (xy[:, 1] >= y0 - h / 4)
                & (xy[:, 1] <= y1 + h / 4)
            )
            assert near.all(), name
            assert inside.mean() > (0.75 if name == "posed_disgust" else 0.9), (name, inside.mean())


def _inner_gap(mesh: Mesh) -> float:
    return float(np.linalg.norm(mesh.points[13, :2] - mesh.points[14, :2])) / _iod(mesh)


def test_open_mouth_has_the_wider_inner_lip_gap(meshes):
    surprise, grace, anger = (_inner_gap(meshes[n][0]) for n in ("posed_surprise", "grace", "posed_anger"))
    assert surprise > 0.15  # measured 0.22 (mouth open)
    assert grace < 0.05 and anger < 0.05  # measured 0.014 and 0.013 (lips closed, pressed)
    # Along the whole inner contour too: the lower lip hangs well below the upper one.
    upper = meshes["posed_surprise"][0].region("lips_inner_upper")[1:-1, 1]
    lower = meshes["posed_surprise"][0].region("lips_inner_lower")[1:-1, 1]
    assert (lower > upper).all()


def test_regions_are_where_they_belong(photos, meshes):
    for name in ("posed_surprise", "posed_happy", "posed_anger", "astronaut", "grace", "multi_face"):
        for face, mesh in zip(photos[name][1], meshes[name], strict=True):
            x0, _, x1, y1 = face.box
            eyes_y = mesh.points[[33, 133, 263, 362], 1].max()
            corners = mesh.region("mouth_corners")
            assert (corners[:, 1] > eyes_y).all(), name
            assert ((corners[:, 0] > x0) & (corners[:, 0] < x1) & (corners[:, 1] < y1)).all(), name
            assert corners[0, 0] < corners[1, 0]  # left corner first, as seen
            left_eye = np.vstack([mesh.region("eye_left_view_upper"), mesh.region("eye_left_view_lower")])
            right_eye = np.vstack([mesh.region("eye_right_view_upper"), mesh.region("eye_right_view_lower")])
            assert left_eye[:, 0].max() < right_eye[:, 0].min(), name
            for side in ("left_view", "right_view"):
                brow = mesh.region(f"brow_{side}_lower")[:, 1].mean()
                lid = mesh.region(f"eye_{side}_upper")[:, 1].mean()
                assert brow < lid, (name, side)
                # contours run from left to right in the picture
                for part in (f"eye_{side}_upper", f"eye_{side}_lower", f"brow_{side}_upper"):
                    assert np.all(np.diff(mesh.region(part)[:, 0]) > -0.05 * _iod(mesh)), (name, part)
            nose = mesh.region("nose_tip")[0]
            assert eyes_y < nose[1] < corners[:, 1].min(), name
            oval = mesh.region("face_oval")[:, :2].astype(np.float32)
            for index in (1, 13, 14, 33, 263, 61, 291, 105, 334):
                point = tuple(float(v) for v in mesh.points[index, :2])
                assert cv2.pointPolygonTest(oval, point, False) > 0, (name, index)


def test_index_sets_agree_with_dlib_on_frontal_faces(photos, meshes):
    """The named points sit where dlib's 68-point scheme puts the same features (eye and mouth
    corners, inner lip centres, chin) on clear frontal faces: checks the index sets."""
    pairs = {36: 33, 39: 133, 42: 362, 45: 263, 48: 61, 54: 291, 8: 152, 62: 13, 66: 14, 60: 78, 64: 308}
    for name in ("posed_surprise", "posed_happy", "posed_anger", "astronaut"):
        face, mesh = photos[name][1][0], meshes[name][0]
        for dlib_index, mesh_index in pairs.items():
            distance = np.linalg.norm(face.landmarks[dlib_index] - mesh.points[mesh_index, :2]) / _iod(mesh)
            assert distance < 0.1, (name, dlib_index, mesh_index, distance)


def test_every_region_names_valid_points():
    for name, indices in REGIONS.items():
        assert indices and all(0 <= i < NUM_POINTS for i in indices), name
        assert len(set(indices)) == len(indices), name


def test_small_faces_of_a_group_photo_fit_like_large_ones():
    """sample5 (five women, faces ~200 px) shrunk to a quarter: ~50 px faces land where the
    full-size fit puts them, scaled (measured: 1.7-3.8% of the eye distance on average)."""
    rgb = load_source(MEDIA["sample5"][0])
    detector = default_detector()
    large_faces = detector.detect(rgb)
    large = fit_meshes(rgb, large_faces)
    small_rgb = cv2.resize(rgb, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    small_faces = detector.detect(small_rgb)
    assert len(small_faces) == len(large_faces) == 5
    assert max(f.size for f in small_faces) < 70
    for face, mesh in zip(small_faces, fit_meshes(small_rgb, small_faces), strict=True):
        centre = np.array(face.box, float).reshape(2, 2).mean(axis=0) * 4
        match = min(
            range(5),
            key=lambda i: np.linalg.norm(np.array(large_faces[i].box).reshape(2, 2).mean(axis=0) - centre),
        )
        error = np.linalg.norm(mesh.points[:, :2] * 4 - large[match].points[:, :2], axis=1).mean()
        assert mesh.face_prob > 0.9
        assert error / _iod(large[match]) < 0.06
