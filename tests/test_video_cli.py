"""``python -m tools video``: the table, JSON, CSV and errors, in process and as a real process."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import video_clips as clips
from tools.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """2 s at 5 fps, 320x240: the astronaut, then Grace Hopper."""
    path = tmp_path_factory.mktemp("video") / "halves.mp4"
    path.write_bytes(clips.encode(clips.two_halves(seconds=2, fps=5, size=(320, 240)), fps=5))
    return path


def test_table(short_clip: Path, capsys):
    assert main(["video", str(short_clip)]) == 0
    out = capsys.readouterr().out
    assert "halves.mp4: 320x240, 0:02, 10 frames analysed (5.0/s)" in out
    assert "  0:00  face 1: happy" in out and "  0:01  face 1:" in out
    # The story: the astronaut's second, then Grace Hopper's, with times; and what the figures are.
    assert re.search(r"the face is happy from 0:00 to 0:01(\.\d)?, then (?!happy)\w+ to the end\.", out), out
    assert "smoothed over ~0.5 s" in out and "not smoothed" in out


def test_json_and_csv(short_clip: Path, tmp_path: Path, capsys):
    target = tmp_path / "out" / "frames.csv"
    assert main(["video", str(short_clip), "--json", "--fps", "2.5", "--csv", str(target)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fps_analyzed"] == pytest.approx(2.5, abs=0.05) and data["duration_s"] == pytest.approx(2.0)
    assert len(data["frames"]) == 5 and data["csv"] == str(target)
    for frame in data["frames"]:
        faces = frame["faces"]
        assert faces and set(faces[0]) >= {"track", "label", "confidence", "box"}
    (track,) = data["summary"]["tracks"]
    phases = track["phases"]
    assert phases[0]["emotion"] == "happy" and len(phases) == 2
    assert phases[0]["start_s"] == 0.0 and phases[0]["end_s"] == phases[1]["start_s"]
    assert phases[1]["end_s"] == pytest.approx(2.0)
    assert {"name", "emotions", "mixed", "mean_probs", "peak", "frames"} <= set(phases[0])
    assert "the face is happy from 0:00" in data["summary"]["story"]
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [float(r["t"]) for r in rows] == [f["t"] for f in data["frames"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fps", "0"], "--fps"),
        (["--csv", "out.txt"], ".csv"),
    ],
)
def test_bad_arguments(short_clip: Path, args: list[str], message: str, capsys):
    assert main(["video", str(short_clip), *args]) == 1
    assert message in capsys.readouterr().err


def test_missing_file(tmp_path: Path, capsys):
    assert main(["video", str(tmp_path / "nope.mp4")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_twelve_second_clip_end_to_end_in_a_process(tmp_path: Path):
    """The issue's clip (12 s, 640x480, 10 fps) through a real ``python -m tools video`` process (at
    5 frames a second here, to keep the suite quick); each half must read like its still photo.
    benchmarks/bench_video.py times every frame of it."""
    from tools.classifier import default_classifier

    frames = clips.two_halves(seconds=12, fps=10)
    classifier = default_classifier(None)
    first, second = classifier.predict(frames[0])[0].label, classifier.predict(frames[-1])[0].label
    assert first != second
    path = tmp_path / "halves.mp4"
    path.write_bytes(clips.encode(frames, fps=10))
    done = subprocess.run(
        [sys.executable, "-m", "tools", "video", str(path), "--json", "--fps", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert len(data["frames"]) == 60 and data["fps_analyzed"] == pytest.approx(5.0, abs=0.05)
    labels = [f["faces"][0]["label"] for f in data["frames"]]
    assert labels[:30].count(first) >= 27 and labels[30:].count(second) >= 27
    (track,) = data["summary"]["tracks"]
    assert [(c["from"], c["to"]) for c in track["changes"]] == [(first, second)]
