"""ResNet-18 as a ``StagedNet``: stem, layer1-4, head."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet18

from tools.errors import ModelUnavailableError
from tools.models.base import StagedNet

__all__ = ["ResNet18", "imagenet_weights_path"]

_IMAGENET_FILE = "resnet18-f37072fd.pth"


def imagenet_weights_path() -> Path | None:
    """Where torchvision keeps ImageNet ResNet-18 weights, if they are already on disk."""
    hub = Path(torch.hub.get_dir()) / "checkpoints" / _IMAGENET_FILE
    return hub if hub.is_file() else None


class ResNet18(StagedNet):
    """torchvision's ResNet-18 with a fresh ``num_classes`` head, split into named stages.

    Args:
        num_classes: number of outputs.
        in_channels: 3 for RGB; 1 for gray (the first convolution is rebuilt).
        imagenet: a path to torchvision's ImageNet state dict, ``True`` to use the one in the torch
            hub cache, or ``False`` for random initialisation. Nothing is ever downloaded.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, imagenet: bool | str | Path = False):
        super().__init__()
        net = resnet18(weights=None)
        if imagenet:
            path = imagenet_weights_path() if imagenet is True else Path(imagenet)
            if path is None or not Path(path).is_file():
                raise ModelUnavailableError(
                    "ImageNet ResNet-18 weights are not on disk (looked for "
                    f"{torch.hub.get_dir()}/checkpoints/{_IMAGENET_FILE}). Copy them there, pass "
                    "their path, or train from scratch (imagenet=False / --no-pretrained)."
                )
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                net.load_state_dict(state)
            except Exception as exc:
                raise ModelUnavailableError(f"Could not load ImageNet weights from {path}: {exc}") from exc
        if in_channels != 3:
            old = net.conv1
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
            if imagenet:
                with torch.no_grad():
                    net.conv1.weight.copy_(old.weight.mean(dim=1, keepdim=True).repeat(1, in_channels, 1, 1))
        self.stages = nn.ModuleDict(
            OrderedDict(
                stem=nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool),
                layer1=net.layer1,
                layer2=net.layer2,
                layer3=net.layer3,
                layer4=net.layer4,
                head=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)),
            )
        )
