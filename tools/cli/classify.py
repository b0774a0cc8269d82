"""``python -m tools classify PATH [PATH ...]``: emotions of every face in files and folders."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.errors import InvalidImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".ppm", ".pgm"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``classify`` command."""
    parser = subparsers.add_parser("classify", help="classify the emotion of every face in images or folders")
    parser.add_argument("paths", nargs="+", type=Path, help="image files or folders (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--model",
        default=None,
        help="a built-in model (fer-mini-xception, faceapi-expression) or a checkpoint folder "
        "(default: the offline default model)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="faces per forward pass (default 32)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.set_defaults(handler=run)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given, plus the image files under each folder, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            )
        else:
            files.append(path)
    return files


def run(args: argparse.Namespace) -> int:
    """Classifies and prints; exit 1 when no input could be read at all."""
    from tools.classifier import EmotionClassifier

    files = expand(args.paths)
    if not files:
        raise InvalidImageError(
            "No image files found in the given paths (looked for " + ", ".join(sorted(IMAGE_SUFFIXES)) + ")."
        )
    classifier = EmotionClassifier.load(args.model, device=args.device)
    items = classifier.predict_many(
        files, batch_size=args.batch_size, progress=len(files) > 1 and sys.stderr.isatty()
    )
    if args.json:
        payload = [
            {
                "path": item.source,
                "faces": [p.to_dict() for p in sorted(item.predictions, key=lambda p: p.number)],
                "error": None
                if item.error is None
                else {"type": type(item.error).__name__, "message": str(item.error)},
            }
            for item in items
        ]
        print(json.dumps({"model": classifier.name, "results": payload}, indent=2))
    else:
        print(f"{'file':40} {'face':>4}  {'emotion':9} {'conf':>5}  {'runner-up':16} {'compound':28} box")
        for item in items:
            if item.error is not None:
                print(f"{_short(item.source):40} {'-':>4}  error: {item.error}")
                continue
            for p in sorted(item.predictions, key=lambda p: p.number):
                second, p2 = p.runner_up
                compound = p.compound.describe() if p.compound and p.compound.label else "-"
                print(
                    f"{_short(item.source):40} {p.number:>4}  {p.label:9} {p.confidence:5.2f}  "
                    f"{second + f' {p2:.2f}':16} {compound[:28]:28} {p.box}"
                )
    readable = sum(1 for item in items if item.error is None)
    if readable == 0:
        print(f"error: none of the {len(items)} inputs could be classified.", file=sys.stderr)
        return 1
    return 0


def _short(path: str, width: int = 40) -> str:
    return path if len(path) <= width else "..." + path[-(width - 3) :]
