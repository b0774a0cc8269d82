"""Exports the project's networks to ONNX graphs that ONNX Runtime runs without torch.

Used by ``scripts/export_onnx.py`` (the graphs committed under ``tools/models/weights/``), by
``training`` (``model.onnx`` beside each exported checkpoint) and by ``EmotionClassifier`` for a
torch network that has no graph yet. This module needs torch; the code that runs the graphs
(``tools.models.graphs``) does not.

A classifier graph takes ``x`` (N, C, S, S), the normalised input, and returns ``activation`` (the
output of the model card's ``target_layer``, which the explainer starts from) and ``logits``. A head
graph takes that ``activation`` and returns the ``logits`` (the stages after the layer); it is
written only for heads that are affine in the activation (global average pooling and a linear
layer, as in the face-api net), where Grad-CAM needs no autograd.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tools.models.base import StagedNet
from tools.models.spec import ModelSpec

__all__ = [
    "OPSET",
    "classifier_graph",
    "head_graph",
    "retinaface_graph",
    "check_classifier_graph",
    "head_is_affine",
    "with_metadata",
]

OPSET = 17
TOLERANCE = 1e-3  # max |ONNX - torch| accepted for activations and logits on a random batch


class _Until(nn.Module):
    def __init__(self, model: StagedNet, layer: str) -> None:
        super().__init__()
        self.net, self.layer = model, layer

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.forward_until(x, self.layer)


class _From(nn.Module):
    def __init__(self, model: StagedNet, layer: str) -> None:
        super().__init__()
        self.net, self.layer = model, layer

    def forward(self, activation: torch.Tensor) -> torch.Tensor:
        return self.net.forward_from(activation, self.layer)


def _export(
    module: nn.Module, example: torch.Tensor, inputs: list[str], outputs: list[str], axes: dict
) -> bytes:
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its retirement
        torch.onnx.export(
            module.eval(),
            (example,),
            buffer,
            dynamo=False,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
        )
    return fold_pads(buffer.getvalue())


def fold_pads(graph: bytes) -> bytes:
    """The graph with each zero ``Pad`` of constant size that only feeds convolutions folded into
    their own (possibly asymmetric) ``pads``: the same arithmetic without a padded copy of the
    tensor (TF-style 'same' padding exports as a Pad before each convolution). Unchanged bytes when
    there is nothing to fold.
    """
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    model = onnx.load_from_string(graph)
    nodes = list(model.graph.node)
    producers = {out: node for node in nodes for out in node.output}
    consumers: dict[str, list] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}

    def constant(name: str):
        """The value of a tensor computed from constants only, else None."""
        if name in initializers:
            return initializers[name]
        needed, stack = [], [name]
        while stack:
            node = producers.get(stack.pop())
            if node is None:
                return None  # a graph input
            if node not in needed:
                needed.append(node)
                stack.extend(i for i in node.input if i and i not in initializers)
        order = [n for n in nodes if n in needed]
        sub = helper.make_graph(
            order,
            "pads",
            [],
            [helper.make_tensor_value_info(name, onnx.TensorProto.INT64, None)],
            [
                numpy_helper.from_array(initializers[i], i)
                for n in order
                for i in n.input
                if i in initializers
            ],
        )
        return ReferenceEvaluator(helper.make_model(sub, opset_imports=model.opset_import)).run(None, {})[0]

    folded = False
    for pad in [n for n in nodes if n.op_type == "Pad"]:
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        users = consumers.get(pad.output[0], [])
        if mode != b"constant" or (len(pad.input) > 2 and pad.input[2]) or not users:
            continue
        if any(
            u.op_type != "Conv"
            or any(a.name == "auto_pad" and a.s not in (b"", b"NOTSET") for a in u.attribute)
            for u in users
        ):
            continue
        pads = constant(pad.input[1])
        if pads is None or len(pads) != 8 or any(pads[[0, 1, 4, 5]]) or (pads < 0).any():
            continue
        extra = [int(v) for v in (pads[2], pads[3], pads[6], pads[7])]  # ONNX Conv: top, left, bottom, right
        for conv in users:
            own = next((list(a.ints) for a in conv.attribute if a.name == "pads"), [0, 0, 0, 0])
            for attribute in [a for a in conv.attribute if a.name == "pads"]:
                conv.attribute.remove(attribute)
            conv.attribute.append(helper.make_attribute("pads", [a + b for a, b in zip(own, extra)]))
            conv.input[0] = pad.input[0]
        model.graph.node.remove(pad)
        folded = True
    if not folded:
        return graph
    # Drop what only computed the folded pads.
    live = {o.name for o in model.graph.output}
    for node in reversed(list(model.graph.node)):
        if any(o in live for o in node.output):
            live.update(node.input)
        else:
            model.graph.node.remove(node)
    return model.SerializeToString()


def _probe(spec: ModelSpec, count: int = 2) -> torch.Tensor:
    return torch.randn(
        count, spec.channels, spec.input_size, spec.input_size, generator=torch.Generator().manual_seed(0)
    )


def with_metadata(graph: bytes, metadata: dict[str, str]) -> bytes:
    """The graph with ``metadata`` added to its ``metadata_props`` (read back by ONNX Runtime's
    ``get_modelmeta().custom_metadata_map``)."""
    import onnx

    model = onnx.load_from_string(graph)
    for key, value in sorted(metadata.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    return model.SerializeToString()


def classifier_graph(model: StagedNet, spec: ModelSpec, metadata: dict[str, str] | None = None) -> bytes:
    """The classification pass (``forward_until(x, spec.target_layer)``) as ONNX bytes."""
    graph = _export(
        _Until(model.eval(), spec.target_layer),
        _probe(spec, 1),
        ["x"],
        ["activation", "logits"],
        {"x": {0: "n"}, "activation": {0: "n"}, "logits": {0: "n"}},
    )
    meta = {"kind": "classifier", "target_layer": spec.target_layer, "input_size": str(spec.input_size)}
    return with_metadata(graph, {**meta, **(metadata or {})})


def check_classifier_graph(graph: bytes, model: StagedNet, spec: ModelSpec) -> bool:
    """Whether ONNX Runtime's outputs for the graph match torch's (within ``TOLERANCE``) on a random batch."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    probe = _probe(spec)
    activation, logits = session.run(None, {"x": probe.numpy()})
    with torch.inference_mode():
        want_activation, want_logits = model.eval().forward_until(probe, spec.target_layer)
    return (
        activation.shape == tuple(want_activation.shape)
        and float(np.abs(activation - want_activation.numpy()).max()) <= TOLERANCE
        and float(np.abs(logits - want_logits.numpy()).max()) <= TOLERANCE
    )


