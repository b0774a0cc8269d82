"""FaceQA with the geometry backend: question understanding, answers on real photos, mirror images,
out-of-scope questions, emotion questions, the functional API and the CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import tools
from tools.analysis import AnalysisCache
from tools.cli import main as cli_main
from tools.errors import InvalidRequestError, NoFaceError
from tools.vqa import Answer, FaceQA, Intent, parse_question

# (question, intent name, yes/no, target)
PHRASINGS = [
    ("Is the mouth open?", "mouth", True, "open"),
    ("are her lips parted", "mouth", True, "open"),
    ("Is his mouth closed?", "mouth", True, "closed"),
    ("Are the lips pressed together?", "mouth", True, "closed"),
    ("Is she yawning?", "mouth", True, "wide"),
    ("What is the state of the mouth?", "mouth", False, None),
    ("How wide is the mouth open?", "mouth", False, "wide"),
    ("Can you see her teeth?", "teeth", True, "visible"),
    ("Is she showing her teeth?", "teeth", True, "visible"),
    ("are any teeth visible", "teeth", True, "visible"),
    ("Does she have braces?", "out_of_scope", True, "dental work"),
    ("is he smiling", "smile", True, "smile"),
    ("is she grinning", "smile", True, "grin"),
    ("Is the person laughing?", "smile", True, "grin"),
    ("Does she have a smile on her face?", "smile", True, "smile"),
    ("are the eyes closed", "eyes", True, "closed"),
    ("is she squinting", "eyes", True, "squint"),
    ("Is he blinking?", "eyes", True, "closed"),
    ("Are her eyes wide open?", "eyes", True, "wide"),
    ("Is she winking?", "eyes", True, "wink"),
    ("Are the eyes open?", "eyes", True, "open"),
    ("describe the eyes", "eyes", False, None),
    ("what are the eyebrows doing", "brows", False, None),
    ("Are her eyebrows raised?", "brows", True, "raised"),
    ("Is he frowning?", "brows", True, "furrowed"),
    ("Are his brows lowered?", "brows", True, "lowered"),
    ("Are the brows knitted together?", "brows", True, "furrowed"),
    ("is the head tilted", "head", True, "tilted"),
    ("which way is he looking", "head", False, None),
    ("Where is she looking?", "head", False, None),
    ("Is she looking at the camera?", "head", True, "frontal"),
    ("Is his head turned away?", "head", True, "turned"),
    ("Is she looking down?", "head", True, "down"),
    ("Is her chin raised?", "head", True, "up"),
    ("Is he looking to his left?", "head", True, "left"),
    ("Is her head tilted to the left?", "head", True, "tilted"),
    ("Is his head turned to the right?", "head", True, "turned"),
    ("Is the face turned towards the camera?", "head", True, "frontal"),
    ("does she look surprised", "emotion", True, "surprise"),
    ("What is she feeling?", "emotion", False, None),
    ("Is she happy?", "emotion", True, "happy"),
    ("Is he angry?", "emotion", True, "angry"),
    ("Does he seem scared?", "emotion", True, "fear"),
    ("What mood is the person in?", "emotion", False, None),
    ("What's her expression?", "emotion", False, None),
    ("What colour is her hair?", "out_of_scope", False, "hair"),
    ("Is she wearing glasses?", "out_of_scope", True, "glasses"),
    ("How old is he?", "out_of_scope", False, "age"),
    ("Is this a man or a woman?", "out_of_scope", True, "gender"),
    ("Does he have a beard?", "out_of_scope", True, "facial hair"),
    ("What is in the background?", "out_of_scope", False, "background"),
    ("What is she wearing?", "out_of_scope", False, "clothes"),
    ("Is she wearing lipstick?", "out_of_scope", True, "makeup"),
    ("Is she wearing earrings?", "out_of_scope", True, "jewellery"),
    ("What colour are her eyes?", "out_of_scope", False, "colour"),
    ("Are his eyes blue?", "out_of_scope", True, "colour"),
    ("Describe the face.", "describe", False, None),
    ("What do you see?", "describe", False, None),
    ("What's the weather like?", "unknown", False, None),
]


@pytest.mark.parametrize(("question", "name", "yes_no", "target"), PHRASINGS)
def test_question_understanding(question: str, name: str, yes_no: bool, target: str | None) -> None:
    intent = parse_question(question)
    assert (intent.name, intent.yes_no, intent.target) == (name, yes_no, target)


def test_phrasing_table_is_large_enough() -> None:
    assert len(PHRASINGS) >= 30
    assert {name for _, name, _, _ in PHRASINGS} >= {
        "mouth",
        "smile",
        "eyes",
        "brows",
        "head",
        "emotion",
        "out_of_scope",
    }


def test_subject_and_frame_come_from_the_question() -> None:
    assert parse_question("Is she smiling?").subject == "she"
    assert parse_question("is the man smiling").subject == "he"
    assert parse_question("Are they smiling?").subject == "they"
    assert parse_question("Is the person smiling?").subject == "the person"
    assert parse_question("Is he looking to his left?").person_frame
    assert not parse_question("Is he looking to the left?").person_frame
    assert parse_question("Is her head tilted to the right?").side == "right"
    assert parse_question("Is her head tilted?").side is None
    assert isinstance(parse_question("x"), Intent)


@pytest.fixture(scope="module")
def qa() -> FaceQA:
    return FaceQA(backend="geometry", cache=AnalysisCache(maxsize=8))


@pytest.fixture(scope="module")
def mirrored(astronaut: np.ndarray, grace_hopper: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        "astronaut": (astronaut, np.ascontiguousarray(astronaut[:, ::-1])),
        "grace_hopper": (grace_hopper, np.ascontiguousarray(grace_hopper[:, ::-1])),
    }


def test_grace_hopper_mouth_is_closed(qa: FaceQA, grace_hopper: np.ndarray) -> None:
    for question in (
        "Is the mouth open?",
        "Are her lips parted?",
        "Is her mouth closed?",
        "What is the state of the mouth?",
    ):
        answer = qa.ask(grace_hopper, question)
        assert answer.backend == "geometry" and answer.in_scope
        assert "closed" in answer.text and "open" not in answer.text.lower(), (question, answer.text)
    assert qa.ask(grace_hopper, "Is the mouth open?").text.startswith("No")
    assert qa.ask(grace_hopper, "Is her mouth closed?").text.startswith("Yes")
    assert qa.ask(grace_hopper, "Is she smiling?").text.startswith("No")


def test_astronaut_reads_as_measured(qa: FaceQA, astronaut: np.ndarray) -> None:
    assert qa.ask(astronaut, "Is she smiling?").text.startswith("Yes, she is smiling broadly")
    # Her broad smile shows teeth: the landmarks honestly find the lips parted.
    assert qa.ask(astronaut, "Is the mouth open?").text.startswith("Yes, slightly open")
    assert qa.ask(astronaut, "Are the eyes closed?").text == "No, both eyes are open."
    assert qa.ask(astronaut, "Is the head tilted?").text == "No, the head is upright and level."


def _swap_sides(text: str) -> str:
    return re.sub(r"\b(left|right)\b", lambda m: "right" if m.group(1) == "left" else "left", text)


GEOMETRY_QUESTIONS = [q for q, name, _, _ in PHRASINGS if name in ("mouth", "smile", "eyes", "brows", "head")]


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_mirror_image_gets_the_same_answers(qa: FaceQA, mirrored: dict, photo: str) -> None:
    image, flipped = mirrored[photo]
    for question in [*GEOMETRY_QUESTIONS, "Describe the face.", "What colour is her hair?"]:
        a, b = qa.ask(image, question), qa.ask(flipped, question)
        assert b.text == a.text, question
        assert (a.backend, a.in_scope) == (b.backend, b.in_scope)
    assert qa.describe(image).text == qa.describe(flipped).text


def test_mirror_swaps_only_the_named_side(qa: FaceQA, astronaut: np.ndarray) -> None:
    import cv2

    # Tilt the astronaut's head by 9 degrees (roll 3 -> 12, tilted): the answer names a side, which the
    # mirror swaps. The face is cropped first: rotating the whole photo makes dlib find a second,
    # false "face" in the spacesuit.
    face = np.ascontiguousarray(astronaut[30:230, 120:330])
    h, w = face.shape[:2]
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), -9, 1.0)
    tilted = cv2.warpAffine(face, rotation, (w, h), borderMode=cv2.BORDER_REFLECT)
    flipped = np.ascontiguousarray(tilted[:, ::-1])
    for question in ("Is her head tilted?", "Describe her head position."):
        a, b = qa.ask(tilted, question), qa.ask(flipped, question)
        assert "leans towards the right of the picture (her left shoulder)" in a.text, a.text
        assert b.text == _swap_sides(a.text) != a.text
    # Sides named in the question: the picture's, or the person's own ("her right").
    assert qa.ask(tilted, "Is her head tilted to the right?").text.startswith("Yes")
    assert qa.ask(tilted, "Is her head tilted to her left?").text.startswith("Yes")
    assert qa.ask(tilted, "Is her head tilted to her right?").text.startswith("No")
    assert qa.ask(flipped, "Is her head tilted to the right?").text.startswith("No")
    assert qa.ask(flipped, "Is her head tilted to her right?").text.startswith("Yes")


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_mirror_image_gets_the_same_emotion(qa: FaceQA, mirrored: dict, photo: str) -> None:
    image, flipped = mirrored[photo]
    for question in ("What is she feeling?", "Is she happy?", "Does she look surprised?"):
        a, b = qa.ask(image, question), qa.ask(flipped, question)
        assert a.backend == b.backend == "classifier"
        assert a.evidence["label"] == b.evidence["label"]
        assert a.text.split()[0] == b.text.split()[0]  # the same Yes/No (percentages may move by 1)


def test_out_of_scope_question_gets_the_honest_answer(qa: FaceQA, grace_hopper: np.ndarray) -> None:
    for question, topic in [
        ("What colour is her hair?", "hair"),
        ("Is she wearing glasses?", "glasses"),
    ]:
        answer = qa.ask(grace_hopper, question)
        assert answer.in_scope is False
        assert answer.backend == "geometry"
        assert "cannot tell" in answer.text and "BLIP" in answer.text
        assert answer.evidence["target"] == topic
    unknown = qa.ask(grace_hopper, "What's the weather like?")
    assert unknown.in_scope is False and "BLIP" in unknown.text


def test_sensitive_questions_are_declined_before_any_backend(qa: FaceQA, grace_hopper: np.ndarray) -> None:
    for question, category in [
        ("How old is she?", "age"),
        ("Is this a man or a woman?", "gender"),
        ("where is she from originally?", "origin"),
        ("who is this?", "identity"),
        ("is she lying?", "deception"),
        ("does she have dementia?", "health"),
    ]:
        answer = qa.ask(grace_hopper, question)
        assert (answer.backend, answer.declined, answer.in_scope) == ("policy", category, False), question
        assert "BLIP" not in answer.text and answer.short == ""
    ordinary = qa.ask(grace_hopper, "Does she look tired?")
    assert ordinary.declined is None and ordinary.backend == "geometry"


def test_emotion_questions_go_to_the_classifier(qa: FaceQA, astronaut: np.ndarray) -> None:
    open_answer = qa.ask(astronaut, "What is she feeling?")
    assert open_answer.backend == "classifier"
    assert open_answer.evidence["label"] == "happy"
    assert abs(sum(open_answer.evidence["probs"].values()) - 1) < 1e-4
    assert qa.ask(astronaut, "Is she happy?").text.startswith("Yes")
    assert qa.ask(astronaut, "Is she angry?").text.startswith("No")
    assert "no 'contempt' class" in qa.ask(astronaut, "Is she contemptuous?").text


def test_answers_carry_measurements_and_plain_dicts(qa: FaceQA, grace_hopper: np.ndarray) -> None:
    answer = qa.ask(grace_hopper, "Is the mouth open?")
    assert answer.evidence["measurements"]["mouth_gap"] < answer.evidence["thresholds"]["MOUTH_OPEN_GAP"]
    assert answer.evidence["reading"]["mouth"] == "closed"
    payload = answer.to_dict()
    assert json.loads(json.dumps(payload)) == payload
    assert set(payload) == {
        "question",
        "text",
        "short",
        "backend",
        "evidence",
        "in_scope",
        "face",
        "declined",
    }
    assert payload["short"] == "no"


def test_describe_covers_eyes_mouth_brows_and_head(qa: FaceQA, grace_hopper: np.ndarray) -> None:
    answer = qa.describe(grace_hopper)
    assert answer.backend == "geometry"
    for word in ("eyes", "mouth", "eyebrows", "head"):
        assert word in answer.text
    assert "closed" in answer.text
    assert qa.ask(grace_hopper, "Describe the face.").text == answer.text


def test_record_passes_through_and_bad_requests_are_named_errors(
    qa: FaceQA, grace_hopper: np.ndarray, coffee: np.ndarray
) -> None:
    record = qa.cache.get(grace_hopper)
    assert qa.ask(record, "Is the mouth open?").text == qa.ask(grace_hopper, "Is the mouth open?").text
    with pytest.raises(InvalidRequestError):
        qa.ask(grace_hopper, "   ")
    with pytest.raises(InvalidRequestError):
        qa.ask(grace_hopper, "Is the mouth open?", face=3)
    with pytest.raises(InvalidRequestError):
        FaceQA(backend="oracle")
    with pytest.raises(NoFaceError):
        qa.ask(coffee, "Is the mouth open?")


def test_environment_picks_the_backend(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("FACE_AGENT_VQA_BACKEND", "geometry")
    assert FaceQA().backend_name == "geometry"
    monkeypatch.delenv("FACE_AGENT_VQA_BACKEND")
    # auto without weights anywhere -> geometry, and nothing is fetched.
    monkeypatch.setenv("FACE_AGENT_BLIP_MODEL", str(tmp_path / "no-model-here"))
    assert FaceQA(backend="auto").backend_name == "geometry"


def test_functional_api(grace_hopper: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    from tools import vqa

    monkeypatch.setenv("FACE_AGENT_VQA_BACKEND", "geometry")
    vqa.default_faceqa.cache_clear()
    try:
        answer = tools.ask(grace_hopper, "Is the mouth open?")
        assert isinstance(answer, Answer) and answer.text.startswith("No")
        assert tools.describe(grace_hopper).backend == "geometry"
    finally:
        vqa.default_faceqa.cache_clear()


def test_cli_backend_choices_match_the_library() -> None:
    from tools import vqa
    from tools.cli import ask as ask_cli

    assert ask_cli.BACKENDS == vqa.BACKENDS


def test_cli_ask_and_describe(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import GRACE_HOPPER

    assert cli_main(["ask", str(GRACE_HOPPER), "Is the mouth open?", "--backend", "geometry"]) == 0
    assert capsys.readouterr().out.strip() == "No, the mouth is closed (the lips meet)."
    assert cli_main(["describe", str(GRACE_HOPPER), "--backend", "geometry", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["backend"] == "geometry" and "mouth" in payload["text"]
    assert (
        cli_main(["ask", str(GRACE_HOPPER), "Is she smiling?", "--face", "2", "--backend", "geometry"]) == 1
    )
    assert "has 1 face" in capsys.readouterr().err
    monkeypatch.setenv("FACE_AGENT_BLIP_MODEL", "nobody/no-such-blip")
    assert cli_main(["ask", str(GRACE_HOPPER), "What colour is her hair?", "--backend", "blip"]) == 1
    assert "FACE_AGENT_BLIP_DOWNLOAD" in capsys.readouterr().err


def test_tiny_faces_get_a_rough_reading_caveat(qa: FaceQA) -> None:
    import skimage.data

    face = (skimage.data.lfw_subset()[0] * 255).round().astype(np.uint8)
    answer = qa.ask(np.repeat(face[..., None], 3, axis=2), "Are the eyes closed?")
    assert answer.text.endswith("so this is a rough reading.")
    assert answer.evidence["reading"]["eyes"] != "winking"  # landmark noise on 8 px eyes is no wink


def test_short_answers_are_normalised(grace_hopper, astronaut):
    from tools.vqa import FaceQA

    qa = FaceQA("geometry")
    assert qa.ask(grace_hopper, "What is the state of the mouth?").short == "closed"
    assert qa.ask(grace_hopper, "Is the mouth open?").short == "no"
    assert qa.ask(astronaut, "Is she smiling?").short == "yes"
    assert qa.ask(astronaut, "What are the eyes doing?").short == "open"
    assert qa.ask(astronaut, "How does she feel?").short == "happy"
    assert qa.ask(astronaut, "Does she wear glasses?").short == ""
    assert qa.ask(astronaut, "What is the state of the mouth?").to_dict()["short"] == "slightly open"
