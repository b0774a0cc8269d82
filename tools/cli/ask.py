"""``python -m tools ask PATH "question"`` and ``python -m tools describe PATH``: questions about a face."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.vqa import Answer, FaceQA


# Kept literal (tools.vqa.BACKENDS, tools.landmarks.LANDMARK_MODELS) so that building the parser does
# not import torch and dlib.
BACKENDS = ("auto", "geometry", "blip")
LANDMARK_MODELS = ("faceapi", "faceapi-tiny", "facemesh", "facemesh-base", "dlib")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="the image file")
    parser.add_argument(
        "--face",
        type=int,
        default=None,
        help="which face: its number in reading order (left to right, then top to bottom), as "
        "`classify` prints it; the most prominent face when omitted",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="auto (BLIP when its weights are here, else geometry), geometry or blip; "
        "default: $FACE_AGENT_VQA_BACKEND or auto",
    )
    parser.add_argument(
        "--blip-model", default=None, help="BLIP hub id or local folder (default: $FACE_AGENT_BLIP_MODEL)"
    )
    parser.add_argument(
        "--allow-download",
        action="store_true",
        help="allow downloading BLIP's weights (~1.5 GB) if they are missing",
    )
    parser.add_argument(
        "--landmarks",
        choices=LANDMARK_MODELS,
        default=None,
        help="the landmark model the geometry measures (default: $FACE_AGENT_LANDMARKS or facemesh)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (for BLIP)")
    parser.add_argument("--json", action="store_true", help="print the answer with its evidence as JSON")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``ask`` and ``describe`` commands."""
    ask = subparsers.add_parser(
        "ask", help="answer a question about a face (mouth, teeth, eyes, brows, head pose, emotion)"
    )
    _common(ask)
    ask.add_argument("question", help='the question, e.g. "Is the mouth open?"')
    ask.set_defaults(handler=run_ask)
    describe = subparsers.add_parser(
        "describe", help="describe the eyes, mouth, teeth, brows and head pose of a face"
    )
    _common(describe)
    describe.set_defaults(handler=run_describe)


def _faceqa(args: argparse.Namespace) -> FaceQA:
    from tools.vqa import FaceQA

    return FaceQA(
        backend=args.backend,
        blip_model=args.blip_model,
        allow_download=args.allow_download or None,
        device=args.device,
        landmarks=args.landmarks,
    )


def _print(answer: Answer, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({"path": str(args.path), **answer.to_dict()}, indent=2))
    else:
        print(answer.text)
    return 0


def run_ask(args: argparse.Namespace) -> int:
    """Answers the question and prints the answer."""
    return _print(_faceqa(args).ask(args.path, args.question, face=args.face), args)


def run_describe(args: argparse.Namespace) -> int:
    """Prints a short description of the face."""
    return _print(_faceqa(args).describe(args.path, face=args.face), args)
