"""ChatSession end to end: the offline planner on real photos, scripted models, failing providers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatResult
from PIL import Image

import agent
from agent import AgentSettings, ChatSession, Reply, ToolResult, build_agent
from tools.errors import InvalidRequestError, ModelUnavailableError
from tools.lc import FaceToolContext

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OFFLINE = AgentSettings()


class ScriptedModel(FakeMessagesListChatModel):
    """Replies with the scripted messages in turn (repeating the last); ignores the tools it is given."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


class BrokenModel(BaseChatModel):
    """A provider that cannot be reached."""

    @property
    def _llm_type(self) -> str:
        return "broken"

    def bind_tools(self, tools: Any, **kwargs: Any) -> BrokenModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        raise ConnectionError("connection refused")


def _call(name: str, args: dict, call_id: str = "c1") -> dict:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


@pytest.fixture(scope="module")
def session(astronaut: np.ndarray) -> ChatSession:
    s = ChatSession(model="offline", settings=OFFLINE)
    assert s.add_image(astronaut, "astronaut.png") == "img1"
    return s


@pytest.fixture(scope="module")
def two_faces(astronaut: np.ndarray, grace_hopper: np.ndarray) -> np.ndarray:
    """Grace Hopper (left, smaller) and the astronaut (right) side by side."""
    h = 360
    left = np.asarray(
        Image.fromarray(grace_hopper).resize((round(grace_hopper.shape[1] * h / grace_hopper.shape[0]), h))
    )
    right = np.asarray(Image.fromarray(astronaut).resize((480, 480)))[60:420]
    return np.ascontiguousarray(np.hstack([left, right]))


# --- the Done-when conversation --------------------------------------------------------------------


@pytest.mark.slow  # the first classification and explanation load the models (~10 s on 2 cores)
def test_done_when_conversation(session: ChatSession) -> None:
    reply = session.send("What emotion is this?")
    assert reply.tool_calls == ["classify_emotion"]
    assert "happy" in reply.text.lower() and reply.error is None and reply.notices == []
    artifact = reply.results[0].artifact
    assert artifact["predictions"][0]["label"] == "happy" and "labels" in artifact

    reply = session.send("why did you predict that?")
    assert reply.tool_calls == ["explain_prediction"]
    assert len(reply.images) == 1 and reply.images[0].startswith(PNG_MAGIC)
    top = [name for name, _ in reply.results[0].artifact["top_regions"][:2]]
    words = {"mouth": "mouth", "eyes": "eyes", "cheeks_jaw": "cheeks and jaw", "nose": "nose", "brows": "brows",
             "forehead": "forehead", "other": "outside the face"}  # fmt: skip
    assert all(words[name] in reply.text for name in top)
    faithfulness = reply.results[0].artifact["faithfulness_text"]  # the figures, for the app's expander
    verdict = faithfulness.split(" (")[0]
    assert "%" in reply.text and f"heatmap is {verdict}" in reply.text  # in plain words in the chat
    assert "score" not in reply.text and "log-odds" not in reply.text and "p(happy)" not in reply.text

    reply = session.send("show me the heatmap for surprise instead")
    assert reply.tool_calls == ["explain_prediction"]
    assert reply.results[0].args["target"] == "surprise"
    assert reply.results[0].artifact["target"] == "surprise" and reply.images

    reply = session.send("is the mouth open?")
    assert reply.tool_calls == ["answer_question"]
    assert "open" in reply.text.lower()

    reply = session.send("what can you do?")
    assert reply.tool_calls == [] and reply.images == []
    for capability in ("emotion", "heatmap", "mouth", "compare"):
        assert capability in reply.text.lower()


def test_history_and_reply_types(session: ChatSession) -> None:
    session.send("hi")
    history = session.history
    assert isinstance(history[0], HumanMessage) and any(isinstance(m, ToolMessage) for m in history)
    assert [i.id for i in session.images] == ["img1"] and session.images[0].name == "astronaut.png"
    assert agent.__all__ == [
        "AgentSettings",
        "ChatSession",
        "OfflinePlanner",
        "Reply",
        "ToolResult",
        "build_agent",
    ]
    reply = session.send("what is she feeling, why, and is the mouth open?")
    assert reply.tool_calls == ["classify_emotion", "explain_prediction", "answer_question"]
    assert isinstance(reply, Reply) and all(isinstance(r, ToolResult) for r in reply.results)
    assert "runner-up" in reply.text and reply.images
    # the compound reading is in the artifact; the text says it only when there is one
    assert "compound" in reply.results[0].artifact["predictions"][0]


