"""The PyTorch port of face-api.js's FaceExpressionNet against face-api itself, and its plumbing.

``tests/data/faceapi_reference.json`` holds fixed 112x112 crops and the logits and probabilities
that face-api 1.7.15 gave for them, run in Node with the TF.js 4.22 CPU backend
(``scripts/make_faceapi_reference.py``). Measured when written: max |port - face-api| is 3.4e-7
in probability and 6e-6 in logits over the five crops (tolerances 1e-4 and 1e-3).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from tools.analysis import AnalysisCache
from tools.classifier import BUILTIN_MODELS, EmotionClassifier
from tools.errors import ModelUnavailableError
from tools.explainer import Explainer
from tools.labels import FACEAPI7, normalize_label
from tools.models import face_api
from tools.models.checkpoint import load_checkpoint, save_checkpoint
from tools.models.face_api import (
    WEIGHTS_PATH,
    WEIGHTS_SHA256,
    FaceExpressionNet,
    default_spec,
    load_faceapi_model,
    load_faceapi_weights,
    tfjs_to_torch,
)
from tools.models.factory import build_model
from tools.models.spec import ModelSpec

REFERENCE = json.loads((Path(__file__).parent / "data" / "faceapi_reference.json").read_text())
CROPS = REFERENCE["crops"]
STAGES = ["dense0", "dense1", "dense2", "dense3", "head"]
SHAPES_AT_112 = {
    "dense0": (32, 56, 56),
    "dense1": (64, 28, 28),
    "dense2": (128, 14, 14),
    "dense3": (256, 7, 7),
    "head": (7,),
}
PROB_TOLERANCE = 1e-4
LOGIT_TOLERANCE = 1e-3

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def faceapi() -> tuple[FaceExpressionNet, ModelSpec]:
    return load_faceapi_model()


@pytest.fixture(scope="module")
def classifier() -> EmotionClassifier:
    loaded = EmotionClassifier.load("faceapi-expression", device="cpu")
    loaded.cache = AnalysisCache(maxsize=4)
    return loaded


def _pixels(record: dict) -> np.ndarray:
    """The stored crop as 112x112x3 uint8 RGB."""
    if "fill" in record:
        return np.full((112, 112, 3), record["fill"], np.uint8)
    if "seed" in record:
        pixels = np.random.default_rng(record["seed"]).integers(0, 256, size=(112, 112, 3), dtype=np.uint8)
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == record["sha256"], (
            "numpy's noise stream changed"
        )
        return pixels
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(record["png"]))).convert("RGB"))


def _input(spec: ModelSpec, pixels: np.ndarray) -> torch.Tensor:
    """The crop normalised as the classifier does it: (x / 255 - mean) / std."""
    x = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32) / 255.0)[None]
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (x - mean) / std


# --- exactness -----------------------------------------------------------------------------------


@pytest.mark.parametrize("record", CROPS, ids=[r["name"] for r in CROPS])
def test_matches_faceapi_reference(faceapi, record):
    model, spec = faceapi
    with torch.no_grad():
        logits = model(_input(spec, _pixels(record)))[0].double()
    probs = torch.softmax(logits, dim=0).numpy()
    assert np.abs(probs - np.asarray(record["probs"])).max() <= PROB_TOLERANCE
    assert np.abs(logits.numpy() - np.asarray(record["logits"])).max() <= LOGIT_TOLERANCE


def test_batch_matches_reference(faceapi):
    model, spec = faceapi
    batch = torch.cat([_input(spec, _pixels(r)) for r in CROPS])
    with torch.no_grad():
        probs = torch.softmax(model(batch).double(), dim=1).numpy()
    assert np.abs(probs - np.asarray([r["probs"] for r in CROPS])).max() <= PROB_TOLERANCE


def test_labels_are_faceapis_in_project_names():
    assert REFERENCE["labels"] == ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
    assert [normalize_label(name) for name in REFERENCE["labels"]] == list(FACEAPI7)
    assert default_spec().labels == list(FACEAPI7)


def _manifest_order() -> list[tuple[str, tuple[int, ...]]]:
    """face-api's weight names in the order of its manifest and .bin, with their TF shapes."""
    entries: list[tuple[str, tuple[int, ...]]] = [
        ("dense0/conv0/filters", (3, 3, 3, 32)),
        ("dense0/conv0/bias", (32,)),
    ]
    previous = 32
    for i, channels in enumerate((32, 64, 128, 256)):
        for k in range(4):
            if i == 0 and k == 0:
                continue
            cin = previous if k == 0 else channels
            entries += [
                (f"dense{i}/conv{k}/depthwise_filter", (3, 3, cin, 1)),
                (f"dense{i}/conv{k}/pointwise_filter", (1, 1, cin, channels)),
                (f"dense{i}/conv{k}/bias", (channels,)),
            ]
        previous = channels
    return entries + [("fc/weights", (256, 7)), ("fc/bias", (7,))]


