"""tools.classifier and the checkpoint format."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import GRACE_HOPPER, png_bytes
from tools import classify
from tools.classifier import EmotionClassifier
from tools.errors import InvalidImageError, ModelUnavailableError, NoFaceError
from tools.labels import FACEAPI7, RAFCE_COMPOUND14
from tools.models.checkpoint import CARD, WEIGHTS, load_checkpoint, save_checkpoint
from tools.models.factory import build_model
from tools.models.spec import ModelSpec


@pytest.fixture(scope="module")
def resnet_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    spec = ModelSpec(
        name="test-resnet",
        arch="resnet18",
        labels=list(RAFCE_COMPOUND14),
        label_set="rafce-compound14",
        input_size=112,
    )
    folder = tmp_path_factory.mktemp("ckpt") / "resnet"
    save_checkpoint(folder, build_model(spec), spec)
    return folder


def test_astronaut_is_happy(astronaut):
    preds = classify(astronaut)
    assert len(preds) == 1
    p = preds[0]
    assert p.label == "happy" and p.confidence >= 0.9
    assert list(p.probs) == list(FACEAPI7)
    assert sum(p.probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert p.model == "faceapi-expression"
    assert p.compound is not None and p.compound.derived
    assert p.landmarks.shape == (68, 2)
    assert p.runner_up[0] != "happy"


def test_grace_hopper_is_not_happy():
    p = classify(GRACE_HOPPER)[0]
    assert p.label != "happy"
    assert 150 < p.box[2] - p.box[0] < 300


@pytest.mark.parametrize("size", [100, 48])
def test_tight_crops_classify(astronaut_face_crop, size):
    crop = cv2.resize(astronaut_face_crop, (size, size), interpolation=cv2.INTER_AREA)
    p = classify(crop)[0]
    assert p.label == "happy"


def test_gray_input_classifies(astronaut):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    assert classify(gray)[0].label == "happy"


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_no_face_raises(name, request):
    with pytest.raises(NoFaceError):
        classify(request.getfixturevalue(name))


def test_bad_file_raises():
    with pytest.raises(InvalidImageError):
        classify(b"not an image")


def test_repeated_classify_uses_cache(astronaut):
    classifier = EmotionClassifier.load()
    calls = []
    forward = classifier._forward  # the classification pass (ONNX Runtime or torch)
    classifier._forward = lambda inputs: calls.append(1) or forward(inputs)
    first = classifier.predict(astronaut)
    second = classifier.predict(astronaut.copy())  # same content, another array
    assert len(calls) == 1
    assert first[0].probs == second[0].probs


def test_predict_many_reports_errors_per_image(astronaut, coffee):
    classifier = EmotionClassifier.load()
    items = classifier.predict_many([astronaut, b"garbage", coffee, GRACE_HOPPER], batch_size=2)
    assert [item.error is None for item in items] == [True, False, False, True]
    assert isinstance(items[1].error, InvalidImageError) and isinstance(items[2].error, NoFaceError)
    assert items[0].predictions[0].label == "happy"
    single = classifier.predict(astronaut)[0]
    assert items[0].predictions[0].probs == pytest.approx(single.probs, abs=1e-5)


def test_predict_many_workers_give_the_same_results_in_order(astronaut, coffee):
    from benchmarks.photos import group_photo

    classifier = EmotionClassifier.load()
    group = group_photo()[0]
    inputs = [
        astronaut,
        b"garbage",
        group,
        coffee,
        GRACE_HOPPER,
        np.ascontiguousarray(astronaut[:, ::-1]),
    ] * 3
    one = classifier.predict_many(inputs, batch_size=4, workers=1)
    two = classifier.predict_many(inputs, batch_size=4, workers=2)
    assert len(one) == len(two) == len(inputs)
    for a, b in zip(one, two):
        assert type(a.error) is type(b.error)
        assert [p.box for p in a.predictions] == [p.box for p in b.predictions]
        for pa, pb in zip(a.predictions, b.predictions):
            assert pa.probs == pytest.approx(pb.probs, abs=1e-5)
    assert len(one[2].predictions) >= 8  # every person of the group photo, each classified


def test_resnet_checkpoint_loads_and_predicts_14_classes(resnet_checkpoint, astronaut):
    classifier = EmotionClassifier.load(resnet_checkpoint, device="cpu")
    assert classifier.labels == list(RAFCE_COMPOUND14)
    p = classifier.predict(astronaut)[0]
    assert len(p.probs) == 14
    assert sum(p.probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert p.model == "test-resnet"
    assert p.compound is not None and not p.compound.derived and p.compound.label == p.label


def test_checkpoint_round_trip_is_exact(resnet_checkpoint):
    model, spec = load_checkpoint(resnet_checkpoint)
    again, _ = load_checkpoint(resnet_checkpoint / WEIGHTS)
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    assert spec.labels == list(RAFCE_COMPOUND14) and spec.target_layer == "layer4"


def test_whole_image_models_skip_detection(tmp_path, coffee):
    spec = ModelSpec(
        name="crops", arch="resnet18", labels=["a", "b"], input_size=32, alignment={"method": "none"}
    )
    save_checkpoint(tmp_path / "c", build_model(spec), spec)
    preds = EmotionClassifier.load(tmp_path / "c", device="cpu").predict(coffee)  # no face needed
    assert len(preds) == 1 and preds[0].box == (0, 0, 599, 399)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / WEIGHTS).write_bytes(b"garbage"), "not a valid safetensors"),
        (lambda f: (f / CARD).write_text("{"), "not a readable JSON"),
        (lambda f: (f / CARD).write_text(json.dumps({"name": "x"})), "lacks arch, labels"),
        (lambda f: (f / WEIGHTS).unlink(), "has no model.safetensors"),
        (
            lambda f: (f / CARD).write_text(
                json.dumps(json.loads((f / CARD).read_text()) | {"labels": ["a", "b", "c"]})
            ),
            "does not match its model card",
        ),
        (
            lambda f: (f / CARD).write_text(json.dumps(json.loads((f / CARD).read_text()) | {"arch": "vgg"})),
            "Unknown architecture",
        ),
    ],
)
def test_broken_checkpoints_name_the_file_and_problem(tmp_path, resnet_checkpoint, damage, message):
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(resnet_checkpoint, folder)
    damage(folder)
    with pytest.raises(ModelUnavailableError, match=message) as info:
        EmotionClassifier.load(folder)
    assert "broken" in str(info.value) or "architecture" in str(info.value)


def test_unknown_model_name():
    with pytest.raises(ModelUnavailableError, match="No model named"):
        EmotionClassifier.load("no-such-model")


def test_strict_device():
    if not torch.cuda.is_available():
        with pytest.raises(ModelUnavailableError, match="CUDA"):
            EmotionClassifier.load(device="cuda")


def test_bytes_and_path_inputs_agree(astronaut, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(astronaut))
    assert classify(path)[0].probs == pytest.approx(classify(path.read_bytes())[0].probs, abs=1e-6)
    assert np.isclose(classify(astronaut)[0].confidence, classify(path)[0].confidence, atol=1e-4)


def test_serving_threads(monkeypatch):
    from tools.device import serving_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("FACE_AGENT_TORCH_THREADS", raising=False)
        assert serving_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("FACE_AGENT_TORCH_THREADS", "2")
        assert serving_threads() == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv("FACE_AGENT_TORCH_THREADS", "lots")
        assert serving_threads() == 1
    finally:
        torch.set_num_threads(before)