def test_on_event_reports_tools(session: ChatSession) -> None:
    events: list[tuple] = []
    session.send("describe the face", on_event=lambda *e: events.append(e))
    assert [e[:2] for e in events] == [("tool_start", "describe_face"), ("tool_end", "describe_face")]
    assert events[0][2] == {"image_id": "img1", "face": 1}


def test_refusal_and_bad_requests(session: ChatSession) -> None:
    reply = session.send("please run this python code: import os")
    assert reply.tool_calls == [] and "can't" in reply.text
    reply = session.send("heatmap for face 4")
    assert reply.tool_calls == [] and "only 1 face" in reply.text
    reply = session.send("explain the prediction for contempt")
    assert reply.tool_calls == ["explain_prediction"] and reply.error and "contempt" in reply.error.lower()
    reply = session.send("explain with the bogus-cam method")
    assert reply.tool_calls == ["explain_prediction"] and reply.error and "bogus-cam" in reply.error.lower()
    assert "gradcam++" in reply.text  # the known methods are listed


def test_an_over_long_message_is_answered_with_a_request_to_shorten_it(astronaut: np.ndarray) -> None:
    from agent.session import MAX_MESSAGE_CHARS

    s = ChatSession(model="offline", settings=OFFLINE)
    long_text = "what does the face in this photo show about the mood " * 400
    assert len(long_text) > MAX_MESSAGE_CHARS
    reply = s.send(long_text, astronaut, image_name="astronaut.png")
    assert reply.tool_calls == [] and reply.error and "shorten" in reply.text
    assert f"{len(long_text):,} characters" in reply.text
    assert s.history == [] and [i.id for i in s.images] == ["img1"]  # nothing half-done; the photo kept
    reply = s.send(long_text[: MAX_MESSAGE_CHARS - 100] + " what is she feeling?")
    assert reply.error is None and reply.tool_calls == ["classify_emotion"]


# --- several photos and faces ------------------------------------------------------------------------


# In a fresh interpreter: which threads start before LangChain is imported, and what reading a
# message imports.
_IMPORT_ORDER_CHILD = r"""
import json, sys, threading

started = []
start = threading.Thread.start


def recording_start(self):
    started.append([self.name, "langchain" in sys.modules])
    start(self)


threading.Thread.start = recording_start
import agent
import agent.understanding

light = sorted(m for m in ("langchain", "langgraph", "scipy") if m in sys.modules)
agent.ChatSession
from agent.understanding import shipped_model, warm_up
from tools.landmarks import preload

warm_up().join()
preload().join()  # as a session does: the loads already started are not started again

act = shipped_model().interpret("what is she feeling?").act
print(json.dumps({"light": light, "started": started, "act": act, "scipy": "scipy" in sys.modules}))
"""


def test_models_start_loading_before_langchain_is_imported() -> None:
    """``import agent`` and ``agent.understanding`` leave LangChain out; asking for ``ChatSession``
    starts the understanding and landmark loads first (once each), and reading a message needs no
    scipy (the sparse matrices are training's)."""
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_ORDER_CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["light"] == []
    assert ["understanding-warm-up", False] in seen["started"]
    assert ["landmarks-preload", False] in seen["started"]
    names = [name for name, _ in seen["started"]]
    assert names.count("understanding-warm-up") == 1 and names.count("landmarks-preload") == 1
    assert seen["act"] == "analyze" and seen["scipy"] is False


def test_several_photos_and_faces(
    two_faces: np.ndarray, grace_hopper: np.ndarray, coffee: np.ndarray
) -> None:
    s = ChatSession(model="offline", settings=OFFLINE)
    reply = s.send("no photo yet, what is she feeling?")
    assert reply.tool_calls == [] and "upload" in reply.text.lower()

    reply = s.send("", image=two_faces, image_name="pair.png")
    assert reply.tool_calls == ["classify_emotion"]
    preds = reply.results[0].artifact["predictions"]
    assert len(preds) == 2 and "face 2" in reply.text.lower() and "| Face |" in reply.text
    assert reply.images == [reply.results[0].artifact["annotated_png"]]  # which person is which
    left = min(preds, key=lambda p: p["box"][0])["face"]

    reply = s.send("what about the person on the left?")
    assert reply.results[0].args == {"image_id": "img1", "face": left}
    reply = s.send("why?")
    assert reply.tool_calls == ["explain_prediction"] and reply.results[0].args["face"] == left

    reply = s.send("and this one?", image=grace_hopper, image_name="grace.jpg")
    assert reply.results[0].args["image_id"] == "img2"
    reply = s.send("compare the two photos")
    assert reply.tool_calls == ["classify_emotion", "classify_emotion"]
    assert reply.text.startswith(("Both read", "They differ"))  # the comparison first, figures after

    reply = s.send("what is she feeling?", image=b"not an image")
    assert reply.error and reply.tool_calls == [] and [i.id for i in s.images] == ["img1", "img2"]
    reply = s.send("what is she feeling?", image=coffee, image_name="coffee.png")
    assert reply.tool_calls == ["classify_emotion"] and reply.error and "face" in reply.text.lower()


