"""Train a ResNet-18 emotion model: ``python -m training.train [--preset smoke] [--config f.json] [--field value ...]``.

Reads top to bottom: configuration, distributed setup, data, model, optimiser, the epoch loop with
validation, checkpoints and early stopping, then the final evaluation and export.

Run folder ``<out_dir>/<name>/``: ``config.json``, ``history.jsonl`` (one line per epoch), ``tb/``
(TensorBoard), ``last/`` (the latest epoch: project checkpoint + ``train_state.pt`` for
``--resume``), ``best/`` (the export: the epoch with the best validation macro-F1, its card holding
dataset, metrics, config, epoch and score), ``eval/`` (metrics.json, confusion matrix, report.md)
and ``cache/`` (prepared face crops).

Under ``torchrun --nproc_per_node=N`` the same command trains with DDP (gloo on CPU, nccl on CUDA):
each process reads its share of every epoch through a ``DistributedSampler``; only rank 0
validates, logs and writes files, and tells the others whether to stop.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, WeightedRandomSampler

from tools.device import resolve_device
from tools.errors import FaceAgentError, InvalidRequestError, ModelUnavailableError
from tools.models.checkpoint import load_checkpoint
from tools.models.factory import build_model
from tools.models.resnet import imagenet_weights_path
from tools.models.spec import ModelSpec
from training.config import TrainConfig, parse_config
from training.datasets import LabelledDataset, Split, load_dataset
from training.evaluate import evaluate_prepared, write_reports
from training.export import export_checkpoint, summarise_metrics
from training.preprocess import PreparedSplit, prepare_split
from training.synthetic import make_synthetic_dataset
from training.transforms import ArrayDataset, build_batch_mix, build_train_transform

__all__ = ["TrainResult", "train", "main", "STATE_FILE"]

STATE_FILE = "train_state.pt"
_IMAGENET_MEAN, _IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        run_dir: the run folder.
        best_dir: the exported checkpoint (best validation macro-F1).
        last_dir: the latest-epoch checkpoint with the resume state.
        epochs_done: epochs completed so far (including those before a resume).
        best_epoch: the epoch exported to ``best_dir``.
        best_score: its validation macro-F1.
        metrics: final metrics per split (``test``, ``train``, ``val``); empty when interrupted.
        interrupted: True when ``stop_after_epoch`` ended the run early.
    """

    run_dir: Path
    best_dir: Path
    last_dir: Path
    epochs_done: int
    best_epoch: int
    best_score: float
    metrics: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False


