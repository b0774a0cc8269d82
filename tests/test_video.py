"""Video analysis: real clips made in memory from real photos, decoded by PyAV, through the real
detector and classifier; plus the tracker and the smoother on exact synthetic input."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math

import numpy as np
import pytest

from tests import video_clips as clips
from tools.classifier import default_classifier
from tools.errors import InvalidRequestError, InvalidVideoError
from tools.video import (
    EmotionSmoother,
    FaceTracker,
    VideoLimits,
    analyze_video,
    extract_frame,
    format_time,
    parse_time,
    probe_video,
)


@pytest.fixture(scope="module")
def classifier():
    return default_classifier(None)


@pytest.fixture(scope="module")
def still_labels(classifier) -> tuple[str, str]:
    """What the classifier reads on the two stills the halves clip is made of (never assumed)."""
    frames = clips.two_halves(seconds=2, fps=1)
    first, second = classifier.predict(frames[0])[0].label, classifier.predict(frames[-1])[0].label
    assert first != second, "the two photos must read differently for the halves test to mean anything"
    return first, second


@pytest.fixture(scope="module")
def halves_mp4() -> bytes:
    """12 s, 640x480, 10 fps: the astronaut for 6 s, then Grace Hopper."""
    return clips.encode(clips.two_halves(seconds=12, fps=10), fps=10)


@pytest.fixture(scope="module")
def halves(halves_mp4: bytes, classifier):
    calls: list[tuple[int, int | None]] = []
    result = analyze_video(halves_mp4, classifier=classifier, progress=lambda d, t: calls.append((d, t)))
    result.progress_calls = calls  # type: ignore[attr-defined]
    return result


def test_halves_read_like_their_stills(halves, still_labels):
    assert halves.info.width == 640 and halves.info.height == 480
    assert len(halves.frames) == 120 and math.isclose(halves.duration_s, 12.0, abs_tol=0.05)
    assert math.isclose(halves.fps_analyzed, 10.0, abs_tol=0.1)
    assert halves.tracks == [1]  # one person in view all along: one track
    assert halves.dominant(start=0, end=6) == still_labels[0]
    assert halves.dominant(start=6, end=12) == still_labels[1]
    changes = halves.changes()
    assert len(changes) == 1 and changes[0]["from"] == still_labels[0] and changes[0]["to"] == still_labels[1]
    assert 6.0 <= changes[0]["t"] <= 7.0  # smoothing delays the switch by a fraction of a second
    peak = halves.peak(still_labels[0])
    assert peak["t"] < 6.0 and peak["probability"] > 0.5
    assert still_labels[0] in halves.describe() and "0:06" in halves.describe()


def test_progress_callback(halves):
    calls = halves.progress_calls
    assert [d for d, _ in calls] == list(range(1, 121))
    assert all(total == 120 for _, total in calls)


def test_timeline_bins_per_second(halves, still_labels):
    rows = halves.timeline()
    assert [r["start"] for r in rows] == [float(s) for s in range(12)]
    assert all(r["track"] == 1 and r["frames"] == 10 for r in rows)
    assert [r["label"] for r in rows] == [still_labels[0]] * 6 + [still_labels[1]] * 6
    for r in rows:
        assert math.isclose(sum(r["probs"].values()), 1.0, abs_tol=1e-3)
    # A bin is the mean of its frames' readings.
    first = [f.probs for fr in halves.frames if fr.t < 1.0 for f in fr.faces]
    label = still_labels[0]
    k = halves.labels.index(label)
    assert math.isclose(rows[0]["probs"][label], float(np.mean([p[k] for p in first])), abs_tol=1e-4)
    half_second = halves.timeline(step=0.5)
    assert len(half_second) == 24 and all(r["frames"] == 5 for r in half_second)
    with pytest.raises(InvalidRequestError):
        halves.timeline(step=0)


def test_csv_has_a_row_per_face_per_frame(halves):
    rows = list(csv.DictReader(io.StringIO(halves.to_csv())))
    assert len(rows) == 120
    assert list(rows[0])[:10] == [
        "t",
        "frame",
        "track",
        "label",
        "confidence",
        "smoothed_label",
        "x0",
        "y0",
        "x1",
        "y1",
    ]
    assert [c for c in rows[0] if c.startswith("p_")] == [f"p_{label}" for label in halves.labels]
    for row, frame in zip(rows, halves.frames):
        face = frame.faces[0]
        assert float(row["t"]) == pytest.approx(frame.t, abs=1e-3)
        assert int(row["track"]) == face.track and row["label"] == face.label
        assert [int(row[k]) for k in ("x0", "y0", "x1", "y1")] == list(face.box)
        probs = [float(row[f"p_{label}"]) for label in halves.labels]
        assert sum(probs) == pytest.approx(1.0, abs=2e-3)
        assert halves.labels[int(np.argmax(probs))] == row["label"]


def test_json_shape(halves):
    data = json.loads(json.dumps(halves.to_dict()))
    assert {"duration_s", "fps_analyzed", "frames", "summary"} <= set(data)
    assert data["frames"][0]["t"] == 0.0
    face = data["frames"][0]["faces"][0]
    assert {"track", "label", "confidence", "box"} <= set(face) and len(face["box"]) == 4
    track = data["summary"]["tracks"][0]
    assert {"track", "dominant", "changes", "peaks", "mean_probs", "first_s", "last_s"} <= set(track)
    assert "probs" in halves.to_dict(probs=True)["frames"][0]["faces"][0]
    assert len(halves.to_dict(timeline=True)["timeline"]) == 12


def test_fps_sampling_and_header(halves_mp4, classifier):
    info = probe_video(halves_mp4)
    assert (info.width, info.height, info.fps) == (640, 480, 10.0) and info.container == "MP4/MOV"
    sampled = analyze_video(halves_mp4, fps=2, classifier=classifier)
    assert len(sampled.frames) == 24 and sampled.fps_analyzed == pytest.approx(2.0, abs=0.05)
    faster = analyze_video(halves_mp4[:], fps=1000, classifier=classifier, limits=VideoLimits(max_frames=200))
    assert len(faster.frames) == 120  # never more than the video has
    with pytest.raises(InvalidRequestError):
        analyze_video(halves_mp4, fps=-1, classifier=classifier)


def test_limits_are_checked_before_decoding(halves_mp4, classifier):
    with pytest.raises(InvalidVideoError, match="MB"):
        analyze_video(halves_mp4, classifier=classifier, limits=VideoLimits(max_bytes=1000))
    with pytest.raises(InvalidVideoError, match="lasts"):
        analyze_video(halves_mp4, classifier=classifier, limits=VideoLimits(max_duration_s=5))
    with pytest.raises(InvalidVideoError, match="pixels"):
        analyze_video(halves_mp4, classifier=classifier, limits=VideoLimits(max_pixels=640 * 479))
    with pytest.raises(InvalidVideoError, match="frames"):
        analyze_video(halves_mp4, classifier=classifier, limits=VideoLimits(max_frames=50))


def test_extract_frame(halves_mp4, classifier, still_labels):
    t, rgb = extract_frame(halves_mp4, 9.05)
    assert t == pytest.approx(9.0, abs=0.01) and rgb.shape == (480, 640, 3)
    assert classifier.predict(rgb)[0].label == still_labels[1]
    with pytest.raises(InvalidRequestError):
        extract_frame(halves_mp4, 60)


def test_frames_without_faces_are_reported(classifier):
    import skimage.data

    face = clips.framed(clips.astronaut(), clips.ASTRONAUT_FACE, (320, 240), 0.5)
    empty = np.ascontiguousarray(skimage.data.coffee()[:240, :320])
    frames = [empty] * 5 + [face] * 5 + [empty] * 5
    result = analyze_video(clips.encode(frames, fps=5), classifier=classifier)
    assert result.frames_without_faces == 10
    spans = result.no_face_spans()
    assert spans[0] == (0.0, 1.0) and spans[1][0] == pytest.approx(2.0) and spans[1][1] == pytest.approx(3.0)
    assert result.tracks == [1]
    rows = result.timeline()
    assert rows[0]["track"] is None and rows[0]["frames"] == 0
    csv_rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert len(csv_rows) == 15 and csv_rows[0]["track"] == ""
    assert "10 frames had no face" in result.describe()


def test_two_real_faces_crossing_keep_their_ids(classifier):
    frames, _astronaut_x = clips.crossing(n=30)
    result = analyze_video(clips.encode(frames, fps=10), classifier=classifier)
    assert sorted(result.tracks) == [1, 2]
    by_track = {k: result.readings(k) for k in result.tracks}
    # The astronaut's track is the one that starts on the left; it must follow her to the right.
    hers = min(by_track, key=lambda k: by_track[k][0][1].box[0])
    xs = [(f.box[0] + f.box[2]) / 2 for _, f in by_track[hers]]
    assert xs[-1] - xs[0] > 300
    assert all(b >= a - 5 for a, b in itertools.pairwise(xs))  # always moving right: never swapped
    other = next(k for k in by_track if k != hers)
    other_xs = [(f.box[0] + f.box[2]) / 2 for _, f in by_track[other]]
    assert all(b <= a + 5 for a, b in itertools.pairwise(other_xs))
    assert result.dominant(hers) != result.dominant(other)
    story = result.story()  # each face told in turn
    assert f"face {hers} is {result.dominant(hers)} the whole time" in story
    assert f"face {other} is {result.dominant(other)} the whole time" in story


def _box(cx: float, cy: float, side: float = 100.0) -> tuple[float, float, float, float]:
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def test_tracker_keeps_ids_through_a_crossing_with_missed_frames():
    tracker = FaceTracker()
    ids_a, ids_b = [], []
    for i in range(21):
        t = i * 0.1
        a, b = _box(100 + 20 * i, 200), _box(500 - 20 * i, 200 + 30)  # they meet at i = 10
        if 9 <= i <= 11:  # at the crossing one face hides the other: only one detection
            (got,) = tracker.update([a], t)
            ids_a.append(got)
            continue
        order = [b, a] if i % 2 else [a, b]  # detection order must not matter
        got = tracker.update(order, t)
        ids_a.append(got[order.index(a)])
        ids_b.append(got[order.index(b)])
    assert set(ids_a) == {ids_a[0]} and set(ids_b) == {ids_b[0]} and ids_a[0] != ids_b[0]


def test_tracker_ends_lost_tracks_and_starts_new_ones():
    tracker = FaceTracker(max_missed_s=0.5)
    assert tracker.update([_box(100, 100)], 0.0) == [1]
    assert tracker.update([], 0.2) == []
    assert tracker.update([_box(105, 100)], 0.4) == [1]  # back within the grace period
    assert tracker.update([_box(105, 100)], 1.5) == [2]  # gone too long: a new track
    assert tracker.update([_box(105, 100), _box(400, 100)], 1.6) == [2, 3]
    tracker.reset()
    assert tracker.update([_box(400, 100)], 2.0) == [1]


def test_a_live_tracker_gives_a_returning_face_the_lowest_free_number():
    tracker = FaceTracker(max_missed_s=0.5, reuse_ids=True)
    assert tracker.update([_box(100, 100), _box(400, 100)], 0.0) == [1, 2]
    assert tracker.update([_box(400, 100)], 0.4) == [2]
    assert tracker.update([_box(400, 100)], 0.8) == [2]  # face 1 looked away too long: its track ended
    assert tracker.update([_box(400, 100), _box(100, 100)], 1.0) == [2, 1]
    assert tracker.started == [1]
    assert tracker.update([_box(100, 100)], 3.0) == [1]  # alone again after a long gap: face 1
    assert tracker.started == [1]


def test_smoother_ignores_a_flicker_and_follows_a_change():
    smoother = EmotionSmoother(tau_s=0.5)
    happy, sad = np.array([0.9, 0.1]), np.array([0.1, 0.9])
    for i in range(10):
        out = smoother.update(1, happy, i * 0.1)
    assert np.allclose(out, happy)
    flicker = smoother.update(1, sad, 1.0)
    assert flicker[0] > flicker[1]  # one frame of "sad" does not flip the reading
    smoother.update(1, happy, 1.1)
    t0 = 1.2
    for i in range(6):
        out = smoother.update(1, sad, t0 + i * 0.1)
    assert out[1] > out[0]  # a change that holds wins
    # after a step, the time constant says where the average is, whatever the frame rate
    fresh = EmotionSmoother(tau_s=0.5)
    fresh.update(7, happy, 0.0)
    stepped = fresh.update(7, sad, 0.5)
    expected = happy + (1 - math.exp(-1)) * (sad - happy)
    assert np.allclose(stepped, expected)
    assert np.allclose(EmotionSmoother(0).update(1, sad, 0.0), sad)
    assert fresh.current(7) is not None and fresh.current(99) is None


def test_time_strings():
    assert parse_time("0:05") == 5.0 and parse_time("1:02.5") == 62.5 and parse_time("5s") == 5.0
    assert parse_time("7 seconds") == 7.0 and parse_time("1:00:00") == 3600.0
    for bad in ("soon", "-3", "1:x"):
        with pytest.raises(InvalidRequestError):
            parse_time(bad)
    assert format_time(5) == "0:05" and format_time(62.5) == "1:02.5" and format_time(600) == "10:00"


def test_path_and_file_like_inputs(tmp_path, classifier):
    data = clips.encode([clips.framed(clips.astronaut(), clips.ASTRONAUT_FACE, (320, 240), 0.5)] * 3, fps=3)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    assert analyze_video(path, classifier=classifier).name == "clip.mp4"
    assert len(analyze_video(io.BytesIO(data), classifier=classifier).frames) == 3
    with pytest.raises(InvalidVideoError, match="does not exist"):
        analyze_video(tmp_path / "missing.mp4", classifier=classifier)
    with pytest.raises(InvalidVideoError):
        analyze_video(12345, classifier=classifier)


def test_faces_found_on_the_small_copy_land_on_the_frame(classifier):
    """Detection runs on a downscaled copy; boxes and landmarks must match a full-size detection."""
    from tools.faces import detect_faces
    from tools.video import FrameAnalyzer

    frame = clips.framed(clips.astronaut(), clips.ASTRONAUT_FACE, (1280, 960), 0.3)
    (small,) = FrameAnalyzer(classifier, detect_side=480).detect(frame)
    full = detect_faces(frame)[0]
    side = full.size
    assert np.abs(np.subtract(small.box, full.box)).max() < 0.15 * side  # HOG boxes step with scale
    assert np.abs(small.landmarks - full.landmarks).mean() < 0.04 * side
