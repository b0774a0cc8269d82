"""The project's checkpoint format: a folder with ``model.safetensors`` and ``model_card.json``,
and ``model.onnx`` when the network exports faithfully (``training`` writes it).

Loading never unpickles anything: weights come from safetensors, the card from JSON. The graph
lets a checkpoint serve without torch: ``read_card`` and ``checkpoint_graph`` need none, and the
graph records the sha256 of the weights it was made from, so a graph left beside retrained weights
is not used.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.errors import ModelUnavailableError
from tools.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch

    from tools.models.base import StagedNet

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "read_card",
    "resolve_checkpoint",
    "checkpoint_graph",
    "write_graph",
    "WEIGHTS",
    "CARD",
    "GRAPH",
]

WEIGHTS = "model.safetensors"
CARD = "model_card.json"
GRAPH = "model.onnx"

log = logging.getLogger(__name__)


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
    """Writes weights and card to ``folder`` (created if needed) and returns it (a ``model.onnx``
    already there is removed: it was made from other weights; see ``write_graph``)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    (folder / GRAPH).unlink(missing_ok=True)
    save_file(state, str(folder / WEIGHTS), metadata={"format": "pt", "arch": spec.arch})
    (folder / CARD).write_text(spec.to_json() + "\n", encoding="utf-8")
    return folder


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[StagedNet, ModelSpec]:
    """Rebuilds the network from its card and loads its weights (imports torch).

    Raises:
        ModelUnavailableError: naming the file and the problem, when anything is missing,
            corrupt or does not match the card.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from tools.models.factory import build_model

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


def _weights_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    with (folder / WEIGHTS).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_graph(folder: str | Path, model: torch.nn.Module, spec: ModelSpec) -> Path | None:
    """Writes ``model.onnx`` (the classification pass, see ``tools.models.onnx_export``) beside a
    checkpoint's weights, if ONNX Runtime reproduces the network's outputs; returns its path, or
    None when the network does not export faithfully (it then serves in torch).
    """
    import copy

    from tools.models.onnx_export import check_classifier_graph, classifier_graph

    folder = resolve_checkpoint(folder)
    (folder / GRAPH).unlink(missing_ok=True)
    network = copy.deepcopy(model).to("cpu").eval()
    try:
        graph = classifier_graph(network, spec, {"weights_sha256": _weights_sha256(folder)})
        faithful = check_classifier_graph(graph, network, spec)
    except Exception as exc:  # noqa: BLE001 - an op the exporter or ONNX Runtime lacks: torch serves it
        log.warning("no ONNX graph for %s: %s", folder, exc)
        return None
    if not faithful:
        log.warning("no ONNX graph for %s: ONNX Runtime does not reproduce the network's outputs", folder)
        return None
    tmp = folder / (GRAPH + ".tmp")
    tmp.write_bytes(graph)
    tmp.replace(folder / GRAPH)
    return folder / GRAPH


def checkpoint_graph(path: str | Path, threads: int = 1) -> Any | None:
    """An ONNX Runtime session on the checkpoint's ``model.onnx`` when that graph was made from
    these weights for this card; None otherwise (no graph, or a stale one: the checkpoint then
    loads in torch). Needs no torch."""
    from tools.models.graphs import metadata, session

    folder = resolve_checkpoint(path)
    file = folder / GRAPH
    if not file.is_file():
        return None
    try:
        runtime = session(file, threads)
    except ModelUnavailableError as exc:
        log.warning("ignoring %s: %s", file, exc)
        return None
    spec = read_card(folder)
    expected = {
        "weights_sha256": _weights_sha256(folder),
        "target_layer": spec.target_layer,
        "input_size": str(spec.input_size),
    }
    meta = metadata(runtime)
    stale = [key for key, value in expected.items() if meta.get(key) != value]
    if stale:
        log.warning("ignoring %s: it does not match the checkpoint (%s)", file, ", ".join(stale))
        return None
    return runtime
