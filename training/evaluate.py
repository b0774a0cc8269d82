"""Evaluate a checkpoint on a dataset: figures, confusion matrix, report, metrics in the card.

    python -m training.evaluate --checkpoint runs/rafdb_basic/best --data /data/RAF-DB

writes, into ``--out`` (default ``<checkpoint>/../eval``): ``metrics.json`` (per split: accuracy,
macro-F1, per-class precision/recall/F1/support, confusion matrix), ``confusion_matrix.png`` and
``confusion_matrix.csv`` (test split), and ``report.md`` with the train/test gap. ``--update-card``
also writes the figures into the checkpoint's model card (``provenance["metrics"]``).

Images are prepared exactly as the card says (input size, channels, alignment), the way the
classifier prepares them at inference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tools.errors import FaceAgentError
from tools.models.checkpoint import load_checkpoint
from tools.models.spec import ModelSpec
from training.datasets import DATASET_KINDS, DatasetError, LabelledDataset, load_dataset
from training.export import update_card_metrics
from training.preprocess import PreparedSplit, prepare_split
from training.report import (
    compute_metrics,
    markdown_report,
    write_confusion_csv,
    write_confusion_png,
    write_metrics_json,
)

__all__ = [
    "predict_probs",
    "evaluate_prepared",
    "write_reports",
    "evaluate_checkpoint",
    "align_labels",
    "main",
]


@torch.inference_mode()
def predict_probs(
    model: torch.nn.Module,
    images: np.ndarray,
    spec: ModelSpec,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
) -> np.ndarray:
    """Class probabilities (N, K) for prepared uint8 crops (N, S, S, C), normalised like the classifier."""
    device = torch.device(device)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size])).to(device)
        x = (batch.permute(0, 3, 1, 2).float() / 255.0 - mean) / std
        out.append(torch.softmax(model(x).float(), dim=1).cpu().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, spec.num_classes), np.float32)


def evaluate_prepared(
    model: torch.nn.Module,
    prepared: PreparedSplit,
    spec: ModelSpec,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
) -> dict[str, Any]:
    """``compute_metrics`` of the model on one prepared split."""
    probs = predict_probs(model, prepared.images, spec, device, batch_size)
    predictions = probs.argmax(axis=1) if len(probs) else np.zeros(0, np.int64)
    return compute_metrics(prepared.targets, predictions, list(spec.labels))


def write_reports(
    out_dir: str | Path, spec: ModelSpec, results: dict[str, dict[str, Any]], notes: list[str] | None = None
) -> dict[str, Path]:
    """Writes metrics.json, confusion_matrix.png/.csv (test split, else the first) and report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    main_split = "test" if "test" in results else next(iter(results))
    labels = list(spec.labels)
    matrix = results[main_split]["confusion"]
    paths = {
        "metrics": write_metrics_json(
            out / "metrics.json", {"model": spec.name, "labels": labels, **results}
        ),
        "confusion_csv": write_confusion_csv(out / "confusion_matrix.csv", matrix, labels),
        "confusion_png": write_confusion_png(
            out / "confusion_matrix.png", matrix, labels, f"{spec.name} - {main_split}"
        ),
    }
    report = out / "report.md"
    report.write_text(markdown_report(spec.name, labels, results, notes), encoding="utf-8")
    paths["report"] = report
    return paths


def align_labels(dataset: LabelledDataset, spec: ModelSpec) -> LabelledDataset:
    """Re-indexes the dataset's targets into the card's label order (names must match).

    Raises:
        DatasetError: when the dataset has a class the model does not know.
    """
    if list(dataset.labels) == list(spec.labels):
        return dataset
    unknown = [label for label in dataset.labels if label not in spec.labels]
    if unknown:
        raise DatasetError(
            f"The dataset has class(es) {', '.join(unknown)} that the model ({', '.join(spec.labels)}) does not know."
        )
    remap = [spec.labels.index(label) for label in dataset.labels]
    for split in dataset.splits.values():
        split.targets = [remap[t] for t in split.targets]
    dataset.labels = list(spec.labels)
    return dataset


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: str | Path,
    dataset: str = "auto",
    splits: tuple[str, ...] = ("test", "train"),
    out: str | Path | None = None,
    limit: int = 0,
    update_card: bool = False,
    device: str = "auto",
    workers: int = 0,
    batch_size: int = 128,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluates a project checkpoint and writes the reports.

    Args:
        checkpoint: the checkpoint folder.
        data: the dataset folder (or FER-2013 CSV).
        dataset: its layout (``auto`` guesses).
        splits: which splits to evaluate (those the dataset lacks are skipped).
        out: report folder; ``<checkpoint>/../eval`` by default.
        limit: at most this many images per split (0 = all).
        update_card: also write the figures into the checkpoint's model card.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        workers: processes for face alignment.
        batch_size: images per forward pass.
        cache_dir: folder for prepared-crop cache files (None = memory only).

    Returns:
        ``{"results": {split: metrics}, "paths": {...}, "fallbacks": {split: n}}``.
    """
    from tools.device import resolve_device

    dev = resolve_device(device)
    model, spec = load_checkpoint(checkpoint, device=dev)
    labelled = align_labels(load_dataset(dataset, data, limit=limit), spec)
    results: dict[str, dict[str, Any]] = {}
    fallbacks: dict[str, int] = {}
    for split in splits:
        if split not in labelled.splits:
            continue
        prepared = prepare_split(
            labelled.splits[split],
            spec.input_size,
            spec.alignment,
            spec.channels,
            cache_dir=cache_dir,
            name=split,
            workers=workers,
        )
        fallbacks[split] = prepared.fallbacks
        results[split] = evaluate_prepared(model, prepared, spec, dev, batch_size)
    if not results:
        raise DatasetError(f"The dataset has none of the splits {', '.join(splits)}.")
    out_dir = Path(out) if out else Path(checkpoint).resolve().parent / "eval"
    notes = [f"Dataset: {labelled.kind} at {labelled.root}; alignment {spec.alignment}."]
    if any(fallbacks.values()):
        notes.append(
            "No face found (plain resize instead of alignment): "
            + ", ".join(f"{k} {v}" for k, v in fallbacks.items())
        )
    paths = write_reports(out_dir, spec, results, notes)
    if update_card:
        update_card_metrics(checkpoint, results)
    return {"results": results, "paths": paths, "fallbacks": fallbacks}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of ``python -m training.evaluate``."""
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate", description="Evaluate an emotion checkpoint."
    )
    parser.add_argument(
        "--checkpoint", required=True, help="checkpoint folder (model.safetensors + model_card.json)"
    )
    parser.add_argument("--data", required=True, help="dataset folder or fer2013.csv")
    parser.add_argument("--dataset", default="auto", choices=DATASET_KINDS)
    parser.add_argument("--splits", default="test,train", help="comma-separated splits (default test,train)")
    parser.add_argument("--out", help="report folder (default <checkpoint>/../eval)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many images per split")
    parser.add_argument("--update-card", action="store_true", help="write the metrics into the model card")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=0, help="processes for face alignment")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    try:
        summary = evaluate_checkpoint(
            args.checkpoint,
            args.data,
            dataset=args.dataset,
            splits=tuple(s.strip() for s in args.splits.split(",") if s.strip()),
            out=args.out,
            limit=args.limit,
            update_card=args.update_card,
            device=args.device,
            workers=args.workers,
            batch_size=args.batch_size,
        )
    except FaceAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for split, m in summary["results"].items():
        print(f"{split}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} ({m['count']} images)")
    print(f"reports in {summary['paths']['report'].parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
