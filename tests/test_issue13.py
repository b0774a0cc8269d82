"""The examples of issue 13, as a new user types them: in the terminal chat and in the app.

Each one used to fail (the wrong photo, "I'm not sure what you'd like", every face instead of the one
asked about, a list instead of an answer); the corpus (tests/test_corpus.py) covers their many
paraphrases, these run them end to end through ``python -m agent`` and the Streamlit app.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from agent.__main__ import main
from tests.conftest import png_bytes
from tests.photos import photo
from tools import find_faces


def _save(tmp_path: Path, name: str, key: str) -> str:
    path = tmp_path / name
    Image.fromarray(photo(key)).save(path)
    return str(path)


def _answers(out: str) -> list[str]:
    """The terminal chat's answer to each question, in order."""
    blocks = re.split(r"^> .*$", out, flags=re.MULTILINE)[1:]
    return [b.strip() for b in blocks]


@pytest.mark.slow
def test_examples_in_the_terminal_chat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grace, astronaut = _save(tmp_path, "grace.jpg", "grace"), _save(tmp_path, "astronaut.jpg", "astronaut")
    questions = [
        "what is she feeling?",
        "compare this one with the first photo",
        "and for astronaut.jpg?",
        "Is she happy? Answer yes or no.",
        "tell me everything you can about this face",
        "how many faces can you see?",
    ]
    args = ["--model", "offline", "--image", grace, "--image", astronaut]
    assert main([*args, *(x for q in questions for x in ("--ask", q))]) == 0
    answers = _answers(capsys.readouterr().out)
    assert "[tools] classify_emotion" in answers[0]
    assert "[tools] classify_emotion, classify_emotion" in answers[1]
    assert "grace.jpg" in answers[1] and "astronaut.jpg" in answers[1]  # file names, never internal ids
    assert not re.search(r"\bimg\d", answers[1].split("\n", 1)[1])
    assert "[tools] classify_emotion" in answers[2] and "happy" in answers[2].lower()
    assert answers[3].split("\n", 1)[1].startswith("Yes")
    assert "[tools] classify_emotion, explain_prediction, describe_face" in answers[4]
    assert "[tools] find_faces" in answers[5] and "1 face" in answers[5]

    pair = _save(tmp_path, "pair.png", "pair")
    group = _save(tmp_path, "group.png", "trio")
    questions = [
        "what is the person on the right feeling?",
        "which of the two looks happier?",
    ]
    assert main(["--model", "offline", "--image", pair, *(x for q in questions for x in ("--ask", q))]) == 0
    right, happier = _answers(capsys.readouterr().out)
    number = find_faces(photo("pair")).pick("right").number  # numbers follow the detector's ranking
    assert (
        "[tools] find_faces, classify_emotion" in right
        and f"the face on the right (face {number})" in right.lower()
    )
    assert "I'm not sure" not in right and re.search(r"^Face \d", happier.split("\n", 1)[1])
    questions = [
        "what's everyone feeling?",
        "who looks the happiest?",
        "what about the woman on the far right?",
    ]
    assert main(["--model", "offline", "--image", group, *(x for q in questions for x in ("--ask", q))]) == 0
    everyone, happiest, far_right = _answers(capsys.readouterr().out)
    assert (
        "| Face | Where |" in everyone and everyone.lower().count("compound reading") <= 1
    )  # said once at most, only when there is one
    assert "1 image(s) made" in everyone  # the photo with numbered boxes
    faces = find_faces(photo("trio"))
    assert f"face {faces.pick('middle').number} (in the middle) looks the happiest" in happiest.lower()
    assert f"the face on the right (face {faces.pick('right').number})" in far_right.lower()
    assert "| Face |" not in far_right


@pytest.mark.slow
def test_examples_in_the_app() -> None:
    from tests.test_ui import _app, _assistant_text, _send

    at = _send(_app(), "what's everyone feeling?", ("group.png", png_bytes(photo("trio")), "image/png"))
    last = at.chat_message[-1]
    assert last.name == "assistant" and len(last.image) >= 1  # the photo with numbered boxes
    assert "| Face | Where |" in _assistant_text(at)[-1]
    faces = find_faces(photo("trio"))
    _send(at, "who looks the happiest?")
    assert _assistant_text(at)[-1].startswith(
        f"Face {faces.pick('middle').number} (in the middle) looks the happiest"
    )
    _send(at, "what is the person on the right feeling?")
    assert f"face {faces.pick('right').number}" in _assistant_text(at)[-1].lower() and not at.exception
