"""Where the faces of a photo are: count, boxes, position words, and an annotated copy.

    from tools import find_faces
    faces = find_faces("group.jpg")       # FaceMap: faces numbered in reading order
    faces.count, faces.summary()          # 3, "3 faces: face 1 on the left, face 2 in the middle (largest), ..."
    faces.pick("right").number            # the face a person means by "the one on the right"
    png = annotate("group.jpg", faces.boxes(), ["1 happy", "2 neutral", "3 sad"])

Faces are numbered in reading order (``tools.faces.reading_order``: rows from top to bottom, left
to right within a row), the same numbers the classifier, the explainer and the question answerer
use, so "face 2" means one face everywhere and a person can read it off the numbered photo. Position words are
those people use: left / right / middle across the photo, top / bottom when the faces sit at
clearly different heights, largest / smallest when one face is clearly bigger or smaller. Left and
right are as seen in the photo (the viewer's left), not the person's own.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tools.errors import InvalidRequestError
from tools.faces import reading_order
from tools.images import ImageInput

__all__ = [
    "FaceLocation",
    "FaceMap",
    "find_faces",
    "locate_faces",
    "annotate",
    "place_labels",
    "POSITION_REFS",
]

Box = tuple[int, int, int, int]
ANNOTATED_SIDE = 768  # the annotated copy is shrunk to this side: it is for the chat, not for analysis
MIN_ANNOTATED_SIDE = 640  # ... and a smaller photo enlarged to this, so its labels are drawn sharp
SIZE_MARGIN = 1.15  # one face is "the largest" only when it is this much bigger than the next
# What ``FaceMap.pick`` understands, besides the ordinal forms "second from left" ...
POSITION_REFS = ("left", "right", "middle", "top", "bottom", "largest", "smallest")


@dataclass(frozen=True)
class FaceLocation:
    """One face and where it is.

    Attributes:
        number: the face's number: reading order (left to right, then top to bottom), from 1.
        box: (x0, y0, x1, y1) in pixels of the original photo.
        score: the detector's confidence, or None when it has none (a tight crop taken whole).
        position: the main position word across the photo ("left", "middle", "right",
            "second from left" ..., or "centre" for a lone face).
        words: every position word that applies, e.g. ("left", "bottom", "smallest").
        index: the face's place in the list the boxes were given in (the detector's ranking,
            0 = most prominent).
    """

    number: int
    box: Box
    score: float | None
    position: str
    words: tuple[str, ...] = ()
    index: int = 0

    @property
    def centre(self) -> tuple[float, float]:
        """(x, y) of the box's centre."""
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2

    @property
    def area(self) -> int:
        """The box's area in pixels."""
        x0, y0, x1, y1 = self.box
        return max(1, x1 - x0) * max(1, y1 - y0)

    def where(self) -> str:
        """The position in words: "on the left", "in the middle", "second from left"."""
        if self.position in ("left", "right"):
            text = f"on the {self.position}"
        elif self.position in ("middle", "centre"):
            text = "in the middle" if self.position == "middle" else "in the centre"
        else:
            text = self.position
        extra = [w for w in self.words if w in ("top", "bottom")]
        if extra:
            text += f", at the {extra[0]}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain types; ``face`` is the face's number, as everywhere."""
        return {
            "face": self.number,
            "box": list(self.box),
            "score": self.score,
            "position": self.position,
            "words": list(self.words),
        }


