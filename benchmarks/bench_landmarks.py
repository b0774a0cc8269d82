"""Cost of landmarks per face: FaceMesh (ONNX Runtime) and dlib's 68 points, against the expression net.

    python -m benchmarks.bench_landmarks [--reps 30]
    python -m benchmarks.bench_landmarks --calibrate [--model base]        # re-measure FaceMesh's crop template
    python -m benchmarks.bench_landmarks --draw /tmp/mesh [--model base]   # overlays of the fits, to look at

On the faces RetinaFace finds in real photos (astronaut, Grace Hopper, posed surprise and happiness,
the five friends of ``multi_face``, the five women of ``sample5``), it prints medians over ``--reps``
runs, the variants interleaved so machine load hits all alike, in process CPU time (the work done;
one thread each) and wall-clock time:

- ``facemesh attention`` / ``facemesh base``: ``FaceMesh.fit`` per face: the 192 px crop, the
  network, points mapped back (for the attention model also the refined lips, eyes and irises put
  in place); one face at a time, and for the base model also all faces of a photo in one batch.
- ``dlib 68``: the project's ``Face.landmarks`` path per face: the aligned gray crop, then dlib's
  shape predictor twice (as ``tools.faces`` fits it).
- ``expression forward``: the offline default classifier's network pass (FaceExpressionNet in
  ONNX Runtime, 112 px) on one aligned face: the unit of the target, landmarks per face <= 2x it.

``--calibrate`` runs MediaPipe's tracking rule (``mesh_roi``) to its fixed point on every face and
prints where the five detector points lie in that crop: their mirror-symmetrised mean is
``CROP_TEMPLATE``. ``--draw`` writes one PNG per photo with the mesh and the named regions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from benchmarks.photos import MEDIA, load_source
from tools.faces import Face, _lazy_landmarks, default_detector
from tools.models.facemesh import (
    INPUT_SIZE,
    MODELS,
    NUM_POINTS,
    REGIONS,
    FaceMesh,
    Mesh,
    crop_matrix,
    mesh_roi,
)

LIMIT = 2.0
PHOTOS = ("astronaut", "grace", "posed_surprise", "posed_happy", "multi_face", "sample5")
CALIBRATION = (
    "astronaut grace obama trump posed_surprise posed_happy posed_anger posed_disgust bearded "
    "multi_face single_face sample1 sample2 sample3 sample4 sample5 sample6"
).split()


def _faces(names: tuple[str, ...] | list[str]) -> list[tuple[str, np.ndarray, list[Face]]]:
    detector = default_detector()
    out = []
    for name in names:
        rgb = load_source(MEDIA[name][0])
        out.append((name, rgb, detector.detect(rgb)))
    return out


def _cpu_wall(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def bench(reps: int) -> int:
    import torch

    from tools.classifier import EmotionClassifier

    torch.set_num_threads(1)
    photos = _faces(PHOTOS)
    faces = [(rgb, face) for _, rgb, found in photos for face in found]
    attention, base = FaceMesh("attention"), FaceMesh("base")
    classifier = EmotionClassifier.load("faceapi-expression", device="cpu")
    aligned = [classifier.align(rgb, face).image for rgb, face in faces]
    inputs = [classifier.to_input([crop]) for crop in aligned]
    if classifier._onnx_session() is None:
        raise SystemExit(
            "the expression net is not running in ONNX Runtime here; the comparison would be unfair"
        )

    def attention_one() -> None:
        for rgb, face in faces:
            attention.fit(rgb, [face])

    def base_one() -> None:
        for rgb, face in faces:
            base.fit(rgb, [face])

    def base_batched() -> None:
        for _, rgb, found in photos:
            base.fit(rgb, found)

    def dlib_68() -> None:
        for rgb, face in faces:
            _lazy_landmarks(rgb, face.points5())()

    def expression() -> None:
        for x in inputs:
            classifier._forward(x)

    variants = {
        "facemesh attention (default)": attention_one,
        "facemesh base, one face a run": base_one,
        "facemesh base, a photo's faces batched": base_batched,
        "dlib 68 (Face.landmarks path)": dlib_68,
        "expression forward (ORT, 112 px)": expression,
    }
    for fn in variants.values():
        fn()  # warm up: sessions, caches, lazy imports
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    wall: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(reps):
        for name, fn in variants.items():
            c, w = _cpu_wall(fn)
            cpu[name].append(c / len(faces))
            wall[name].append(w / len(faces))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{os.cpu_count()} cores, load average {load}; {len(faces)} faces in {len(photos)} photos, {reps} reps"
    )
    unit = statistics.median(cpu["expression forward (ORT, 112 px)"])
    unit_wall = statistics.median(wall["expression forward (ORT, 112 px)"])
    print(f"{'per face':40s} {'CPU ms':>8s} {'x expr':>7s} {'wall ms':>8s} {'x expr':>7s}")
    for name in variants:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"{name:40s} {1000 * c:8.2f} {c / unit:7.2f} {1000 * w:8.2f} {w / unit_wall:7.2f}")
    ratio = statistics.median(cpu["facemesh attention (default)"]) / unit
    print(
        f"FaceMesh (attention, the default) per face / expression forward, CPU time: {ratio:.2f} "
        f"(target <= {LIMIT})"
    )
    return 0 if ratio <= LIMIT else 1


def calibrate(model: str) -> int:
    """Where the five points lie in MediaPipe's own crop, at its tracking fixed point."""
    mesh = FaceMesh(model)
    rows = []
    for name, rgb, found in _faces(CALIBRATION):
        for i, face in enumerate(found):
            five = face.points5()
            result = mesh.run(rgb, [crop_matrix(five)])[0]
            for _ in range(5):
                result = mesh.run(rgb, [mesh_roi(result.points)])[0]
            crop5 = five @ result.matrix[:, :2].T + result.matrix[:, 2]
            print(f"{name}#{i} face prob {result.face_prob:.3f} points {np.round(crop5, 1).tolist()}")
            if result.face_prob >= 0.9:  # a profile that never settles on a face says nothing
                rows.append(crop5)
    mean = np.mean(rows, axis=0)
    mirrored = mean[[1, 0, 2, 4, 3]] * [-1, 1] + [INPUT_SIZE, 0]
    template = (mean + mirrored) / 2
    print(f"{len(rows)} faces; mean {np.round(mean, 2).tolist()}")
    print(f"symmetrised template (CROP_TEMPLATE): {np.round(template, 1).tolist()}")
    print(f"spread (sd) {np.round(np.std(rows, axis=0), 1).tolist()}")
    return 0


