"""``python -m tools batch INPUT... --output OUT``: every face of many photos and videos, as Parquet rows."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``batch`` command."""
    parser = subparsers.add_parser(
        "batch",
        help="analyse many photos and videos into a Parquet table (this machine or a Ray cluster)",
        description=(
            "Reads the emotion of every face of many photos and videos and writes one row per face per "
            "photo and per analysed video frame to Parquet (path, kind, frame_t, face, track, label, "
            "confidence, probs, box, model, error). A file that cannot be analysed gets an error row "
            "and the run goes on. Results are written in chunks: after an interruption, run the same "
            "command with --resume to continue."
        ),
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="photos, videos, folders (recursive), globs, .txt/.lst files of paths, or URIs "
        "(file://, s3://, gs://)",
    )
    parser.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="OUT",
        help="a folder (a Parquet dataset, written in chunks) or a file ending in .parquet; local or a URI",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: worker threads on this machine (default); ray: Ray Data on a cluster",
    )
    parser.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="the Ray cluster to join (host:6379, ray://host:10001 or auto); without it --engine ray "
        "starts a cluster on this machine",
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=None,
        help="video frames to analyse per second (default: every frame, up to 30 a second)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run: skip inputs already in OUT"
    )
    parser.add_argument(
        "--model", default=None, help="a built-in model or a checkpoint folder (default: the offline default)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local engine: worker threads (default: one per core, up to 4)",
    )
    parser.add_argument(
        "--actors", type=int, default=None, help="ray engine: actors (default: one per CPU of the cluster)"
    )
    parser.add_argument(
        "--chunk-files",
        type=int,
        default=256,
        metavar="N",
        help="local engine: write a chunk of rows after every N files (or every minute); default 256",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Runs the batch and prints a one-line summary; Ctrl-C keeps what was written."""
    from tools.batch import run as run_batch

    try:
        result = run_batch(
            args.inputs,
            args.output,
            engine=args.engine,
            address=args.address,
            fps=args.fps,
            resume=args.resume,
            model=args.model,
            workers=args.workers,
            actors=args.actors,
            chunk_files=args.chunk_files,
        )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: what was finished is in {args.output}; run the same command with --resume "
            "to continue.",
            file=sys.stderr,
        )
        return 130
    for path in result.removed:
        print(f"note: removed {path}, a chunk file a killed run left unfinished.", file=sys.stderr)
    for path in result.late:
        print(
            f"note: {path} was written by a killed run after this one began; its rows that this run "
            "wrote again were taken out of it, so no file has two rows.",
            file=sys.stderr,
        )
    print(result.describe())
    return 0
