"""The chat's turn queue (ui_app.parts.turns) as plain Python: order, progress, failures, no idle thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tools.errors import InvalidImageError, NoFaceError
from ui_app.parts.turns import TurnQueue, Upload, step_words


class Session:
    """Records calls; ``send`` waits for ``gates[text]`` when there is one and reports progress."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def add_image(self, data: bytes, name: str) -> str:
        if data == b"bad":
            raise InvalidImageError("not a photo")
        with self.lock:
            self.calls.append(f"photo {name}")
        return f"img{len(self.calls)}"

    def add_video(self, data: bytes, name: str) -> str:
        with self.lock:
            self.calls.append(f"video {name}")
        return "vid1"

    def send(self, text: str, on_event: Any = None) -> Any:
        with self.lock:
            self.calls.append(f"send {text}")
        if on_event is not None:
            on_event("tool_start", "analyze_video", {})
            on_event("tool_progress", "analyze_video", {"done": 1, "total": 4})
        if text in self.gates:
            assert self.gates[text].wait(10)
        if text == "no face":
            raise NoFaceError("No face found in this image.")
        if text == "crash":
            raise RuntimeError("boom")
        return f"answer to {text}"


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_turns_run_in_order_and_a_queued_one_waits() -> None:
    session, queue = Session(), TurnQueue()
    session.gates["first"] = threading.Event()
    first = queue.submit("first", [Upload("a.mp4", b"v", "video")], session)
    _wait(lambda: first.progress().fraction is not None)
    second = queue.submit("second", [Upload("b.png", b"p"), Upload("c.png", b"p")], session)
    progress = first.progress()
    assert progress.state == "running" and progress.activity == "Reading the video, frame by frame"
    assert progress.fraction == pytest.approx(0.25)
    assert second.progress().state == "queued" and queue.busy
    assert session.calls == ["video a.mp4", "send first"]  # the second waits for the first
    session.gates["first"].set()
    assert second.done.wait(10)
    assert session.calls == ["video a.mp4", "send first", "photo b.png", "photo c.png", "send second"]
    assert first.reply == "answer to first" and second.reply == "answer to second"
    assert [a.agent_id for a in second.added] == ["img3", "img4"]
    assert [t.number for t in queue.pending()] == [1, 2]  # kept until the page has shown them
    queue.forget(first)
    queue.forget(second)
    assert queue.pending() == [] and not queue.busy


def test_a_refused_file_stops_the_question_and_failures_are_kept() -> None:
    session, queue = Session(), TurnQueue()
    refused = queue.submit("what is this?", [Upload("notes.png", b"bad"), Upload("empty.png", b"")], session)
    no_face = queue.submit("no face", [], session)
    crash = queue.submit("crash", [], session)
    assert crash.done.wait(10)
    assert [a.error for a in refused.added] == [
        "I could not use notes.png: not a photo",
        "empty.png is empty. Please choose a photo of a face.",
    ]
    assert not refused.ok and refused.reply is None
    assert "send what is this?" not in session.calls  # a refused file: the question is not asked
    assert isinstance(no_face.failure, NoFaceError) and isinstance(crash.failure, RuntimeError)
    assert crash.progress().state == "done" and crash.progress().fraction is None


def test_the_worker_ends_when_the_queue_is_empty_and_comes_back() -> None:
    session, queue = Session(), TurnQueue()
    assert queue.submit("one", [], session).done.wait(10)
    _wait(lambda: not any(t.name == "chat-turns" and t.is_alive() for t in threading.enumerate()))
    assert queue.submit("two", [], session).done.wait(10)  # a new worker for the next message
    assert session.calls == ["send one", "send two"]


def test_cancel_drops_queued_turns() -> None:
    session, queue = Session(), TurnQueue()
    session.gates["long"] = threading.Event()
    running = queue.submit("long", [], session)
    _wait(lambda: running.progress().state == "running")
    queued = queue.submit("never", [], session)
    queue.cancel()
    session.gates["long"].set()
    assert running.done.wait(10)
    time.sleep(0.2)
    assert queue.pending() == [] and queued.progress().state == "queued" and "send never" not in session.calls


def test_steps_are_words_not_tool_names() -> None:
    assert step_words("classify_emotion") == "Reading the emotion"
    assert step_words("explain_prediction") == "Computing the heatmap"
    assert step_words("some_new_tool") == "Working on it"
