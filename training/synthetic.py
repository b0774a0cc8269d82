"""A tiny generated dataset of drawn cartoon faces, for the smoke preset and the tests.

No labelled facial-expression dataset can be downloaded here, so the smoke preset trains on
cartoon faces whose expression is drawn from the class: a smile, a frown, a round open mouth with
raised brows, or a flat mouth under slanted brows. Position, size, colours, line widths and noise
vary per image, so a network has to learn the expression rather than one fixed picture. The tree is
written in the image-folder layout (``root/train/<label>/*.png``, ``root/test/<label>/*.png``) and is
read back by the ordinary folder adapter, so the smoke run exercises the real data path.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["SYNTHETIC_LABELS", "draw_face", "make_synthetic_dataset"]

SYNTHETIC_LABELS: tuple[str, ...] = ("happy", "sad", "surprise", "angry")


def draw_face(label: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draws one cartoon face showing ``label`` as an RGB uint8 array of side ``size``.

    Args:
        label: one of ``SYNTHETIC_LABELS``.
        size: side of the square image in pixels.
        rng: the random generator that varies pose, colour and noise.
    """
    if label not in SYNTHETIC_LABELS:
        raise ValueError(f"Unknown synthetic label {label!r}; use one of {', '.join(SYNTHETIC_LABELS)}.")
    s = float(size)
    background = rng.integers(0, 256, 3)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = background
    cx, cy = s / 2 + rng.uniform(-0.06, 0.06) * s, s / 2 + rng.uniform(-0.06, 0.06) * s
    radius = rng.uniform(0.36, 0.44) * s
    skin = rng.integers(120, 256, 3)
    ink = tuple(int(v) for v in rng.integers(0, 70, 3))
    cv2.circle(image, (round(cx), round(cy)), round(radius), tuple(int(v) for v in skin), -1, cv2.LINE_AA)
    width = max(1, round(rng.uniform(0.03, 0.05) * s))
    eye_dx, eye_y = 0.38 * radius, cy - 0.25 * radius
    eye_r = max(1, round(rng.uniform(0.07, 0.1) * radius))
    for side in (-1, 1):
        cv2.circle(image, (round(cx + side * eye_dx), round(eye_y)), eye_r, ink, -1, cv2.LINE_AA)
    brow_y = eye_y - 0.22 * radius
    mouth_y, mouth_w = cy + 0.4 * radius, rng.uniform(0.35, 0.5) * radius
    if label == "happy":
        cv2.ellipse(
            image,
            (round(cx), round(mouth_y - 0.15 * radius)),
            (round(mouth_w), round(0.3 * radius)),
            0,
            15,
            165,
            ink,
            width,
            cv2.LINE_AA,
        )
    elif label == "sad":
        cv2.ellipse(
            image,
            (round(cx), round(mouth_y + 0.2 * radius)),
            (round(mouth_w), round(0.25 * radius)),
            0,
            195,
            345,
            ink,
            width,
            cv2.LINE_AA,
        )
    elif label == "surprise":
        cv2.ellipse(
            image,
            (round(cx), round(mouth_y)),
            (round(0.18 * radius), round(0.25 * radius)),
            0,
            0,
            360,
            ink,
            -1,
            cv2.LINE_AA,
        )
        brow_y -= 0.1 * radius
    if label in ("happy", "sad", "surprise"):
        for side in (-1, 1):
            x0, x1 = cx + side * (eye_dx - 0.15 * radius), cx + side * (eye_dx + 0.15 * radius)
            cv2.line(image, (round(x0), round(brow_y)), (round(x1), round(brow_y)), ink, width, cv2.LINE_AA)
    else:  # angry: brows slanting down towards the nose, a flat tight mouth
        for side in (-1, 1):
            inner = (round(cx + side * (eye_dx - 0.18 * radius)), round(brow_y + 0.1 * radius))
            outer = (round(cx + side * (eye_dx + 0.18 * radius)), round(brow_y - 0.1 * radius))
            cv2.line(image, inner, outer, ink, width + 1, cv2.LINE_AA)
        y = round(mouth_y)
        cv2.line(image, (round(cx - mouth_w), y), (round(cx + mouth_w), y), ink, width, cv2.LINE_AA)
    noise = rng.normal(0.0, 8.0, image.shape)
    return np.clip(image.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def make_synthetic_dataset(
    root: str | Path,
    train_per_class: int = 50,
    test_per_class: int = 20,
    size: int = 64,
    seed: int = 0,
    labels: tuple[str, ...] = SYNTHETIC_LABELS,
) -> Path:
    """Writes the cartoon-face dataset as an image-folder tree and returns its root.

    The output depends only on the arguments, so re-running it reproduces the same files.

    Args:
        root: folder to write ``train/<label>/*.png`` and ``test/<label>/*.png`` into.
        train_per_class: training images per class.
        test_per_class: held-out images per class.
        size: side of each image in pixels.
        seed: seed of the generator.
        labels: which of ``SYNTHETIC_LABELS`` to draw.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for label in labels:
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                rgb = draw_face(label, size, rng)
                cv2.imwrite(str(folder / f"{label}_{i:04d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return root
