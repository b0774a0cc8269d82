"""The landmark models of the voice: face-api's 68-point nets in ONNX Runtime against face-api itself,
the committed graphs, the model choice, the crops, and no torch on the path.

``tests/data/faceapi_landmarks_reference.json`` holds what face-api 1.7.15 itself (Node, TF.js 4.22 CPU
backend) output for fixed 112 px crops and for two whole photos (``scripts/make_faceapi_landmarks_reference.py``).
Measured when written: the ONNX graphs differ from face-api's raw outputs by at most 2.4e-7 of the crop
side (tolerance 1e-4).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.photos import MEDIA, load_source
from tools import landmarks as lm
from tools.errors import InvalidRequestError, ModelUnavailableError
from tools.faces import detect_faces

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((Path(__file__).parent / "data" / "faceapi_landmarks_reference.json").read_text())
CROPS = REFERENCE["crops"]
NETS = {"full": "faceapi", "tiny": "faceapi-tiny"}
TOLERANCE = 1e-4


def _pixels(record: dict) -> np.ndarray:
    if "fill" in record:
        return np.full((112, 112, 3), record["fill"], np.uint8)
    if "seed" in record:
        pixels = np.random.default_rng(record["seed"]).integers(0, 256, size=(112, 112, 3), dtype=np.uint8)
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == record["sha256"], (
            "numpy's noise stream changed"
        )
        return pixels
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(record["png"]))).convert("RGB"))


@pytest.fixture(scope="module")
def nets() -> dict[str, lm.FaceApiLandmarks]:
    return {key: lm.FaceApiLandmarks(name) for key, name in NETS.items()}


@pytest.mark.parametrize("record", CROPS, ids=[r["name"] for r in CROPS])
@pytest.mark.parametrize("net", list(NETS))
def test_onnx_graphs_match_faceapi(nets, record, net):
    got = nets[net].run_crops(_pixels(record)[None])[0].reshape(-1) / lm.CROP_SIDE
    assert np.abs(got - np.asarray(record[net])).max() <= TOLERANCE


def test_a_batch_equals_single_crops(nets):
    crops = np.stack([_pixels(r) for r in CROPS])
    batch = nets["full"].run_crops(crops)
    single = np.stack([nets["full"].run_crops(c[None])[0] for c in crops])
    assert np.allclose(batch, single, atol=1e-4)


def test_committed_graphs_are_small_recorded_and_licensed():
    source = (ROOT / "tools" / "models" / "weights" / "SOURCE.md").read_text()
    for path, digest in lm.ONNX_FILES.values():
        data = path.read_bytes()
        assert len(data) <= 3_000_000
        assert hashlib.sha256(data).hexdigest() == digest
        assert digest in source and path.name in source
    assert "MIT License" in (ROOT / "tools" / "models" / "weights" / "LICENSE.face-api").read_text()


def test_altered_or_missing_graphs_are_refused(tmp_path, monkeypatch):
    path, digest = lm.ONNX_FILES["faceapi"]
    altered = tmp_path / "altered.onnx"
    altered.write_bytes(path.read_bytes()[:-1] + b"\0")
    monkeypatch.setitem(lm.ONNX_FILES, "faceapi", (altered, digest))
    with pytest.raises(ModelUnavailableError, match="checksum"):
        lm.FaceApiLandmarks("faceapi")
    monkeypatch.setitem(lm.ONNX_FILES, "faceapi", (tmp_path / "nothing.onnx", digest))
    with pytest.raises(ModelUnavailableError, match="missing"):
        lm.FaceApiLandmarks("faceapi")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a graph")
    with pytest.raises(ModelUnavailableError, match="Could not load"):
        lm.FaceApiLandmarks("faceapi", path=junk)


@pytest.mark.parametrize("photo", ["astronaut", "grace"])
def test_our_crop_gives_faceapis_own_landmarks(photo):
    """End to end: RetinaFace's five points frame the crop; face-api framed its own from its SSD box.
    The two pipelines agree to a few percent of the eye distance."""
    rgb = load_source(MEDIA[photo][0])
    face = detect_faces(rgb)[0]
    (ref,) = REFERENCE["photos"][photo]
    for key, name in NETS.items():
        ours = lm.fit_landmarks(rgb, [face], name)[0].points
        theirs = np.asarray(ref[key])
        iod = np.linalg.norm(theirs[36:42].mean(axis=0) - theirs[42:48].mean(axis=0))
        error = np.linalg.norm(ours - theirs, axis=1) / iod
        assert np.median(error) <= 0.08, (name, float(np.median(error)))


@pytest.mark.parametrize("model", lm.LANDMARK_MODELS)
def test_every_model_places_68_points_on_the_face(astronaut, model):
    face = detect_faces(astronaut)[0]
    (found,) = lm.fit_landmarks(astronaut, [face], model)
    assert found.model == model and found.points.shape == (68, 2) and np.isfinite(found.points).all()
    x0, y0, x1, y1 = face.box
    w, h = x1 - x0, y1 - y0
    inside = (
        (found.points[:, 0] > x0 - 0.3 * w)
        & (found.points[:, 0] < x1 + 0.3 * w)
        & (found.points[:, 1] > y0 - 0.3 * h)
        & (found.points[:, 1] < y1 + 0.3 * h)
    )
    assert inside.all()
    # Eyes above the nose tip above the mouth, left eye on the left.
    eye_a, eye_b = found.points[36:42].mean(axis=0), found.points[42:48].mean(axis=0)
    assert eye_a[0] < eye_b[0] and max(eye_a[1], eye_b[1]) < found.points[30, 1] < found.points[62, 1]
    if model.startswith("facemesh"):
        assert found.dense is not None and found.dense.shape[1] == 3 and len(found.dense) in (468, 478)
        assert 0.0 <= found.face_prob <= 1.0


def test_model_choice_follows_argument_then_environment(monkeypatch):
    monkeypatch.delenv("FACE_AGENT_LANDMARKS", raising=False)
    assert lm.landmark_model_name() == lm.DEFAULT_LANDMARKS
    monkeypatch.setenv("FACE_AGENT_LANDMARKS", "FaceMesh")
    assert lm.landmark_model_name() == "facemesh"
    assert lm.landmark_model_name("faceapi-tiny") == "faceapi-tiny"
    with pytest.raises(InvalidRequestError, match="dlib"):
        lm.landmark_model_name("no-such-model")


def test_facemesh_map_covers_the_68_points_once():
    assert len(lm.FACEMESH_TO_68) == 68 and len(set(lm.FACEMESH_TO_68)) == 68
    assert all(0 <= i < 468 for i in lm.FACEMESH_TO_68)


def test_cut_reads_only_the_face_region_and_matches_a_whole_photo_warp():
    import cv2

    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, size=(900, 1200, 3), dtype=np.uint8)
    for scale in (1.3, 0.7):
        matrix = np.array([[scale, 0.1 * scale, -400.0 * scale], [-0.1 * scale, scale, -300.0 * scale]])
        whole = cv2.warpAffine(
            photo, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        assert np.abs(lm.cut(photo, matrix, 112).astype(int) - whole.astype(int)).max() <= 1
    # Shrinking a lot area-averages first: a fine checkerboard becomes flat gray, not aliased stripes.
    board = (np.indices((900, 1200)).sum(axis=0) % 2 * 255).astype(np.uint8)
    crop = lm.cut(np.repeat(board[..., None], 3, axis=2), np.array([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0]]), 112)
    assert abs(float(crop.mean()) - 127.5) < 10 and float(crop.std()) < 20


def test_faces_of_a_record_are_fitted_once_per_model(astronaut):
    from tools.analysis import ImageRecord

    record = ImageRecord(astronaut)
    first = lm.face_landmarks(record, 0, "faceapi")
    assert lm.face_landmarks(record, 0, "faceapi") is first
    assert lm.face_landmarks(record, 0, "dlib") is not first
    with pytest.raises(InvalidRequestError):
        lm.face_landmarks(record, 5, "faceapi")


def test_converter_reproduces_the_committed_graphs(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from fetch_test_assets import package_dir
    finally:
        sys.path.pop(0)
    if not (package_dir("@vladmandic/face-api") / "model" / "face_landmark_68_model.bin").is_file():
        pytest.skip("the face-api npm assets are not unpacked (python scripts/fetch_test_assets.py)")
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "convert_faceapi_landmarks.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    for path, digest in lm.ONNX_FILES.values():
        assert hashlib.sha256((tmp_path / path.name).read_bytes()).hexdigest() == digest


def test_landmarks_and_geometry_run_without_torch():
    """Fitting every landmark model and reading the states imports no torch (a fresh process)."""
    code = """
import sys
import numpy as np
import skimage.data
from tools.faces import detect_faces
from tools.geometry import measure, read
from tools.landmarks import LANDMARK_MODELS, fit_landmarks
rgb = skimage.data.astronaut()
face = detect_faces(rgb, detector="hog")[0]  # RetinaFace still exports through torch here
for model in LANDMARK_MODELS:
    points = fit_landmarks(rgb, [face], model)[0].points
    reading = read(measure(points, rgb), model)
    assert reading.teeth == "visible", (model, reading)
print("torch" in sys.modules)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "False"


def test_the_cli_offers_every_landmark_model():
    from tools.cli.ask import LANDMARK_MODELS

    assert set(LANDMARK_MODELS) == set(lm.LANDMARK_MODELS)
