"""The live pipeline (tools.live) on real frames: drawing, readings, the heatmap job, resets."""

from __future__ import annotations

import threading
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from tests import video_clips as clips
from tools.live import LiveAnalyzer
from tools.palette import emotion_colour

HAPPY = emotion_colour("happy")  # the box and label of a happy face


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return clips.framed(clips.astronaut(), clips.ASTRONAUT_FACE, (640, 480), 0.45, (0.5, 0.5))


def _colour_pixels(rgb: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((np.abs(rgb.astype(int) - np.array(colour)).sum(axis=2) < 30).sum())


def test_frames_get_boxes_labels_and_bars(frame: np.ndarray) -> None:
    clock = Clock()
    live = LiveAnalyzer(clock=clock)
    assert live.snapshot().faces == [] and live.latest_frame() is None
    for i in range(10):
        clock.t = i / 20  # 20 frames a second of camera time
        out = live.process(frame)
    assert out.shape == frame.shape and out is not frame
    assert _colour_pixels(frame, HAPPY) == 0 and _colour_pixels(out, HAPPY) > 1000
    snap = live.snapshot()
    assert snap.frames == 10 and snap.fps == pytest.approx(20.0)
    (face,) = snap.faces
    assert face["track"] == 1 and face["label"] == "happy" and face["smoothed"]["happy"] == face["confidence"]
    assert np.array_equal(live.latest_frame(), frame)  # the raw frame, without drawings
    live.reset()
    assert live.snapshot().frames == 0 and live.snapshot().faces == []


def test_no_face_is_drawn_as_nothing(coffee: np.ndarray) -> None:
    live = LiveAnalyzer()
    out = live.process(np.ascontiguousarray(coffee[:480, :640]))
    assert np.array_equal(out, coffee[:480, :640]) and live.snapshot().faces == []


def test_a_resolution_change_keeps_the_track(frame: np.ndarray) -> None:
    clock = Clock()
    live = LiveAnalyzer(clock=clock)
    live.process(frame)
    clock.t = 0.1
    live.process(cv2.resize(frame, (480, 360), interpolation=cv2.INTER_AREA))  # WebRTC adapts the size
    assert [f["track"] for f in live.snapshot().faces] == [1]


def test_a_face_that_looks_away_and_back_is_face_1_again(frame: np.ndarray, coffee: np.ndarray) -> None:
    clock = Clock()
    live = LiveAnalyzer(clock=clock)
    live.process(frame)
    clock.t = 0.5
    live.process(np.ascontiguousarray(coffee[:480, :640]))  # nobody in view ...
    clock.t = 3.0  # ... for longer than a track waits
    live.process(frame)
    assert [f["track"] for f in live.snapshot().faces] == [1]


def test_callback_keeps_timing_and_size(frame: np.ndarray) -> None:
    live = LiveAnalyzer()
    incoming = av.VideoFrame.from_ndarray(frame, format="rgb24")
    incoming.pts, incoming.time_base = 1234, Fraction(1, 90_000)  # as WebRTC delivers them
    out = live.callback(incoming)
    assert (out.width, out.height, out.pts) == (640, 480, 1234) and out.time_base == incoming.time_base
    assert _colour_pixels(out.to_ndarray(format="rgb24"), HAPPY) > 1000


def test_heatmap_runs_beside_the_stream_and_leaves_no_thread(frame: np.ndarray) -> None:
    before = threading.active_count()
    clock = Clock()
    live = LiveAnalyzer(heatmap=True, clock=clock)
    plain = LiveAnalyzer(clock=clock).process(frame)
    live.process(frame)  # starts the heatmap job; this frame does not wait for it
    assert live.wait_for_heatmap()
    clock.t = 0.5
    out = live.process(frame)  # within a second: no new job, the finished heatmap is blended in
    assert live.snapshot().heatmap_label == "happy"
    assert np.abs(out.astype(int) - plain.astype(int)).sum() > 100_000
    assert live.wait_for_heatmap() and threading.active_count() <= before
    live.heatmap = False
    clock.t = 1.0
    assert live.snapshot().heatmap_label is None
    assert np.array_equal(live.process(frame), plain)
