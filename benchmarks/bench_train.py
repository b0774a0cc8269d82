"""Training throughput: images/second of ResNet-18 training steps.

    python -m benchmarks.bench_train [--steps 5] [--batch-size 32] [--device auto]

Two figures: ResNet-18 at 112 px (the RAF-DB configuration) on random data, and the smoke preset's
model (48 px) through the real augmentation pipeline on the generated cartoon faces. Each runs one
warm-up step, then times a few optimiser steps (forward, backward, AdamW). The ratio between the two
shows what the input size costs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from tools.device import resolve_device
from tools.models.factory import build_model
from tools.models.spec import ModelSpec
from training.config import PRESETS
from training.datasets import load_dataset
from training.preprocess import prepare_split
from training.synthetic import make_synthetic_dataset
from training.transforms import ArrayDataset, build_train_transform

__all__ = ["bench_random", "bench_smoke", "main"]


def _steps(
    model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], device: torch.device, amp: bool
) -> float:
    """Images per second over ``batches`` after one warm-up step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    model.train()
    use_amp = amp and device.type == "cuda"

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = criterion(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step(*batches[0])
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for x, y in batches[1:]:
        step(x, y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return sum(len(y) for _, y in batches[1:]) / seconds


def bench_random(size: int = 112, batch_size: int = 32, steps: int = 5, device: str = "auto") -> float:
    """Training images/second of ResNet-18 (7 classes) at ``size`` px on random data."""
    dev = resolve_device(device)
    spec = ModelSpec(name="bench", arch="resnet18", labels=[str(i) for i in range(7)], input_size=size)
    model = build_model(spec).to(dev)
    batches = [
        (torch.randn(batch_size, 3, size, size), torch.randint(0, 7, (batch_size,))) for _ in range(steps + 1)
    ]
    return _steps(model, batches, dev, amp=True)


def bench_smoke(batch_size: int = 32, steps: int = 5, device: str = "auto") -> float:
    """Training images/second of the smoke preset (48 px, augmentation included) on generated data."""
    dev = resolve_device(device)
    preset = PRESETS["smoke"]
    size = preset["input_size"]
    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic_dataset(Path(tmp), train_per_class=16, test_per_class=1, seed=0)
        data = load_dataset("folder", root)
        prepared = prepare_split(data.splits["train"], size, {"method": "none"})
    spec = ModelSpec(name="bench", arch="resnet18", labels=data.labels, input_size=size)
    dataset = ArrayDataset(
        prepared.images,
        prepared.targets,
        build_train_transform(size, spec.mean, spec.std, preset["augment"], preset["random_erasing"]),
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    batches: list[tuple[torch.Tensor, torch.Tensor]] = []
    started = time.perf_counter()
    while len(batches) < steps + 1:
        batches.extend(loader)
    augment_rate = sum(len(y) for _, y in batches) / (time.perf_counter() - started)
    batches = batches[: steps + 1]
    train_rate = _steps(build_model(spec).to(dev), batches, dev, amp=True)
    # Loading and stepping alternate in one process: combine the two rates like serial stages.
    return 1.0 / (1.0 / train_rate + 1.0 / augment_rate)


def main(argv: list[str] | None = None) -> int:
    """Prints training images/second for both set-ups and their ratio."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(
        f"device: {device}, torch threads: {torch.get_num_threads()}, batch {args.batch_size}, {args.steps} timed steps"
    )
    at_112 = bench_random(112, args.batch_size, args.steps, args.device)
    print(f"ResNet-18 112 px, random data: {at_112:8.1f} training images/s")
    smoke = bench_smoke(args.batch_size, args.steps, args.device)
    print(f"smoke preset 48 px, augmented: {smoke:8.1f} training images/s")
    print(f"ratio smoke / 112 px: {smoke / at_112:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
