"""Every speed figure of the project and the voice's held-out accuracy in one run: ``python -m benchmarks``
(about 4 minutes).

Prints, on the same machine and in this order:

1. warm chat-turn latency against its floor (``bench_turn``), with the app's serving threads
   (one torch thread per turn) and with torch's default threads;
2. batch classification throughput of a folder against the pure forward (``bench_batch``);
3. cold start to the first answer and peak RSS, default and with a BLIP-base-sized model, each in a
   fresh subprocess (``bench_cold``);
4. (classify + explain) / classify (``bench_explain``) and BLIP follow-up / first question
   (``bench_vqa``), each in a subprocess (they set their own thread counts);
6. per-photo classify cost on a mixed set of real uploads against a ResNet-18 forward
   (``bench_perception``, part 2);
7. memory of the inference processes: a one-photo classify process and the REST server after 30
   classify requests (``bench_memory``), each a fresh process;
8. the voice's facial states on the held-out labelled faces, and the landmarks' cost per face
   against the expression net's forward (``bench_states.summary``; the full table per landmark model
   is ``python -m benchmarks.bench_states``);

then a summary table with the targets (issues 9, 19 and 21). Exit code 1 when a target is missed. ``--quick`` runs fewer
repetitions (for a smoke test; the figures are noisier).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks import bench_batch, bench_cold, bench_memory, bench_perception, bench_states, bench_turn
from benchmarks.common import machine_line
from tools.device import serving_threads

ROOT = Path(__file__).resolve().parents[1]


def _section(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 90 - len(title)), flush=True)


def _subprocess(module: str, args: list[str]) -> str:
    """Runs ``python -m module args``, echoes its output and returns it."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    text = out.stdout + (out.stderr if out.returncode not in (0, 1) else "")
    print(text.rstrip(), flush=True)
    return text


def _share(totals: tuple[int, int]) -> float:
    right, scored = totals
    return right / scored if scored else float("nan")


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    return float(found.group(1)) if found else float("nan")


