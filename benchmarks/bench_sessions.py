"""Memory of many chat sessions with large photos: peak RSS of one process, answers checked.

    python -m benchmarks.bench_sessions [--sessions 8] [--photos 20] [--budget-mb 256]

Each session (a ``ChatSession`` on the offline planner, in its own thread, all at once) adds
``--photos`` different 16 MP JPEGs (``benchmarks.common.large_photo``: the astronaut or Grace Hopper
on a random backdrop, ~1 MB each) and asks about each one. Every answer is checked: the astronaut
reads happy with her lips parted, Grace Hopper neutral with her mouth closed. The work runs in a
fresh subprocess whose peak resident set size (``VmHWM``) is the figure; the target is under 2.5 GB
for 8 sessions x 20 photos (before the pixel budget of ``tools.pixels``, such a session held ~1 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What emotion is this? Is the mouth open?"
EXPECTED = {"astronaut": ("**happy**", "slightly open"), "grace_hopper": ("**neutral**", "mouth is closed")}
TARGET_MB = 2500.0


def peak_mb() -> float:
    """This process's own high-water mark of resident memory (``ru_maxrss`` would include its parent's)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_photos(folder: Path, sessions: int, photos: int) -> list[list[tuple[Path, str]]]:
    """Writes ``sessions`` x ``photos`` different 16 MP JPEGs; returns (path, face name) per session."""
    from benchmarks.common import large_photo

    plan = []
    for s in range(sessions):
        row = []
        for p in range(photos):
            seed = 1000 + s * photos + p
            data, name = large_photo(seed)
            path = folder / f"s{s:02d}_p{p:02d}_{name}.jpg"
            path.write_bytes(data)
            row.append((path, name))
        plan.append(row)
    return plan


def _label(text: str) -> str | None:
    match = re.search(r"reads \*\*([^*]+)\*\*", text)
    return match.group(1) if match else None


def child(folder: Path, reference: bool = False) -> dict:
    """The measured process: warm up, then run every session concurrently; returns the figures.

    Args:
        folder: the photos.
        reference: afterwards, also answer every photo alone with the plain API (no other sessions,
            nothing evicted) and count the session answers that differ from those.
    """
    from tools.device import serving_threads

    serving_threads()
    from agent import ChatSession
    from benchmarks.common import astronaut_variants
    from tools.pixels import default_budget

    warm = ChatSession("offline")
    warm.send(QUESTION, image=astronaut_variants(1)[0])
    del warm
    baseline = rss_mb()
    plans: dict[int, list[Path]] = {}
    for path in sorted(folder.glob("s*_p*.jpg")):
        plans.setdefault(int(path.name[1:3]), []).append(path)
    wrong: list[str] = []
    errors: list[str] = []
    answers: dict[str, str] = {}
    sessions: list = []  # kept alive until measured: their photos are what must stay small
    sampled = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            sampled.append(rss_mb())

    def run(paths: list[Path]) -> None:
        try:
            session = ChatSession("offline")
            sessions.append(session)
            for path in paths:
                face = "astronaut" if "astronaut" in path.name else "grace_hopper"
                session.add_image(path.read_bytes(), path.name)
                reply = session.send(QUESTION)
                answers[path.name] = reply.text
                if not all(word in reply.text for word in EXPECTED[face]):
                    wrong.append(f"{path.name}: {reply.text[:200]!r}")
            # A follow-up about the first photo, answered from its cached analysis.
            reply = session.send("What emotion was in the first photo?")
            first = "astronaut" if "astronaut" in paths[0].name else "grace_hopper"
            if EXPECTED[first][0] not in reply.text:
                wrong.append(f"follow-up on {paths[0].name}: {reply.text[:200]!r}")
        except Exception as exc:  # noqa: BLE001  # reported with the figures, not lost in a thread
            errors.append(f"{type(exc).__name__}: {exc}")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(paths,)) for paths in plans.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    held = rss_mb()
    peak = peak_mb()
    photos = sum(len(p) for p in plans.values())
    differ: list[str] = []
    if reference:
        from tools import ask, classify

        for paths in plans.values():
            for path in paths:
                data = path.read_bytes()
                label = classify(data)[0].label
                mouth = ask(data, "Is the mouth open?").text
                text = answers.get(path.name, "")
                if _label(text) != label or mouth not in text:
                    differ.append(f"{path.name}: alone {label} / {mouth!r}; in a session {text[:160]!r}")
    return {
        "sessions": len(plans),
        "photos": photos,
        "answers": photos + len(plans),
        "wrong": wrong,
        "errors": errors,
        "differ_from_alone": differ if reference else None,
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(peak, 1),
        "max_sampled_rss_mb": round(max(sampled), 1),
        "held_rss_mb": round(held, 1),
        "held_photos": sum(len(s.store) for s in sessions),
        "seconds": round(elapsed, 1),
        "budget": default_budget().stats().to_dict(),
    }


def measure(
    sessions: int,
    photos: int,
    budget_mb: int | None = None,
    folder: Path | None = None,
    reference: bool = False,
) -> dict:
    """Generates the photos (here) and runs the sessions in a fresh subprocess; returns its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        where = folder or Path(tmp)
        make_photos(where, sessions, photos)
        env = dict(os.environ)
        if budget_mb is not None:
            env["FACE_AGENT_PIXEL_BUDGET_MB"] = str(budget_mb)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_sessions",
                "--child",
                str(where),
                *(["--reference"] if reference else []),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"the sessions process failed:\n{out.stderr[-4000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--photos", type=int, default=20, help="16 MP photos per session")
    parser.add_argument("--budget-mb", type=int, default=None, help="FACE_AGENT_PIXEL_BUDGET_MB for the run")
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip answering every photo alone afterwards (the check that sessions changed no answer)",
    )
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.reference)))
        return 0
    result = measure(args.sessions, args.photos, args.budget_mb, reference=not args.no_reference)
    print(json.dumps(result, indent=2))
    differ = result["differ_from_alone"] or []
    ok = not result["wrong"] and not result["errors"] and not differ and result["peak_rss_mb"] < TARGET_MB
    print(
        f"{result['sessions']} sessions x {args.photos} photos of 16 MP: peak RSS {result['peak_rss_mb']:.0f} MB "
        f"(target < {TARGET_MB:.0f}; {result['baseline_rss_mb']:.0f} MB after warm-up, "
        f"{result['held_rss_mb']:.0f} MB holding all {result['held_photos']} photos), "
        f"{len(result['wrong'])} of {result['answers']} answers wrong against the photo's truth, "
        f"{len(differ)} different from the photo answered alone, {result['seconds']:.0f} s: "
        f"{'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
