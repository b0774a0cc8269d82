"""The face-api.js FaceExpressionNet (``@vladmandic/face-api`` 1.7.15), ported exactly to PyTorch.

face-api.js reads a face crop's expression with a small network: its ``FaceFeatureExtractor``
(four dense blocks of depthwise-separable convolutions) and one fully connected layer to seven
classes. The npm package ships the weights as uint8-quantised TF.js tensors
(``model/face_expression_model.bin`` + ``face_expression_model-weights_manifest.json``, MIT).
``scripts/convert_face_api.py`` copies them, still quantised, into
``tools/models/weights/faceapi_expression.safetensors`` (341 KB, committed with face-api's licence
in ``tools/models/weights/``); loading dequantises each tensor the way TF.js does
(``min + scale * q``, computed in double, stored as float32), so the network sees bit-identical
weights. ``tests/test_face_api.py`` checks the port against probabilities that face-api itself
gave in Node (TF.js CPU backend) for fixed inputs, made by ``scripts/make_faceapi_reference.js``.

Layout (TF.js weight names in brackets), shapes for the 112x112 input:

- ``dense0``: 3x3/2 conv 32 + bias, ReLU -> ``out1``; then three depthwise-separable 3x3/1 convs
  (+ bias) ``conv1``-``conv3``, each fed the ReLU of the sum of everything before it in the block
  (dense connectivity), the block's output the ReLU of ``out1 + out2 + out3 + out4`` -> 32x56x56
  [``dense0/conv0-3``].
- ``dense1``-``dense3``: the same with a separable 3x3/2 ``conv0`` -> 64x28x28, 128x14x14,
  256x7x7 [``dense1-3/conv0-3``]. Every stride-2 conv uses TF's ``same`` padding, which on these
  even sides pads one pixel after (bottom/right) and none before.
- ``head``: 7x7/2 valid average pool (global at 112 px), flatten, fully connected 256 -> 7
  [``fc/weights``, ``fc/bias``] -> logits; face-api applies softmax after this, here the caller does.

face-api's own preprocessing (``FaceFeatureExtractor.forwardInput``): the RGB crop, zero-padded to
a centred square and resized bilinearly to 112 px, minus the mean pixel (122.782, 117.001,
104.298), divided by 255. The model card expresses that as ``mean = mean_pixel / 255`` and
``std = 1``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tools.errors import ModelUnavailableError
from tools.models.base import StagedNet
from tools.models.face_api_card import FACEAPI_PACKAGE, MEAN_RGB, WEIGHTS_PATH, WEIGHTS_SHA256, default_spec
from tools.models.spec import ModelSpec

__all__ = [
    "FaceExpressionNet",
    "FACEAPI_PACKAGE",
    "MEAN_RGB",
    "WEIGHTS_PATH",
    "WEIGHTS_SHA256",
    "default_spec",
    "dequantize",
    "load_faceapi_model",
    "load_faceapi_weights",
    "tfjs_to_torch",
]

_BLOCK_CHANNELS = (32, 64, 128, 256)
_CONVS_PER_BLOCK = 4
_REGENERATE = "regenerate it with `python scripts/convert_face_api.py` (see tools/models/weights/SOURCE.md)"


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding along one axis: the odd pixel goes after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Pads ``x`` so that a valid convolution of ``kernel``/``stride`` equals TF's 'same' one.

    The sizes are read as plain numbers: an exported graph (fixed input size) then pads by constants
    instead of computing the padding from the tensor's shape at every run (about 50 small ops).
    """
    top, bottom = _same_pads(int(x.shape[-2]), kernel, stride)
    left, right = _same_pads(int(x.shape[-1]), kernel, stride)
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom))
    return x


