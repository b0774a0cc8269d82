"""A network made of named stages run in order.

Splitting a classifier into stages lets the explainer keep the activation of the stage it explains
from the classification forward pass and later back-propagate only through the stages after it
(``forward_from``), instead of running the whole network again.
"""

from __future__ import annotations

import torch
from torch import nn

from tools.errors import InvalidRequestError

__all__ = ["StagedNet"]


class StagedNet(nn.Module):
    """Runs ``self.stages`` (an ordered ``nn.ModuleDict``) one after the other.

    The last stage must produce the logits. Subclasses fill ``stages`` in ``__init__``.
    """

    stages: nn.ModuleDict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages.values():
            x = stage(x)
        return x

    @property
    def stage_names(self) -> list[str]:
        """Names of the stages in the order they run."""
        return list(self.stages.keys())

    def _index(self, name: str) -> int:
        names = self.stage_names
        if name not in names:
            raise InvalidRequestError(f"Unknown layer {name!r}; this network has {', '.join(names)}.")
        return names.index(name)

    def forward_until(self, x: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Runs the whole network and also returns the output of stage ``name``.

        Returns:
            (activation of ``name``, logits).
        """
        stop = self._index(name)
        activation = None
        for i, stage in enumerate(self.stages.values()):
            x = stage(x)
            if i == stop:
                activation = x
        assert activation is not None
        return activation, x

    def forward_from(self, activation: torch.Tensor, name: str) -> torch.Tensor:
        """Runs the stages after ``name`` on that stage's output and returns the logits."""
        start = self._index(name)
        x = activation
        for stage in list(self.stages.values())[start + 1 :]:
            x = stage(x)
        return x
