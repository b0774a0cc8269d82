"""The Streamlit app (ui.py) driven by AppTest: with a scripted session, then with the real agent."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import png_bytes
from tools.images import load_image

UI = str(Path(__file__).resolve().parent.parent / "ui.py")
TIMEOUT = 120  # the first real turn loads models; AppTest's default of 3 s is for toy scripts


def _png(size: int = 48) -> bytes:
    import numpy as np

    return png_bytes(np.full((size, size, 3), 128, dtype=np.uint8))


class FakeSession:
    """Follows the ``agent.ChatSession`` contract with canned results (no models).

    A message with "slow" waits for ``gate`` (a test opens it); "everyone" reads three faces.
    """

    instances: list[FakeSession] = []
    gate = threading.Event()

    def __init__(self, model: Any = None, **options: Any) -> None:
        self.model = model
        self.options = options
        self.images: list[tuple[str, str]] = []
        self.sent: list[str] = []
        self.times: list[tuple[str, float, float]] = []  # (text, start, end) of each turn
        FakeSession.instances.append(self)

    def add_image(self, source: Any, name: str | None = None) -> str:
        rgb = load_image(source)  # the real decoder: bad files raise InvalidImageError
        image_id = f"img{len(self.images) + 1}"
        self.images.append((image_id, name or image_id))
        self.size, self.rgb = rgb.shape, rgb
        return image_id

    def send(self, text: str, image: Any = None, on_event: Any = None) -> Any:
        start = time.monotonic()
        try:
            return self._answer(text, on_event)
        finally:
            self.times.append((text, start, time.monotonic()))

    def _answer(self, text: str, on_event: Any) -> Any:
        self.sent.append(text)
        if "slow" in text:
            if on_event:
                on_event("tool_start", "analyze_video", {"video_id": "vid1"})
                on_event("tool_progress", "analyze_video", {"done": 3, "total": 10})
            assert FakeSession.gate.wait(30), "the test never opened the gate"
        if "crash" in text:
            raise RuntimeError("boom")
        if not self.images:
            return _reply("Please upload a photo of a face first.")
        if self.images[-1][1] == "coffee.png":
            reply = _reply("I couldn't read the emotion: No face found in this image.")
            reply.error = "No face found in this image."
            return reply
        image_id = self.images[-1][0]
        prediction = {"face": 1, "label": "happy", "confidence": 0.9, "box": [10, 10, 40, 40]}
        prediction["probs"] = {"angry": 0.02, "happy": 0.9, "neutral": 0.05, "sad": 0.03}
        if "everyone" in text:
            return self._group(image_id)
        if "why" in text.lower():
            if on_event:
                on_event("tool_start", "explain_prediction", {"image_id": image_id})
                on_event("tool_end", "explain_prediction", "done")
            artifact = {
                "image_id": image_id,
                "target": "happy",
                "versus": None,
                "method": "gradcam",
                "regions": {"mouth": 0.6, "eyes": 0.3, "other": 0.1},
                "top_regions": [["mouth", 0.6], ["eyes", 0.3], ["other", 0.1]],
                "faithfulness": 0.81,
                "faithfulness_text": "faithful (score +0.81): p(happy) is saturated near 1, so the test reads its "
                "log-odds (24.0): removing the hottest 20% of the face lowers them by 76%.",
                "prediction": prediction,
                "overlay_png": _png(),
            }
            result = SimpleNamespace(
                tool="explain_prediction", args={}, content="heat on mouth", artifact=artifact
            )
            return _reply("The heat lies on the mouth (60%) and the eyes (30%).", [result], images=[_png()])
        if on_event:
            on_event("tool_start", "classify_emotion", {"image_id": image_id})
            on_event("tool_end", "classify_emotion", "happy")
        artifact = {"image_id": image_id, "predictions": [prediction], "labels": list(prediction["probs"])}
        result = SimpleNamespace(tool="classify_emotion", args={}, content="happy 0.90", artifact=artifact)
        reply = _reply("The face looks happy (0.90).", [result])
        if isinstance(self.model, str) and self.model.startswith("ollama:"):
            reply.notices = [
                f"The chat model {self.model} could not be reached; the offline planner answered."
            ]
        return reply

    def _group(self, image_id: str) -> Any:
        """Three faces side by side, read by the real annotate (numbered photo)."""
        from tools.locate import annotate

        height, width = self.size[:2]
        side = width // 4
        labels = ("happy", "sad", "neutral")
        predictions = [
            {
                "face": i + 1,
                "label": label,
                "confidence": 0.8,
                "box": [i * side + 10, height // 3, i * side + side, height // 3 + side],
                "probs": {k: (0.8 if k == label else 0.1) for k in ("happy", "sad", "neutral")},
            }
            for i, label in enumerate(labels)
        ]
        png = annotate(
            self.rgb, [p["box"] for p in predictions], [f"{i + 1} {k}" for i, k in enumerate(labels)]
        )
        artifact = {
            "image_id": image_id,
            "face_count": 3,
            "predictions": predictions,
            "labels": ["neutral", "happy", "sad"],
            "annotated_png": png,
        }
        result = SimpleNamespace(tool="classify_emotion", args={}, content="3 faces", artifact=artifact)
        return _reply("3 faces: happy, sad and neutral.", [result], images=[png])


def _reply(text: str, results: list[Any] | None = None, images: list[bytes] | None = None) -> Any:
    results = results or []
    return SimpleNamespace(
        text=text,
        tool_calls=[r.tool for r in results],
        images=images or [],
        notices=[],
        results=results,
        error=None,
    )


@pytest.fixture
def fake_agent(monkeypatch: pytest.MonkeyPatch) -> type[FakeSession]:
    """The app's ``agent.ChatSession`` replaced by ``FakeSession`` (the app looks it up on each build)."""
    import agent

    monkeypatch.setattr(agent, "ChatSession", FakeSession)
    FakeSession.instances.clear()
    return FakeSession