class _SameConv(nn.Conv2d):
    """``tf.conv2d(x, filters, stride, 'same')`` + bias: a 3x3 conv with TF's asymmetric padding."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(in_channels, out_channels, 3, stride=stride, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_pad_same(x, 3, self.stride[0]))


class _SeparableConv(nn.Module):
    """face-api's ``depthwiseSeparableConv``: ``tf.separableConv2d(..., 'same')`` + bias.

    The depthwise 3x3 conv carries the stride (TF 'same' padding); the 1x1 pointwise conv follows,
    then the bias, with no activation. At stride 1 'same' is one pixel on every side, which the
    convolution pads itself (an exported graph then has no separate padding step).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(
            in_channels,
            in_channels,
            3,
            stride=stride,
            padding=int(stride == 1),
            groups=in_channels,
            bias=False,
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x if self.stride == 1 else _pad_same(x, 3, self.stride)))


class _DenseBlock4(nn.Module):
    """face-api's ``denseBlock4``: four convs, each fed the ReLU of the sum of all before it.

    ``conv0`` halves the side (a plain conv in the first block, a separable one after); its output
    is ReLU-ed; ``conv1``-``conv3`` are separable and not activated themselves.
    """

    def __init__(self, in_channels: int, out_channels: int, first: bool):
        super().__init__()
        self.conv0 = (
            _SameConv(in_channels, out_channels, 2) if first else _SeparableConv(in_channels, out_channels, 2)
        )
        self.conv1 = _SeparableConv(out_channels, out_channels, 1)
        self.conv2 = _SeparableConv(out_channels, out_channels, 1)
        self.conv3 = _SeparableConv(out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        out4 = self.conv3(F.relu(out1 + (out2 + out3)))
        # The JS sums as out1 + (out2 + (out3 + out4)); the same order keeps float32 rounding equal.
        return F.relu(out1 + (out2 + (out3 + out4)))


class _Head(nn.Module):
    """``tf.avgPool(out, [pool, pool], [2, 2], 'valid')``, flatten, fully connected -> logits.

    ``pool`` is 7 for the feature extractor of the expression and 68-landmark nets (7x7 maps at
    112 px) and 14 for the tiny landmark net (14x14 maps).
    """

    def __init__(self, in_channels: int, num_classes: int, pool: int = 7):
        super().__init__()
        self.pool = pool
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # face-api's flatten is channels-last; at 112 px the pool leaves 1x1, where both orders agree.
        pooled = F.avg_pool2d(x, self.pool, 2)
        return self.fc(pooled.permute(0, 2, 3, 1).flatten(1))


class FaceExpressionNet(StagedNet):
    """face-api.js's FaceExpressionNet as a ``StagedNet``: dense0-3, head (logits).

    Args:
        num_classes: number of outputs (7 for the face-api weights).
        in_channels: input channels (3, RGB, for the face-api weights).
    """

    def __init__(self, num_classes: int = 7, in_channels: int = 3):
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        previous = in_channels
        for i, channels in enumerate(_BLOCK_CHANNELS):
            stages[f"dense{i}"] = _DenseBlock4(previous, channels, first=i == 0)
            previous = channels
        stages["head"] = _Head(previous, num_classes)
        self.stages = nn.ModuleDict(stages)


# --- weights ------------------------------------------------------------------------------------


def tfjs_to_torch(name: str, array: np.ndarray) -> tuple[str, np.ndarray]:
    """Maps one TF.js weight (manifest name, TF layout) to its state-dict key and torch layout.

    ``dense0/conv0/filters`` (H, W, in, out) -> ``stages.dense0.conv0.weight`` (out, in, H, W);
    ``denseN/convK/depthwise_filter`` (H, W, C, 1) -> ``...convK.depthwise.weight`` (C, 1, H, W);
    ``.../pointwise_filter`` (1, 1, in, out) -> ``...convK.pointwise.weight`` (out, in, 1, 1);
    the bias of a separable conv is added after the pointwise conv, so it becomes its bias;
    ``fc/weights`` (in, out) -> ``stages.head.fc.weight`` (out, in).

    Raises:
        KeyError: for a name this port does not know.
    """
    parts = name.split("/")
    if parts == ["fc", "weights"]:
        return "stages.head.fc.weight", array.T
    if parts == ["fc", "bias"]:
        return "stages.head.fc.bias", array
    if len(parts) == 3 and parts[0] in {f"dense{i}" for i in range(len(_BLOCK_CHANNELS))}:
        block, conv, kind = parts
        prefix = f"stages.{block}.{conv}"
        plain = block == "dense0" and conv == "conv0"
        if plain and kind == "filters":
            return f"{prefix}.weight", array.transpose(3, 2, 0, 1)
        if plain and kind == "bias":
            return f"{prefix}.bias", array
        if not plain and kind == "depthwise_filter":
            return f"{prefix}.depthwise.weight", array.transpose(2, 3, 0, 1)
        if not plain and kind == "pointwise_filter":
            return f"{prefix}.pointwise.weight", array.transpose(3, 2, 0, 1)
        if not plain and kind == "bias":
            return f"{prefix}.pointwise.bias", array
    raise KeyError(f"unknown face-api weight {name!r}")


def dequantize(q: np.ndarray, scale: float, minimum: float) -> np.ndarray:
    """TF.js's uint8 dequantisation: ``q * scale + min`` in double precision, stored as float32."""
    return (q.astype(np.float64) * float(scale) + float(minimum)).astype(np.float32)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_faceapi_weights(
    model: FaceExpressionNet, path: str | Path = WEIGHTS_PATH, check_hash: bool = True
) -> None:
    """Loads the converted face-api weights into ``model``, dequantising the uint8 tensors.

    The file holds, per state-dict key, either the float32 tensor itself (biases) or ``<key>.q``
    (uint8, torch layout) with ``<key>.scale`` and ``<key>.min`` (float64 scalars).

    Args:
        model: a ``FaceExpressionNet`` with 7 classes and 3 input channels.
        path: the converted safetensors file.
        check_hash: refuse a file whose sha256 differs from ``WEIGHTS_SHA256`` (only for the
            committed file; a freshly converted copy elsewhere may skip it).

    Raises:
        ModelUnavailableError: when the file is missing, altered, corrupt or does not fit the network.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise ModelUnavailableError(f"The face-api expression weights {path} are missing; {_REGENERATE}.")
    if check_hash and _sha256(path) != WEIGHTS_SHA256:
        raise ModelUnavailableError(
            f"The face-api expression weights {path} differ from the committed file (sha256 mismatch); "
            f"{_REGENERATE}."
        )
    try:
        raw = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelUnavailableError(f"{path} is not a valid safetensors file: {exc}; {_REGENERATE}.") from exc
    state: dict[str, torch.Tensor] = {}
    try:
        for key, array in raw.items():
            if key.endswith((".scale", ".min")):
                continue
            if key.endswith(".q"):
                base = key[: -len(".q")]
                value = dequantize(array, raw[f"{base}.scale"].item(), raw[f"{base}.min"].item())
                state[base] = torch.from_numpy(value)
            else:
                state[key] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        model.load_state_dict(state, strict=True)
    except (KeyError, RuntimeError) as exc:
        first = str(exc).splitlines()[0]
        raise ModelUnavailableError(
            f"The weights in {path} do not fit the FaceExpressionNet: {first}; {_REGENERATE}."
        ) from exc


def load_faceapi_model(device: str | torch.device = "cpu") -> tuple[FaceExpressionNet, ModelSpec]:
    """Builds the FaceExpressionNet, loads the committed weights and puts it in eval mode.

    Args:
        device: where the network lives.

    Returns:
        (the network, its model card).

    Raises:
        ModelUnavailableError: when the weights file is missing, altered or does not load.
    """
    spec = default_spec()
    model = FaceExpressionNet(spec.num_classes, in_channels=spec.channels)
    load_faceapi_weights(model, WEIGHTS_PATH)
    model.eval()
    return model.to(device), spec
