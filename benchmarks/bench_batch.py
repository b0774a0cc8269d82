"""Batch classification of a folder of photos against the pure model forward at the same batch size.

    python -m benchmarks.bench_batch [--photos 32] [--batch-size 32] [--reps 3]

The folder (a temporary directory, deleted afterwards) holds real face photos at realistic sizes:
crops and rescalings of the scikit-image astronaut (400-700 px) and matplotlib's Grace Hopper
(~500 px), mirrored copies of both, and faces of scikit-image's LFW subset (25 px originals,
enlarged to 250 px, so soft but detectable). Throughput is ``EmotionClassifier.predict_many`` over
the file paths (what ``python -m tools classify FOLDER`` runs): read, decode, detect, align, then
batched forward passes. The reference is the forward pass alone on a batch of ``--batch-size``
aligned crops, in images per second. Medians over ``--reps``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import grace_hopper, jpeg, machine_line, median_ms

TARGET = 0.7


@dataclass
class BatchResult:
    """Throughputs in images per second and what the folder held."""

    photos: int
    faces: int
    batch_size: int
    photos_per_s: float
    forward_per_s: float
    per_photo_ms: dict[str, float]

    @property
    def ratio(self) -> float:
        """End-to-end photos/s over pure-forward images/s."""
        return self.photos_per_s / self.forward_per_s


def make_photos(count: int) -> list[np.ndarray]:
    """``count`` RGB face photos at realistic sizes (see the module docstring)."""
    from skimage import data

    astronaut = np.asarray(data.astronaut())
    hopper = grace_hopper()
    lfw = data.lfw_subset()
    photos: list[np.ndarray] = []
    i = 0
    while len(photos) < count:
        kind, k = i % 3, i // 3
        if kind == 0:  # the astronaut: crops around the face, rescaled to 400-700 px
            crop = astronaut[: 512 - 8 * (k % 6), 16 * (k % 4) :]
            side = 400 + 60 * (k % 6)
            photo = cv2.resize(crop, (side, round(side * crop.shape[0] / crop.shape[1])))
        elif kind == 1:  # Grace Hopper, rescaled to 440-580 px
            side = 440 + 35 * (k % 5)
            photo = cv2.resize(hopper, (side, round(side * hopper.shape[0] / hopper.shape[1])))
        else:  # an LFW face enlarged to 250 px
            face = np.uint8(np.clip(lfw[k % len(lfw)] * 255, 0, 255))
            photo = cv2.cvtColor(
                cv2.resize(face, (250, 250), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB
            )
        photos.append(np.ascontiguousarray(photo[:, ::-1] if k % 2 else photo))
        i += 1
    return photos


def _stage_costs(classifier, paths: list[Path]) -> dict[str, float]:
    """Median per-photo cost of each stage of predict_many before the forward pass, in ms."""
    from tools.faces import detect_faces
    from tools.images import load_image

    decode, detect, align = [], [], []
    for path in paths:
        start = time.perf_counter()
        rgb = load_image(path)
        decode.append(time.perf_counter() - start)
        start = time.perf_counter()
        try:
            faces = detect_faces(rgb)
        except Exception:  # noqa: BLE001 - a photo without a face only costs its detection here
            faces = []
        detect.append(time.perf_counter() - start)
        start = time.perf_counter()
        for face in faces:
            classifier.align(rgb, face)
        align.append(time.perf_counter() - start)
    return {
        "read+decode": median_ms(decode),
        "detect+landmarks": median_ms(detect),
        "align": median_ms(align),
    }


def run(photos: int = 32, batch_size: int = 32, reps: int = 3, verbose: bool = True) -> BatchResult:
    """Times ``predict_many`` over a temporary folder and the pure forward at the same batch size."""
    import torch

    from tools.classifier import default_classifier

    classifier = default_classifier(None)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
        paths = []
        for i, rgb in enumerate(make_photos(photos)):
            path = Path(folder) / f"photo{i:03d}.jpg"
            path.write_bytes(jpeg(rgb))
            paths.append(path)
        classifier.predict_many(paths[:2], batch_size=batch_size)  # warm-up
        walls = []
        items = []
        for _ in range(reps):
            start = time.perf_counter()
            items = classifier.predict_many(paths, batch_size=batch_size)
            walls.append(time.perf_counter() - start)
        faces = sum(len(item.predictions) for item in items)
        crops = []
        for path in paths:
            record = classifier.record(path)
            try:
                crops.extend(classifier.align(record.rgb, f).image for f in record.faces)
            except Exception:  # noqa: BLE001 - photos without a face give no crop
                continue
        stages = _stage_costs(classifier, paths)
    crops = (crops * (batch_size // max(1, len(crops)) + 1))[:batch_size]
    inputs = classifier.to_input(crops)
    classifier._forward(inputs)
    forward = []
    for _ in range(max(10, 3 * reps)):
        start = time.perf_counter()
        classifier._forward(inputs)
        forward.append(time.perf_counter() - start)
    forward_s = float(np.median(forward))
    result = BatchResult(
        photos=photos,
        faces=faces,
        batch_size=batch_size,
        photos_per_s=photos / float(np.median(walls)),
        forward_per_s=batch_size / forward_s,
        per_photo_ms={**stages, "forward (per face, batched)": 1000 * forward_s / batch_size},
    )
    if verbose:
        print(
            f"batch classification: {photos} JPEG photos (astronaut 400-700 px, Grace Hopper 440-580 px, "
            f"LFW faces enlarged to 250 px), {faces} faces found, batch size {batch_size}, torch threads "
            f"{torch.get_num_threads()}, median of {reps}"
        )
        print(f"  predict_many over the folder        {result.photos_per_s:8.1f} photos/s")
        print(f"  pure forward, batch {batch_size:<3}             {result.forward_per_s:8.1f} images/s")
        for name, ms in result.per_photo_ms.items():
            print(f"  per photo: {name:26} {ms:7.2f} ms")
        verdict = "OK" if result.ratio >= TARGET else "MISSED"
        print(f"  throughput / pure forward = {result.ratio:.3f} (target >= {TARGET}) {verdict}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; exit code 1 when the ratio misses the target."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_batch", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--photos", type=int, default=32, help="photos in the folder (default 32)")
    parser.add_argument("--batch-size", type=int, default=32, help="faces per forward pass (default 32)")
    parser.add_argument("--reps", type=int, default=3, help="timed runs over the folder (default 3)")
    args = parser.parse_args(argv)
    print(machine_line())
    result = run(args.photos, args.batch_size, args.reps)
    return 0 if result.ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