# --- distributed ----------------------------------------------------------------------------------


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def _init_distributed(device_name: str) -> tuple[_Dist, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(), resolve_device(device_name)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return _Dist(rank, world, local_rank), device


def _log(ctx: _Dist, *parts: Any) -> None:
    if ctx.main:
        print(*parts, flush=True)


# --- randomness -----------------------------------------------------------------------------------


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    """All generator states as tensors and plain types (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "numpy_gauss": [int(np_state[3]), float(np_state[4])],
        "python": [int(py_state[0]), list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(
        ("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], *state["numpy_gauss"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- data -----------------------------------------------------------------------------------------


def _resolve_data(config: TrainConfig, ctx: _Dist) -> Path:
    if config.dataset == "synthetic":
        root = Path(config.data) if config.data else config.run_dir / "data"
        if ctx.main and not (root / "train").is_dir():
            make_synthetic_dataset(root, seed=config.seed)
            _log(ctx, f"generated the synthetic cartoon-face dataset in {root}")
        ctx.barrier()
        return root
    return Path(config.data)


def _stratified_holdout(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """(train, validation): ``fraction`` of each class (at least one image when it has two) held out."""
    rng = np.random.default_rng(seed)
    targets = np.asarray(split.targets)
    held: list[int] = []
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        take = min(len(members) - 1, max(1, round(fraction * len(members))))
        held.extend(rng.permutation(members)[:take].tolist())
    held_set = set(held)
    keep = [i for i in range(len(split)) if i not in held_set]
    return split.subset(keep), split.subset(sorted(held))


def _validation_split(data: LabelledDataset, config: TrainConfig) -> tuple[Split, Split, str]:
    """(train, validation, where the validation split came from)."""
    if "val" in data.splits and len(data.splits["val"]):
        return data.splits["train"], data.splits["val"], "the dataset's validation split"
    if config.val_fraction > 0:
        train, val = _stratified_holdout(data.splits["train"], config.val_fraction, config.seed)
        return train, val, f"{config.val_fraction:.0%} of train, held out per class"
    return (
        data.splits["train"],
        data.splits["test"],
        "the test split (val_fraction = 0: test figures are optimistic)",
    )


def _prepare_all(splits: dict[str, Split], config: TrainConfig, ctx: _Dist) -> dict[str, PreparedSplit]:
    cache_dir = config.run_dir / "cache" if config.cache else None
    prepared: dict[str, PreparedSplit] = {}
    # With a cache, rank 0 aligns once and the other processes read its files.
    order = [True, False] if cache_dir is not None and ctx.enabled else [None]
    for turn in order:
        if turn is None or (turn == ctx.main):
            for name, split in splits.items():
                prepared[name] = prepare_split(
                    split,
                    config.input_size,
                    config.alignment,
                    config.channels,
                    cache_dir=cache_dir,
                    name=name,
                    workers=config.workers,
                    progress=config.progress and ctx.main,
                )
        if turn is not None:
            ctx.barrier()
    return prepared


def _class_weights(targets: np.ndarray, num_classes: int) -> torch.Tensor:
    counts = np.bincount(targets, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 1.0)
    return torch.tensor(weights, dtype=torch.float32)


# --- model ----------------------------------------------------------------------------------------


def _imagenet_init(config: TrainConfig, ctx: _Dist) -> Path | bool:
    if config.pretrained == "false" or config.arch != "resnet18":
        if config.pretrained == "true":
            raise InvalidRequestError(f"No ImageNet weights exist for {config.arch}; use --pretrained false.")
        return False
    path = imagenet_weights_path()
    if path is not None:
        _log(ctx, f"initialising from ImageNet weights {path}")
        return path
    where = f"{torch.hub.get_dir()}/checkpoints/resnet18-f37072fd.pth"
    if config.pretrained == "true":
        raise ModelUnavailableError(
            f"ImageNet ResNet-18 weights are not on disk ({where}). Copy torchvision's resnet18-f37072fd.pth "
            "there, or train from scratch with --pretrained false (--from-scratch)."
        )
    _log(
        ctx,
        f"WARNING: ImageNet ResNet-18 weights not found at {where}; training from scratch. "
        "Expect lower accuracy; copy the weights there, or pass --pretrained false to silence this.",
    )
    return False


def _make_spec(config: TrainConfig, data: LabelledDataset) -> ModelSpec:
    gray = config.channels == 1
    return ModelSpec(
        name=config.name,
        arch=config.arch,
        labels=list(data.labels),
        label_set=data.label_set,
        input_size=config.input_size,
        channels=config.channels,
        mean=[0.5] if gray else list(_IMAGENET_MEAN),
        std=[0.5] if gray else list(_IMAGENET_STD),
        alignment=config.alignment,
        target_layer=_explained_layer(config.arch, config.input_size),
    )


def _explained_layer(arch: str, input_size: int) -> str:
    # The deepest stage whose map is still >= 7x7, so heatmaps tell the eyes from the mouth:
    # ResNet-18's layer4 is 4x4 at 112 px, layer3 7x7; the mini-Xception's block4 is 4x4 at 64 px.
    if arch == "resnet18":
        return "layer4" if input_size // 32 >= 7 else "layer3"
    return "block4" if input_size // 16 >= 7 else "block3"


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    # Norm layers and biases are not decayed: shrinking them only hurts.
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr_lambda(total_steps: int, warmup_steps: int, min_ratio: float):
    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


# --- checkpoints ----------------------------------------------------------------------------------


def _save_last(run_dir: Path, model: nn.Module, spec: ModelSpec, state: dict[str, Any]) -> None:
    last = run_dir / "last"
    export_checkpoint(
        last,
        model,
        spec,
        {"epoch": state["epoch"], "note": "latest epoch; resume state in train_state.pt"},
        graph=False,  # the resume state; serving uses best/ (its graph is written there)
    )
    tmp = last / (STATE_FILE + ".tmp")
    torch.save(state, tmp)
    tmp.replace(last / STATE_FILE)  # never leave a half-written state behind


def _load_last(run_dir: Path, spec: ModelSpec) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    last = run_dir / "last"
    if not (last / STATE_FILE).is_file():
        raise InvalidRequestError(
            f"Nothing to resume: {last / STATE_FILE} does not exist. Start without --resume."
        )
    model, saved = load_checkpoint(last)
    if (
        list(saved.labels) != list(spec.labels)
        or saved.input_size != spec.input_size
        or saved.arch != spec.arch
    ):
        raise InvalidRequestError(
            f"The run in {run_dir} was trained with other labels, input size or architecture; "
            "resume it with its own configuration (see its config.json) or choose another --name."
        )
    state = torch.load(last / STATE_FILE, map_location="cpu", weights_only=True)
    return model.state_dict(), state


# --- one epoch ------------------------------------------------------------------------------------


def _train_epoch(
    net: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    criterion: nn.Module,
    device: torch.device,
    config: TrainConfig,
    mix: Any,
    scaler: torch.amp.GradScaler | None,
    amp_dtype: torch.dtype | None,
    ctx: _Dist,
    epoch: int,
) -> dict[str, float]:
    net.train()
    total_loss, correct, seen = 0.0, 0, 0
    iterator: Any = loader
    if config.progress and ctx.main:
        from tqdm import tqdm

        iterator = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False)
    channels_last = config.channels_last and device.type == "cuda"
    for images, targets in iterator:
        images = images.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        hard = targets
        if mix is not None:
            images, targets = mix(images, targets)
        autocast = torch.autocast("cuda", dtype=amp_dtype) if amp_dtype is not None else nullcontext()
        with autocast:
            logits = net(images)
            loss = criterion(logits.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        total_loss += float(loss.detach()) * len(hard)
        correct += int((logits.detach().argmax(dim=1) == hard).sum())
        seen += len(hard)
        if hasattr(iterator, "set_postfix"):
            iterator.set_postfix(loss=f"{total_loss / seen:.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
    figures = torch.tensor([total_loss, correct, seen], dtype=torch.float64, device=device)
    if ctx.enabled:
        dist.all_reduce(figures)
    total_loss, correct, seen = figures.tolist()
    return {"loss": total_loss / max(seen, 1), "accuracy": correct / max(seen, 1)}


# --- the run --------------------------------------------------------------------------------------


def train(config: TrainConfig) -> TrainResult:
    """Runs one training as configured and returns where its outputs are.

    Raises:
        FaceAgentError subclasses: bad dataset, missing ImageNet weights when required, nothing to
            resume, unknown settings.
    """
    ctx, device = _init_distributed(config.device)
    try:
        return _train(config, ctx, device)
    finally:
        if ctx.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _train(config: TrainConfig, ctx: _Dist, device: torch.device) -> TrainResult:
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    if config.dataset != "synthetic" and not config.data:
        # Checked before the run folder is created, so a forgotten --data leaves nothing behind.
        raise InvalidRequestError(
            "No dataset given: pass --data with the dataset folder (or use --preset smoke)."
        )
    run_dir = config.run_dir
    if ctx.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
        if not config.resume:
            (run_dir / "history.jsonl").unlink(missing_ok=True)  # a fresh run starts a fresh history
    _log(
        ctx,
        f"training {config.name} on {device} ({ctx.world} process{'es' if ctx.enabled else ''})\n{config.describe()}",
    )
    _seed_everything(config.seed)

    # Data: read the layout, hold out validation, align faces once, wrap in loaders.
    data = load_dataset(config.dataset, _resolve_data(config, ctx), limit=config.limit)
    train_split, val_split, val_source = _validation_split(data, config)
    _log(ctx, data.summary())
    _log(ctx, f"validation (best epoch, early stopping): {val_source}, {len(val_split)} images")
    prepared = _prepare_all(
        {"train": train_split, "val": val_split, "test": data.splits["test"]}, config, ctx
    )
    fallbacks = {name: p.fallbacks for name, p in prepared.items()}
    if config.align != "none":
        _log(
            ctx,
            "no face found, plain resize instead: "
            + ", ".join(f"{k} {v}/{len(prepared[k])}" for k, v in fallbacks.items()),
        )

    spec = _make_spec(config, data)
    train_set = ArrayDataset(
        prepared["train"].images,
        prepared["train"].targets,
        build_train_transform(
            config.input_size, spec.mean, spec.std, config.augment, config.random_erasing, config.channels
        ),
    )
    balance = config.balance
    if balance == "sampler" and ctx.enabled:
        _log(
            ctx, "WARNING: balance=sampler is not available under DDP; using the class-weighted loss instead."
        )
        balance = "loss"
    if balance == "sampler":
        counts = np.bincount(prepared["train"].targets, minlength=spec.num_classes)
        sample_weights = 1.0 / counts[prepared["train"].targets]
        sampler: Any = WeightedRandomSampler(
            sample_weights.tolist(),
            len(train_set),
            replacement=True,
            generator=torch.Generator().manual_seed(config.seed),
        )
    else:
        sampler = DistributedSampler(
            train_set, num_replicas=ctx.world, rank=ctx.rank, shuffle=True, seed=config.seed
        )
    per_process = math.ceil(len(train_set) / ctx.world)
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        drop_last=per_process > config.batch_size,  # a last batch of 1 would break BatchNorm
        pin_memory=device.type == "cuda",
        persistent_workers=config.workers > 0,
    )

    # Model, loss, optimiser, schedule.
    model = build_model(spec, imagenet=_imagenet_init(config, ctx)).to(device)
    if config.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    weights = (
        _class_weights(prepared["train"].targets, spec.num_classes).to(device) if balance == "loss" else None
    )
    criterion = nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing)
    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr)
    steps_per_epoch = max(1, len(loader))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        _lr_lambda(
            config.epochs * steps_per_epoch,
            round(config.warmup_epochs * steps_per_epoch),
            config.min_lr_ratio,
        ),
    )
    amp_dtype = None
    if config.amp and device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    mix = build_batch_mix(spec.num_classes, config.mixup, config.cutmix)

    start_epoch, best_score, best_epoch, stale = 0, -1.0, 0, 0
    if config.resume:
        state_dict, state = _load_last(run_dir, spec)
        model.load_state_dict(state_dict)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        start_epoch, best_score, best_epoch, stale = (
            state["epoch"],
            state["best_score"],
            state["best_epoch"],
            state["stale"],
        )
        _set_rng_state(state["rng"])
        if ctx.rank:
            torch.manual_seed(
                config.seed + 1000 * start_epoch + ctx.rank
            )  # other ranks: fresh, distinct streams
        _log(
            ctx,
            f"resumed from {run_dir / 'last'} after epoch {start_epoch} (best macro-F1 {best_score:.4f} at epoch {best_epoch})",
        )
    elif ctx.rank:
        torch.manual_seed(config.seed + ctx.rank)  # distinct augmentations per process
    net: nn.Module = model
    if ctx.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if config.compile:
        net = torch.compile(net)

    writer = None
    if ctx.main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"))
    best_dir, last_dir = run_dir / "best", run_dir / "last"
    provenance_base = {
        "dataset": data.kind,
        "data_root": str(data.root),
        "trained_with": "python -m training.train",
        "pretrained": "imagenet" if config.pretrained != "false" and imagenet_weights_path() else "none",
        "config": config.to_dict(),
        "train_images": len(train_split),
        "val_images": len(val_split),
        "test_images": len(data.splits["test"]),
        "validation": val_source,
        "alignment_fallbacks": fallbacks,
        "world_size": ctx.world,
    }
    interrupted, epoch = False, start_epoch
    for epoch in range(start_epoch + 1, config.epochs + 1):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        else:
            sampler.generator.manual_seed(config.seed + epoch)
        started = time.perf_counter()
        figures = _train_epoch(
            net, loader, optimizer, scheduler, criterion, device, config, mix, scaler, amp_dtype, ctx, epoch
        )
        decision = torch.zeros(2, dtype=torch.float64, device=device)  # (validation macro-F1, stop?)
        if ctx.main:
            val = evaluate_prepared(model, prepared["val"], spec, device)
            improved = val["macro_f1"] > best_score
            if improved:
                best_score, best_epoch, stale = val["macro_f1"], epoch, 0
                export_checkpoint(
                    best_dir,
                    model,
                    spec,
                    {
                        **provenance_base,
                        "epoch": epoch,
                        "best_score": best_score,
                        "best_metric": "validation macro-F1",
                    },
                )
            else:
                stale += 1
            record = {
                "epoch": epoch,
                "train_loss": round(figures["loss"], 5),
                "train_accuracy": round(figures["accuracy"], 4),
                "val_accuracy": val["accuracy"],
                "val_macro_f1": val["macro_f1"],
                "lr": scheduler.get_last_lr()[0],
                "seconds": round(time.perf_counter() - started, 2),
            }
            with (run_dir / "history.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            assert writer is not None
            writer.add_scalar("train/loss", figures["loss"], epoch)
            writer.add_scalar("train/accuracy", figures["accuracy"], epoch)
            writer.add_scalar("val/accuracy", val["accuracy"], epoch)
            writer.add_scalar("val/macro_f1", val["macro_f1"], epoch)
            writer.add_scalar("lr", scheduler.get_last_lr()[0], epoch)
            writer.flush()
            _log(
                ctx,
                f"epoch {epoch}/{config.epochs}: loss {figures['loss']:.4f}, train acc {figures['accuracy']:.3f}, "
                f"val acc {val['accuracy']:.3f}, val macro-F1 {val['macro_f1']:.3f}{' *' if improved else ''} "
                f"({record['seconds']:.1f} s)",
            )
            state = {
                "epoch": epoch,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "best_score": best_score,
                "best_epoch": best_epoch,
                "stale": stale,
                "rng": _rng_state(),
            }
            if scaler is not None:
                state["scaler"] = scaler.state_dict()
            _save_last(run_dir, model, spec, state)
            stop = config.patience > 0 and stale >= config.patience
            if stop:
                _log(ctx, f"early stop: no better validation macro-F1 for {stale} epochs")
            decision[:] = torch.tensor([best_score, float(stop)], dtype=torch.float64)
        if ctx.enabled:
            dist.broadcast(decision, src=0)
        if decision[1] > 0:
            break
        if config.stop_after_epoch and epoch >= config.stop_after_epoch and epoch < config.epochs:
            interrupted = True
            _log(ctx, f"stopping after epoch {epoch} as asked (stop_after_epoch); continue with --resume")
            break

    result = TrainResult(run_dir, best_dir, last_dir, epoch, best_epoch, best_score, interrupted=interrupted)
    if ctx.main and not interrupted:
        result.metrics = _final_evaluation(best_dir, prepared, run_dir, data, device, fallbacks)
    if writer is not None:
        if result.metrics:
            writer.add_text("test/report", (run_dir / "eval" / "report.md").read_text(encoding="utf-8"))
        writer.close()
    ctx.barrier()
    return result


def _final_evaluation(
    best_dir: Path,
    prepared: dict[str, PreparedSplit],
    run_dir: Path,
    data: LabelledDataset,
    device: torch.device,
    fallbacks: dict[str, int],
) -> dict[str, Any]:
    """Evaluates the exported model on test, train and validation; reports and card metrics."""
    best, spec = load_checkpoint(best_dir, device=device)
    results = {
        name: evaluate_prepared(best, prepared[name], spec, device) for name in ("test", "train", "val")
    }
    notes = [
        f"Dataset: {data.kind} at {data.root}; alignment {spec.alignment}; "
        f"best epoch {spec.provenance.get('epoch')} by {spec.provenance.get('validation')}."
    ]
    if any(fallbacks.values()):
        notes.append(
            "No face found (plain resize instead of alignment): "
            + ", ".join(f"{k} {v}" for k, v in fallbacks.items())
        )
    write_reports(run_dir / "eval", spec, results, notes)
    export_checkpoint(
        best_dir, best, spec, {"metrics": {name: summarise_metrics(m) for name, m in results.items()}}
    )
    test, train = results["test"], results["train"]
    print(
        f"test: accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}; "
        f"train: accuracy {train['accuracy']:.4f} (gap {100 * (train['accuracy'] - test['accuracy']):.1f} points)",
        flush=True,
    )
    print(f"exported {best_dir}; reports in {run_dir / 'eval'}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of ``python -m training.train``."""
    try:
        train(parse_config(argv))
    except FaceAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
