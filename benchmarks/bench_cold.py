"""Cold start and peak memory of the app process, each measured in a fresh Python subprocess.

    python -m benchmarks.bench_cold [--reps 3] [--no-blip]

Cold start: seconds from launching a fresh interpreter to the first answer of
``ChatSession("offline").send(QUESTION, image=photo)`` with the offline defaults (imports, model
loading, the first turn). The photo reaches the child through its stdin, in memory.

Peak memory: the child's peak resident set size (``VmHWM``; ``ru_maxrss`` where there is no /proc) after that first answer and five
more turns on new photos; and the same with a BLIP-VQA-base-sized model (``BlipConfig()`` defaults,
random weights built in the child: the real weights cannot be downloaded here, and the memory does
not depend on their values) answering the question instead of the landmark geometry.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import QUESTION, astronaut_variants

ROOT = Path(__file__).resolve().parents[1]
COLD_TARGET_S = 2.5
RSS_TARGET_MB = 1000.0

_CHILD = """
import json, pickle, resource, sys, time
born = time.time()


def peak_mb():
    # VmHWM: this process's own high-water mark. ru_maxrss would be no lower than the RSS of the
    # process that launched it (Linux carries it over fork and exec).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


photos = pickle.loads(sys.stdin.buffer.read())
from agent import ChatSession
imported = time.time()
session = ChatSession("offline")
blip = {blip}
if blip:
    from benchmarks.bench_vqa import build_base_blip
    from tools.blip import BlipVQA
    from tools.vqa import FaceQA
    model, processor = build_base_blip()
    engine = BlipVQA.from_model(model, processor, model_id="bench-blip-base", device="cpu", max_new_tokens=5)
    del model
    # The session's tool context is where the tools find their question answerer.
    session._context.qa = FaceQA(blip=engine, classifier=session._context.get_classifier())
reply = session.send({question!r}, image=photos[0])
answered = time.time()
assert not reply.error and "answer_question" in reply.tool_calls, reply
backend = next(r.artifact.get("backend") for r in reply.results if r.tool == "answer_question")
for photo in photos[1:]:
    session.send({question!r}, image=photo)
heavy = [m for m in ("pytorch_grad_cam", "torchvision", "transformers", "sklearn") if m in sys.modules]
print(json.dumps({{
    "born": born, "imported": imported, "answered": answered, "backend": backend, "heavy": heavy,
    "peak_rss_mb": peak_mb(), "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}}))
"""


@dataclass
class ChildRun:
    """One subprocess: when it started, imported, answered, and its peak RSS."""

    cold_s: float
    import_s: float
    first_turn_s: float
    startup_s: float
    peak_rss_mb: float
    backend: str
    heavy: list[str]


def child(blip: bool = False, turns: int = 6) -> ChildRun:
    """Runs the app in a fresh interpreter and reads its timings and peak memory."""
    import pickle

    photos = astronaut_variants(turns)
    script = _CHILD.format(blip=blip, question=QUESTION)
    launched = time.time()
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(photos),
        cwd=ROOT,
        capture_output=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the app subprocess failed:\n{out.stderr.decode()[-3000:]}")
    facts = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return ChildRun(
        cold_s=facts["answered"] - launched,
        import_s=facts["imported"] - facts["born"],
        first_turn_s=facts["answered"] - facts["imported"],
        startup_s=facts["born"] - launched,
        peak_rss_mb=facts["peak_rss_mb"],
        backend=facts["backend"],
        heavy=facts["heavy"],
    )


def run(reps: int = 3, blip: bool = True, verbose: bool = True) -> dict[str, float]:
    """Cold start (median of ``reps`` fresh processes) and peak RSS, default and with BLIP-base."""
    runs = [child() for _ in range(reps)]
    cold = statistics.median(r.cold_s for r in runs)
    rss = max(r.peak_rss_mb for r in runs)
    figures = {"cold_s": cold, "peak_rss_mb": rss}
    if verbose:
        middle = sorted(runs, key=lambda r: r.cold_s)[len(runs) // 2]
        print(f"cold start, fresh process to the first answer, offline defaults, median of {reps}:")
        print(
            f"  {cold:.2f} s = interpreter start {middle.startup_s:.2f} s + import agent {middle.import_s:.2f} s"
            f" + first turn (models load, lazy imports) {middle.first_turn_s:.2f} s  "
            f"[all: {', '.join(f'{r.cold_s:.2f}' for r in runs)}]"
        )
        print(f"  heavy modules loaded: {', '.join(middle.heavy) or 'none'} (answerer: {middle.backend})")
        verdict = "OK" if cold <= COLD_TARGET_S else "MISSED"
        print(f"  cold start {cold:.2f} s (target <= {COLD_TARGET_S:g} s) {verdict}")
        verdict = "OK" if rss <= RSS_TARGET_MB else "MISSED"
        print(
            f"peak RSS, offline defaults (6 turns on new photos): {rss:.0f} MB (target <= {RSS_TARGET_MB:g} MB) {verdict}"
        )
    if blip:
        with_blip = child(blip=True)
        figures["peak_rss_blip_mb"] = with_blip.peak_rss_mb
        if verbose:
            print(
                f"peak RSS with a BLIP-VQA-base-sized model answering ({with_blip.backend}, 6 turns): "
                f"{with_blip.peak_rss_mb:.0f} MB"
            )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; exit code 1 when a target is missed."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_cold", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--reps", type=int, default=3, help="fresh processes for the cold start (default 3)")
    parser.add_argument("--no-blip", action="store_true", help="skip the BLIP-base memory run")
    args = parser.parse_args(argv)
    figures = run(args.reps, blip=not args.no_blip)
    ok = figures["cold_s"] <= COLD_TARGET_S and figures["peak_rss_mb"] <= RSS_TARGET_MB
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
