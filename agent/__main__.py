"""Terminal chat about a photo: ``python -m agent --image face.jpg [--ask "..."] [--model ...]``.

Without ``--ask`` it reads questions line by line until an empty line, ``quit`` or end of input.
Heatmaps and photos annotated with numbered faces stay in memory unless ``--save-heatmaps DIR`` asks
for them to be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent", description="Chat about the faces in a photo.")
    parser.add_argument("--image", action="append", default=[], help="a photo (repeat for several)")
    parser.add_argument(
        "--ask", action="append", default=[], help="a question; answers and exits (repeatable)"
    )
    parser.add_argument(
        "--model",
        default=None,
        help="chat model: 'offline' (default unless FACE_AGENT_CHAT_MODEL is set), 'ollama:llama3.1', "
        "'openai:gpt-4o-mini', or an OpenAI-compatible server URL",
    )
    parser.add_argument("--base-url", default=None, help="provider address (llama.cpp, vLLM, remote Ollama)")
    parser.add_argument(
        "--classifier",
        default=None,
        help="emotion model: 'default', a built-in one (fer-mini-xception, faceapi-expression) "
        "or a checkpoint folder",
    )
    parser.add_argument(
        "--send-images", action="store_true", help="let a configured chat model see the photo"
    )
    parser.add_argument(
        "--save-heatmaps",
        type=Path,
        default=None,
        help="write the heatmaps and annotated photos (PNG) to this folder",
    )
    parser.add_argument("--verbose", action="store_true", help="show tool calls as they run")
    return parser


def _print_reply(reply, save_dir: Path | None, turn: int) -> None:
    for notice in reply.notices:
        print(f"[notice] {notice}")
    if reply.tool_calls:
        print(f"[tools] {', '.join(reply.tool_calls)}")
    print(reply.text)
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        for i, png in enumerate(reply.images, start=1):
            path = save_dir / f"image_{turn}_{i}.png"
            path.write_bytes(png)
            print(f"[image] {path}")
    elif reply.images:
        print(
            f"[{len(reply.images)} image(s) made (heatmaps, numbered faces); pass --save-heatmaps DIR to write them]"
        )


def main(argv: list[str] | None = None) -> int:
    """Runs the terminal chat; returns the exit status."""
    args = _parser().parse_args(argv)
    from tools.device import serving_threads

    serving_threads()  # one torch thread per turn, as the app serves
    from agent.session import ChatSession
    from agent.settings import AgentSettings
    from tools.errors import FaceAgentError

    settings = AgentSettings.from_env()
    changes: dict[str, object] = {"send_images": args.send_images or settings.send_images}
    if args.base_url:
        changes["base_url"] = args.base_url
    if args.classifier:
        changes["classifier"] = args.classifier
    settings = settings.with_(**changes)
    try:
        session = ChatSession(model=args.model, settings=settings)
        for image in args.image:
            print(f"[photo] {session.add_image(image)}: {image}")
    except FaceAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[model] {session.model_name}")

    def show(kind: str, name: str, payload: object) -> None:
        if args.verbose and kind == "tool_start":
            print(f"  ... {name}({payload})")

    turn = 0
    questions = iter(args.ask) if args.ask else None
    while True:
        if questions is not None:
            text = next(questions, None)
            if text is None:
                return 0
            print(f"> {text}")
        else:
            try:
                text = input("> ").strip()
            except EOFError:
                return 0
            if not text or text.lower() in {"quit", "exit", ":q"}:
                return 0
        turn += 1
        _print_reply(session.send(text, on_event=show), args.save_heatmaps, turn)


if __name__ == "__main__":
    sys.exit(main())
