"""The project's checkpoint format: a folder with ``model.safetensors`` and ``model_card.json``.

Loading never unpickles anything: weights come from safetensors, the card from JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tools.errors import ModelUnavailableError
from tools.models.base import StagedNet
from tools.models.factory import build_model
from tools.models.spec import ModelSpec

__all__ = ["save_checkpoint", "load_checkpoint", "read_card", "resolve_checkpoint", "WEIGHTS", "CARD"]

WEIGHTS = "model.safetensors"
CARD = "model_card.json"


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder for a folder, or for a path to either of its two files."""
    path = Path(path).expanduser()
    if path.is_file() and path.name in (WEIGHTS, CARD):
        path = path.parent
    if not path.is_dir():
        raise ModelUnavailableError(
            f"No checkpoint at {path}: expected a folder holding {WEIGHTS} and {CARD} "
            "(as written by `python -m training.train`)."
        )
    for name in (WEIGHTS, CARD):
        if not (path / name).is_file():
            raise ModelUnavailableError(f"The checkpoint {path} has no {name}.")
    return path


def read_card(path: str | Path) -> ModelSpec:
    """Reads only the model card of a checkpoint."""
    folder = resolve_checkpoint(path)
    try:
        data = json.loads((folder / CARD).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelUnavailableError(f"{folder / CARD} is not a readable JSON model card: {exc}") from exc
    try:
        return ModelSpec.from_dict(data)
    except ModelUnavailableError as exc:
        raise ModelUnavailableError(f"{folder / CARD}: {exc}") from exc


def save_checkpoint(folder: str | Path, model: torch.nn.Module, spec: ModelSpec) -> Path:
    """Writes weights and card to ``folder`` (created if needed) and returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS), metadata={"format": "pt", "arch": spec.arch})
    (folder / CARD).write_text(spec.to_json() + "\n", encoding="utf-8")
    return folder


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[StagedNet, ModelSpec]:
    """Rebuilds the network from its card and loads its weights.

    Raises:
        ModelUnavailableError: naming the file and the problem, when anything is missing,
            corrupt or does not match the card.
    """
    folder = resolve_checkpoint(path)
    spec = read_card(folder)
    model = build_model(spec)
    try:
        state = load_file(str(folder / WEIGHTS), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelUnavailableError(f"{folder / WEIGHTS} is not a valid safetensors file: {exc}") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelUnavailableError(
            f"{folder / WEIGHTS} does not match its model card ({spec.arch}, {spec.num_classes} "
            f"classes): {first}"
        ) from exc
    return model.to(device).eval(), spec
