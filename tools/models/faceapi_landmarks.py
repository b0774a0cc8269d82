"""face-api.js's 68-point landmark nets (``@vladmandic/face-api`` 1.7.15), ported exactly to PyTorch.

This module is for conversion and checking only: ``scripts/convert_faceapi_landmarks.py`` builds the
networks here with face-api's own weights, checks them and exports ONNX graphs that
``tools.landmarks`` runs in ONNX Runtime (no torch at inference).

- ``FaceLandmark68Net`` (``model/face_landmark_68_model.bin``, 357 KB, uint8-quantised): the same
  ``FaceFeatureExtractor`` as the expression net (``tools.models.face_api``: four dense blocks of
  depthwise-separable convolutions, 32-256 channels, a 7x7 average pool) and one fully connected
  layer 256 -> 136.
- ``FaceLandmark68TinyNet`` (``face_landmark_68_tiny_model.bin``, 77 KB): ``TinyFaceFeatureExtractor``,
  three dense blocks of three convolutions (``denseBlock3``: 32, 64, 128 channels), a 14x14 average
  pool, fully connected 128 -> 136.

Input: face-api's ``toBatchTensor(112, true)`` of the face box (the crop zero-padded to a centred
square, resized bilinearly to 112 px), minus the mean pixel (122.782, 117.001, 104.298), divided by
255. Output: 136 numbers, ``x0, y0, x1, y1, ...`` of the 68 iBUG points as fractions of the 112 px
square (``FaceLandmark68NetBase.postProcess`` multiplies by the input size and removes the padding).

``LandmarkGraph`` wraps a network for export: it takes the 112x112 RGB crop as uint8 NHWC (what
OpenCV gives) and returns the points as (N, 68, 2) fractions of the crop, so the ONNX runner needs
no preprocessing of its own.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tools.models.base import StagedNet
from tools.models.face_api import (
    FACEAPI_PACKAGE,
    MEAN_RGB,
    _DenseBlock4,
    _Head,
    _SameConv,
    _SeparableConv,
    dequantize,
    tfjs_to_torch,
)

__all__ = [
    "FACEAPI_PACKAGE",
    "LANDMARK_NETS",
    "FaceLandmark68Net",
    "FaceLandmark68TinyNet",
    "LandmarkGraph",
    "build_landmark_net",
    "load_tfjs_weights",
]

# name -> (npm weight file stem, network class name)
LANDMARK_NETS: dict[str, str] = {
    "faceapi": "face_landmark_68_model",
    "faceapi-tiny": "face_landmark_68_tiny_model",
}
NUM_OUTPUTS = 136


class _DenseBlock3(nn.Module):
    """face-api's ``denseBlock3``: three convs, each fed the ReLU of the sum of all before it."""

    def __init__(self, in_channels: int, out_channels: int, first: bool):
        super().__init__()
        self.conv0 = (
            _SameConv(in_channels, out_channels, 2) if first else _SeparableConv(in_channels, out_channels, 2)
        )
        self.conv1 = _SeparableConv(out_channels, out_channels, 1)
        self.conv2 = _SeparableConv(out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        # The JS sums as out1 + (out2 + out3); the same order keeps float32 rounding equal.
        return F.relu(out1 + (out2 + out3))


class FaceLandmark68Net(StagedNet):
    """``FaceLandmark68Net``: dense0-3 (``denseBlock4``), head (7x7 pool, fc 256 -> 136)."""

    def __init__(self) -> None:
        super().__init__()
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        previous = 3
        for i, channels in enumerate((32, 64, 128, 256)):
            stages[f"dense{i}"] = _DenseBlock4(previous, channels, first=i == 0)
            previous = channels
        stages["head"] = _Head(previous, NUM_OUTPUTS, pool=7)
        self.stages = nn.ModuleDict(stages)


class FaceLandmark68TinyNet(StagedNet):
    """``FaceLandmark68TinyNet``: dense0-2 (``denseBlock3``), head (14x14 pool, fc 128 -> 136)."""

    def __init__(self) -> None:
        super().__init__()
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        previous = 3
        for i, channels in enumerate((32, 64, 128)):
            stages[f"dense{i}"] = _DenseBlock3(previous, channels, first=i == 0)
            previous = channels
        stages["head"] = _Head(previous, NUM_OUTPUTS, pool=14)
        self.stages = nn.ModuleDict(stages)


def build_landmark_net(name: str) -> StagedNet:
    """An untrained network of ``LANDMARK_NETS`` by name."""
    if name == "faceapi":
        return FaceLandmark68Net()
    if name == "faceapi-tiny":
        return FaceLandmark68TinyNet()
    raise KeyError(f"unknown face-api landmark net {name!r}; known: {', '.join(LANDMARK_NETS)}")


def load_tfjs_weights(model: StagedNet, tensors: dict[str, tuple[np.ndarray, dict | None]]) -> None:
    """Loads TF.js tensors (manifest name -> (array in TF layout, quantization or None)) into ``model``,
    dequantising uint8 tensors exactly as TF.js does.

    Raises:
        KeyError, RuntimeError: a name this port does not know, or tensors that do not fit.
    """
    state: dict[str, torch.Tensor] = {}
    for name, (array, quant) in tensors.items():
        value = array if quant is None else dequantize(array, quant["scale"], quant["min"])
        key, torch_array = tfjs_to_torch(name, value.astype(np.float32, copy=False))
        state[key] = torch.from_numpy(np.ascontiguousarray(torch_array, dtype=np.float32))
    model.load_state_dict(state, strict=True)


class LandmarkGraph(nn.Module):
    """A landmark net with face-api's preprocessing and output layout, for export.

    Input ``crop``: (N, 112, 112, 3) uint8 RGB. Output ``points``: (N, 68, 2) float32, (x, y) as
    fractions of the crop's side.
    """

    def __init__(self, net: StagedNet) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(MEAN_RGB, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        x = crop.to(torch.float32).permute(0, 3, 1, 2)
        # face-api: normalize(batch, meanRgb).div(255): subtract first, then divide, in float32.
        x = (x - self.mean) / 255.0
        return self.net(x).reshape(-1, 68, 2)
