"""Exporting a trained network in the project's checkpoint format, metrics in its model card, and
its ONNX graph (``model.onnx``) so the checkpoint serves without torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tools.models.checkpoint import CARD, read_card, resolve_checkpoint, save_checkpoint, write_graph
from tools.models.spec import ModelSpec

__all__ = ["export_checkpoint", "update_card_metrics", "summarise_metrics"]


def summarise_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The part of a split's metrics worth keeping in a model card (no confusion matrix)."""
    return {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "macro_recall": metrics["macro_recall"],
        "count": metrics["count"],
        "per_class_recall": {label: c["recall"] for label, c in metrics["per_class"].items()},
        "per_class_f1": {label: c["f1"] for label, c in metrics["per_class"].items()},
    }


def export_checkpoint(
    folder: str | Path,
    model: torch.nn.Module,
    spec: ModelSpec,
    provenance: dict[str, Any] | None = None,
    graph: bool = True,
) -> Path:
    """Writes ``model.safetensors`` + ``model_card.json`` to ``folder``, merging ``provenance``, and
    with ``graph`` the ONNX graph ``model.onnx`` beside them (when the network exports faithfully;
    see ``tools.models.checkpoint.write_graph``)."""
    card = ModelSpec.from_dict(spec.to_dict())  # a copy: the caller's spec stays as it was
    card.provenance = {**card.provenance, **(provenance or {})}
    folder = save_checkpoint(folder, model, card)
    if graph:
        write_graph(folder, model, card)
    return folder


def update_card_metrics(folder: str | Path, results: dict[str, dict[str, Any]]) -> ModelSpec:
    """Rewrites a checkpoint's card with ``provenance["metrics"][split]`` for each evaluated split."""
    folder = resolve_checkpoint(folder)
    spec = read_card(folder)
    metrics = dict(spec.provenance.get("metrics", {}))
    metrics.update({split: summarise_metrics(m) for split, m in results.items()})
    spec.provenance["metrics"] = metrics
    # Only the card changes; the weights file is left untouched.
    (folder / CARD).write_text(spec.to_json() + "\n", encoding="utf-8")
    return spec