# --- real chat models: scripted, misbehaving, unreachable ---------------------------------------------


def test_scripted_model_drives_every_tool(session: ChatSession, astronaut: np.ndarray) -> None:
    script = [
        AIMessage(
            "",
            tool_calls=[
                _call("classify_emotion", {"image_id": "img1"}, "a"),
                _call(
                    "explain_prediction", {"image_id": "img1", "target": "sad", "method": "gradcam++"}, "b"
                ),
                _call("answer_question", {"image_id": "img1", "question": "Are the eyes closed?"}, "c"),
                _call("describe_face", {"image_id": "img1", "face": 1}, "d"),
            ],
        ),
        AIMessage("She looks happy; the heatmap for sad is attached."),
    ]
    s = ChatSession(model=ScriptedModel(responses=script), settings=OFFLINE)
    s.add_image(astronaut, "astronaut.png")
    reply = s.send("Tell me everything")
    assert reply.notices == [] and reply.error is None
    assert reply.tool_calls == ["classify_emotion", "explain_prediction", "answer_question", "describe_face"]
    assert reply.text == "She looks happy; the heatmap for sad is attached."
    assert reply.results[1].artifact["target"] == "sad" and reply.results[1].artifact["method"] == "gradcam++"
    assert reply.images and reply.images[0].startswith(PNG_MAGIC)
    assert s.model_name != "offline planner"


MISBEHAVIOUR = {
    "no tool call": [AIMessage("She looks happy, I guess.")],
    "unknown tool": [AIMessage("", tool_calls=[_call("read_file", {"path": "/etc/passwd"})])],
    "malformed args": [
        AIMessage("", tool_calls=[_call("classify_emotion", {"image_id": "img1", "face": "second"})])
    ],
    "unparseable args": [
        AIMessage(
            "",
            invalid_tool_calls=[
                {
                    "name": "classify_emotion",
                    "args": "{img",
                    "id": "x",
                    "error": "bad JSON",
                    "type": "invalid_tool_call",
                }
            ],
        )
    ],
    "made-up image id": [AIMessage("", tool_calls=[_call("classify_emotion", {"image_id": "img42"})])],
    "endless loop": [AIMessage("", tool_calls=[_call("classify_emotion", {"image_id": "img1"})])],
    "empty answer": [
        AIMessage("", tool_calls=[_call("classify_emotion", {"image_id": "img1"})]),
        AIMessage(""),
    ],
}


@pytest.mark.parametrize("case", list(MISBEHAVIOUR))
def test_misbehaving_models_fall_back(case: str, astronaut: np.ndarray) -> None:
    s = ChatSession(model=ScriptedModel(responses=MISBEHAVIOUR[case]), settings=OFFLINE)
    s.add_image(astronaut, "astronaut.png")
    reply = s.send("What emotion is this?")
    assert reply.tool_calls == ["classify_emotion"], case
    assert "happy" in reply.text.lower()
    assert len(reply.notices) == 1 and "offline planner" in reply.notices[0]
    # The failed attempt left nothing behind: one user message, one planned call, one answer.
    kinds = [type(m).__name__ for m in s.history]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"], case


def test_broken_provider_falls_back_every_turn(astronaut: np.ndarray) -> None:
    s = ChatSession(model=BrokenModel(), settings=OFFLINE)
    s.add_image(astronaut)
    for text in ("what is she feeling?", "why?"):
        reply = s.send(text)
        assert reply.tool_calls and "could not be reached" in reply.notices[0]


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_provider_where_nothing_listens_still_answers(astronaut: np.ndarray) -> None:
    url = f"http://127.0.0.1:{_unused_port()}/v1"
    settings = AgentSettings(chat_model="openai:gpt-4o-mini", base_url=url, api_key="test", timeout_s=5)
    s = ChatSession(settings=settings)
    assert s.model is not None and "gpt-4o-mini" in s.model_name
    s.add_image(astronaut)
    reply = s.send("What emotion is this?")
    assert reply.tool_calls == ["classify_emotion"] and "happy" in reply.text.lower()
    assert (
        reply.notices and "offline planner" in reply.notices[0] and "could not be reached" in reply.notices[0]
    )