def head_is_affine(model: StagedNet, spec: ModelSpec, tolerance: float = 1e-4) -> bool:
    """Whether the stages after the target layer are affine in its activation (head(a) + head(b) ==
    head(a + b) + head(0) on random activations), so the gradient does not depend on the input."""
    with torch.inference_mode():
        activation, _ = model.eval().forward_until(_probe(spec, 1), spec.target_layer)
        generator = torch.Generator().manual_seed(1)
        a = torch.randn(activation.shape, generator=generator)
        b = torch.randn(activation.shape, generator=generator)
        head = model.forward_from
        layer = spec.target_layer
        left = head(a, layer) + head(b, layer)
        right = head(a + b, layer) + head(torch.zeros_like(a), layer)
    scale = float(left.abs().max()) + 1e-6
    return float((left - right).abs().max()) <= tolerance * scale


def head_graph(model: StagedNet, spec: ModelSpec, metadata: dict[str, str] | None = None) -> bytes:
    """The stages after the target layer (activation -> logits) as ONNX bytes.

    Raises:
        ValueError: the head is not affine in the activation (Grad-CAM would still need autograd).
    """
    if not head_is_affine(model, spec):
        raise ValueError(f"The layers after {spec.target_layer} are not affine; no head graph is written.")
    with torch.inference_mode():
        activation, _ = model.eval().forward_until(_probe(spec, 1), spec.target_layer)
    graph = _export(
        _From(model.eval(), spec.target_layer),
        activation.clone(),
        ["activation"],
        ["logits"],
        {"activation": {0: "n"}, "logits": {0: "n"}},
    )
    meta = {"kind": "head", "target_layer": spec.target_layer, "affine": "true"}
    return with_metadata(graph, {**meta, **(metadata or {})})


class _FromPixels(nn.Module):
    """RetinaFace fed the photo's pixels: (1, H, W, 3) uint8 RGB, made into the network's input
    (``tools.models.retinaface.network_input``: BGR planes minus the mean, float) inside the graph."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        from tools.models.retinaface import BGR_MEAN

        self.net = model
        self.register_buffer("mean", torch.tensor(BGR_MEAN, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # Cast first, then the transpose and the reorder, then the mean over whole planes: the
        # cheapest order in ONNX Runtime (a mean broadcast over the last axis of 3 was 5 ms at 640 px).
        planes = image.float().permute(0, 3, 1, 2)
        return self.net(planes[:, [2, 1, 0]] - self.mean)


def retinaface_graph(model: nn.Module, metadata: dict[str, str] | None = None) -> bytes:
    """RetinaFace (any input size) as ONNX bytes: ``image`` (1, H, W, 3) uint8 RGB -> boxes, scores,
    landmarks. The input step is part of the graph, so the float input (12 MB at 1280x800) is made in
    ONNX Runtime's arena rather than in a fresh buffer per pass (a page fault per 4 KB)."""
    graph = _export(
        _FromPixels(model.eval()),
        torch.zeros(1, 320, 320, 3, dtype=torch.uint8),
        ["image"],
        ["boxes", "scores", "landmarks"],
        {"image": {1: "height", 2: "width"}},
    )
    return with_metadata(graph, {"kind": "retinaface", **(metadata or {})})


def write(graph: bytes, path: str | Path) -> Path:
    """Writes graph bytes to ``path`` (folders created) and returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph)
    return path
