"""Metrics and reports: accuracy, macro-F1, per-class figures, confusion matrix, markdown.

Accuracy alone hides what matters on RAF-DB-like data (some RAF-CE classes have single-digit test
counts), so every report puts macro-F1 and per-class recall next to it, and the train/test gap.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "confusion_matrix",
    "compute_metrics",
    "write_confusion_csv",
    "write_confusion_png",
    "write_metrics_json",
    "markdown_report",
]


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(true, predicted) counts as a ``num_classes`` square int64 matrix."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(targets, dtype=np.int64), np.asarray(predictions, dtype=np.int64)), 1)
    return matrix


def compute_metrics(targets: np.ndarray, predictions: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support.

    Classes absent from both ``targets`` and ``predictions`` are left out of the macro average
    (their F1 is undefined), and reported with ``null`` figures.

    Returns:
        A JSON-ready dict: ``accuracy``, ``macro_f1``, ``macro_recall``, ``count``,
        ``per_class`` ({label: {precision, recall, f1, support}}) and ``confusion`` (rows = truth).
    """
    matrix = confusion_matrix(targets, predictions, len(labels))
    true_pos = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    per_class: dict[str, dict[str, Any]] = {}
    f1s, recalls = [], []
    for i, label in enumerate(labels):
        precision = true_pos[i] / predicted[i] if predicted[i] else 0.0
        recall = true_pos[i] / support[i] if support[i] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        present = bool(support[i] or predicted[i])
        per_class[label] = {
            "precision": round(float(precision), 4) if present else None,
            "recall": round(float(recall), 4) if support[i] else None,
            "f1": round(float(f1), 4) if present else None,
            "support": int(support[i]),
        }
        if present:
            f1s.append(f1)
        if support[i]:
            recalls.append(recall)
    count = int(matrix.sum())
    return {
        "accuracy": round(float(true_pos.sum() / count), 4) if count else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "macro_recall": round(float(np.mean(recalls)), 4) if recalls else 0.0,
        "count": count,
        "per_class": per_class,
        "confusion": matrix.tolist(),
    }


def write_confusion_csv(path: str | Path, matrix: np.ndarray | list, labels: list[str]) -> Path:
    """The confusion matrix as CSV: header ``true\\predicted, <labels>``, one row per true class."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true\\predicted", *labels])
        for label, row in zip(labels, np.asarray(matrix).tolist()):
            writer.writerow([label, *row])
    return path


def write_confusion_png(
    path: str | Path, matrix: np.ndarray | list, labels: list[str], title: str = ""
) -> Path:
    """A row-normalised confusion matrix heat map with the raw counts written in each cell."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix, dtype=np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=np.float64), where=rows > 0)
    n = len(labels)
    side = max(4.0, 0.6 * n + 2.5)
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), [label.replace("_", " ") for label in labels], rotation=45, ha="right")
    ax.set_yticks(range(n), [label.replace("_", " ") for label in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(counts[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if share[i, j] > 0.5 else "black",
            )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_metrics_json(path: str | Path, metrics: dict[str, Any]) -> Path:
    """Writes metrics as indented JSON."""
    path = Path(path)
    path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return path


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def markdown_report(
    name: str, labels: list[str], results: dict[str, dict[str, Any]], notes: list[str] | None = None
) -> str:
    """A short markdown report: headline figures per split, the train/test gap, per-class table.

    Args:
        name: model name for the title.
        labels: class names.
        results: ``{split: compute_metrics(...)}``; ``test`` is detailed per class.
        notes: extra lines (dataset, alignment fallbacks ...).
    """
    lines = [f"# Evaluation of {name}", ""]
    lines += ["| split | images | accuracy | macro-F1 | macro recall |", "|---|---|---|---|---|"]
    for split, m in results.items():
        lines.append(
            f"| {split} | {m['count']} | {_pct(m['accuracy'])} | {_pct(m['macro_f1'])} | {_pct(m['macro_recall'])} |"
        )
    if "train" in results and "test" in results:
        gap = results["train"]["accuracy"] - results["test"]["accuracy"]
        f1_gap = results["train"]["macro_f1"] - results["test"]["macro_f1"]
        verdict = (
            "large: the model memorises the training set"
            if gap > 0.15
            else "moderate"
            if gap > 0.05
            else "small"
        )
        lines += [
            "",
            f"Train/test gap: {100 * gap:.1f} points accuracy, {100 * f1_gap:.1f} points macro-F1 ({verdict}).",
        ]
    main = results.get("test") or next(iter(results.values()))
    lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label in labels:
        c = main["per_class"][label]
        lines.append(
            f"| {label.replace('_', ' ')} | {_pct(c['precision'])} | {_pct(c['recall'])} | {_pct(c['f1'])} | {c['support']} |"
        )
    small = [label for label in labels if 0 < main["per_class"][label]["support"] < 10]
    if small:
        lines += ["", f"Fewer than 10 test images for: {', '.join(small)}; their figures are noisy."]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