@dataclass(frozen=True)
class FaceMap:
    """The faces of one photo, in the order of their numbers (reading order).

    Attributes:
        width: the photo's width in pixels.
        height: its height.
        faces: one ``FaceLocation`` per face, numbered 1, 2, ...
    """

    width: int
    height: int
    faces: list[FaceLocation] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many faces."""
        return len(self.faces)

    def boxes(self) -> list[Box]:
        """The boxes, in face-number order."""
        return [f.box for f in self.faces]

    def pick(self, ref: str) -> FaceLocation | None:
        """The face a position word means ("left", "far right", "middle", "top", "largest",
        "second from left" ...), or None when the photo has no face or the word names none."""
        if not self.faces:
            return None
        ref = " ".join(str(ref).lower().replace("-", " ").split())
        ref = ref.removeprefix("far ").removeprefix("the ")
        ref = {"leftmost": "left", "rightmost": "right", "centre": "middle", "center": "middle",
               "biggest": "largest", "closest": "largest", "nearest": "largest", "upper": "top",
               "lower": "bottom", "tiniest": "smallest", "farthest": "smallest"}.get(ref, ref)  # fmt: skip
        by_x = sorted(self.faces, key=lambda f: f.centre[0])
        for word, index in (("second", 1), ("third", 2), ("fourth", 3)):
            if ref in (f"{word} from left", f"{word} from the left"):
                return by_x[index] if index < len(by_x) else None
            if ref in (f"{word} from right", f"{word} from the right"):
                return by_x[-1 - index] if index < len(by_x) else None
        if ref == "left":
            return by_x[0]
        if ref == "right":
            return by_x[-1]
        if ref == "middle":
            middle_x = (by_x[0].centre[0] + by_x[-1].centre[0]) / 2 if len(by_x) > 1 else self.width / 2
            return min(self.faces, key=lambda f: abs(f.centre[0] - middle_x))
        if ref == "top":
            return min(self.faces, key=lambda f: f.centre[1])
        if ref == "bottom":
            return max(self.faces, key=lambda f: f.centre[1])
        if ref == "largest":
            return max(self.faces, key=lambda f: f.area)
        if ref == "smallest":
            return min(self.faces, key=lambda f: f.area)
        return None

    def summary(self) -> str:
        """ "3 faces: face 1 in the middle (largest), face 2 on the right, face 3 on the left."."""
        if not self.faces:
            return "No face found."
        if len(self.faces) == 1:
            return "1 face."
        parts = []
        for f in self.faces:
            sizes = [w for w in f.words if w in ("largest", "smallest")]
            parts.append(f"face {f.number} {f.where()}" + (f" ({sizes[0]})" if sizes else ""))
        return f"{len(self.faces)} faces: " + ", ".join(parts) + "."

    @property
    def most_prominent(self) -> FaceLocation | None:
        """The face listed first in the order the boxes were given (the detector's most prominent)."""
        return min(self.faces, key=lambda f: f.index) if self.faces else None

    def to_dict(self) -> dict[str, Any]:
        """Plain types for JSON and tool artifacts (``most_prominent``: that face's number)."""
        first = self.most_prominent
        return {
            "width": self.width,
            "height": self.height,
            "count": self.count,
            "faces": [f.to_dict() for f in self.faces],
            "most_prominent": first.number if first is not None else None,
        }


def _horizontal_words(n: int) -> list[str]:
    """Position words for n faces ordered left to right."""
    if n == 1:
        return ["centre"]
    if n == 2:
        return ["left", "right"]
    if n == 3:
        return ["left", "middle", "right"]
    words = ["left"]
    for i in range(1, n - 1):
        from_left, from_right = i + 1, n - i
        if from_left <= from_right:
            words.append(f"{_nth(from_left)} from left")
        else:
            words.append(f"{_nth(from_right)} from right")
    return [*words, "right"]


def _nth(k: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(k, f"{k}th")


def locate_faces(
    boxes: Sequence[Sequence[float]], size: tuple[int, int], scores: Sequence[float | None] | None = None
) -> FaceMap:
    """Position words and reading-order numbers for faces already found.

    Args:
        boxes: (x0, y0, x1, y1) per face, in any order (``FaceLocation.index`` keeps it).
        size: (width, height) of the photo.
        scores: the detector's confidence per face (None or nan where there is none).
    """
    width, height = int(size[0]), int(size[1])
    clean: list[Box] = [tuple(int(round(v)) for v in b[:4]) for b in boxes]  # type: ignore[misc]
    n = len(clean)
    if n == 0:
        return FaceMap(width, height, [])
    centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in clean]
    areas = [max(1, b[2] - b[0]) * max(1, b[3] - b[1]) for b in clean]
    heights = [max(1, b[3] - b[1]) for b in clean]
    order = sorted(range(n), key=lambda i: centres[i][0])
    horizontal = dict(zip(order, _horizontal_words(n)))
    words: list[list[str]] = [[horizontal[i]] for i in range(n)]
    if n > 1:
        # Top / bottom only when the faces sit at clearly different heights.
        top = min(range(n), key=lambda i: centres[i][1])
        bottom = max(range(n), key=lambda i: centres[i][1])
        if centres[bottom][1] - centres[top][1] > float(np.median(heights)):
            words[top].append("top")
            words[bottom].append("bottom")
        ranked = sorted(range(n), key=lambda i: areas[i], reverse=True)
        if areas[ranked[0]] > SIZE_MARGIN * areas[ranked[1]]:
            words[ranked[0]].append("largest")
        if areas[ranked[-2]] > SIZE_MARGIN * areas[ranked[-1]]:
            words[ranked[-1]].append("smallest")
    numbers = reading_order(clean)
    faces = []
    for i, box in enumerate(clean):
        score = None if scores is None else scores[i]
        if score is not None and not np.isfinite(score):
            score = None
        faces.append(
            FaceLocation(
                number=numbers[i],
                box=box,
                score=None if score is None else round(float(score), 4),
                position=horizontal[i],
                words=tuple(words[i]),
                index=i,
            )
        )
    return FaceMap(width, height, sorted(faces, key=lambda f: f.number))


def find_faces(image: ImageInput | Any) -> FaceMap:
    """Finds the faces of a photo and says where each one is.

    Args:
        image: a path, bytes, PIL image, ndarray, or a ``tools.analysis.ImageRecord``.

    Returns:
        The faces, numbered in reading order as every other tool numbers them; an empty map when the
        photo has no face (this function answers "how many faces?", so none is a valid answer).

    Raises:
        InvalidImageError: the input is not a readable image.
    """
    from tools.analysis import default_cache
    from tools.errors import NoFaceError

    record = default_cache().get(image)
    height, width = record.shape[:2]
    try:
        faces = record.faces
    except NoFaceError:
        faces = []
    return locate_faces([f.box for f in faces], (width, height), [f.score for f in faces])


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(
    boxes: Sequence[Sequence[float]], sizes: Sequence[tuple[float, float]], image: tuple[int, int]
) -> list[tuple[float, float, float, float]]:
    """Where each box's label goes: (x0, y0, x1, y1) inside the image, one per box, in the given order.

    Each label takes the first of these spots that covers no label placed before it and no other
    face: above its box, below, above or below right-aligned, inside at the top or bottom, beside
    it; when every spot covers something, the one that covers least (a label over another label
    counts far more than one over the edge of a face).

    Args:
        boxes: the faces' boxes, in the order their labels are placed (reading order).
        sizes: (width, height) of each label.
        image: (width, height) of the picture.
    """
    width, height = image
    faces = [tuple(float(v) for v in box[:4]) for box in boxes]
    taken: list[tuple[float, float, float, float]] = []
    for box, (w, h) in zip(faces, sizes):
        x0, y0, x1, y1 = box
        candidates = (
            (x0, y0 - h),
            (x0, y1),
            (x1 - w, y0 - h),
            (x1 - w, y1),
            (x0, y0),
            (x0, y1 - h),
            (x1, y0),
            (x0 - w, y0),
        )
        best: tuple[float, tuple[float, float, float, float]] | None = None
        for lx, ly in candidates:
            lx = min(max(0.0, lx), max(0.0, width - w))
            ly = min(max(0.0, ly), max(0.0, height - h))
            spot = (lx, ly, lx + w, ly + h)
            cost = 100 * sum(_overlap(spot, t) for t in taken)
            cost += sum(_overlap(spot, f) for f in faces if f is not box)
            if best is None or cost < best[0]:  # ties keep the earlier, more natural spot
                best = (cost, spot)
            if cost == 0:
                break
        assert best is not None
        taken.append(best[1])
    return taken


def annotate(
    image: ImageInput | Any,
    boxes: Sequence[Sequence[float]],
    labels: Sequence[str] | None = None,
    max_side: int = ANNOTATED_SIDE,
    emotions: Sequence[str | None] | None = None,
) -> bytes:
    """A PNG of the photo with a numbered box around each face and its label.

    The copy is scaled so its long side lies between ``MIN_ANNOTATED_SIDE`` and ``max_side`` (a
    small photo is enlarged, so the labels stay sharp when the app shows it at chat width); labels
    are placed where they cover no other label and, where possible, no other face.

    Args:
        image: the photo (any input ``tools.images.load_image`` takes, or an ``ImageRecord``).
        boxes: (x0, y0, x1, y1) per face in the photo's pixels.
        labels: the text of each box ("1 happy 99%"); the faces' reading-order numbers when None.
        max_side: the longest side of the copy (boxes are scaled with it).
        emotions: the emotion of each face: its box and label take that emotion's colour
            (``tools.palette``); None (or a None entry) draws a plain white number box.

    Raises:
        InvalidRequestError: labels or emotions and boxes differ in number.
    """
    from tools.analysis import ImageRecord
    from tools.images import load_image
    from tools.palette import NUMBER_COLOUR, emotion_colour, text_colour

    rgb = image.rgb if isinstance(image, ImageRecord) else load_image(image)
    if labels is not None and len(labels) != len(boxes):
        raise InvalidRequestError(f"{len(labels)} labels were given for {len(boxes)} boxes.")
    if emotions is not None and len(emotions) != len(boxes):
        raise InvalidRequestError(f"{len(emotions)} emotions were given for {len(boxes)} boxes.")
    texts = list(labels) if labels is not None else [str(n) for n in reading_order(boxes)]
    pil = Image.fromarray(np.ascontiguousarray(rgb))
    long_side = max(pil.size)
    scale = min(max_side, max(MIN_ANNOTATED_SIDE, long_side)) / long_side
    if abs(scale - 1.0) > 1e-3:
        pil = pil.resize((max(1, round(pil.width * scale)), max(1, round(pil.height * scale))), Image.LANCZOS)
    draw = ImageDraw.Draw(pil)
    side = max(pil.size)
    line = max(2, round(side / 250))
    font = _font(max(14, round(side / 36)))
    scaled = [tuple(float(v) * scale for v in box[:4]) for box in boxes]
    # In reading order: each label is placed after those of the faces read before it.
    numbers = reading_order(boxes) if len(boxes) else []
    order = sorted(range(len(scaled)), key=lambda i: numbers[i])
    outline = (20, 20, 20)
    for i in order:
        x0, y0, x1, y1 = scaled[i]
        emotion = emotions[i] if emotions is not None else None
        colour = emotion_colour(emotion) if emotion else NUMBER_COLOUR
        # A thin dark edge on both sides of the coloured line: visible on light and dark photos alike.
        draw.rectangle((x0 - 1, y0 - 1, x1 + 1, y1 + 1), outline=outline, width=line + 2)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=line)
    pad = max(3, line + 1)
    bounds = [draw.textbbox((0, 0), texts[i], font=font) for i in order]
    sizes = [(right - left + 2 * pad, bottom - top + 2 * pad) for left, top, right, bottom in bounds]
    spots = place_labels([scaled[i] for i in order], sizes, pil.size)
    for i, (left, top, _, _), spot in zip(order, bounds, spots):
        emotion = emotions[i] if emotions is not None else None
        colour = emotion_colour(emotion) if emotion else NUMBER_COLOUR
        draw.rectangle(spot, fill=colour, outline=outline, width=1)
        draw.text((spot[0] + pad - left, spot[1] + pad - top), texts[i], fill=text_colour(colour), font=font)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", optimize=False, compress_level=3)
    return buffer.getvalue()
