"""The agent's video answers: ChatSession with the offline planner on a real clip, a scripted model
calling the video tools, and the planner's reading of video requests."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage

from agent import AgentSettings, ChatSession
from agent.understanding.video import understand_video
from tests import video_clips as clips
from tools.classifier import default_classifier
from tools.video import format_time

OFFLINE = AgentSettings()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ScriptedModel(FakeMessagesListChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


@pytest.fixture(scope="module")
def clip() -> bytes:
    """6 s at 5 fps, 320x240: the astronaut for 3 s, then Grace Hopper."""
    return clips.encode(clips.two_halves(seconds=6, fps=5, size=(320, 240)), fps=5)


@pytest.fixture(scope="module")
def labels() -> tuple[str, str]:
    frames = clips.two_halves(seconds=2, fps=1, size=(320, 240))
    classifier = default_classifier(None)
    first, second = classifier.predict(frames[0])[0].label, classifier.predict(frames[-1])[0].label
    assert first != second
    return first, second


@pytest.fixture(scope="module")
def session(clip: bytes) -> ChatSession:
    s = ChatSession(model="offline", settings=OFFLINE)
    assert s.add_video(clip, "halves.mp4") == "vid1"
    assert s.add_video(clip, "again.mp4") == "vid1"  # the same file keeps its id
    return s


def _artifact(reply: Any, tool: str) -> dict:
    return next(r.artifact for r in reply.results if r.tool == tool)


def test_a_video_with_no_words_gets_a_summary(session: ChatSession, labels) -> None:
    reply = session.send("")
    assert reply.tool_calls == ["analyze_video"]
    assert f"halves.mp4 (0:06, 30 frames analysed): the face is {labels[0]} from 0:00 to 0:03" in reply.text
    assert f"then {labels[1]} to the end" in reply.text and "smoothed over ~0.5 s" in reply.text
    artifact = _artifact(reply, "analyze_video")
    assert artifact["summary"]["tracks"][0]["dominant"] == labels[0]
    assert artifact["csv"].startswith("t,frame,track") and artifact["timeline"]


def test_how_did_her_mood_change(session: ChatSession, labels) -> None:
    reply = session.send("How did her mood change?")
    assert reply.tool_calls == ["analyze_video"] and reply.results[0].args["focus"] == "changes"
    assert f"{labels[0]} → {labels[1]}" in reply.text
    (change,) = _artifact(reply, "analyze_video")["summary"]["tracks"][0]["changes"]
    assert 3.0 <= change["t"] <= 4.0 and f"changes once: at {format_time(change['t'])} " in reply.text


def test_when_was_she_happiest(session: ChatSession, labels) -> None:
    reply = session.send("when was she happiest?")
    args = reply.results[0].args
    assert args["focus"] == "peak" and args["emotion"] == "happy"
    peak = _artifact(reply, "analyze_video")["summary"]["tracks"][0]["peaks"]["happy"]
    happy_half = 0 if labels[0] == "happy" else 3
    assert happy_half <= peak["t"] < happy_half + 3.0
    assert peak["start_s"] == pytest.approx(happy_half, abs=0.5) and peak["end_s"] == pytest.approx(
        happy_half + 3, abs=0.5
    )
    assert f"looks most happy from 0:0{happy_half} to " in reply.text and "smoothed" in reply.text


def test_show_the_timeline(session: ChatSession, labels) -> None:
    reply = session.send("show the timeline")
    assert reply.results[0].args["focus"] == "timeline"
    assert reply.text.count("face 1") == 6 and f"0:00 face 1 {labels[0]}" in reply.text
    rows = _artifact(reply, "analyze_video")["timeline"]
    assert rows and all(r["track"] == 1 for r in rows)


def test_explain_the_frame_at_five_seconds(session: ChatSession, labels) -> None:
    reply = session.send("explain the frame at 0:05")
    assert reply.tool_calls == ["video_frame", "explain_prediction"]
    frame = _artifact(reply, "video_frame")
    assert frame["t"] == pytest.approx(5.0, abs=0.01) and frame["image_id"].startswith("img")
    assert any(i.id == frame["image_id"] and i.name == "halves.mp4 at 0:05" for i in session.images)
    explained = reply.results[1]
    assert explained.args["image_id"] == frame["image_id"] and explained.artifact["target"] == labels[1]
    assert reply.images and reply.images[0].startswith(PNG_MAGIC)
    # The frame is now a photo of the conversation: the photo tools answer follow-ups about it.
    follow = session.send("is the mouth open?")
    assert (
        follow.tool_calls == ["answer_question"] and follow.results[0].args["image_id"] == frame["image_id"]
    )


def test_a_moment_and_a_feeling(session: ChatSession, labels) -> None:
    reply = session.send("what is she feeling at 0:01 in the video?")
    assert reply.tool_calls == ["video_frame", "classify_emotion"]
    assert _artifact(reply, "classify_emotion")["predictions"][0]["label"] == labels[0]


def test_why_about_a_whole_video_points_to_a_moment(clip: bytes) -> None:
    s = ChatSession(model="offline", settings=OFFLINE)
    s.add_video(clip, "halves.mp4")
    s.send("what happens in the video?")
    reply = s.send("why?")
    assert reply.tool_calls == [] and "frame at 0:05" in reply.text


def test_bad_requests_become_messages(session: ChatSession) -> None:
    reply = session.send("explain the frame at 0:59 of the video")
    assert reply.tool_calls == ["video_frame"] and "no frame at 0:59" in reply.text
    assert reply.error


def test_photo_questions_still_go_to_the_photo_tools(clip: bytes, astronaut) -> None:
    s = ChatSession(model="offline", settings=OFFLINE)
    s.add_video(clip, "halves.mp4")
    s.add_image(astronaut, "astronaut.png")
    reply = s.send("what emotion is this?")
    assert reply.tool_calls == ["classify_emotion"]
    reply = s.send("and how does her mood change in the video?")
    assert reply.tool_calls == ["analyze_video"]


def test_a_scripted_model_calls_the_video_tools(clip: bytes) -> None:
    script = [
        AIMessage(
            "",
            tool_calls=[
                {"name": "analyze_video", "args": {"video_id": "vid1", "focus": "changes"}, "id": "c1"},
                {"name": "analyze_video", "args": {"video_id": "vid9"}, "id": "c2"},
            ],
        ),
        AIMessage("It changes once."),
    ]
    s = ChatSession(model=ScriptedModel(responses=script), settings=OFFLINE)
    s.add_video(clip, "halves.mp4")
    reply = s.send("how did her mood change?")
    assert not reply.notices, reply.notices
    assert reply.tool_calls == ["analyze_video", "analyze_video"] and reply.text == "It changes once."
    assert reply.results[0].ok and not reply.results[1].ok
    assert "vid1" in reply.results[1].content  # the error lists the valid ids


@pytest.mark.parametrize(
    ("text", "kind", "extra"),
    [
        ("how did her mood change?", "changes", {}),
        ("Did his expression shift during the clip?", "changes", {}),
        ("when was he happiest?", "peak", {"emotion": "happy"}),
        ("at what point does she smile the most", "peak", {"emotion": "happy"}),
        ("when is he most angry?", "peak", {"emotion": "angry"}),
        ("show the timeline", "timeline", {}),
        ("plot the emotions over time", "timeline", {}),
        ("explain the frame at 0:05", "frame", {"at": "0:05"}),
        ("what is the second face feeling at 1:02.5?", "frame", {"at": "1:02.5", "track": 2}),
        ("show me the moment at 7 seconds", "frame", {"at": "7 seconds"}),
        ("what happens in the video?", "summary", {}),
        ("what emotion is this?", "summary", {}),
    ],
)
def test_understand_video(text: str, kind: str, extra: dict) -> None:
    request = understand_video(text)
    assert request is not None and request.kind == kind
    for key, value in extra.items():
        assert getattr(request, key) == value


def test_not_video_requests() -> None:
    assert understand_video("") is None
    assert understand_video("hello there") is None
    assert understand_video("is the mouth open?") is None


def test_a_video_session_writes_nothing_to_disk(clip: bytes) -> None:
    """Uploads stay in memory: PyAV reads from bytes (no temporary file), frames become photos in memory."""
    from tests.test_hardening import _watching, _writes

    warm = ChatSession(model="offline", settings=OFFLINE)
    warm.add_video(clip, "warm.mp4")
    warm.send("explain the frame at 0:01")
    _writes.clear()
    _watching.set()
    try:
        s = ChatSession(model="offline", settings=OFFLINE)
        s.add_video(clip[:-1] + b"\x00", "halves.mp4")  # new bytes: analysed afresh
        s.send("how did her mood change?")
        s.send("explain the frame at 0:04")
        s.send("show the timeline")
    finally:
        _watching.clear()
    assert _writes == []


def test_a_scripted_model_explains_a_frame_it_took(clip: bytes, labels) -> None:
    """The frame's new photo id is valid for the next model call of the same turn (the guard checks ids)."""
    script = [
        AIMessage(
            "", tool_calls=[{"name": "video_frame", "args": {"video_id": "vid1", "at": "0:04"}, "id": "f"}]
        ),
        AIMessage("", tool_calls=[{"name": "explain_prediction", "args": {"image_id": "img1"}, "id": "e"}]),
        AIMessage("Here is the heatmap."),
    ]
    s = ChatSession(model=ScriptedModel(responses=script), settings=OFFLINE)
    s.add_video(clip, "halves.mp4")
    reply = s.send("explain the frame at 0:04")
    assert not reply.notices, reply.notices  # no fallback: the model's calls were all valid
    assert reply.tool_calls == ["video_frame", "explain_prediction"]
    assert reply.results[1].artifact["target"] == labels[1] and reply.images
