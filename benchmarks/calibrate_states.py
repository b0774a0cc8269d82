"""Sets the voice's thresholds for one landmark model on the development faces (never the held-out ones).

    python -m benchmarks.calibrate_states [--models dlib,faceapi,faceapi-tiny,facemesh] [--states eyes]

For each landmark model it measures the dev faces of ``tests/data/face_states.csv`` at full size and
downscaled to 40-58 px wide (as ``bench_states`` scores them), then sets each threshold of
``tools.geometry.THRESHOLDS`` in turn to the value that makes ``tools.geometry.read`` agree with the
labels most often on the state it decides (two rounds over all thresholds, in the order of
``PLAN``). Ties are broken by the widest margin: the middle of the longest run of best values on a
fine grid; where that run reaches the end of the grid (no dev face beyond it, as for wide eyes or
raised brows, which the dev part barely has) the threshold is put a few steps past the last dev face.
It prints each model's table, to be copied into ``tools/geometry.py``. ``--states`` fits only the
thresholds of some states and keeps the others as ``THRESHOLDS`` has them.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.bench_states import SMALL_RANGE, Reader, small_width
from benchmarks.photos import state_faces

# threshold -> (state it decides, grid start, stop, step). The order is the fitting order: teeth
# before the mouth (visible teeth part the lips), the smile before the eyes (a smiling face has its
# own narrowed-eye threshold).
PLAN: dict[str, tuple[str, float, float, float]] = {
    "TEETH_AREA": ("teeth", 0.0, 0.08, 0.0005),
    "MOUTH_PARTED_GAP": ("mouth", 0.0, 0.3, 0.0025),
    "MOUTH_OPEN_GAP": ("mouth", 0.1, 0.6, 0.005),
    "SMILE_WIDTH_WEIGHT": ("smile", 0.0, 1.0, 0.05),
    "SMILE_SCORE": ("smile", -0.2, 0.3, 0.0025),
    "SMILE_MIN_LIFT": ("smile", -0.3, 0.1, 0.005),
    "EYE_CLOSED_EAR": ("eyes", 0.0, 0.3, 0.0025),
    "EYE_NARROWED": ("eyes", 0.0, 0.45, 0.0025),
    "EYE_SMILE_NARROWED": ("eyes", 0.0, 0.45, 0.0025),
    "EYE_WIDE_EAR": ("eyes", 0.2, 0.7, 0.005),
    "BROW_RAISED": ("brows", 0.2, 0.8, 0.005),
    "BROW_LOWERED": ("brows", 0.0, 0.5, 0.005),
    "BROW_TOGETHER_GAP": ("brows_together", 0.0, 0.8, 0.005),
    "BROW_TOGETHER_INNER": ("brows_together", -0.2, 0.4, 0.005),
    "YAW_TURNED": ("head", 5.0, 60.0, 0.5),
    "ROLL_TILTED": ("head", 3.0, 40.0, 0.5),
    "PITCH_OFFSET": ("head", -20.0, 20.0, 0.5),
    "PITCH_UP": ("head", 3.0, 40.0, 0.5),
    "PITCH_DOWN": ("head", 3.0, 40.0, 0.5),
}
# A weight and the threshold on the score it weighs are fitted together: for each weight on its
# grid, the best threshold.
PAIRS = {"SMILE_WIDTH_WEIGHT": "SMILE_SCORE"}
# Beyond the last dev face, by this many grid steps, where the dev part has no face past a threshold.
END_MARGIN_STEPS = 4
ROUNDS = 2


def dev_rows(model: str, reader: Reader | None = None) -> list[tuple[dict, dict[str, str]]]:
    """(measurements, labels) of every dev face at full size and downscaled to 40-58 px."""
    reader = reader or Reader()
    rows = []
    for face in state_faces("dev"):
        scales = [1.0]
        if face.width > SMALL_RANGE[1]:
            scales.append(small_width(face) / face.width)
        for scale in scales:
            measured = reader.geometry(face, model, scale)
            if measured is not None:
                rows.append((measured, face.labels))
    return rows


def accuracy(
    rows: list[tuple[dict, dict[str, str]]], model: str, limits: dict[str, float], state: str
) -> float:
    """The share of the rows with a definite label for ``state`` that ``read`` gets right."""
    from tools.geometry import FaceGeometry, label_words, read

    right = scored = 0
    for measured, labels in rows:
        if labels[state] == "unsure":
            continue
        scored += 1
        words = label_words(read(FaceGeometry(**measured), model, limits))
        right += words.get(state) == labels[state]
    return right / scored if scored else 0.0


def _best(grid: np.ndarray, score: Callable[[float], float]) -> float:
    values = np.array([score(float(v)) for v in grid])
    best = values.max()
    hits = np.flatnonzero(np.isclose(values, best))
    # The longest run of consecutive grid points with the best score.
    runs, start = [], hits[0]
    for previous, current in itertools.pairwise(hits):
        if current != previous + 1:
            runs.append((start, previous))
            start = current
    runs.append((start, hits[-1]))
    lo, hi = max(runs, key=lambda r: r[1] - r[0])
    if hi == len(grid) - 1 and lo > 0:
        return float(grid[min(lo + END_MARGIN_STEPS, hi)])
    if lo == 0 and hi < len(grid) - 1:
        return float(grid[max(hi - END_MARGIN_STEPS, lo)])
    return float(grid[(lo + hi) // 2])


# Typical values of a resting face: the median over the dev faces labelled so (used when the
# classifier's reading makes a state likely; see tools/vqa.py, "one face, one story").
TYPICAL = {
    "BROW_TYPICAL": ("brow_height", "brows", "neutral"),
    "EAR_TYPICAL": ("ear_mean", "eyes", "open"),
    "BROW_GAP_TYPICAL": ("brow_inner_gap", "brows_together", "no"),
}


def typical(rows: list[tuple[dict, dict[str, str]]]) -> dict[str, float]:
    """The medians of ``TYPICAL`` over the rows."""
    return {
        name: round(float(np.median([m[key] for m, labels in rows if labels[state] == value])), 3)
        for name, (key, state, value) in TYPICAL.items()
    }


def calibrate(
    model: str, rows: list[tuple[dict, dict[str, str]]], states: set[str] | None = None
) -> dict[str, float]:
    """The thresholds of one model fitted on ``rows`` (see the module docstring); with ``states``,
    only the thresholds that decide those states, the others kept as they are."""
    from tools.geometry import THRESHOLDS

    limits = dict(THRESHOLDS[model])
    plan = {name: spec for name, spec in PLAN.items() if states is None or spec[0] in states}

    def grid(name: str) -> np.ndarray:
        _, start, stop, step = PLAN[name]
        return np.round(np.arange(start, stop + step / 2, step), 6)

    def fit_inner(name: str, fixed: dict[str, float]) -> tuple[float, float]:
        state = PLAN[name][0]
        value = _best(grid(name), lambda v: accuracy(rows, model, {**fixed, name: v}, state))
        return value, accuracy(rows, model, {**fixed, name: value}, state)

    for _ in range(ROUNDS):
        for name in plan:
            if name in PAIRS.values():
                continue
            if name in PAIRS:
                inner = PAIRS[name]
                fits = {float(w): fit_inner(inner, {**limits, name: float(w)}) for w in grid(name)}
                limits[name] = _best(grid(name), lambda w, f=fits: f[float(w)][1])
                limits[inner] = fits[limits[name]][0]
            else:
                limits[name] = fit_inner(name, limits)[0]
    limits.update({k: v for k, v in typical(rows).items() if states is None or TYPICAL[k][1] in states})
    return limits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dlib,faceapi,faceapi-tiny,facemesh,facemesh-base")
    parser.add_argument("--json", type=Path, help="also write the tables to this JSON file")
    parser.add_argument(
        "--states",
        help="fit only the thresholds of these states (comma-separated, e.g. eyes), keeping the others",
    )
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.states.split(",")} if args.states else None
    tables = {}
    reader = Reader()
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        rows = dev_rows(model, reader)
        limits = tables[model] = calibrate(model, rows, only)
        states = sorted({s for s, *_ in PLAN.values()})
        print(
            f"# {model}: dev accuracy "
            + ", ".join(f"{s} {accuracy(rows, model, limits, s):.3f}" for s in states)
        )
        print(f'    "{model}": {{')
        for name, value in limits.items():
            print(f'        "{name}": {value:g},')
        print("    },")
    if args.json:
        args.json.write_text(json.dumps(tables, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
