"""Strict device choice: ``auto`` takes what is there; naming a missing device is an error.

And torch's thread settings, applied without importing torch: inference runs in ONNX Runtime, and a
process that never needs torch never loads it (``serving_threads`` takes effect when it does).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tools.errors import ModelUnavailableError

if TYPE_CHECKING:
    import torch

__all__ = ["resolve_device", "serving_threads", "limit_torch_threads", "import_torch"]

_PENDING_THREADS: int | None = None  # a serving_threads setting made before torch was imported


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turns ``auto``/``cpu``/``cuda[:N]``/``mps`` into a device that exists (imports torch).

    Raises:
        ModelUnavailableError: when the named device is not available on this machine.
    """
    torch = import_torch()
    name = str(device).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelUnavailableError("CUDA was asked for but no CUDA GPU is available; use device='cpu'.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelUnavailableError("MPS was asked for but is not available here; use device='cpu'.")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ModelUnavailableError(f"Unknown device {device!r}; use auto, cpu, cuda or mps.") from exc


def serving_threads(threads: int | None = None) -> int:
    """Sets torch's intra-op threads for serving chat turns and returns the number set (applied when
    torch is imported, if it is not yet: serving usually never needs it).

    A chat turn runs three small models in short-lived tool threads; each would start its own
    OpenMP team, which costs more than a 64 px forward gains from a second core (measured: 6-8 ms a
    turn on 2 cores). Serving processes (the app, the terminal chat) therefore use 1 thread per
    request and get their parallelism from concurrent sessions. ``FACE_AGENT_TORCH_THREADS``
    overrides; training and the library's functional API keep torch's default.
    """
    import os

    global _PENDING_THREADS
    if threads is None:
        value = os.environ.get("FACE_AGENT_TORCH_THREADS", "1").strip()
        threads = int(value) if value.isdigit() and int(value) > 0 else 1
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
        _PENDING_THREADS = None
    else:
        _PENDING_THREADS = threads
    return threads


def import_torch() -> Any:
    """torch, imported now if it was not, with a pending ``serving_threads`` setting applied. Code
    that loads torch on demand (the explainer, BLIP, a torch network) imports it through this."""
    global _PENDING_THREADS
    import torch

    threads, _PENDING_THREADS = _PENDING_THREADS, None
    if threads is not None:
        torch.set_num_threads(threads)
    return torch


def limit_torch_threads(threads: int | None) -> Callable[[], None]:
    """Sets torch's intra-op threads to ``threads`` when torch is imported (nothing otherwise, or
    when ``threads`` is None); returns the function that restores the previous setting."""
    torch_module = sys.modules.get("torch")
    if not threads or torch_module is None:
        return lambda: None
    before = torch_module.get_num_threads()
    torch_module.set_num_threads(int(threads))
    return lambda: torch_module.set_num_threads(before)
