"""The explainer: heatmaps, regions, faithfulness, methods, targets, reuse of the forward pass, threads, CLI."""

from __future__ import annotations

import io
import json
import math
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from tools.analysis import AnalysisCache
from tools.classifier import DEFAULT_MODEL, EmotionClassifier
from tools.cli import main
from tools.errors import InvalidRequestError, ModelUnavailableError
from tools.explainer import (
    METHODS,
    Explainer,
    Explanation,
    explain,
    region_shares,
    resolve_method,
    top_regions,
)
from tools.faces import REGIONS
from tools.labels import RAFCE_COMPOUND14
from tools.models.builtin import load_builtin
from tools.models.checkpoint import save_checkpoint
from tools.models.resnet import ResNet18
from tools.models.spec import ModelSpec

# The default model's input side and explained layer, read from its card (never assumed).
DEFAULT_SPEC = load_builtin(DEFAULT_MODEL)[1]
SIZE, LAYER = DEFAULT_SPEC.input_size, DEFAULT_SPEC.target_layer
LIBRARY_METHODS = ("scorecam", "ablationcam", "fullgrad")  # run pytorch-grad-cam's own classes


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def default_explainer() -> Explainer:
    return Explainer()


@pytest.fixture(scope="module")
def resnet_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight ResNet-18 with RAF-CE's 14 labels, in the real checkpoint format (no graph:
    it runs in torch).

    64 px keeps the method sweep quick; layer3 is then 4x4 (at 112 px it would be 7x7).
    """
    torch.manual_seed(0)
    spec = ModelSpec(
        name="test-resnet18",
        arch="resnet18",
        labels=list(RAFCE_COMPOUND14),
        label_set="rafce-compound14",
        input_size=64,
        target_layer="layer3",
    )
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "resnet", ResNet18(spec.num_classes), spec)


@pytest.fixture(scope="module")
def resnet_classifier(resnet_folder: Path) -> EmotionClassifier:
    return EmotionClassifier.load(resnet_folder, device="cpu")


def _check(e: Explanation, size: int) -> None:
    assert e.heatmap.shape == (size, size)
    assert e.heatmap.dtype == np.float32
    assert float(e.heatmap.min()) >= 0.0 and float(e.heatmap.max()) <= 1.0
    assert set(e.regions) == set(REGIONS)
    assert math.isclose(sum(e.regions.values()), 1.0, abs_tol=1e-6)
    assert math.isfinite(e.faithfulness)


# --- the contract on the astronaut ---------------------------------------------------------------


def test_explain_astronaut(astronaut: np.ndarray) -> None:
    e = explain(astronaut)
    _check(e, SIZE)
    assert e.target == e.prediction.label == "happy"
    assert e.versus is None and e.method == "gradcam" and e.layer == LAYER and e.face_index == 0
    assert 0.9 < e.target_probability <= 1.0
    face = Image.open(io.BytesIO(e.overlay_png))
    assert face.format == "PNG" and face.size == (224, 224)
    full = Image.open(io.BytesIO(e.full_overlay_png()))
    assert full.size == (astronaut.shape[1], astronaut.shape[0])
    # The top regions are ordered, cover the shares above 0.5% and start with the largest.
    shares = [share for _, share in e.top_regions]
    assert shares == sorted(shares, reverse=True) and e.top_regions[0][1] == max(e.regions.values())
    # Blurring out the hot region must hurt "happy" far more than random regions (deterministic).
    assert e.faithfulness > 0.1
    assert e.faithfulness_text.startswith("faithful")
    assert "happy" in e.summary() and "%" in e.summary()
    payload = e.to_dict()
    assert json.loads(json.dumps(payload))["target"] == "happy"
    assert not any(isinstance(v, bytes | np.ndarray) for v in payload.values())


def test_regions_come_from_the_voices_landmark_fit(astronaut: np.ndarray, monkeypatch) -> None:
    from tools import landmarks
    from tools.analysis import ImageRecord
    from tools.classifier import default_classifier
    from tools.explainer import region_shares
    from tools.faces import region_masks

    explainer = Explainer(default_classifier(None), cache_results=False)
    record = ImageRecord.from_source(astronaut)
    e = explainer.explain(record)
    # One fit for both surfaces: the explanation left the default model's fit in the record, where
    # the voice reads it, and its regions are that fit's, mapped into the crop.
    fit = record.cached(("landmarks", landmarks.DEFAULT_LANDMARKS, 0), lambda: None)
    assert fit is not None and fit.model == landmarks.DEFAULT_LANDMARKS
    forward = explainer.classifier.forward_faces(record)[0]
    matrix = forward.aligned.matrix
    points = fit.points.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    assert e.regions == region_shares(e.heatmap, points.astype(np.float32))
    masks = region_masks(points.astype(np.float32), e.heatmap.shape[0])
    assert masks["mouth"].any() and masks["eyes"].any()

    # Where the default model cannot load, dlib's points split the face instead.
    def unavailable(*args, **kwargs):
        raise ModelUnavailableError("no FaceMesh here")

    monkeypatch.setattr(landmarks, "face_landmarks", unavailable)
    fallback = explainer.explain(ImageRecord.from_source(astronaut))
    assert fallback.regions == region_shares(fallback.heatmap, forward.aligned.landmarks)
    assert fallback.top_regions[0][0] == e.top_regions[0][0]


def test_a_session_loads_the_voices_landmark_model_in_the_background() -> None:
    from tools import landmarks
    from tools.models.facemesh import default_facemesh

    thread = landmarks.preload("facemesh")
    assert thread.daemon and thread.name == "landmarks-preload"
    thread.join(30)
    assert not thread.is_alive() and default_facemesh.cache_info().currsize >= 1
    landmarks.preload("dlib").join(5)  # dlib is left to its first use: nothing to load, no error
    with pytest.raises(InvalidRequestError):
        landmarks.landmark_model_name("no-such-model")
    landmarks.preload("no-such-model").join(5)  # a bad name is the first question's to report


def test_explanations_are_cached_per_request(astronaut: np.ndarray) -> None:
    first = explain(astronaut, target="sad")
    assert explain(astronaut, target="sadness") is first
    assert explain(astronaut, target="sad", method="gradcam++") is not first


def test_heat_maps_back_onto_the_face_in_the_photo(astronaut: np.ndarray) -> None:
    e = explain(astronaut)
    full = np.asarray(Image.open(io.BytesIO(e.full_overlay_png())).convert("RGB")).astype(int)
    changed = np.abs(full - astronaut.astype(int)).sum(axis=2) > 30
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = e.prediction.box
    # Colour lands around the face box, not elsewhere in the photo.
    assert changed.any()
    assert x0 - 40 <= np.median(xs) <= x1 + 40 and y0 - 60 <= np.median(ys) <= y1 + 40


# --- targets, methods, errors ---------------------------------------------------------------------


def test_targets_and_contrast(astronaut: np.ndarray) -> None:
    sad = explain(astronaut, target="Sadness")
    assert sad.target == "sad" and sad.target_probability < 0.1
    assert sad.faithfulness_text.startswith("inconclusive")
    contrast = explain(astronaut, target="happy", versus="surprised")
    assert contrast.target == "happy" and contrast.versus == "surprise"
    assert "rather than 'surprise'" in contrast.summary()
    assert not np.array_equal(contrast.heatmap, explain(astronaut).heatmap)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "deepdream"},
        {"target": "smug"},
        {"versus": "bored"},
        {"target": "happy", "versus": "joy"},  # contrast with itself
        {"face": 2},  # the astronaut photo has one face, number 1
        {"face": 0},
        {"face": -1},
        {"face": 0.5},
    ],
)
def test_bad_requests_raise_invalid_request(astronaut: np.ndarray, kwargs: dict) -> None:
    with pytest.raises(InvalidRequestError):
        explain(astronaut, **kwargs)


def test_method_names_and_aliases() -> None:
    assert resolve_method("Grad-CAM++") == "gradcam++"
    assert resolve_method("gradcampp") == "gradcam++"
    assert resolve_method("Score-CAM") == "scorecam"
    assert resolve_method("ablation") == "ablationcam"
    assert all(name == name.lower() for name in METHODS)
    for required in ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "eigencam", "eigengradcam"):
        assert required in METHODS
    assert set(LIBRARY_METHODS) <= set(METHODS)


@pytest.mark.parametrize("method", [m for m in METHODS if m not in LIBRARY_METHODS])
def test_every_cached_path_method_on_the_default_model(astronaut: np.ndarray, method: str) -> None:
    e = Explainer(cache_results=False).explain(astronaut, method=method)
    _check(e, SIZE)
    assert e.method == method and e.target == "happy"


@pytest.mark.slow
@pytest.mark.parametrize("method", LIBRARY_METHODS)
def test_every_library_method_on_the_default_model(astronaut: np.ndarray, method: str) -> None:
    e = Explainer(cache_results=False).explain(astronaut, method=method, target="surprise")
    _check(e, SIZE)
    assert e.target == "surprise"


@pytest.mark.slow
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_on_a_resnet18_checkpoint(
    resnet_classifier: EmotionClassifier, astronaut: np.ndarray, method: str
) -> None:
    explainer = Explainer(resnet_classifier, cache_results=False)
    e = explainer.explain(astronaut, method=method, target="happily surprised", versus="happily_sad")
    _check(e, 64)
    assert (e.target, e.versus) == ("happily_surprised", "happily_sad")
    assert e.layer == ("all" if method == "fullgrad" else "layer3")
    assert e.prediction.model == "test-resnet18"
    if method == "gradcam":
        assert e.grid == (4, 4) and "only 4x4 cells" in e.summary()


def test_library_methods_leave_the_shared_model_untouched(default_explainer: Explainer) -> None:
    model = default_explainer.classifier.model
    layer = model.stages[LAYER]
    Explainer(default_explainer.classifier, cache_results=False).explain(
        data.astronaut(), method="ablationcam"
    )
    # Ablation-CAM swaps the layer and every pytorch-grad-cam class hooks it: both on a private copy.
    assert model.stages[LAYER] is layer
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())


def test_explain_works_inside_inference_mode(astronaut: np.ndarray) -> None:
    with torch.inference_mode():
        e = Explainer(cache_results=False).explain(astronaut, method="layercam")
    _check(e, SIZE)


# --- regions on constructed heatmaps ----------------------------------------------------------------


@pytest.fixture(scope="module")
def crop_landmarks(astronaut: np.ndarray, default_explainer: Explainer) -> np.ndarray:
    classifier = default_explainer.classifier
    return classifier.forward_faces(classifier.record(astronaut))[0].aligned.landmarks


def _blob(size: int, centre: np.ndarray, sigma: float) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    return np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma**2)).astype(np.float32)


@pytest.mark.parametrize(
    ("region", "points"),
    [("mouth", slice(48, 68)), ("eyes", slice(36, 48)), ("nose", slice(27, 36))],
)
def test_heat_on_a_region_ranks_it_first(crop_landmarks: np.ndarray, region: str, points: slice) -> None:
    pts = crop_landmarks[points]
    heat = np.zeros((SIZE, SIZE), np.float32)
    # One small blob on each landmark of the region (both eyes, the whole mouth).
    for point in pts:
        heat = np.maximum(heat, _blob(SIZE, point, 1.5 * SIZE / 64))
    shares = region_shares(heat, crop_landmarks)
    assert math.isclose(sum(shares.values()), 1.0, abs_tol=1e-9)
    ranked = top_regions(shares)
    assert ranked[0][0] == region and ranked[0][1] > 0.4


def test_region_shares_of_flat_and_empty_maps(crop_landmarks: np.ndarray) -> None:
    flat = region_shares(np.ones((SIZE, SIZE)), crop_landmarks)
    empty = region_shares(np.zeros((SIZE, SIZE)), crop_landmarks)
    assert flat == pytest.approx(empty)  # no heat: shares fall back to the regions' areas
    assert math.isclose(sum(flat.values()), 1.0, abs_tol=1e-9)
    assert top_regions({"mouth": 0.7, "eyes": 0.3, "nose": 0.0}) == [("mouth", 0.7), ("eyes", 0.3)]


# --- reuse of the classification pass -----------------------------------------------------------------


def test_gradcam_reuses_the_cached_forward_pass(
    resnet_folder: Path, astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    classifier = EmotionClassifier.load(resnet_folder, device="cpu")
    classifier.cache = AnalysisCache()
    layer = classifier.spec.target_layer
    record = classifier.record(astronaut)
    classifier.predict(record)  # classify first, as the chat does
    calls: Counter[str] = Counter()
    sizes: dict[str, list[int]] = {}
    handles = []
    for name, stage in classifier.model.stages.items():

        def hook(module, args, output, name=name):
            calls[name] += 1
            sizes.setdefault(name, []).append(int(args[0].shape[0]))

        handles.append(stage.register_forward_hook(hook))
    aligns = Counter()
    original_align = classifier.align
    monkeypatch.setattr(
        classifier, "align", lambda *a, **k: aligns.update(["align"]) or original_align(*a, **k)
    )
    try:
        e = Explainer(classifier).explain(record)
    finally:
        for handle in handles:
            handle.remove()
    _check(e, classifier.spec.input_size)
    # Nothing up to the explained layer ran again: no second forward, no new alignment or detection.
    names = list(classifier.model.stages)
    before, after = names[: names.index(layer) + 1], names[names.index(layer) + 1 :]
    assert after and all(calls[name] == 0 for name in before)
    assert aligns["align"] == 0
    # After it: once for the gradient (1 face) and once for the faithfulness batch (1 hot + 4 random).
    assert all(sizes[name] == [1, 5] for name in after)


def test_default_gradcam_runs_on_the_head_graph_without_the_torch_network(
    astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    classifier = EmotionClassifier.load("default", device="cpu")
    classifier.cache = AnalysisCache()
    record = classifier.record(astronaut)
    classifier.predict(record)
    channels = classifier.forward_faces(record)[0].activation.shape[1]
    batches: list[int] = []
    original = classifier.head_logits
    monkeypatch.setattr(classifier, "head_logits", lambda a: batches.append(len(a)) or original(a))
    e = Explainer(classifier).explain(record)
    _check(e, SIZE)
    # The affine head's channel weights (one probe batch of channels + 1), then the faithfulness batch.
    assert batches == [channels + 1, 5]
    assert classifier._model is None  # the torch network was never built
    # The same heatmap and figure as autograd and the faithfulness batch through the torch network.
    monkeypatch.setattr(classifier, "head_logits", original)
    monkeypatch.setattr(classifier, "_head", None)
    again = Explainer(classifier, cache_results=False).explain(record)
    assert classifier._model is not None
    np.testing.assert_allclose(e.heatmap, again.heatmap, atol=1e-5)
    assert e.faithfulness == pytest.approx(again.faithfulness, abs=1e-4)


# --- threads ------------------------------------------------------------------------------------------


def test_concurrent_explanations_equal_sequential_ones(default_explainer: Explainer) -> None:
    explainer = Explainer(default_explainer.classifier, cache_results=False)
    images = [data.astronaut(), np.ascontiguousarray(data.astronaut()[:, ::-1])]
    labels = explainer.classifier.labels
    methods = ["gradcam", "gradcam++", "layercam", "hirescam", "xgradcam"]
    jobs = [
        (images[i % 2], labels[i % len(labels)], "fullgrad" if i % 10 == 9 else methods[i % len(methods)])
        for i in range(80)
    ]

    def run(job: tuple) -> tuple[np.ndarray, float]:
        image, target, method = job
        e = explainer.explain(image, target=target, method=method)
        return e.heatmap, e.faithfulness

    sequential = [run(job) for job in jobs]
    barrier = threading.Barrier(8)

    def worker(chunk: list[tuple]) -> list[tuple[np.ndarray, float]]:
        barrier.wait()
        return [run(job) for job in chunk]

    with ThreadPoolExecutor(max_workers=8) as pool:
        chunks = [jobs[k::8] for k in range(8)]
        results = list(pool.map(worker, chunks))
    concurrent = [None] * len(jobs)
    for k, chunk_results in enumerate(results):
        for j, result in enumerate(chunk_results):
            concurrent[k + 8 * j] = result
    for (heat_a, faith_a), (heat_b, faith_b) in zip(sequential, concurrent, strict=True):
        np.testing.assert_allclose(heat_a, heat_b, atol=1e-5)
        assert faith_a == pytest.approx(faith_b, abs=1e-5)


# --- CLI ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def astronaut_file(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("img") / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    return path


def test_cli_writes_png_and_prints_summary(
    astronaut_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "heat.png"
    assert main(["explain", str(astronaut_file), "-o", str(out), "--target", "sadness"]) == 0
    assert Image.open(out).size == (224, 224)
    text = capsys.readouterr().out
    assert "'sad'" in text and str(out) in text


def test_cli_json_and_full_photo(astronaut_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "full.png"
    argv = ["explain", str(astronaut_file), "-o", str(out), "--full", "--json", "--versus", "neutral"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["target"] == "happy" and payload["versus"] == "neutral" and payload["method"] == "gradcam"
    assert math.isclose(sum(payload["regions"].values()), 1.0, abs_tol=1e-3)
    assert payload["output"] == str(out)
    assert Image.open(out).size == (512, 512)


def test_cli_lists_methods(capsys: pytest.CaptureFixture) -> None:
    assert main(["explain", "--list-methods"]) == 0
    assert capsys.readouterr().out.split() == list(METHODS)


def test_cli_reports_bad_requests(astronaut_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["explain", str(astronaut_file), "--method", "nope"]) == 1
    assert "Unknown explanation method" in capsys.readouterr().err
    assert main(["explain", str(astronaut_file), "--face", "4"]) == 1
    assert "face" in capsys.readouterr().err.lower()
