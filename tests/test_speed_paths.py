"""The fast paths of a chat turn compute what the slow ones did: native Grad-CAM, lazy imports, caches.

Timings live in ``python -m benchmarks``; these tests pin behaviour only.
"""

from __future__ import annotations

import copy
import io
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from benchmarks import bench_explain
from tools.analysis import ImageRecord
from tools.classifier import EmotionClassifier
from tools.explainer import (
    METHODS,
    Explainer,
    _finish_cam,
    _native_gradcam,
    _Target,
    cam_heatmap,
    gradcam_from_gradients,
)

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def default_classifier() -> EmotionClassifier:
    return EmotionClassifier.load("default", device="cpu")


@pytest.fixture(scope="module")
def resnet_classifier() -> EmotionClassifier:
    return bench_explain.resnet_classifier()  # the very model the explain benchmark times


def _library_gradcam(activation: torch.Tensor, grads: torch.Tensor, inputs: torch.Tensor) -> np.ndarray:
    """pytorch-grad-cam's own GradCAM arithmetic on a given activation and gradient."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.image import scale_cam_image

    probe = torch.nn.Sequential(torch.nn.Linear(1, 1))  # BaseCAM reads the device from a parameter
    cam_object = GradCAM(probe, [probe[0]])
    cam = cam_object.get_cam_image(inputs, None, None, activation.numpy(), grads.numpy(), False)
    cam = np.maximum(cam, 0)
    scaled = scale_cam_image(cam, (inputs.shape[-1], inputs.shape[-2]))
    return cam_object.aggregate_multi_layers([scaled[:, None, :]])[0]


def test_native_gradcam_formula_equals_the_library_on_the_same_activation_and_gradient() -> None:
    rng = np.random.default_rng(0)
    activation = torch.from_numpy(rng.normal(size=(1, 16, 7, 7)).astype(np.float32))
    grads = torch.from_numpy(rng.normal(size=(1, 16, 7, 7)).astype(np.float32))
    inputs = torch.zeros(1, 3, 112, 112)
    ours = _finish_cam(gradcam_from_gradients(activation.numpy(), grads.numpy()), inputs)
    theirs = _library_gradcam(activation, grads, inputs)
    assert ours.shape == theirs.shape == (112, 112)
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("which", ["default", "resnet"])
def test_native_gradcam_equals_the_library_on_a_real_face(
    which: str, default_classifier: EmotionClassifier, resnet_classifier: EmotionClassifier
) -> None:
    classifier = default_classifier if which == "default" else resnet_classifier
    forward = classifier.forward_faces(ImageRecord(np.ascontiguousarray(data.astronaut())))[0]
    layer = classifier.spec.target_layer
    head = partial(classifier.model.forward_from, name=layer)
    target = _Target(int(np.argmax(forward.probs)))
    ours = _native_gradcam(forward.activation, head, forward.inputs, target)
    # The same activation and gradient through the library's arithmetic.
    with torch.inference_mode(False), torch.enable_grad():
        act = torch.from_numpy(forward.activation).clone().requires_grad_()
        (grads,) = torch.autograd.grad(target(head(act))[0], act)
    inputs = torch.from_numpy(forward.inputs)
    np.testing.assert_array_equal(ours, _library_gradcam(act.detach(), grads, inputs))
    # And the library's hooked GradCAM class on a copy of the network, from the pixels.
    from pytorch_grad_cam import GradCAM

    model = copy.deepcopy(classifier.model).eval()
    with torch.inference_mode(False), torch.enable_grad(), GradCAM(model, [model.stages[layer]]) as cam:
        full = cam(input_tensor=inputs.clone(), targets=[target])[0]
    np.testing.assert_allclose(ours, full, atol=1e-4)
    assert float(ours.max()) > 0.99  # min-max scaled


def test_cam_heatmap_default_method_is_native_and_in_range(default_classifier: EmotionClassifier) -> None:
    forward = default_classifier.forward_faces(ImageRecord(np.ascontiguousarray(data.astronaut())))[0]
    heat = cam_heatmap(default_classifier, forward, "Grad-CAM", 3)
    size = default_classifier.spec.input_size
    assert heat.shape == (size, size) and heat.dtype == np.float32
    assert 0.0 <= float(heat.min()) and float(heat.max()) <= 1.0


def test_methods_table_lists_names_without_importing_and_resolves_classes() -> None:
    names = list(METHODS)
    assert names[0] == "gradcam" and "scorecam" in METHODS and "nope" not in METHODS
    assert len(METHODS) == len(names) == len(set(names))
    assert METHODS["gradcam++"].__name__ == "GradCAMPlusPlus"
    assert METHODS.get("nope") is None
    with pytest.raises(KeyError):
        METHODS["nope"]


def test_every_tool_of_a_turn_reuses_one_record(default_classifier: EmotionClassifier) -> None:
    """classify, explain and ask on one photo decode, detect and run the network once."""
    from tools import faces as faces_module
    from tools.vqa import FaceQA

    calls = {"detect": 0, "forward": 0}
    detect, forward = faces_module.detect_faces, default_classifier._forward

    def counting_detect(*args, **kwargs):
        calls["detect"] += 1
        return detect(*args, **kwargs)

    def counting_forward(*args, **kwargs):
        calls["forward"] += 1
        return forward(*args, **kwargs)

    import tools.analysis as analysis

    original = analysis.detect_faces
    analysis.detect_faces = counting_detect
    default_classifier._forward = counting_forward  # type: ignore[method-assign]
    try:
        record = ImageRecord(np.ascontiguousarray(data.astronaut()))
        default_classifier.predict(record)
        Explainer(default_classifier).explain(record)
        FaceQA(backend="geometry", classifier=default_classifier).ask(record, "is the mouth open?")
        default_classifier.predict(record)
    finally:
        analysis.detect_faces = original
        del default_classifier._forward
    assert calls == {"detect": 1, "forward": 1}


@pytest.mark.slow
def test_a_default_chat_turn_loads_neither_grad_cam_nor_transformers(tmp_path: Path) -> None:
    """The offline default turn (classify + explain + ask) never imports the heavy optional stacks."""
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, format="JPEG")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from agent import ChatSession
        reply = ChatSession("offline").send(
            "what is she feeling and why, and is the mouth open?", image=Path({str(photo)!r}).read_bytes()
        )
        assert reply.tool_calls == ["classify_emotion", "explain_prediction", "answer_question"], reply
        assert reply.images, "the heatmap is attached"
        heavy = ("pytorch_grad_cam", "torchvision", "transformers", "sklearn", "matplotlib.pyplot")
        print(" ".join(m for m in heavy if m in sys.modules) or "none")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "none"


def test_overlay_rendered_ahead_is_the_same_png(default_classifier: EmotionClassifier) -> None:
    record = ImageRecord(np.ascontiguousarray(data.astronaut()))
    ahead = Explainer(default_classifier, cache_results=False, render_ahead=True).explain(record)
    later = Explainer(default_classifier, cache_results=False).explain(record)
    assert ahead.overlay_png == later.overlay_png
    assert ahead.overlay_png[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = np.asarray(Image.open(io.BytesIO(ahead.overlay_png)))
    assert decoded.shape == (224, 224, 3)
