"""``python -m tools video CLIP [--fps N] [--json] [--csv FILE]``: emotions of the faces of a video."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tools.errors import InvalidRequestError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``video`` command."""
    parser = subparsers.add_parser(
        "video",
        help="read the emotions of the faces of a video over time (tracks, timeline, summary)",
        description=(
            "Analyses a video (MP4, MOV, WebM, MKV, AVI or an animated GIF) frame by frame: faces are "
            "detected, tracked and classified, and the readings smoothed over time. Prints a per-second "
            "table and the story (each face's phases with times), or JSON (with the phases); --csv writes "
            "one row per face per frame."
        ),
    )
    parser.add_argument("clip", type=Path, help="the video file")
    parser.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frames to analyse per second of video (default: every frame, up to 30 a second)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--csv", type=Path, default=None, metavar="FILE", help="write per-frame rows as CSV")
    parser.add_argument(
        "--model", default=None, help="a checkpoint folder (default: the offline mini-Xception)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.set_defaults(handler=run)


def _progress_bar() -> tuple[Any, Any]:
    """A tqdm bar on stderr when it is a terminal, and the callback that advances it."""
    if not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(desc="frames", unit="frame", file=sys.stderr, leave=False)

    def advance(done: int, total: int | None) -> None:
        if total is not None and bar.total != max(total, done):
            bar.total = max(total, done)
        bar.update(done - bar.n)

    return bar, advance


def run(args: argparse.Namespace) -> int:
    """Analyses the clip and prints the table (or JSON); writes the CSV when asked."""
    from tools.classifier import EmotionClassifier
    from tools.device import serving_threads
    from tools.video import analyze_video, probe_video

    if args.fps is not None and not args.fps > 0:
        raise InvalidRequestError(f"--fps must be a positive number; got {args.fps}.")
    if args.csv is not None and args.csv.suffix.lower() != ".csv":
        raise InvalidRequestError(f"The CSV file {args.csv} must end in .csv.")
    probe_video(args.clip)  # a bad file fails before the model loads
    serving_threads()  # one torch thread: per-frame passes of a small model (docs/PERFORMANCE.md)
    classifier = EmotionClassifier.load(args.model, device=args.device)
    bar, advance = _progress_bar()
    try:
        result = analyze_video(args.clip, fps=args.fps, classifier=classifier, progress=advance, threads=None)
    finally:
        if bar is not None:
            bar.close()
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        args.csv.write_text(result.to_csv())
    if args.json:
        payload = result.to_dict()
        payload["csv"] = str(args.csv) if args.csv is not None else None
        print(json.dumps(payload, indent=2))
        return 0
    _print_table(result)
    if args.csv is not None:
        print(f"Per-frame rows written to {args.csv}.")
    return 0


def _print_table(result: Any) -> None:
    from tools.labels import display_name
    from tools.video import format_time

    print(
        f"{result.name}: {result.info.width}x{result.info.height}, {format_time(result.duration_s)}, "
        f"{len(result.frames)} frames analysed ({result.fps_analyzed:.1f}/s), model {result.model}"
    )
    print(f"{'time':>6}  faces (each second: the mean of its frames' single readings, not smoothed)")
    rows: dict[float, list[dict]] = {}
    for row in result.timeline():
        rows.setdefault(row["start"], []).append(row)
    for start, group in rows.items():
        cells = [
            f"face {r['track']}: {display_name(r['label'])} {r['probs'][r['label']]:.2f}"
            for r in group
            if r["track"] is not None
        ]
        print(f"{format_time(start):>6}  " + (" | ".join(cells) or "no face"))
    print()
    print(result.story())
