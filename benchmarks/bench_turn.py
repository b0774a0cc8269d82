"""Warm chat-turn latency against its floor: the raw model passes the turn cannot do without.

    python -m benchmarks.bench_turn [--reps 15]

The turn: ``ChatSession("offline").send(QUESTION, image=photo)`` with the offline defaults (the
default classifier, native Grad-CAM, the geometry answerer), in one conversation that is
already warm (models loaded, two turns done). Every rep uploads a NEW photo, the realistic case: a
512 px JPEG of the astronaut with its brightness shifted a little, so each is decoded, detected,
aligned, classified, explained (heatmap PNG included) and asked about afresh. The conversation
grows by one turn per rep, as it would in the app.

The floor, measured in the same run on the same photo, between the turns (so machine load hits
both alike), is the sum of the model passes the answer needs:

- face detection on the detection copy (``tools.faces`` detects on a copy of at most
  ``DETECT_SIDE`` px; the 512 px photo is used as is): the RetinaFace network and its decoding
  (or HOG with ``FACE_AGENT_DETECTOR=hog``);
- the 68-landmark regression for the face found (the mouth question needs it);
- the classifier's forward pass on the aligned crop;
- Grad-CAM's gradient: the stages after the explained layer run again with autograd and
  back-propagate once (the classification pass cannot be differentiated; restarting from its
  cached activation is the least an exact gradient costs); for a model whose head after that layer
  is affine (the default), the gradient is a constant per class and the map one weighted sum of the
  activation's channels, which is what is timed;
- the faithfulness figure's pass: the same stages on 5 masked copies of that activation (the
  answer states how far the heatmap can be trusted, so this pass is part of what it needs).

Everything else in a turn (decoding, alignment, region masks, the PNG, the geometry answer, the
planner, LangGraph, the checkpoint) is overhead on that floor. The ratio is printed for wall-clock
time; medians over ``--reps``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np
import torch

from benchmarks.common import QUESTION, astronaut_variants, machine_line, median_ms, timed

TARGET = 2.0
FLOOR_PARTS = ("detect", "landmarks", "forward", "gradient", "faithfulness")


@dataclass
class TurnResult:
    """Medians in milliseconds."""

    turn_ms: float
    turn_cpu_ms: float
    floor_parts_ms: dict[str, float]
    tool_calls: list[str]

    @property
    def floor_ms(self) -> float:
        """The sum of the floor's parts."""
        return sum(self.floor_parts_ms.values())

    @property
    def ratio(self) -> float:
        """Turn / floor, wall clock."""
        return self.turn_ms / self.floor_ms


def _floor_once(classifier, photo: bytes) -> dict[str, float]:
    """Times each model pass of the floor once, on a photo decoded beforehand (decoding is overhead)."""
    from tools import faces as faces_module
    from tools.images import load_image

    detector = faces_module.default_detector()
    rgb = load_image(photo)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    scale = min(1.0, faces_module.DETECT_SIDE / max(h, w))
    parts: dict[str, float] = {}
    if isinstance(detector, faces_module.RetinaFaceDetector):
        # The network on the detection copy with its decoding; then the lazy 68-point fit.
        parts["detect"] = timed(lambda: detector._pass(rgb, scale))[0]
        face = detector.detect(rgb)[0]
        fit = faces_module._lazy_landmarks(rgb, face.points5())
        parts["landmarks"] = timed(fit)[0]
    else:
        small = gray if scale == 1 else cv2.resize(gray, (round(w * scale), round(h * scale)), cv2.INTER_AREA)
        found: list = []
        parts["detect"] = timed(lambda: found.extend(detector._detect(small, 0)))[0]
        box = tuple(v / scale for v in found[0][0])
        points: list = []
        parts["landmarks"] = timed(lambda: points.append(detector.landmarks(gray, box)))[0]
        face = faces_module.Face(tuple(int(round(v)) for v in box), found[0][1], points[0])
    inputs = classifier.to_input([classifier.align(rgb, face).image])
    out: list = []
    parts["forward"] = timed(lambda: out.extend(classifier._forward(inputs)))[0]
    activation, logits = out
    target = int(np.argmax(logits[0]))
    masked = np.repeat(activation, 5, axis=0)
    weights = classifier.cam_weights(activation.shape)
    if weights is not None:  # an affine head: no autograd, no torch (see EmotionClassifier.cam_weights)
        parts["gradient"] = timed(lambda: np.tensordot(weights[target], activation[0], axes=1))[0]
        parts["faithfulness"] = timed(lambda: classifier.head_logits(masked))[0]
        return parts
    layer = classifier.spec.target_layer
    head = partial(classifier.model.forward_from, name=layer)

    def gradient() -> None:
        with torch.inference_mode(False), torch.enable_grad():
            act = torch.from_numpy(activation).clone().requires_grad_()
            torch.autograd.grad(head(act)[0, target], act)

    parts["gradient"] = timed(gradient)[0]

    def faithfulness() -> None:
        with torch.no_grad():
            head(torch.from_numpy(masked))

    parts["faithfulness"] = timed(faithfulness)[0]
    return parts


def run(reps: int = 15, verbose: bool = True) -> TurnResult:
    """Measures ``reps`` warm turns (a new photo each) and the floor on the same photos."""
    from agent import ChatSession
    from tools.classifier import default_classifier

    photos = astronaut_variants(reps + 2)
    session = ChatSession("offline")
    for photo in photos[:2]:  # warm-up: loads the models, first-call allocations
        session.send(QUESTION, image=photo)
    classifier = default_classifier(None)
    _floor_once(classifier, photos[0])
    walls: list[float] = []
    cpus: list[float] = []
    floors: dict[str, list[float]] = {name: [] for name in FLOOR_PARTS}
    reply = None
    for photo in photos[2:]:
        for name, seconds in _floor_once(classifier, photo).items():
            floors[name].append(seconds)
        replies: list = []
        wall, cpu = timed(lambda p=photo, out=replies: out.append(session.send(QUESTION, image=p)))
        reply = replies[0]
        walls.append(wall)
        cpus.append(cpu)
    assert reply is not None and not reply.error, reply
    result = TurnResult(
        turn_ms=median_ms(walls),
        turn_cpu_ms=median_ms(cpus),
        floor_parts_ms={name: median_ms(values) for name, values in floors.items()},
        tool_calls=list(reply.tool_calls),
    )
    if verbose:
        print(f"warm turn, a new 512 px photo each rep, median of {reps}: {QUESTION!r}")
        print(f"  tools run: {', '.join(result.tool_calls)}; heatmaps attached: {len(reply.images)}")
        print(
            f"  turn                                {result.turn_ms:7.1f} ms wall  {result.turn_cpu_ms:7.1f} ms CPU"
        )
        for name, ms in result.floor_parts_ms.items():
            print(f"  floor: {name:28} {ms:7.2f} ms")
        print(f"  floor (sum of the model passes)     {result.floor_ms:7.1f} ms")
        verdict = "OK" if result.ratio <= TARGET else "MISSED"
        print(f"  turn / floor = {result.ratio:.3f} (target <= {TARGET}) {verdict}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; exit code 1 when the ratio misses the target."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_turn", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--reps", type=int, default=15, help="timed turns (default 15)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch intra-op threads (default 0: torch's own choice, as the app)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_line())
    result = run(args.reps)
    return 0 if result.ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
