"""The measurements behind three speed choices of the detector and the alignment.

    python -m benchmarks.eval_speed_choices [half-decode] [small-faces] [mirror]

- ``half-decode``: how much aligning a face from the half-size JPEG decode moves the default model's
  probabilities against aligning it from the whole decode, by how much resolution the crop needs
  from the half decode (ratio > 1: it would be enlarged), next to a half-pixel jitter of the five
  points (the noise of detection itself). Faces: 40 composite 1920x1280 photos of single faces at
  120-330 px and face-api's six group photos. Why the alignment takes the half decode only up to 1.0.
- ``small-faces``: real faces with head and shoulders (the four of ``group_photo``) pasted at 16-48 px
  on four face-free 1920 px backgrounds: which pass finds them, and the highest face probability the
  first pass gives anywhere on them. Why the finer pass must run over the whole photo.
- ``mirror``: real photos turned in steps of 30 degrees, as is and mirrored: faces only the mirror
  image shows, and what the first pass scored on the unmirrored photo. Why the mirrored pass needs
  ``MIRROR_TRIGGER_PROB``.
"""

from __future__ import annotations

import argparse
import io

import cv2
import numpy as np

from benchmarks.photos import _FACE_BOXES, _face_crop, _paste, labelled_faces, load_source, media_bytes
from tools.faces import FACE_PROB, Face, alignment_scale, default_detector
from tools.images import decode_bytes, decode_reduced

PORTRAITS = ("astronaut", "grace", "obama", "trump", "posed_surprise", "posed_happy", "posed_anger")
PORTRAITS += ("posed_disgust", "single_face")
GROUPS = ("sample1", "sample2", "sample3", "sample4", "sample5", "sample6")


def half_decode(composites: int = 40, seed: int = 3) -> None:
    from PIL import Image

    from tools.classifier import default_classifier

    classifier, detector = default_classifier(None), default_detector("retinaface")
    card = classifier.spec.alignment
    margin, shift = float(card.get("margin", 0.25)), float(card.get("shift_y", 0.0))
    rng = np.random.default_rng(seed)
    crops = []
    for name in PORTRAITS:
        rgb = decode_bytes(media_bytes(name))
        x0, y0, x1, y1 = detector.detect(rgb)[0].box
        w, h = x1 - x0, y1 - y0
        crops.append(
            rgb[max(0, int(y0 - 0.6 * h)) : int(y1 + 0.5 * h), max(0, int(x0 - 0.5 * w)) : int(x1 + 0.5 * w)]
        )
    background = cv2.resize(decode_bytes(media_bytes("mountain")), (1920, 1280))
    uploads = []
    for _ in range(composites):
        canvas = background.copy()
        for left in (40, 520, 1000, 1450):
            crop = crops[rng.integers(len(crops))]
            factor = rng.uniform(120, 330) / (crop.shape[1] / 2)
            small = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)[:1000, :460]
            top = int(rng.integers(100, 250))
            canvas[top : top + small.shape[0], left : left + small.shape[1]] = small[: 1280 - top]
        buffer = io.BytesIO()
        Image.fromarray(canvas).save(buffer, format="JPEG", quality=90)
        uploads.append(buffer.getvalue())
    uploads += [media_bytes(name) for name in GROUPS]
    rows = []
    for data in uploads:
        full, half = decode_bytes(data), decode_reduced(data, min_side=960)[0]
        faces = detector.detect(full)
        jittered = [
            Face(f.box, f.score, None, points5=f.points5() + rng.uniform(-0.5, 0.5, (5, 2)), fit=lambda: None)
            for f in faces
        ]
        want = classifier.probabilities([classifier.align(full, f).image for f in faces])
        got = classifier.probabilities([classifier.align(half, f.rescaled(0.5)).image for f in faces])
        noise = classifier.probabilities([classifier.align(full, f).image for f in jittered])
        for f, a, b, c in zip(faces, want, got, noise):
            need = alignment_scale(f, classifier.spec.input_size, margin, shift) / 0.5
            moved, jitter = float(np.abs(a - b).max()), float(np.abs(a - c).max())
            rows.append((need, moved, jitter, int(a.argmax() != b.argmax()), int(a.argmax() != c.argmax())))
    table = np.array(rows)
    print(
        f"{len(table)} faces; max change of a probability, half decode vs whole (and a 0.5 px jitter of the points)"
    )
    for low, high in ((0.0, 1.0), (1.0, 1.1), (1.1, 1.2), (1.2, 1.3), (1.3, 2.0)):
        part = table[(table[:, 0] >= low) & (table[:, 0] < high)]
        if len(part):
            print(
                f"  resolution needed {low:.1f}-{high:.1f}x: {len(part):3d} faces  half decode: p90 "
                f"{np.percentile(part[:, 1], 90):.3f} max {part[:, 1].max():.3f} labels {int(part[:, 3].sum())}"
                f"  | jitter: p90 {np.percentile(part[:, 2], 90):.3f} max {part[:, 2].max():.3f} "
                f"labels {int(part[:, 4].sum())}"
            )