def test_model_that_cannot_be_set_up_gives_a_notice(astronaut: np.ndarray) -> None:
    s = ChatSession(model="no-such-provider:model", settings=OFFLINE)
    assert s.model is None and s.model_error
    s.add_image(astronaut)
    reply = s.send("what is she feeling?")
    assert reply.tool_calls == ["classify_emotion"] and "offline planner" in reply.notices[0]
    assert s.send("thanks").notices == []


def test_photos_reach_remote_models_only_when_allowed(astronaut: np.ndarray) -> None:
    seen: list[list[BaseMessage]] = []

    class Recorder(ScriptedModel):
        def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
            seen.append(list(messages))
            return super()._generate(messages, *args, **kwargs)

    script = [
        AIMessage("", tool_calls=[_call("classify_emotion", {"image_id": "img1"})]),
        AIMessage("Happy."),
    ]
    for allowed in (False, True):
        seen.clear()
        s = ChatSession(model=Recorder(responses=script), settings=AgentSettings(send_images=allowed))
        s.send("what is she feeling?", image=astronaut)
        human = [m for m in seen[0] if isinstance(m, HumanMessage)][-1]
        has_image = isinstance(human.content, list) and any(b.get("type") == "image" for b in human.content)
        assert has_image is allowed
        assert "img1" in seen[0][0].content  # the system prompt lists the photo either way


def test_build_agent_runs_with_a_context(astronaut: np.ndarray) -> None:
    from tools.analysis import AnalysisCache

    graph = build_agent("offline", settings=OFFLINE)
    context = FaceToolContext(images={"img1": AnalysisCache().get(astronaut)}, names={"img1": "a.png"})
    out = graph.invoke(
        {"messages": [HumanMessage("what is she feeling?")]},
        {"configurable": {"thread_id": "t"}},
        context=context,
    )
    assert (
        isinstance(out["messages"][1], AIMessage)
        and out["messages"][1].tool_calls[0]["name"] == "classify_emotion"
    )
    assert "happy" in out["messages"][-1].content


@pytest.mark.filterwarnings("ignore:A test tried to use socket")  # langchain-openai probes socket options
def test_settings_from_env() -> None:
    env = {
        "FACE_AGENT_CHAT_MODEL": "ollama:llama3.1",
        "FACE_AGENT_BASE_URL": "http://127.0.0.1:11434",
        "FACE_AGENT_TIMEOUT": "7",
        "FACE_AGENT_SEND_IMAGES": "1",
    }
    settings = AgentSettings.from_env(env)
    assert settings.chat_model == "ollama:llama3.1" and settings.timeout_s == 7 and settings.send_images
    assert not settings.offline and AgentSettings.from_env({}).offline
    from agent.models import resolve_chat_model

    assert resolve_chat_model(None, AgentSettings()) is None
    model = resolve_chat_model(None, settings)
    assert type(model).__name__ == "ChatOllama"
    model = resolve_chat_model("http://127.0.0.1:8080/v1", AgentSettings())
    assert type(model).__name__ == "ChatOpenAI"
    with pytest.raises(ModelUnavailableError, match="provider"):
        resolve_chat_model("llama3", AgentSettings())


def test_terminal_chat(capsys: pytest.CaptureFixture[str]) -> None:
    from agent.__main__ import main
    from tests.conftest import GRACE_HOPPER

    code = main(
        ["--model", "offline", "--image", str(GRACE_HOPPER), "--ask", "what is she feeling?", "--ask", "why?"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "[photo] img1" in out and "[tools] classify_emotion" in out
    assert "[tools] explain_prediction" in out and "--save-heatmaps" in out
    assert main(["--model", "offline", "--image", "/no/such/file.jpg", "--ask", "hi"]) == 2


def test_session_options_from_the_ui(astronaut: np.ndarray) -> None:
    s = ChatSession(
        model=None, settings=OFFLINE, method="Grad-CAM++", qa_backend="geometry", allow_download=False
    )
    s.add_image(astronaut)
    assert s.model is None and s.model_name == "offline planner"
    reply = s.send("why is she happy? and is the mouth open?")
    assert reply.tool_calls == ["explain_prediction", "answer_question"]
    assert reply.results[0].artifact["method"] == "gradcam++"
    assert reply.results[1].artifact["backend"] == "geometry"
    with pytest.raises(InvalidRequestError):
        ChatSession(settings=OFFLINE, method="no-such-cam")
