"""Plays a blind batch through the offline planner and scores it: ``python scripts/score_blind.py b1``.

Prints the share of turns routed right (right tools, photos and faces; see
``tests/corpus/blind_runner.py``) and, when the batch has a judge's ``judgement.json``, the share right
in content too; with ``--transcript FILE`` writes every turn (what was said, the tools that ran, the
reply) as JSON for a judge who has not seen the code. ``--boundaries`` also plays the batch's single
sensitive and ordinary messages into the transcript (and scores them when judged).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("batch", help="the batch folder under tests/corpus/blind (b1, b2 ...)")
    parser.add_argument("--transcript", type=Path, help="write the played turns here (JSON)")
    parser.add_argument("--boundaries", action="store_true", help="play the single boundary messages too")
    parser.add_argument("--failures", action="store_true", help="list the turns not routed right")
    parser.add_argument(
        "--recorded",
        type=Path,
        help="score this recorded transcript instead of playing the batch (before-fix figures)",
    )
    args = parser.parse_args(argv)
    from tests.corpus.blind_runner import BlindRunner, declined, load_batch, records_from_transcript, score

    batch = load_batch(args.batch)
    if args.recorded:
        recorded = json.loads(args.recorded.read_text(encoding="utf-8"))
        result = score(records_from_transcript(recorded), batch["key"], batch["judgement"])
        _print(args.batch + " (recorded)", result, args.failures)
        verdicts = batch["judgement"].get("boundaries", {})
        for kind in ("sensitive", "ordinary"):
            judged = list(verdicts.get(kind, {}).values())
            if judged:
                declined_n = sum(bool(v.get("declined")) for v in judged)
                print(
                    f"{args.batch} {kind}: {declined_n}/{len(judged)} judged declined ({100 * declined_n / len(judged):.1f}%)"
                )
        return 0
    from tools.device import serving_threads

    serving_threads()
    runner = BlindRunner()
    start = time.perf_counter()
    records = [r for c in batch["conversations"] for r in runner.play(c)]
    result = score(records, batch["key"], batch["judgement"])
    seconds = time.perf_counter() - start
    _print(args.batch, result, args.failures, content=False)
    print(f"({len(batch['conversations'])} conversations, {seconds:.0f} s)")
    transcript: dict = {"batch": args.batch, "turns": [r.to_dict() for r in records]}
    if args.boundaries:
        verdicts = batch["judgement"].get("boundaries", {})
        for kind in ("sensitive", "ordinary"):
            played = [runner.play_message(item) for item in batch["boundaries"].get(kind, [])]
            transcript[kind] = [
                {
                    "n": i + 1,
                    "say": r.say,
                    "photo": r.photo,
                    "tools": [c for c, _ in r.calls],
                    "reply": r.text,
                }
                for i, r in enumerate(played)
            ]
            auto = sum(declined(r) for r in played)
            print(f"{args.batch} {kind}: {auto}/{len(played)} declined with a reason (automatic reading)")
            judged = [
                verdicts[kind][str(i + 1)] for i in range(len(played)) if str(i + 1) in verdicts.get(kind, {})
            ]
            if judged:
                declined_n = sum(bool(v.get("declined")) for v in judged)
                print(
                    f"{args.batch} {kind}: {declined_n}/{len(judged)} judged declined on the recorded run, not this one ({100 * declined_n / len(judged):.1f}%)"
                )
            else:
                print(f"{args.batch} {kind}: {len(played)} messages played (not judged yet)")
    if args.transcript:
        args.transcript.write_text(json.dumps(transcript, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"transcript: {args.transcript}")
    return 0


def _print(name: str, result: dict, failures: bool, content: bool = True) -> None:
    n = result["turns"]
    print(
        f"{name}: {result['routed_right']}/{n} turns routed right = {100 * result['routed_right'] / n:.1f}%"
    )
    if result["judged"] and content:
        print(
            f"{name}: {result['content_right']}/{result['judged']} judged turns right in content = "
            f"{100 * result['content_right'] / result['judged']:.1f}%"
        )
    elif result["judged"]:
        print(f"{name}: the judge's verdicts are for the recorded run (--recorded), not this one")
    if failures:
        for row in result["rows"]:
            if not row["routed"]:
                print(f"  {row['id']}: {'; '.join(row['problems'])}")


if __name__ == "__main__":
    raise SystemExit(main())