def test_committed_file_holds_the_original_bin_byte_for_byte():
    """Writing the stored tensors back in TF layout and manifest order rebuilds face-api's .bin."""
    with safe_open(str(WEIGHTS_PATH), framework="numpy") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        source = json.loads(handle.metadata()["source"])
    chunks, used = [], set()
    for name, shape in _manifest_order():
        probe = np.zeros(shape, np.float32)
        key, torch_probe = tfjs_to_torch(name, probe)
        stored = tensors.get(f"{key}.q", tensors.get(key))
        used.update({key, f"{key}.q", f"{key}.scale", f"{key}.min"} & tensors.keys())
        assert stored.shape == torch_probe.shape, name
        # Undo the layout change: find the permutation tfjs_to_torch applied, via an index probe.
        index = np.arange(probe.size).reshape(shape)
        _, moved = tfjs_to_torch(name, index)
        original = np.empty(probe.size, stored.dtype)
        original[moved.reshape(-1)] = stored.reshape(-1)
        chunks.append(original.tobytes())
    assert used == set(tensors)
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == source["bin_sha256"]
    assert source["bin_sha256"] == "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d"


def test_dequantisation_is_tfjs():
    q = np.array([0, 1, 128, 255], np.uint8)
    scale, minimum = 0.0057930146946626555, -0.7125408074435067
    expected = np.array([v * scale + minimum for v in q.tolist()], dtype=np.float32)  # JS: double, then f32
    assert np.array_equal(face_api.dequantize(q, scale, minimum), expected)


# --- the committed file and loading --------------------------------------------------------------


def test_weights_file_is_small_and_recorded():
    data = WEIGHTS_PATH.read_bytes()
    assert len(data) <= 1_000_000
    assert hashlib.sha256(data).hexdigest() == WEIGHTS_SHA256
    folder = WEIGHTS_PATH.parent
    assert WEIGHTS_SHA256 in (folder / "SOURCE.md").read_text()
    assert "MIT License" in (folder / "LICENSE.face-api").read_text()
    assert default_spec().provenance["sha256"] == WEIGHTS_SHA256


def test_missing_altered_and_wrong_files_raise(tmp_path, faceapi):
    model = FaceExpressionNet()
    with pytest.raises(ModelUnavailableError, match="missing"):
        load_faceapi_weights(model, tmp_path / "nothing.safetensors")
    altered = tmp_path / "altered.safetensors"
    altered.write_bytes(WEIGHTS_PATH.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelUnavailableError, match="sha256"):
        load_faceapi_weights(model, altered)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelUnavailableError, match="safetensors"):
        load_faceapi_weights(model, junk, check_hash=False)
    with pytest.raises(ModelUnavailableError, match="do not fit"):
        load_faceapi_weights(FaceExpressionNet(num_classes=5), WEIGHTS_PATH)
    with pytest.raises(KeyError):
        tfjs_to_torch("dense4/conv0/bias", np.zeros(3))