_COLOURS = {"lips_outer": (255, 0, 0), "lips_inner": (255, 0, 255), "eye": (0, 255, 0), "brow": (255, 255, 0)}


def draw_fit(rgb: np.ndarray, face: Face, mesh: Mesh, side: int = 384) -> np.ndarray:
    """The face with its box, every point (grey), the contours of ``REGIONS`` and the face probability."""
    x0, y0, x1, y1 = face.box
    pad = 0.3 * max(x1 - x0, y1 - y0)
    h, w = rgb.shape[:2]
    left, top = int(max(0, x0 - pad)), int(max(0, y0 - pad))
    right, bottom = int(min(w, x1 + pad)), int(min(h, y1 + pad))
    k = side / max(right - left, bottom - top)
    tile = cv2.resize(
        np.ascontiguousarray(rgb[top:bottom, left:right]),
        (round((right - left) * k), round((bottom - top) * k)),
        interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA,
    )
    points = (mesh.points[:, :2] - [left, top]) * k
    for p in np.round(points[:NUM_POINTS]).astype(int):
        cv2.circle(tile, tuple(p), 1, (200, 200, 200), -1)
    for name, indices in REGIONS.items():
        if max(indices) >= len(points):
            continue
        if name.startswith("iris"):
            centre, rim = points[indices[0]], points[list(indices[1:])]
            radius = max(1, int(round(float(np.linalg.norm(rim - centre, axis=1).mean()))))
            cv2.circle(tile, tuple(np.round(centre).astype(int)), radius, (0, 255, 255), 1, cv2.LINE_AA)
            continue
        colour = next((c for key, c in _COLOURS.items() if name.startswith(key)), (0, 128, 255))
        pts = np.round(points[list(indices)]).astype(np.int32)
        if len(indices) > 2:
            cv2.polylines(tile, [pts], name == "face_oval", colour, 1, cv2.LINE_AA)
        else:
            for p in pts:
                cv2.circle(tile, tuple(p), 4, (255, 255, 255) if len(indices) == 2 else (0, 0, 255), 2)
    box = np.round((np.array(face.box, float).reshape(2, 2) - [left, top]) * k).astype(int)
    cv2.rectangle(tile, tuple(box[0]), tuple(box[1]), (255, 255, 255), 1)
    cv2.putText(tile, f"{mesh.face_prob:.3f}", (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 2)
    return tile


def draw(folder: Path, names: list[str], model: str) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    mesh = FaceMesh(model)
    for name, rgb, found in _faces(names):
        tiles = [draw_fit(rgb, face, m) for face, m in zip(found, mesh.fit(rgb, found), strict=True)]
        if not tiles:
            print(f"{name}: no face")
            continue
        height = max(t.shape[0] for t in tiles)
        row = np.hstack([np.pad(t, ((0, height - t.shape[0]), (0, 4), (0, 0))) for t in tiles])
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--draw", type=Path, help="write overlays of the fits into this folder")
    parser.add_argument("--photos", nargs="*", default=list(PHOTOS), help="MEDIA names for --draw")
    parser.add_argument("--model", default="attention", choices=MODELS, help="for --calibrate and --draw")
    args = parser.parse_args(argv)
    if args.calibrate:
        return calibrate(args.model)
    if args.draw:
        return draw(args.draw, args.photos, args.model)
    return bench(args.reps)


if __name__ == "__main__":
    raise SystemExit(main())