def _app() -> AppTest:
    at = AppTest.from_file(UI, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def _send(at: AppTest, text: str, upload: tuple[str, bytes, str] | None = None) -> AppTest:
    chat = at.chat_input[0].set_value(text)
    if upload is not None:
        chat.upload(*upload)
    at.run()
    assert not at.exception, at.exception
    return at


def _assistant_text(at: AppTest) -> list[str]:
    return [md.value for msg in at.chat_message if msg.name == "assistant" for md in msg.markdown]


def _charts(at: AppTest) -> list[Any]:
    return at.get("vega_lite_chart")


def test_without_a_photo_the_app_guides(fake_agent: type[FakeSession]) -> None:
    at = _app()
    assert any("Add a photo of a face" in info.value for info in at.info)
    _send(at, "What emotion is this?")
    assert "upload a photo" in _assistant_text(at)[-1].lower()


def test_photo_and_question_gives_answer_and_chart(fake_agent: type[FakeSession], astronaut) -> None:
    at = _send(_app(), "What emotion is this?", ("astronaut.png", png_bytes(astronaut), "image/png"))
    user = [m for m in at.chat_message if m.name == "user"]
    assert len(user) == 1 and len(user[0].image) == 1  # the photo is the person's message
    assert "happy" in _assistant_text(at)[-1]
    assert len(_charts(at)) == 1
    session = fake_agent.instances[-1]
    assert session.images[0][1] == "astronaut.png" and session.sent == ["What emotion is this?"]
    assert at.status and at.status[-1].proto.icon != ":material/error:"


def test_why_shows_heatmap_beside_face_with_download(fake_agent: type[FakeSession], astronaut) -> None:
    at = _send(_app(), "What emotion is this?", ("astronaut.png", png_bytes(astronaut), "image/png"))
    _send(at, "why?")
    last = at.chat_message[-1]
    assert last.name == "assistant"
    assert len(last.image) == 2  # the face crop and the heatmap, side by side
    assert len(last.columns) >= 2
    assert any("mouth: 60%" in p.proto.text for p in last.progress)
    assert [b.label for b in last.get("download_button")] == ["Download heatmap"]
    # The earlier turn is still drawn from the history.
    assert len(_charts(at)) == 1 and "happy" in _assistant_text(at)[0]


def test_non_image_file_is_a_friendly_error_and_history_stays(
    fake_agent: type[FakeSession], astronaut
) -> None:
    at = _send(_app(), "What emotion is this?", ("astronaut.png", png_bytes(astronaut), "image/png"))
    _send(at, "and this one?", ("notes.png", b"just some text, not a picture", "image/png"))
    assert at.error, "expected an error message in the chat"
    assert "notes.png" in at.error[-1].value
    assert not at.exception
    assert "happy" in _assistant_text(at)[0] and len(_charts(at)) == 1
    assert fake_agent.instances[-1].sent == ["What emotion is this?"]  # the bad file was never asked about


def test_photo_without_a_face_is_an_error_message(fake_agent: type[FakeSession], coffee) -> None:
    at = _send(_app(), "What emotion is this?", ("coffee.png", png_bytes(coffee), "image/png"))
    assert "No face found" in at.error[-1].value
    assert not _charts(at) and not at.exception


def test_unexpected_failure_is_a_message_not_a_traceback(fake_agent: type[FakeSession]) -> None:
    at = _send(_app(), "please crash")
    assert not at.exception
    assert "Something went wrong" in at.error[-1].value and "RuntimeError" in at.error[-1].value
    _send(at, "hello again")  # the app keeps working
    assert len([m for m in at.chat_message if m.name == "user"]) == 2


def test_example_button_and_clear_chat(fake_agent: type[FakeSession], astronaut) -> None:
    at = _send(_app(), "", ("astronaut.png", png_bytes(astronaut), "image/png"))
    assert "Got the photo" in _assistant_text(at)[-1]  # a photo alone is kept, not analysed unasked
    next(b for b in at.button if b.label == "What emotion is this?").click().run()
    assert "happy" in _assistant_text(at)[-1]
    next(b for b in at.button if b.label == "Clear chat").click().run()
    assert not at.chat_message
    assert any("Add a photo of a face" in info.value for info in at.info)


def test_sidebar_upload_adds_photo_once(fake_agent: type[FakeSession], astronaut) -> None:
    at = _app()
    at.sidebar.file_uploader[0].set_value(("face.png", png_bytes(astronaut), "image/png")).run()
    _send(at, "What emotion is this?")
    session = fake_agent.instances[-1]
    assert [name for _, name in session.images] == ["face.png"]
    assert "happy" in _assistant_text(at)[-1]


def test_camera_photo_is_a_third_way(fake_agent: type[FakeSession], astronaut) -> None:
    at = _app()
    assert not at.sidebar.camera_input  # no camera prompt until asked for
    at.sidebar.toggle(key="use_camera").set_value(True).run()
    jpeg = png_bytes(astronaut, "JPEG")
    at.sidebar.camera_input[0].set_value(("camera.jpg", jpeg, "image/jpeg")).run()
    _send(at, "What emotion is this?")
    assert [name for _, name in fake_agent.instances[-1].images] == ["camera.jpg"]
    assert "happy" in _assistant_text(at)[-1]


def test_settings_sidebar_lists_methods_and_never_downloads(fake_agent: type[FakeSession]) -> None:
    at = _app()
    methods = next(s for s in at.sidebar.selectbox if s.label == "Heatmap method (CAM)")
    assert "gradcam" in methods.options and methods.value == "gradcam"
    at.sidebar.radio(key="set_qa").set_value("BLIP-VQA").run()
    assert not at.exception
    download = [b for b in at.sidebar.button if b.label.startswith("Download BLIP")]
    # Without the weights the download is offered, with its size, but not started.
    if download:
        assert "GB" in download[0].label
    at.sidebar.radio(key="set_chat").set_value("OpenAI-compatible").run()
    assert {t.label for t in at.sidebar.text_input} >= {"Base URL", "Model name", "API key"}


def test_find_checkpoints(tmp_path: Path) -> None:
    from ui_app.parts.sidebar import find_checkpoints

    for folder in (
        "checkpoints/a",
        "runs/r1/export",
        "runs/r2/export_best/x",
        "runs/r3/other",
        "runs/r4/best",
        "runs/r4/last",
    ):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "model_card.json").write_text("{}")
    (tmp_path / "checkpoints/empty").mkdir()
    found = [p.relative_to(tmp_path).as_posix() for p in find_checkpoints(tmp_path)]
    assert found == ["checkpoints/a", "runs/r1/export", "runs/r2/export_best/x", "runs/r4/best"]


