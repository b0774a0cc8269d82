"""The committed ONNX graphs (``tools/models/weights/*.onnx``) against the torch networks they were
exported from, on real faces and photos."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import torch

from benchmarks.photos import group_photo, labelled_faces
from tools.classifier import EmotionClassifier
from tools.errors import ModelUnavailableError
from tools.faces import RetinaFaceDetector
from tools.models import graphs
from tools.models.face_api import load_faceapi_model
from tools.models.onnx_export import head_is_affine
from tools.models.retinaface import BGR_MEAN, network_input
from tools.models.retinaface_net import load_retinaface

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    "graph", [graphs.RETINAFACE, graphs.RETINAFACE_INT8, graphs.FACEAPI_CLASSIFIER, graphs.FACEAPI_HEAD]
)
def test_committed_graphs_have_their_recorded_sha256(graph: graphs.Graph) -> None:
    assert hashlib.sha256(graph.read()).hexdigest() == graph.sha256
    assert graph.path.stat().st_size < 3 * 2**20


def test_an_altered_graph_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(graphs, "WEIGHTS_DIR", tmp_path)
    (tmp_path / graphs.RETINAFACE.file).write_bytes(b"not the graph")
    with pytest.raises(ModelUnavailableError, match="sha256"):
        graphs.RETINAFACE.read()
    (tmp_path / graphs.RETINAFACE.file).unlink()
    with pytest.raises(ModelUnavailableError, match="missing"):
        graphs.RETINAFACE.read()


def _photos() -> list[np.ndarray]:
    group = group_photo()[0]
    faces = [f.rgb for f in labelled_faces()[:6]]
    return [cv2.resize(group, (640, 400), interpolation=cv2.INTER_AREA), *faces]


def test_retinaface_graph_equals_the_torch_network() -> None:
    """The graph takes the photo's pixels; torch, OpenCV's blob of them."""
    session = graphs.session(graphs.RETINAFACE.read(), threads=2)
    net = load_retinaface()
    for rgb in [*_photos(), group_photo()[0][:333, :517]]:  # odd sizes too
        x = cv2.dnn.blobFromImage(rgb, 1.0, None, BGR_MEAN, swapRB=True, crop=False)
        got = session.run(None, {"image": np.ascontiguousarray(rgb)[None]})
        with torch.inference_mode():
            want = [t.numpy() for t in net(torch.from_numpy(x))]
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=2e-3, rtol=1e-3)


def test_the_detector_input_is_opencvs_blob_bit_for_bit() -> None:
    for rgb in [*_photos(), group_photo()[0][:333, :517]]:  # odd sizes too
        want = cv2.dnn.blobFromImage(rgb, 1.0, None, BGR_MEAN, swapRB=True, crop=False)
        got = network_input(np.ascontiguousarray(rgb))
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_retinaface_backends_find_the_same_faces_in_a_group_photo() -> None:
    group = group_photo()[0]
    onnx, torch_ = RetinaFaceDetector(backend="onnx"), RetinaFaceDetector(backend="torch")
    a, b = onnx.detect(group), torch_.detect(group)
    assert len(a) == len(b) >= 8
    for fa, fb in zip(a, b):
        assert np.abs(np.subtract(fa.box, fb.box)).max() <= 1
        assert fa.score == pytest.approx(fb.score, abs=1e-3)


def test_the_8_bit_graph_finds_the_faces_the_float_graph_finds() -> None:
    """On the group photo (faces of 24-150 px, three tight crops), the labelled faces (tight 25 px LFW
    crops among them) and the face-free images: the same faces, boxes and scores close."""
    from benchmarks.photos import box_iou, non_faces

    int8, float32 = RetinaFaceDetector(precision="int8"), RetinaFaceDetector()
    assert (int8.precision, float32.precision) == ("int8", "float32")
    images = [group_photo()[0], *(f.rgb for f in labelled_faces())]
    matched = 0
    for rgb in images:
        got, want = int8.detect(rgb), float32.detect(rgb)
        assert len(got) == len(want)
        for face in want:
            best = max(got, key=lambda g: box_iou(g.box, face.box))
            assert box_iou(best.box, face.box) > 0.85 and abs(best.score - face.score) < 0.05
            matched += 1
    assert matched >= 45
    assert not any(int8.detect(image) for _, image in non_faces())


def test_faceapi_graphs_equal_the_torch_network_on_real_faces() -> None:
    lean = EmotionClassifier.load("faceapi-expression")
    assert lean.backend == "onnx" and lean._model is None
    model, spec = load_faceapi_model()
    crops = []
    for face in labelled_faces()[:12]:
        try:
            record = lean.record(face.rgb)
            crops.extend(lean.align(record.rgb, f).image for f in record.faces)
        except Exception:  # noqa: BLE001 - a face the detector misses is no use here
            continue
    assert len(crops) >= 8
    x = lean.to_input(crops)
    activation, logits = lean._forward(x)
    with torch.inference_mode():
        want_activation, want_logits = model.forward_until(torch.from_numpy(x), spec.target_layer)
    np.testing.assert_allclose(activation, want_activation.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logits, want_logits.numpy(), atol=1e-4)
    # The head graph: the stages after the explained layer, affine in it.
    with torch.inference_mode():
        head = model.forward_from(want_activation, spec.target_layer).numpy()
    np.testing.assert_allclose(lean.head_logits(activation), head, atol=1e-4)
    assert head_is_affine(model, spec)


def test_the_faceapi_graph_pads_inside_its_convolutions() -> None:
    """TF's 'same' padding is folded into the convolutions: no Pad, and no shape arithmetic at run time."""
    import onnx

    ops = {node.op_type for node in onnx.load_from_string(graphs.FACEAPI_CLASSIFIER.read()).graph.node}
    assert "Conv" in ops and not ops & {"Pad", "Shape", "Gather", "ConstantOfShape"}
