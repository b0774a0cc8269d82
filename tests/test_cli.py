"""``python -m tools classify``: tables, JSON and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import png_bytes
from tools.cli import main


def _folder(tmp_path, astronaut, grace_hopper):
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    (tmp_path / "imgs" / "astronaut.png").write_bytes(png_bytes(astronaut))
    (tmp_path / "imgs" / "sub" / "grace.jpg").write_bytes(png_bytes(grace_hopper, "JPEG"))
    (tmp_path / "imgs" / "notes.jpg").write_text("not an image")
    return tmp_path / "imgs"


def test_classify_folder_table(tmp_path, astronaut, grace_hopper, capsys):
    folder = _folder(tmp_path, astronaut, grace_hopper)
    assert main(["classify", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out[1:] if line.strip()]
    assert len(rows) == 3  # one row per face plus one error row
    assert any("astronaut.png" in r and "happy" in r for r in rows)
    assert any("notes.jpg" in r and "error" in r for r in rows)


def test_classify_json_parses(tmp_path, astronaut, grace_hopper, capsys):
    folder = _folder(tmp_path, astronaut, grace_hopper)
    assert main(["classify", str(folder), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in data["results"]}
    assert by_name["astronaut.png"]["faces"][0]["label"] == "happy"
    assert by_name["notes.jpg"]["error"]["type"] == "InvalidImageError"
    assert data["model"] == "faceapi-expression"


def test_nothing_readable_exits_nonzero(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("x")
    assert main(["classify", str(bad)]) == 1
    assert main(["classify", str(tmp_path / "missing.png")]) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["classify", str(empty)]) == 1
    assert "No image files" in capsys.readouterr().err


def test_module_entry_point_runs(tmp_path, astronaut):
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(astronaut))
    result = subprocess.run(
        [sys.executable, "-m", "tools", "classify", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["faces"][0]["label"] == "happy"
    assert "Traceback" not in result.stderr


def test_classify_with_a_builtin_model_by_name(tmp_path, astronaut, capsys):
    image = tmp_path / "astronaut.png"
    image.write_bytes(png_bytes(astronaut))
    assert main(["classify", str(image), "--model", "faceapi-expression", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "faceapi-expression"
    assert data["results"][0]["faces"][0]["label"] == "happy"
