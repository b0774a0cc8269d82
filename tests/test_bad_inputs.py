"""The bad-input matrix through the Python API and the CLI: works correctly or raises our own error."""

from __future__ import annotations

import pytest

from tests.bad_inputs import CASES, Case
from tools import classify
from tools.cli import main
from tools.errors import FaceAgentError


def test_matrix_is_broad():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_python_api(case: Case):
    value = case.make()
    if isinstance(case.expect, type):
        with pytest.raises(case.expect) as info:
            classify(value)
        assert isinstance(info.value, FaceAgentError)
        message = str(info.value)
        assert len(message) > 20 and "Traceback" not in message
        return
    preds = classify(value)
    kind, expected = case.expect
    if kind == "ok":
        assert preds and (expected is None or preds[0].label == expected)
    else:
        assert len(preds) >= expected
    for p in preds:
        assert abs(sum(p.probs.values()) - 1) < 1e-4


@pytest.mark.parametrize("case", [c for c in CASES if isinstance(c.make(), bytes)], ids=lambda c: c.name)
def test_cli_exit_codes(case: Case, tmp_path, capsys):
    path = tmp_path / f"input{case.suffix}"
    path.write_bytes(case.make())
    code = main(["classify", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if isinstance(case.expect, type):
        assert code == 1
        assert "error" in (out + err).lower()
    else:
        assert code == 0
        if case.expect[0] == "ok" and case.expect[1]:
            assert case.expect[1] in out


# --- videos (issue 14) -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_classifier():
    from tools.classifier import default_classifier

    return default_classifier(None)


def test_video_matrix_is_broad():
    from tests.bad_inputs import VIDEO_CASES

    errors = [c for c in VIDEO_CASES if isinstance(c.expect, type)]
    assert len(VIDEO_CASES) >= 20 and len(errors) >= 12


def _video_cases():
    from tests.bad_inputs import VIDEO_CASES

    return VIDEO_CASES


@pytest.mark.parametrize("case", _video_cases(), ids=[c.name for c in _video_cases()])
def test_video_python_api(case: Case, video_classifier):
    from tools.video import analyze_video

    data = case.make()
    if isinstance(case.expect, type):
        with pytest.raises(case.expect) as info:
            analyze_video(data, classifier=video_classifier)
        assert isinstance(info.value, FaceAgentError)
        message = str(info.value)
        assert len(message) > 20 and "Traceback" not in message
        return
    kind, expected = case.expect
    try:
        result = analyze_video(data, classifier=video_classifier)
    except FaceAgentError:
        assert kind == "any", f"{case.name} raised instead of working"
        return
    assert result.frames
    if kind == "ok":
        assert result.tracks and result.dominant() == expected
    elif kind == "no_face":
        assert result.tracks == [] and result.frames_without_faces == len(result.frames)
        assert any("No face" in w for w in result.warnings)


@pytest.mark.parametrize("case", _video_cases(), ids=[c.name for c in _video_cases()])
def test_video_cli_exit_codes(case: Case, tmp_path, capsys):
    path = tmp_path / f"input{case.suffix}"
    path.write_bytes(case.make())
    code = main(["video", str(path), "--fps", "5"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if isinstance(case.expect, type):
        assert code == 1 and err.startswith("error: ")
    elif case.expect[0] == "ok":
        assert code == 0 and case.expect[1] in out
    elif case.expect[0] == "no_face":
        assert code == 0 and "No face was found" in out
