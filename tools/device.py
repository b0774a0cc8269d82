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
