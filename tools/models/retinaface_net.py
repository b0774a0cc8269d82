"""The RetinaFace-MobileNet0.25 network in torch (the source of the ONNX graph the detector runs).

See ``tools.models.retinaface`` for the weights, the anchors and the decoding. This module is imported
only by the torch backend of the detector, by ``scripts/export_onnx.py`` and by tests.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tools.errors import ModelUnavailableError
from tools.models.retinaface import retinaface_weights_path

__all__ = ["RetinaFace", "load_retinaface"]

_LEAKY = 0.1  # the backbone's, FPN's and context modules' LeakyReLU slope (out channels <= 64)


def _conv_bn(
    inp: int, oup: int, stride: int = 1, kernel: int = 3, leaky: float | None = _LEAKY
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(inp, oup, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(oup),
    ]
    if leaky is not None:
        layers.append(nn.LeakyReLU(negative_slope=leaky, inplace=True))
    return nn.Sequential(*layers)


def _conv_dw(inp: int, oup: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False),
        nn.BatchNorm2d(inp),
        nn.LeakyReLU(negative_slope=_LEAKY, inplace=True),
        nn.Conv2d(inp, oup, 1, 1, 0, bias=False),
        nn.BatchNorm2d(oup),
        nn.LeakyReLU(negative_slope=_LEAKY, inplace=True),
    )


class _MobileNetV1(nn.Module):
    """MobileNet v1 at width 0.25: three stages of strides 8, 16 and 32."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(
            _conv_bn(3, 8, 2),
            _conv_dw(8, 16, 1),
            _conv_dw(16, 32, 2),
            _conv_dw(32, 32, 1),
            _conv_dw(32, 64, 2),
            _conv_dw(64, 64, 1),
        )
        self.stage2 = nn.Sequential(_conv_dw(64, 128, 2), *[_conv_dw(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(_conv_dw(128, 256, 2), _conv_dw(256, 256, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        return [c1, c2, self.stage3(c2)]


class _FPN(nn.Module):
    def __init__(self, channels: tuple[int, ...] = (64, 128, 256), out: int = 64) -> None:
        super().__init__()
        self.output1 = _conv_bn(channels[0], out, kernel=1)
        self.output2 = _conv_bn(channels[1], out, kernel=1)
        self.output3 = _conv_bn(channels[2], out, kernel=1)
        self.merge1 = _conv_bn(out, out)
        self.merge2 = _conv_bn(out, out)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        o1, o2, o3 = self.output1(feats[0]), self.output2(feats[1]), self.output3(feats[2])
        o2 = self.merge2(o2 + F.interpolate(o3, size=o2.shape[-2:], mode="nearest"))
        o1 = self.merge1(o1 + F.interpolate(o2, size=o1.shape[-2:], mode="nearest"))
        return [o1, o2, o3]


class _SSH(nn.Module):
    """The context module: 3x3, 5x5 and 7x7 receptive fields (as stacked 3x3s), concatenated."""

    def __init__(self, inp: int = 64, out: int = 64) -> None:
        super().__init__()
        self.conv3X3 = _conv_bn(inp, out // 2, leaky=None)
        self.conv5X5_1 = _conv_bn(inp, out // 4)
        self.conv5X5_2 = _conv_bn(out // 4, out // 4, leaky=None)
        self.conv7X7_2 = _conv_bn(out // 4, out // 4)
        self.conv7x7_3 = _conv_bn(out // 4, out // 4, leaky=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c5_1 = self.conv5X5_1(x)
        c7_2 = self.conv7X7_2(c5_1)
        return F.relu(torch.cat([self.conv3X3(x), self.conv5X5_2(c5_1), self.conv7x7_3(c7_2)], dim=1))


class _Head(nn.Module):
    def __init__(self, values: int, anchors: int = 2, inp: int = 64) -> None:
        super().__init__()
        self.values = values
        self.conv1x1 = nn.Conv2d(inp, anchors * values, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1x1(x).permute(0, 2, 3, 1)
        return out.reshape(out.shape[0], -1, self.values)


class RetinaFace(nn.Module):
    """RetinaFace-MobileNet0.25; ``forward`` returns (boxes, face probability, landmarks) offsets.

    Shapes for an (N, 3, H, W) input and A anchors: (N, A, 4), (N, A) and (N, A, 10). The
    probability is already softmaxed; boxes and landmarks are still offsets (see ``decode``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = _MobileNetV1()
        self.fpn = _FPN()
        self.ssh1, self.ssh2, self.ssh3 = _SSH(), _SSH(), _SSH()
        self.ClassHead = nn.ModuleList([_Head(2) for _ in range(3)])
        self.BboxHead = nn.ModuleList([_Head(4) for _ in range(3)])
        self.LandmarkHead = nn.ModuleList([_Head(10) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feats = self.fpn(self.body(x))
        feats = [self.ssh1(feats[0]), self.ssh2(feats[1]), self.ssh3(feats[2])]
        boxes = torch.cat([h(f) for h, f in zip(self.BboxHead, feats)], dim=1)
        logits = torch.cat([h(f) for h, f in zip(self.ClassHead, feats)], dim=1)
        landmarks = torch.cat([h(f) for h, f in zip(self.LandmarkHead, feats)], dim=1)
        return boxes, torch.softmax(logits, dim=-1)[..., 1], landmarks


def load_retinaface(path: str | Path | None = None) -> RetinaFace:
    """The network with its weights, in eval mode.

    Raises:
        ModelUnavailableError: the file is missing or does not fit the network.
    """
    path = Path(path) if path else retinaface_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the same problem to the user
        raise ModelUnavailableError(f"Could not read the face detector's weights {path}: {exc}") from exc
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = RetinaFace()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelUnavailableError(
            f"The face detector's weights {path} do not fit RetinaFace: {exc}"
        ) from exc
    return model.eval()
