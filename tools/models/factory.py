"""The one place that builds networks from a model card."""

from __future__ import annotations

from pathlib import Path

from tools.errors import ModelUnavailableError
from tools.models.base import StagedNet
from tools.models.spec import ModelSpec

__all__ = ["build_model", "ARCHITECTURES"]

ARCHITECTURES = ("resnet18", "mini_xception", "faceapi_expression")


def build_model(spec: ModelSpec, imagenet: bool | str | Path = False) -> StagedNet:
    """Builds the network a card describes, with random weights (or ImageNet ones for ResNet-18).

    Args:
        spec: the model card.
        imagenet: ResNet-18 only: ImageNet initialisation from disk (see ``ResNet18``).

    Raises:
        ModelUnavailableError: for an unknown architecture.
    """
    if spec.arch == "resnet18":
        from tools.models.resnet import ResNet18

        return ResNet18(spec.num_classes, in_channels=spec.channels, imagenet=imagenet)
    if spec.arch == "mini_xception":
        from tools.models.mini_xception import MiniXception

        return MiniXception(spec.num_classes, in_channels=spec.channels)
    if spec.arch == "faceapi_expression":
        from tools.models.face_api import FaceExpressionNet

        return FaceExpressionNet(spec.num_classes, in_channels=spec.channels)
    raise ModelUnavailableError(
        f"Unknown architecture {spec.arch!r} in the model card; known: {', '.join(ARCHITECTURES)}."
    )
