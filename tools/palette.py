"""One colour per emotion, for every surface that draws emotions.

    from tools.palette import emotion_colour, emotion_hex, chart_scale
    emotion_colour("happy")                 # (242, 182, 0): boxes and bars drawn on pixels
    emotion_hex("happily_surprised")        # "#eb9761": the two parts' colours mixed
    domain, range_ = chart_scale(["neutral", "happy", "sad"])   # for an Altair colour scale

The numbered photo (``tools.locate.annotate``), the Live page's boxes and bars (``tools.live``) and
the app's charts (probabilities, faces, the video timeline) all read their colours here, so happy is
the same amber everywhere and a person learns the colours once. The seven basic emotions get hues
far apart from each other (neutral is grey, so it never reads as one of them); a compound emotion
mixes its two parts; any other label gets a stable colour of its own.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from tools.labels import COMPOUND_PARTS, display_name

__all__ = [
    "EMOTION_COLOURS",
    "NUMBER_COLOUR",
    "emotion_colour",
    "emotion_hex",
    "text_colour",
    "chart_scale",
]

# RGB. Chosen apart in hue and lightness, none of them a colour the others fade into.
EMOTION_COLOURS: dict[str, tuple[int, int, int]] = {
    "happy": (242, 182, 0),  # amber
    "surprise": (227, 119, 194),  # pink
    "fear": (123, 79, 191),  # violet
    "disgust": (44, 160, 44),  # green
    "angry": (214, 39, 40),  # red
    "sad": (31, 119, 180),  # blue
    "neutral": (140, 140, 140),  # grey
}
# A face numbered without an emotion (``find_faces``): white, so it is never read as an emotion.
NUMBER_COLOUR: tuple[int, int, int] = (255, 255, 255)
_OTHERS = ((23, 190, 207), (140, 86, 75), (188, 189, 34), (255, 127, 14), (82, 84, 163))
_ALIASES = {"surprised": "surprise", "fearful": "fear", "disgusted": "disgust", "anger": "angry"}


def _key(label: str) -> str:
    return "_".join(str(label).strip().lower().replace("-", " ").split())


def emotion_colour(label: str) -> tuple[int, int, int]:
    """The RGB colour of an emotion label (a basic one, a compound one, or its display name)."""
    key = _key(label)
    key = _ALIASES.get(key, key)
    if key in EMOTION_COLOURS:
        return EMOTION_COLOURS[key]
    if key in COMPOUND_PARTS:
        a, b = (EMOTION_COLOURS[part] for part in COMPOUND_PARTS[key])
        return tuple(round((x + y) / 2) for x, y in zip(a, b))  # type: ignore[return-value]
    return _OTHERS[zlib.crc32(key.encode()) % len(_OTHERS)]


def emotion_hex(label: str) -> str:
    """The colour of an emotion label as ``#rrggbb`` (for charts)."""
    return "#{:02x}{:02x}{:02x}".format(*emotion_colour(label))


def text_colour(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``background`` (by its relative luminance)."""
    r, g, b = (c / 255 for c in background)
    return (0, 0, 0) if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 else (255, 255, 255)


def chart_scale(labels: Iterable[str]) -> tuple[list[str], list[str]]:
    """The domain (display names, in the given order) and range (hex colours) of a chart's colour scale."""
    names = list(dict.fromkeys(display_name(str(label)) for label in labels))
    return names, [emotion_hex(name) for name in names]
