"""One colour per emotion (tools.palette), and every surface that draws emotions using it."""

from __future__ import annotations

import io
import itertools

import numpy as np
from PIL import Image

from tools.labels import BASIC7, RAFCE_COMPOUND14
from tools.locate import annotate, place_labels
from tools.palette import (
    EMOTION_COLOURS,
    NUMBER_COLOUR,
    chart_scale,
    emotion_colour,
    emotion_hex,
    text_colour,
)


def _distance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """How different two colours look (CIEDE2000; about 2 is just noticeable, over 20 clearly apart)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    lab = [rgb2lab(np.array([[c]], float) / 255)[0, 0] for c in (a, b)]
    return float(deltaE_ciede2000(*lab))


def test_the_basic_emotions_have_colours_far_apart() -> None:
    colours = [emotion_colour(label) for label in BASIC7]
    assert len(set(colours)) == 7
    closest = min(_distance(a, b) for a, b in itertools.combinations(colours, 2))
    assert closest > 20, closest  # no two emotions look alike (neutral and happy were two blues)
    neutral = emotion_colour("neutral")
    assert max(neutral) - min(neutral) < 10  # neutral is a grey: never read as an emotion
    assert all(_distance(NUMBER_COLOUR, c) > 20 for c in colours)


def test_names_aliases_and_compounds_get_the_same_colours() -> None:
    assert emotion_colour("Surprised") == emotion_colour("surprise") == EMOTION_COLOURS["surprise"]
    assert emotion_colour("happily surprised") == emotion_colour("happily_surprised")
    for label in RAFCE_COMPOUND14:  # a compound mixes its two parts
        colour = emotion_colour(label)
        assert colour not in EMOTION_COLOURS.values()
    assert emotion_colour("contempt") == emotion_colour("contempt")  # stable for any other label
    assert emotion_hex("happy") == "#f2b600"


def test_text_reads_on_every_colour() -> None:
    assert text_colour(emotion_colour("happy")) == (0, 0, 0)
    assert text_colour(emotion_colour("sad")) == (255, 255, 255)


def test_chart_scale_is_the_palette_in_display_names() -> None:
    domain, colours = chart_scale(["neutral", "happily_surprised", "happy"])
    assert domain == ["neutral", "happily surprised", "happy"]
    assert colours == [emotion_hex("neutral"), emotion_hex("happily_surprised"), emotion_hex("happy")]


def test_the_apps_charts_use_the_palette() -> None:
    from ui_app.parts import charts

    probs = {"neutral": 0.1, "happy": 0.8, "sad": 0.1}
    specs = [
        charts.probability_chart(probs).to_dict(),
        charts.faces_chart(
            [{"number": 1, "probs": probs}, {"number": 2, "probs": probs}], list(probs)
        ).to_dict(),
        charts.timeline_chart([{"start": 0.0, "track": 1, "probs": probs}], list(probs), 1).to_dict(),
    ]
    for spec in specs:
        layer = spec["layer"][0] if "layer" in spec else spec
        scale = layer["encoding"]["color"]["scale"]
        assert dict(zip(scale["domain"], scale["range"])) == {k: emotion_hex(k) for k in probs}


def _pixels(png: bytes, colour: tuple[int, int, int]) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(rgb - np.array(colour)).sum(axis=2) < 20).sum())


def test_the_numbered_photo_takes_each_faces_emotion_colour(astronaut: np.ndarray) -> None:
    boxes = [(40, 200, 160, 320), (300, 200, 420, 320)]
    png = annotate(astronaut, boxes, ["1 happy 90%", "2 sad 70%"], emotions=["happy", "sad"])
    assert _pixels(png, emotion_colour("happy")) > 500 and _pixels(png, emotion_colour("sad")) > 500
    plain = annotate(astronaut, boxes)  # no emotion: white number boxes, no emotion's colour
    assert _pixels(plain, emotion_colour("happy")) == 0 and _pixels(plain, emotion_colour("sad")) < 50


def test_a_small_photo_is_enlarged_and_a_large_one_shrunk(astronaut: np.ndarray) -> None:
    small = np.ascontiguousarray(astronaut[::4, ::4])  # 128 px
    assert Image.open(io.BytesIO(annotate(small, [(10, 10, 60, 60)]))).size == (640, 640)
    big = np.ascontiguousarray(np.repeat(np.repeat(astronaut, 4, axis=0), 4, axis=1))  # 2048 px
    assert Image.open(io.BytesIO(annotate(big, [(10, 10, 600, 600)]))).size == (768, 768)


def test_labels_of_faces_close_together_never_cover_each_other() -> None:
    # Eight faces in two tight rows: the label above each one would run into its neighbours'.
    boxes = [
        (20 + 90 * i, 40 + 120 * row, 100 + 90 * i, 120 + 120 * row) for row in range(2) for i in range(4)
    ]
    sizes = [(150.0, 26.0)] * len(boxes)  # wider than a face: "1 happy 100%"
    spots = place_labels(boxes, sizes, (400, 300))
    for a, b in itertools.combinations(spots, 2):
        overlap_w = min(a[2], b[2]) - max(a[0], b[0])
        overlap_h = min(a[3], b[3]) - max(a[1], b[1])
        assert overlap_w <= 0 or overlap_h <= 0, (a, b)
    assert all(0 <= s[0] and s[2] <= 400 and 0 <= s[1] and s[3] <= 300 for s in spots)
