"""Augmentation and normalisation, and the in-memory dataset the loaders read.

Training sees random crops, flips, colour changes, TrivialAugment/RandAugment and random erasing,
because the seed model (99% train, 52% test) showed how fast ResNet-18 memorises small face sets.
Evaluation (``training.evaluate.predict_probs``) sees the prepared crop unchanged, normalised
exactly as the classifier normalises.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

__all__ = ["AUGMENTS", "ArrayDataset", "build_train_transform", "build_batch_mix"]

AUGMENTS = ("none", "light", "trivial", "randaugment")


def _normalise(mean: list[float], std: list[float]) -> list[Callable]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]


def build_train_transform(
    size: int,
    mean: list[float],
    std: list[float],
    augment: str = "trivial",
    random_erasing: float = 0.25,
    channels: int = 3,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The training augmentation for uint8 (C, S, S) crops.

    Args:
        size: crop side.
        mean: per-channel mean.
        std: per-channel std.
        augment: ``none`` (normalise only), ``light`` (crop, flip, jitter), ``trivial``
            (light + TrivialAugmentWide) or ``randaugment`` (light + RandAugment).
        random_erasing: probability of erasing a random patch (0 = off).
        channels: 3 or 1 (gray images get no saturation/hue jitter).
    """
    if augment not in AUGMENTS:
        raise ValueError(f"Unknown augment {augment!r}; use one of {', '.join(AUGMENTS)}.")
    steps: list[Callable] = []
    if augment != "none":
        jitter = v2.ColorJitter(0.3, 0.3, 0.2, 0.02) if channels == 3 else v2.ColorJitter(0.3, 0.3)
        steps += [
            # Faces are already aligned: mild scale and shift only, so the framing stays the classifier's.
            v2.RandomResizedCrop(size, scale=(0.8, 1.0), ratio=(0.9, 1.1), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.RandomAffine(degrees=10)], p=0.3),
            v2.RandomApply([jitter], p=0.8),
        ]
        if augment == "trivial":
            steps.append(v2.TrivialAugmentWide())
        elif augment == "randaugment":
            steps.append(v2.RandAugment(num_ops=2, magnitude=9))
    steps += _normalise(mean, std)
    if augment != "none" and random_erasing > 0:
        steps.append(v2.RandomErasing(p=random_erasing, scale=(0.02, 0.2), value=0))
    return v2.Compose(steps)


def build_batch_mix(num_classes: int, mixup: float = 0.0, cutmix: float = 0.0) -> Callable | None:
    """MixUp and/or CutMix on whole batches (soft targets), or None when both are off."""
    options = []
    if mixup > 0:
        options.append(v2.MixUp(alpha=mixup, num_classes=num_classes))
    if cutmix > 0:
        options.append(v2.CutMix(alpha=cutmix, num_classes=num_classes))
    if not options:
        return None
    return options[0] if len(options) == 1 else v2.RandomChoice(options)


class ArrayDataset(Dataset):
    """Prepared uint8 crops (N, S, S, C) with targets, transformed on access."""

    def __init__(
        self, images: np.ndarray, targets: np.ndarray, transform: Callable[[torch.Tensor], torch.Tensor]
    ):
        self.images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
        self.targets = torch.as_tensor(targets, dtype=torch.int64)
        self.transform = transform

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(self.images[index]), self.targets[index]
