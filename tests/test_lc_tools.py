"""The LangChain tools: schemas written for models, image ids from the runtime context, errors as text."""

from __future__ import annotations

import numpy as np
import pytest
from langchain.tools import ToolRuntime
from langchain_core.messages import ToolMessage

import tools.lc as lc
from tools.analysis import AnalysisCache
from tools.lc import (
    FaceToolContext,
    answer_question,
    classify_emotion,
    describe_face,
    explain_prediction,
    face_tools,
    find_faces,
)


@pytest.fixture(scope="module")
def context(astronaut: np.ndarray, coffee: np.ndarray) -> FaceToolContext:
    cache = AnalysisCache()
    return FaceToolContext(
        images={"img1": cache.get(astronaut), "img2": cache.get(coffee)}, names={"img1": "a.png"}
    )


def _invoke(tool, context: FaceToolContext | None, **args) -> ToolMessage:
    runtime = ToolRuntime(
        state={}, context=context, config={}, stream_writer=None, tool_call_id="t1", store=None
    )
    return tool.invoke(
        {"type": "tool_call", "id": "t1", "name": tool.name, "args": {**args, "runtime": runtime}}
    )


def test_public_names() -> None:
    assert lc.__all__ == [
        "FaceToolContext",
        "classify_emotion",
        "explain_prediction",
        "answer_question",
        "describe_face",
        "find_faces",
        "face_tools",
        "TOOL_NAMES",
        "IMAGE_TOOLS",
    ]
    assert [t.name for t in face_tools()] == list(lc.TOOL_NAMES)


@pytest.mark.parametrize(
    "tool", [classify_emotion, explain_prediction, answer_question, describe_face, find_faces]
)
def test_schemas_are_written_for_models(tool) -> None:
    schema = tool.tool_call_schema.model_json_schema()
    assert "runtime" not in schema["properties"]  # injected, never chosen by a model
    assert schema["required"][0] == "image_id"
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
    assert tool.response_format == "content_and_artifact"
    assert len(tool.description) > 80 and "Use it for" in tool.description


def test_classify(context: FaceToolContext) -> None:
    msg = _invoke(classify_emotion, context, image_id="img1")
    assert msg.content.startswith("img1 (1 face") and "happy" in msg.content
    pred = msg.artifact["predictions"][0]
    assert (
        msg.artifact["image_id"] == "img1" and pred["label"] == "happy" and "happy" in msg.artifact["labels"]
    )
    assert abs(sum(pred["probs"].values()) - 1) < 1e-3


def test_explain(context: FaceToolContext) -> None:
    msg = _invoke(explain_prediction, context, image_id="img1", target="sadness", method="Grad-CAM++")
    art = msg.artifact
    assert (
        art["target"] == "sad" and art["method"] == "gradcam++" and art["overlay_png"].startswith(b"\x89PNG")
    )
    assert abs(sum(art["regions"].values()) - 1) < 1e-3 and "faithfulness_text" in art
    assert "Grad-CAM++" in msg.content


def test_questions(context: FaceToolContext) -> None:
    msg = _invoke(answer_question, context, image_id="img1", question="Is the mouth open?")
    assert msg.artifact["backend"] in ("geometry", "blip") and msg.artifact["text"]
    msg = _invoke(describe_face, context, image_id="img1")
    assert "mouth" in msg.artifact["text"].lower()


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        (classify_emotion, {"image_id": "img7"}, "Valid image ids: img1, img2"),
        (explain_prediction, {"image_id": "../../etc/passwd"}, "Valid image ids"),
        (classify_emotion, {"image_id": "img2"}, "face"),
        (classify_emotion, {"image_id": "img1", "face": 3}, "Face 3"),
        (explain_prediction, {"image_id": "img1", "face": 2}, "Face 2"),
        (explain_prediction, {"image_id": "img1", "target": "bored"}, "knows"),
        (explain_prediction, {"image_id": "img1", "method": "magic"}, "choose one of"),
        (answer_question, {"image_id": "img1", "question": "Is the mouth open?", "face": 5}, "Face 5"),
    ],
)
def test_errors_become_tool_text(context: FaceToolContext, tool, args: dict, expected: str) -> None:
    msg = _invoke(tool, context, **args)
    assert msg.content.startswith("Error:") and expected in msg.content
    assert msg.artifact["error"] and msg.artifact["image_id"] == args["image_id"]


def test_without_a_context_the_tools_say_so() -> None:
    msg = _invoke(classify_emotion, None, image_id="img1")
    assert msg.content.startswith("Error:") and "image store" in msg.content


def test_unknown_id_in_context_lists_valid_ids() -> None:
    context = FaceToolContext()
    with pytest.raises(Exception, match="upload"):
        context.image("img1")