def test_stage_names_and_shapes(faceapi):
    model, _ = faceapi
    assert model.stage_names == STAGES
    x = torch.zeros(2, 3, 112, 112)
    with torch.no_grad():
        for name, stage in model.stages.items():
            x = stage(x)
            assert tuple(x.shape[1:]) == SHAPES_AT_112[name], name


def test_target_layer_is_spatial_and_forward_from_agrees(faceapi):
    model, spec = faceapi
    x = _input(spec, _pixels(CROPS[1]))
    with torch.no_grad():
        activation, logits = model.forward_until(x, spec.target_layer)
        again = model.forward_from(activation, spec.target_layer)
    assert activation.shape[-2:] == (7, 7)
    assert torch.allclose(again, logits) and torch.allclose(logits, model(x))


def test_default_spec_and_factory():
    spec = default_spec()
    assert (spec.name, spec.arch, spec.label_set) == ("faceapi-expression", "faceapi_expression", "faceapi7")
    assert (spec.input_size, spec.channels, spec.std) == (112, 3, [1.0, 1.0, 1.0])
    # (x / 255 - mean) / std == (x - face-api's mean pixel) / 255
    assert np.allclose(np.asarray(spec.mean) * 255, face_api.MEAN_RGB)
    assert spec.alignment["method"] == "similarity5"
    assert spec.target_layer in STAGES[:-1]
    assert ModelSpec.from_dict(json.loads(spec.to_json())) == spec
    assert isinstance(build_model(spec), FaceExpressionNet)


def test_checkpoint_round_trip(tmp_path, faceapi):
    """A fine-tuned copy saved in the project's checkpoint format loads through the factory."""
    model, spec = faceapi
    folder = save_checkpoint(tmp_path / "ckpt", model, spec)
    loaded, loaded_spec = load_checkpoint(folder)
    x = _input(spec, _pixels(CROPS[2]))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert loaded_spec == spec
    assert EmotionClassifier.load(folder, device="cpu").name == "faceapi-expression"


# --- through the classifier and the explainer ----------------------------------------------------


def test_selectable_by_name():
    assert "faceapi-expression" in BUILTIN_MODELS and "fer-mini-xception" in BUILTIN_MODELS
    assert EmotionClassifier.load("fer-mini-xception", device="cpu").name == "fer-mini-xception"
    # The default since the comparison of benchmarks/eval_models.py (docs/PERFORMANCE.md).
    assert EmotionClassifier.load(None, device="cpu").name == "faceapi-expression"
    with pytest.raises(ModelUnavailableError, match="faceapi-expression"):
        EmotionClassifier.load("no-such-model", device="cpu")


def test_astronaut_is_happy(classifier, astronaut):
    preds = classifier.predict(astronaut)
    p = preds[0]
    assert p.model == "faceapi-expression"
    assert list(p.probs) == list(FACEAPI7)
    assert math.isclose(sum(p.probs.values()), 1.0, abs_tol=1e-5)
    assert p.label == "happy" and p.confidence >= 0.9


def test_gradcam_explains_the_astronaut(classifier, astronaut):
    e = Explainer(classifier, cache_results=False).explain(astronaut)
    assert e.target == "happy" and e.layer == "dense3"
    assert e.grid == (7, 7)
    assert e.heatmap.shape == (112, 112)
    assert float(e.heatmap.min()) >= 0.0 and float(e.heatmap.max()) <= 1.0
    assert math.isclose(sum(e.regions.values()), 1.0, abs_tol=1e-6)
    assert math.isfinite(e.faithfulness)
    contrast = Explainer(classifier, cache_results=False).explain(astronaut, target="neutral")
    assert contrast.target == "neutral" and math.isclose(sum(contrast.regions.values()), 1.0, abs_tol=1e-6)
