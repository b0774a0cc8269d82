"""The model card: everything needed to use a network, saved inside every checkpoint.

Labels, input size, channels, normalisation, face alignment and the layer to explain live here so
that the classifier, the explainer and training read the same truth and never guess.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tools.errors import ModelUnavailableError

__all__ = ["ModelSpec", "FORMAT_VERSION"]

FORMAT_VERSION = 1


@dataclass
class ModelSpec:
    """Self-describing facts of one emotion model.

    Attributes:
        name: a short human name, shown in results ("fer-mini-xception", "rafdb-resnet18").
        arch: architecture key of the factory (``resnet18`` or ``mini_xception``).
        labels: class names in the order of the network's outputs.
        label_set: which set they are (``basic7``, ``fer2013``, ``rafdb-compound11``,
            ``rafce-compound14`` or ``custom``).
        input_size: side of the square input in pixels.
        channels: 1 (gray) or 3 (RGB).
        mean: per-channel mean subtracted after scaling pixels to [0, 1].
        std: per-channel standard deviation divided after that.
        alignment: how the face crop is made; ``margin`` is the fraction of the canonical
            ArcFace-style 5-point template's extent added around the face (0 = tight crop).
        target_layer: name of the stage whose activations Grad-CAM explains.
        provenance: where the weights came from: dataset, licence, metrics, training config.
        format_version: version of this card's layout.
    """

    name: str
    arch: str
    labels: list[str]
    label_set: str = "custom"
    input_size: int = 112
    channels: int = 3
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    alignment: dict[str, Any] = field(default_factory=lambda: {"method": "similarity5", "margin": 0.25})
    target_layer: str = "layer4"
    provenance: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        self.labels = [str(label) for label in self.labels]
        if not self.labels:
            raise ModelUnavailableError("A model card must list at least one label.")
        if len(set(self.labels)) != len(self.labels):
            raise ModelUnavailableError(f"The model card repeats a label: {self.labels}.")
        if self.channels not in (1, 3):
            raise ModelUnavailableError(f"channels must be 1 or 3, not {self.channels}.")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ModelUnavailableError("mean and std need one value per input channel.")
        if not 16 <= int(self.input_size) <= 1024:
            raise ModelUnavailableError(f"input_size {self.input_size} is out of range 16-1024.")
        self.input_size = int(self.input_size)

    @property
    def num_classes(self) -> int:
        """How many outputs the network has."""
        return len(self.labels)

    def summary(self) -> dict[str, Any]:
        """What a person may ask about the model: name, architecture, input, labels, provenance."""
        return {
            "name": self.name,
            "arch": self.arch,
            "input_size": self.input_size,
            "channels": self.channels,
            "label_set": self.label_set,
            "provenance": dict(self.provenance or {}),
            "labels": list(self.labels),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain-type view (JSON-ready)."""
        return asdict(self)

    def to_json(self) -> str:
        """The card as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Builds a card from its dict, refusing unknown layouts with a clear error."""
        if not isinstance(data, dict):
            raise ModelUnavailableError("The model card is not a JSON object.")
        version = data.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ModelUnavailableError(
                f"Model card format {version} is not supported (this version reads {FORMAT_VERSION})."
            )
        known = {f.name for f in fields(cls)}
        missing = [name for name in ("name", "arch", "labels") if name not in data]
        if missing:
            raise ModelUnavailableError(f"The model card lacks {', '.join(missing)}.")
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise ModelUnavailableError(f"The model card is malformed: {exc}") from exc
