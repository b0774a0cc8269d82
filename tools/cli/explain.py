"""``python -m tools explain PATH -o out.png``: why the model read a face the way it did."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tools.errors import InvalidRequestError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``explain`` command."""
    parser = subparsers.add_parser(
        "explain",
        help="explain an emotion prediction: heatmap PNG, facial regions and a faithfulness figure",
        description=(
            "Explains the emotion read on one face of an image with a CAM heatmap (Grad-CAM by default), "
            "says which facial regions hold the heat and how faithful the heatmap is, and writes the "
            "heatmap over the face (or over the whole photo with --full) as a PNG."
        ),
    )
    parser.add_argument("path", type=Path, nargs="?", help="an image file")
    parser.add_argument("-o", "--output", type=Path, default=None, help="where to write the overlay PNG")
    parser.add_argument("--target", default=None, help="the emotion to explain (default: the predicted one)")
    parser.add_argument(
        "--versus", default=None, help="contrast with this emotion ('why TARGET rather than VERSUS')"
    )
    parser.add_argument(
        "--method", default="gradcam", help="CAM method (default gradcam); see --list-methods"
    )
    parser.add_argument(
        "--face",
        type=int,
        default=None,
        help="which face: its number in reading order (left to right, then top to bottom), as "
        "`classify` prints it; the most prominent face when omitted",
    )
    parser.add_argument(
        "--full", action="store_true", help="write the heat over the whole photo, not the face crop"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a paragraph")
    parser.add_argument(
        "--model",
        default=None,
        help="a built-in model (fer-mini-xception, faceapi-expression) or a checkpoint folder "
        "(default: the offline default model)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--list-methods", action="store_true", help="print the available methods and exit")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Explains, writes the PNG when asked, prints the summary (or JSON)."""
    from tools.classifier import EmotionClassifier
    from tools.explainer import METHODS, Explainer, resolve_method

    if args.list_methods:
        print("\n".join(METHODS))
        return 0
    if args.path is None:
        raise InvalidRequestError("Give the image to explain: python -m tools explain PATH [-o out.png].")
    resolve_method(args.method)  # fail on a typo before loading anything
    if args.output is not None and args.output.suffix.lower() != ".png":
        raise InvalidRequestError(f"The output {args.output} must end in .png.")
    classifier = EmotionClassifier.load(args.model, device=args.device)
    explanation = Explainer(classifier).explain(
        args.path, target=args.target, method=args.method, face=args.face, versus=args.versus
    )
    if args.output is not None:
        png = explanation.full_overlay_png() if args.full else explanation.overlay_png
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_bytes(png)
    if args.json:
        payload = {"path": str(args.path), "model": classifier.name, **explanation.to_dict()}
        payload["output"] = str(args.output) if args.output is not None else None
        print(json.dumps(payload, indent=2))
    else:
        print(explanation.summary())
        if args.output is not None:
            print(f"Heatmap written to {args.output}.")
    return 0