def test_settings_reach_the_session(fake_agent: type[FakeSession]) -> None:
    at = _app()
    first = fake_agent.instances[-1]
    assert first.model == "offline" and first.options["method"] == "gradcam"
    assert first.options["allow_download"] is False and first.options["classifier"] is not None
    at.sidebar.selectbox(key="set_cam").set_value("gradcam++").run()
    assert fake_agent.instances[-1].options["method"] == "gradcam++"
    at.sidebar.radio(key="set_chat").set_value("OpenAI-compatible").run()
    at.sidebar.text_input(key="set_openai_model").set_value("qwen2.5:7b").run()
    session = fake_agent.instances[-1]
    assert session.model == "openai:qwen2.5:7b"
    assert session.options["settings"].base_url == "http://localhost:8000/v1"


def test_missing_checkpoint_falls_back_with_a_message(fake_agent: type[FakeSession]) -> None:
    at = _app()
    at.sidebar.selectbox(key="set_classifier").set_value("Another folder…").run()
    at.sidebar.text_input(key="set_classifier_path").set_value("/nowhere/model").run()
    assert not at.exception
    assert any("/nowhere/model" in e.value and "offline defaults" in e.value for e in at.sidebar.error)
    assert fake_agent.instances[-1].model == "offline"


def test_sidebar_offers_the_builtin_models(fake_agent: type[FakeSession]) -> None:
    at = _app()
    box = at.sidebar.selectbox(key="set_classifier")
    choice = next(o for o in box.options if o.startswith("faceapi-expression:"))
    box.set_value(choice).run()
    assert not at.exception
    assert fake_agent.instances[-1].options["classifier"].name == "faceapi-expression"


