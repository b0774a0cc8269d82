"""``python -m training train|evaluate ...``: the same as ``python -m training.train`` / ``.evaluate``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatches to the train or evaluate command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("train", "evaluate"):
        print(
            "usage: python -m training {train,evaluate} [options]  (add --help after the command)",
            file=sys.stderr,
        )
        return 2
    if args[0] == "train":
        from training.train import main as run
    else:
        from training.evaluate import main as run
    return run(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