def main(argv: list[str] | None = None) -> int:
    """Runs every benchmark and prints the summary; exit code 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    args = parser.parse_args(argv)
    reps_turn, reps_cold, reps_explain, reps_vqa = (5, 1, 4, 2) if args.quick else (15, 3, 10, 3)
    start = time.perf_counter()
    print(f"python -m benchmarks: {machine_line()}")

    _section("1. warm chat turn vs its floor")
    default_threads = torch.get_num_threads()
    app_threads = serving_threads()  # the app and the terminal chat serve with this setting
    try:
        turn = bench_turn.run(reps_turn)
        print(f"\n  again with torch's default {default_threads} intra-op threads (library use):")
        torch.set_num_threads(default_threads)
        turn_default = bench_turn.run(reps_turn)
    finally:
        torch.set_num_threads(default_threads)

    _section("2. batch classification of a folder vs pure forward")
    batch = bench_batch.run(photos=32, batch_size=32, reps=3 if not args.quick else 1)

    _section("3. cold start and peak memory (fresh subprocesses)")
    cold = bench_cold.run(reps_cold, blip=True)

    _section("4. (classify + explain) / classify")
    explain_text = _subprocess("benchmarks.bench_explain", ["--reps", str(reps_explain)])
    explain_ratio = _number(r"default ([0-9.]+)", explain_text.splitlines()[-1] if explain_text else "")

    _section("5. BLIP follow-up / first question")
    vqa_text = _subprocess("benchmarks.bench_vqa", ["--repeats", str(reps_vqa)])
    vqa_ratio = _number(r"follow-up / first = ([0-9.]+)", vqa_text)

    _section("6. per-photo classify cost on a mixed set of real uploads")
    cost = bench_perception.per_photo_cost(2 if args.quick else 5)
    print(
        f"  {len(cost.rows)} photos: wall mean {cost.mean():.1f} ms ({cost.ratio():.2f}x a {cost.forward_ms:.2f} ms "
        f"forward), median {cost.median():.1f} ms; CPU mean {cost.mean(cpu=True):.1f} ms "
        f"({cost.ratio(cpu=True):.2f}x a {cost.forward_cpu_ms:.2f} ms one-thread forward), median "
        f"{cost.median(cpu=True):.1f} ms ({cost.ratio(cpu=True, stat='median'):.2f}x)"
    )

    _section("7. memory of the inference processes (fresh processes)")
    one = bench_memory.one_photo()
    server = bench_memory.rest_server(30)
    for name, facts in one.items():
        print(
            f"  one-photo classify ({name}): peak {facts['peak_mb']:.0f} MB, torch imported: {facts['torch']}"
        )
    print(
        f"  REST server: {server['rss_started_mb']:.0f} MB at start, {server['rss_after_mb']:.0f} MB after "
        f"{server['requests']} classify requests (peak {server['peak_mb']:.0f} MB), torch loaded: {server['torch']}"
    )
    one_peak = max(facts["peak_mb"] for facts in one.values())
    one_torch = any(facts["torch"] for facts in one.values())

    _section("8. facial states on held-out labelled faces, landmark cost per face")
    states = bench_states.summary(3 if args.quick else 10)
    for name, totals in (("held-out", states["heldout"]), ("held-out small", states["small"])):
        print(
            f"  voice ({states['model']}), {name}: "
            + ", ".join(f"{k} {_share(v):.1%}" for k, v in totals.items())
        )
    print("  eyes: " + ", ".join(f"{k} {_share(v):.1%}" for k, v in states["eyes"].items()))
    landmarks_ms, landmarks_ratio = states["cost"][0], states["cost"][1]
    print(f"  landmarks {landmarks_ms:.2f} ms per face, {landmarks_ratio:.2f}x an expression-net forward")

    rows = [
        (
            f"warm turn / floor (app: {app_threads} torch thread)",
            f"{turn.ratio:.3f}",
            "<= 2.0",
            turn.ratio <= 2.0,
        ),
        (f"warm turn / floor ({default_threads} torch threads)", f"{turn_default.ratio:.3f}", "", None),
        (
            "  warm turn, ms (app / default threads)",
            f"{turn.turn_ms:.1f} / {turn_default.turn_ms:.1f}",
            "",
            None,
        ),
        (
            "  floor, ms (app / default threads)",
            f"{turn.floor_ms:.1f} / {turn_default.floor_ms:.1f}",
            "",
            None,
        ),
        ("batch throughput / pure forward", f"{batch.ratio:.3f}", ">= 0.7", batch.ratio >= 0.7),
        (
            "  photos/s vs forward images/s",
            f"{batch.photos_per_s:.1f} vs {batch.forward_per_s:.0f}",
            "",
            None,
        ),
        ("cold start to first answer, s", f"{cold['cold_s']:.2f}", "<= 2.5", cold["cold_s"] <= 2.5),
        (
            "peak RSS offline defaults, MB",
            f"{cold['peak_rss_mb']:.0f}",
            "<= 1000",
            cold["peak_rss_mb"] <= 1000,
        ),
        (
            "peak RSS with BLIP-base-sized model, MB",
            f"{cold.get('peak_rss_blip_mb', float('nan')):.0f}",
            "",
            None,
        ),
        ("(classify + explain) / classify, CPU", f"{explain_ratio:.2f}", "<= 2.0", explain_ratio <= 2.0),
        ("BLIP follow-up / first", f"{vqa_ratio:.2f}", "<= 0.35", vqa_ratio <= 0.35),
        (
            "classify per photo / ResNet-18 fwd, mean, CPU",
            f"{cost.ratio(cpu=True):.2f}",
            "<= 2.5",
            cost.ratio(cpu=True) <= 2.5,
        ),
        (
            "  median CPU; mean / median wall",
            f"{cost.ratio(cpu=True, stat='median'):.2f}; {cost.ratio():.2f} / {cost.ratio(stat='median'):.2f}",
            "",
            None,
        ),
        (
            "one-photo classify process peak, MB",
            f"{one_peak:.0f}{' (torch)' if one_torch else ''}",
            "<= 350",
            one_peak <= 350 and not one_torch,
        ),
        (
            "REST server after 30 classify requests, MB",
            f"{server['rss_after_mb']:.0f}",
            "<= 450",
            server["rss_after_mb"] <= 450,
        ),
    ]
    for state, aim in bench_states.HELDOUT_AIM.items():
        share = _share(states["heldout"][state])
        rows.append((f"voice held-out: {state}", f"{share:.1%}", f">= {aim:.0%}", share >= aim))
    for state, aim in bench_states.SMALL_AIM.items():
        share = _share(states["small"][state])
        rows.append((f"voice held-out small: {state}", f"{share:.1%}", f">= {aim:.0%}", share >= aim))
    rows.append(
        (
            "  eyes lenient / 3-way; Qs open / closed / squint",
            f"{_share(states['eyes']['lenient']):.1%} / {_share(states['eyes']['three']):.1%}; "
            + " / ".join(
                f"{_share(states['eyes'][q]):.0%}"
                for q in ("Are her eyes open?", "Are her eyes closed?", "Is she squinting?")
            ),
            "",
            None,
        )
    )
    rows.append(
        (
            f"{states['model']} landmarks / expression forward",
            f"{landmarks_ratio:.2f}",
            f"<= {bench_states.COST_AIM:.1f}",
            landmarks_ratio <= bench_states.COST_AIM,
        )
    )
    _section("summary")
    print(f"  {'figure':44} {'value':>16} {'target':>8}")
    for name, value, target, ok in rows:
        verdict = "" if ok is None else ("OK" if ok else "MISSED")
        print(f"  {name:44} {value:>16} {target:>8} {verdict}")
    print(f"\n  total {time.perf_counter() - start:.0f} s; {machine_line()}")
    # The turn is judged as the app serves it; the default-threads row is for comparison.
    targets = [ok for _, _, _, ok in rows if ok is not None]
    return 0 if all(targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