def small_faces(seed: int = 0) -> None:
    from skimage import data

    from tools.faces import _iou
    from tools.models.retinaface import prior_boxes

    detector = default_detector("retinaface")
    backgrounds = {
        "mountain": decode_bytes(media_bytes("mountain")),
        "coffee": cv2.resize(np.asarray(data.coffee()), (1920, 1280)),
        "rocket": cv2.resize(np.asarray(data.rocket()), (1920, 1280)),
        "brick": cv2.cvtColor(cv2.resize(np.asarray(data.brick()), (1920, 1280)), cv2.COLOR_GRAY2RGB),
    }
    rng = np.random.default_rng(seed)
    sources = list(_FACE_BOXES)
    for side in (16, 20, 24, 28, 32, 40, 48):
        first_found = fine_found = 0
        scores = []
        for background in backgrounds.values():
            canvas, boxes = background.copy(), []
            height, width = canvas.shape[:2]
            for k in range(6):
                source = sources[k % len(sources)]
                crop, inner = _face_crop(load_source(source), _FACE_BOXES[source], 0.6)
                factor = side / (inner[2] - inner[0])
                x, y = 100 + k * 290 + int(rng.integers(0, 60)), 150 + int(rng.integers(0, height - 400))
                _paste(canvas, crop, x, y, round(crop.shape[1] * factor))
                boxes.append(
                    np.array([x + v * factor if i % 2 == 0 else y + v * factor for i, v in enumerate(inner)])
                )
            first_scale, fine_scale = 640 / max(height, width), 1280 / max(height, width)
            first, fine = detector._pass(canvas, first_scale), detector._pass(canvas, fine_scale)
            size = (round(width * first_scale), round(height * first_scale))
            _, probs, _ = detector._run(cv2.resize(canvas, size, interpolation=cv2.INTER_AREA))
            priors = prior_boxes(size[1], size[0])
            cx, cy = priors[:, 0] * width, priors[:, 1] * height
            for box in boxes:
                box = box.astype(np.float32)
                first_found += any(_iou(box, f[0][None])[0] > 0.3 for f in first)
                hit = any(_iou(box, f[0][None])[0] > 0.3 for f in fine)
                fine_found += hit
                if hit:
                    near = (cx >= box[0]) & (cx <= box[2]) & (cy >= box[1]) & (cy <= box[3])
                    scores.append(float(probs[near].max()) if near.any() else 0.0)
        print(
            f"  faces of {side:2d} px in 1920 px photos: first pass {first_found}/24, finer pass {fine_found}/24; "
            f"first-pass score on those the finer pass finds: min {min(scores, default=float('nan')):.3f}"
        )


def mirror() -> None:
    detector = default_detector("retinaface")
    photos = [
        (name, decode_bytes(media_bytes(name))) for name in PORTRAITS + GROUPS + ("bearded", "multi_face")
    ]
    photos += [(face.id, face.rgb) for face in labelled_faces() if max(face.rgb.shape[:2]) > 256]
    rescued, cases = [], 0
    for name, rgb in photos:
        for angle in range(0, 360, 30):
            h, w = rgb.shape[:2]
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
            size = (int(h * sin + w * cos), int(h * cos + w * sin))
            matrix[:, 2] += (size[0] / 2 - w / 2, size[1] / 2 - h / 2)
            turned = cv2.warpAffine(rgb, matrix, size, borderMode=cv2.BORDER_REPLICATE)
            scale = min(1.0, 640 / max(size))
            small = cv2.resize(
                turned, (round(size[0] * scale), round(size[1] * scale)), interpolation=cv2.INTER_AREA
            )
            best = float(detector._run(small)[1].max())
            best_mirrored = float(detector._run(np.ascontiguousarray(small[:, ::-1]))[1].max())
            cases += 1
            for way, (as_is, mirrored) in (
                ("", (best, best_mirrored)),
                (" (mirrored)", (best_mirrored, best)),
            ):
                if as_is < FACE_PROB <= mirrored:
                    rescued.append((as_is, f"{name}{way} at {angle} deg"))
    print(
        f"  {cases} turned photos; {len(rescued)} faces only the mirror image shows; first-pass scores there:"
    )
    for score, what in sorted(rescued):
        print(f"    {score:.3f}  {what}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["half-decode", "small-faces", "mirror"])
    args = parser.parse_args(argv)
    for part in args.parts:
        print(f"\n{part}")
        {"half-decode": half_decode, "small-faces": small_faces, "mirror": mirror}[part]()


if __name__ == "__main__":
    main()