def test_photos_carry_over_when_settings_change(fake_agent: type[FakeSession], astronaut) -> None:
    at = _send(_app(), "What emotion is this?", ("astronaut.png", png_bytes(astronaut), "image/png"))
    at.sidebar.selectbox(key="set_cam").set_value("layercam").run()
    session = fake_agent.instances[-1]
    assert session.options["method"] == "layercam" and [n for _, n in session.images] == ["astronaut.png"]
    assert "happy" in _assistant_text(at)[0]  # the visible history stays


def test_unreachable_chat_model_notice_is_shown(fake_agent: type[FakeSession], astronaut) -> None:
    at = _app()
    at.sidebar.radio(key="set_chat").set_value("Ollama").run()
    _send(at, "What emotion is this?", ("astronaut.png", png_bytes(astronaut), "image/png"))
    assert fake_agent.instances[-1].model == "ollama:llama3.1"
    assert any("could not be reached" in info.value for info in at.info)
    assert "happy" in _assistant_text(at)[-1]


def _roles_and_texts(at: AppTest) -> list[tuple[str, str]]:
    return [(m.name, " ".join(md.value for md in m.markdown)) for m in at.chat_message]


def test_a_message_sent_during_a_turn_is_answered_after_it(fake_agent: type[FakeSession], astronaut) -> None:
    fake_agent.gate.clear()
    at = _app()
    at.chat_input[0].set_value("slow: what emotion is this?").upload(
        "astronaut.png", png_bytes(astronaut), "image/png"
    )
    # The page is stopped while the first turn works, as Streamlit stops it for a new message.
    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=2)
    opener = threading.Timer(1.0, fake_agent.gate.set)  # the first turn ends while the page waits
    opener.start()
    try:
        _send(at, "Is the mouth open?")
    finally:
        opener.cancel()
    session = fake_agent.instances[-1]
    assert session.sent == ["slow: what emotion is this?", "Is the mouth open?"]
    (_, _, first_end), (_, second_start, _) = session.times
    assert second_start >= first_end  # queued, not run beside the first
    roles = [role for role, _ in _roles_and_texts(at)]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert "slow" in _roles_and_texts(at)[0][1] and "happy" in _roles_and_texts(at)[1][1]
    assert "mouth" in _roles_and_texts(at)[2][1]


def test_a_group_gets_the_numbered_photo_a_crop_per_face_and_one_chart(
    fake_agent: type[FakeSession], astronaut
) -> None:
    at = _send(_app(), "what's everyone feeling?", ("group.png", png_bytes(astronaut), "image/png"))
    last = at.chat_message[-1]
    assert last.name == "assistant"
    captions = [image.proto.imgs[0].caption for image in last.image]
    assert "group.png: the faces, numbered left to right, then top to bottom" in captions[0]
    assert captions[1:] == ["1 · happy 80%", "2 · sad 80%", "3 · neutral 80%"]
    assert len(_charts(at)) == 1  # one chart for the three faces, not one each


