"""Strict device choice: ``auto`` takes what is there; naming a missing device is an error."""

from __future__ import annotations

import torch

from tools.errors import ModelUnavailableError

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turns ``auto``/``cpu``/``cuda[:N]``/``mps`` into a device that exists.

    Raises:
        ModelUnavailableError: when the named device is not available on this machine.
    """
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
    """Sets torch's intra-op threads for serving chat turns and returns the number set.

    A chat turn runs three small models in short-lived tool threads; each would start its own
    OpenMP team, which costs more than a 64 px forward gains from a second core (measured: 6-8 ms a
    turn on 2 cores). Serving processes (the app, the terminal chat) therefore use 1 thread per
    request and get their parallelism from concurrent sessions. ``FACE_AGENT_TORCH_THREADS``
    overrides; training and the library's functional API keep torch's default.
    """
    import os

    if threads is None:
        value = os.environ.get("FACE_AGENT_TORCH_THREADS", "1").strip()
        threads = int(value) if value.isdigit() and int(value) > 0 else 1
    torch.set_num_threads(threads)
    return threads
