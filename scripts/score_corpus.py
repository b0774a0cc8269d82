"""Scores the offline planner on the conversation corpus: ``python scripts/score_corpus.py [--failures]``.

Prints the share of turns right in the held-out and development parts (tools, arguments and answer
checks; see tests/corpus/README.md), and with ``--failures`` what went wrong in each failed turn.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["heldout", "dev", "both"], default="both")
    parser.add_argument("--failures", action="store_true", help="list the failed turns")
    args = parser.parse_args(argv)
    from tests.corpus.runner import CorpusRunner
    from tools.device import serving_threads

    serving_threads()
    runner = CorpusRunner()
    for split in ("heldout", "dev") if args.split == "both" else (args.split,):
        start = time.perf_counter()
        outcomes = runner.run(split)
        right = sum(o.ok for o in outcomes)
        conversations = len({o.conversation for o in outcomes})
        print(
            f"{split:8s} {right}/{len(outcomes)} turns right = {100 * right / len(outcomes):.1f}% "
            f"({conversations} conversations, {time.perf_counter() - start:.1f} s)"
        )
        if args.failures:
            for o in outcomes:
                if not o.ok:
                    print(f"  {o.conversation}#{o.index + 1} {o.say!r}: {'; '.join(o.problems)}")
                    print(f"      calls: {o.calls}")
                    print(f"      text: {o.text[:300]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