def test_why_puts_the_technical_figures_behind_an_expander(fake_agent: type[FakeSession], astronaut) -> None:
    at = _send(_app(), "What emotion is this?", ("astronaut.png", png_bytes(astronaut), "image/png"))
    _send(at, "why?")
    last = at.chat_message[-1]
    plain = " ".join(md.value for md in last.markdown)
    assert "looked mostly at the mouth (60%)" in plain and "log-odds" not in plain.split("The heat lies")[0]
    (details,) = last.expander
    assert details.label == "Technical details"
    technical = " ".join(md.value for md in details.markdown)
    assert "log-odds (24.0)" in technical and "Faithfulness score: +0.810" in technical
    assert at.status[-1].label == "Done: computing the heatmap"  # words, not the tool's name


def test_several_files_in_one_message_are_added_in_order_with_one_answer(
    fake_agent: type[FakeSession], astronaut, grace_hopper
) -> None:
    at = _app()
    chat = at.chat_input[0].set_value("What emotion is this?")
    chat.upload("first.png", png_bytes(astronaut), "image/png")
    chat.upload("second.jpg", png_bytes(grace_hopper, "JPEG"), "image/jpeg")
    at.run()
    assert not at.exception, at.exception
    session = fake_agent.instances[-1]
    assert [name for _, name in session.images] == ["first.png", "second.jpg"]
    assert session.sent == ["What emotion is this?"]
    user = [m for m in at.chat_message if m.name == "user"]
    assert len(user) == 1 and [i.proto.imgs[0].caption for i in user[0].image] == ["first.png", "second.jpg"]
    assert len([m for m in at.chat_message if m.name == "assistant"]) == 1


def test_several_files_from_the_sidebar_are_one_message(fake_agent: type[FakeSession], astronaut) -> None:
    at = _app()
    files = [("a.png", png_bytes(astronaut), "image/png"), ("b.png", png_bytes(astronaut[::-1]), "image/png")]
    at.sidebar.file_uploader[0].set_value(files).run()
    assert not at.exception, at.exception
    assert [name for _, name in fake_agent.instances[-1].images] == ["a.png", "b.png"]
    assert "Got 2 photos: a.png and b.png" in _assistant_text(at)[-1]


# --- the real agent (offline planner, default models) ----------------------------------------------


@pytest.fixture(scope="module")
def real_app(astronaut) -> AppTest:
    """One conversation with the real ChatSession: photo + "What emotion is this?" then "why?"."""
    at = _send(_app(), "What emotion is this?", ("astronaut.png", png_bytes(astronaut), "image/png"))
    at.session_state["after_first"] = (_assistant_text(at)[-1], len(_charts(at)))
    return _send(at, "why?")


def test_real_agent_says_happy_with_a_chart(real_app: AppTest) -> None:
    text, charts = real_app.session_state["after_first"]
    assert "happy" in text.lower() and charts == 1


def test_real_agent_why_shows_a_heatmap(real_app: AppTest) -> None:
    last = real_app.chat_message[-1]
    assert last.name == "assistant"
    assert len(last.image) >= 2  # face and heatmap side by side
    assert last.progress and last.get("download_button")
    text = " ".join(md.value for md in last.markdown).lower()
    assert any(word in text for word in ("mouth", "eyes", "cheeks", "brows"))


def test_real_agent_bad_file_keeps_history(real_app: AppTest) -> None:
    _send(real_app, "what about this?", ("notes.png", b"just some text, not a picture", "image/png"))
    assert "notes.png" in real_app.error[-1].value
    assert "happy" in " ".join(_assistant_text(real_app)).lower() and len(_charts(real_app)) == 1


def test_real_agent_without_photo_asks_for_one() -> None:
    at = _app()
    assert any("Add a photo of a face" in info.value for info in at.info)
    _send(at, "What emotion is this?")
    reply = _assistant_text(at)[-1].lower()
    assert "photo" in reply and ("upload" in reply or "add" in reply or "attach" in reply)
    assert not at.error


def test_real_agent_photo_without_face(coffee) -> None:
    at = _send(_app(), "What emotion is this?", ("coffee.png", png_bytes(coffee), "image/png"))
    assert "no face" in at.error[-1].value.lower()
    assert not _charts(at) and not at.exception
