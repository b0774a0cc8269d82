"""Real providers at the protocol level: ``ChatSession`` through the real ``langchain-openai`` and
``langchain-ollama`` clients, against local HTTP servers that speak the OpenAI chat-completions and
the Ollama ``/api/chat`` protocols with scripted replies.

What is checked: the tools each provider is offered, the tool calls it makes reaching the real tools
(image ids, faces), streamed and whole replies, photos sent only when allowed, and malformed or
failing replies ending in the offline planner's answer with a notice.

The servers bind 127.0.0.1 on a free port, answer from a script (an exhausted script answers 500),
and stop when the test ends or after ``SERVER_LIFETIME`` seconds, whichever comes first.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from agent import AgentSettings, ChatSession
from tests.photos import photo

SERVER_LIFETIME = 60.0  # seconds; a server never outlives a stuck test by more than this
pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


class ScriptedServer:
    """A local chat server answering each POST with the next scripted reply.

    A reply is a dict: ``{"content": str, "tool_calls": [(name, args)], "chunks": n}`` (spoken in
    ``n`` streamed pieces when the client asks for a stream), or ``{"status": 500}``, or
    ``{"raw": bytes}`` (sent as is: a malformed reply).
    """

    def __init__(self, kind: str, script: list[dict[str, Any]]) -> None:
        self.kind = kind  # "openai" or "ollama"
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.paths.append(self.path)
                try:
                    server.requests.append(json.loads(body or b"{}"))
                except ValueError:
                    server.requests.append({"unparsed": body.decode("utf-8", "replace")})
                reply = server.script.pop(0) if server.script else {"status": 500}
                server.respond(self, reply, bool(server.requests[-1].get("stream")))

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.timer = threading.Timer(SERVER_LIFETIME, self.httpd.shutdown)
        self.timer.daemon = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}" + ("/v1" if self.kind == "openai" else "")

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        self.timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the scripted server did not stop"

    # --- the two protocols -------------------------------------------------------------------------------

    def respond(self, handler: BaseHTTPRequestHandler, reply: dict[str, Any], stream: bool) -> None:
        if "status" in reply:
            self._send(
                handler, reply["status"], b'{"error": {"message": "scripted failure"}}', "application/json"
            )
            return
        if "raw" in reply:
            self._send(handler, 200, reply["raw"], "application/json")
            return
        if self.kind == "openai":
            self._openai(handler, reply, stream)
        else:
            self._ollama(handler, reply, stream)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def _pieces(text: str, n: int) -> list[str]:
        step = max(1, -(-len(text) // max(1, n)))
        return [text[i : i + step] for i in range(0, len(text), step)] or [""]

    def _openai(self, handler: BaseHTTPRequestHandler, reply: dict[str, Any], stream: bool) -> None:
        calls = [
            {
                "id": f"call_{uuid.uuid4().hex[:8]}",
                "type": "function",
                "function": {"name": n, "arguments": a if isinstance(a, str) else json.dumps(a)},
            }
            for n, a in reply.get("tool_calls", [])
        ]
        content = reply.get("content", "")
        finish = "tool_calls" if calls else "stop"
        base = {"id": "chatcmpl-test", "created": int(time.time()), "model": "scripted"}
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": content or None}
            if calls:
                message["tool_calls"] = calls
            body = {**base, "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}  # fmt: skip
            self._send(handler, 200, json.dumps(body).encode(), "application/json")
            return
        chunks: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        chunks += (
            [{"content": piece} for piece in self._pieces(content, reply.get("chunks", 3))] if content else []
        )
        for i, call in enumerate(
            calls
        ):  # a tool call's arguments arrive in pieces, as real servers send them
            pieces = self._pieces(call["function"]["arguments"], reply.get("chunks", 3))
            chunks.append({"tool_calls": [{"index": i, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": pieces[0]}}]})  # fmt: skip
            chunks += [{"tool_calls": [{"index": i, "function": {"arguments": p}}]} for p in pieces[1:]]
        events = [{**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in chunks]  # fmt: skip
        events.append({**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})  # fmt: skip
        body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
        self._send(handler, 200, body, "text/event-stream")

    def _ollama(self, handler: BaseHTTPRequestHandler, reply: dict[str, Any], stream: bool) -> None:
        calls = [{"function": {"name": n, "arguments": a}} for n, a in reply.get("tool_calls", [])]
        content = reply.get("content", "")
        base = {"model": "scripted", "created_at": "2026-01-01T00:00:00Z"}
        pieces = self._pieces(content, reply.get("chunks", 3)) if stream else [content]
        lines = [{**base, "message": {"role": "assistant", "content": p}, "done": False} for p in pieces[:-1]]
        last: dict[str, Any] = {"role": "assistant", "content": pieces[-1]}
        if calls:
            last["tool_calls"] = calls
        lines.append({**base, "message": last, "done": True, "done_reason": "stop", "total_duration": 1,
                      "eval_count": 1, "prompt_eval_count": 1})  # fmt: skip
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        self._send(handler, 200, body, "application/x-ndjson")


# --- helpers ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(one_torch_thread: None) -> dict[str, Any]:
    """One classifier, explainer and question answerer for every session of this module."""
    from tools.classifier import default_classifier
    from tools.explainer import Explainer
    from tools.vqa import FaceQA

    classifier = default_classifier(None)
    return {
        "classifier": classifier,
        "explainer": Explainer(classifier, render_ahead=True),
        "qa": FaceQA(classifier=classifier),
    }


def _session(
    model: Any, settings: AgentSettings, shared: dict[str, Any], image: np.ndarray, name: str
) -> ChatSession:
    session = ChatSession(model=model, settings=settings, **shared)
    session.add_image(image, name)
    return session


def _openai_settings(server: ScriptedServer, **changes: Any) -> AgentSettings:
    return AgentSettings(
        chat_model="openai:scripted-model", base_url=server.url, api_key="test", timeout_s=10, **changes
    )


def _ollama_settings(server: ScriptedServer, **changes: Any) -> AgentSettings:
    return AgentSettings(chat_model="ollama:scripted-model", base_url=server.url, timeout_s=10, **changes)


def _user_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request.get("messages", []) if m.get("role") == "user"]


def _has_photo(request: dict[str, Any]) -> bool:
    for message in _user_messages(request):
        if message.get("images"):  # Ollama: base64 images beside the text
            return True
        content = message.get("content")
        if isinstance(content, list) and any(b.get("type") == "image_url" for b in content):  # OpenAI
            return True
    return False


def _tool_names(request: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools", [])}


# --- OpenAI-compatible (llama.cpp server, vLLM, LM Studio, OpenAI itself) ---------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_openai_protocol_tool_calls(stream: bool, shared: dict[str, Any]) -> None:
    script = [
        {"tool_calls": [("classify_emotion", {"image_id": "img1"}), ("explain_prediction", {"image_id": "img1", "face": 1, "method": "gradcam"})]},
        {"content": "She looks happy; the heatmap is on her mouth.", "chunks": 4},
    ]  # fmt: skip
    with ScriptedServer("openai", script) as server:
        if stream:
            from langchain_openai import ChatOpenAI

            model: Any = ChatOpenAI(model="scripted-model", base_url=server.url, api_key="test", streaming=True,
                                    max_retries=0, timeout=10)  # fmt: skip
            settings = AgentSettings(timeout_s=10)
        else:
            model, settings = None, _openai_settings(server)
        session = _session(model, settings, shared, photo("astronaut"), "astronaut.jpg")
        reply = session.send("What is she feeling and why?")
    assert reply.notices == [] and reply.error is None
    assert reply.text == "She looks happy; the heatmap is on her mouth."
    assert reply.tool_calls == ["classify_emotion", "explain_prediction"]
    assert reply.results[0].artifact["predictions"][0]["label"] == "happy"
    assert len(reply.images) == 1 and reply.images[0].startswith(b"\x89PNG")
    assert server.paths == ["/v1/chat/completions"] * 2
    first, second = server.requests
    assert bool(first.get("stream")) is stream
    assert {
        "classify_emotion",
        "explain_prediction",
        "answer_question",
        "describe_face",
        "find_faces",
    } <= _tool_names(first)
    system = first["messages"][0]
    assert system["role"] in ("system", "developer") and '- img1: "astronaut.jpg"' in system["content"]
    tool_messages = [m for m in second["messages"] if m.get("role") == "tool"]
    assert len(tool_messages) == 2 and tool_messages[0]["content"].startswith("img1 (1 face")
    assert not _has_photo(first)  # photos are not sent unless allowed


def test_openai_protocol_find_faces_on_a_group_photo(shared: dict[str, Any]) -> None:
    script = [{"tool_calls": [("find_faces", {"image_id": "img1"})]}, {"content": "There are two people."}]
    with ScriptedServer("openai", script) as server:
        session = _session(None, _openai_settings(server), shared, photo("pair"), "pair.png")
        reply = session.send("how many people are there?")
    assert reply.tool_calls == ["find_faces"] and reply.notices == []
    assert reply.results[0].artifact["count"] == 2 and reply.images == [
        reply.results[0].artifact["annotated_png"]
    ]
    tool_message = next(m for m in server.requests[1]["messages"] if m.get("role") == "tool")
    assert "2 faces" in tool_message["content"]  # the tool's text went back to the model


@pytest.mark.parametrize("allowed", [False, True], ids=["not-allowed", "allowed"])
def test_openai_photos_only_when_allowed(allowed: bool, shared: dict[str, Any]) -> None:
    script = [{"tool_calls": [("classify_emotion", {"image_id": "img1"})]}, {"content": "Happy."}]
    with ScriptedServer("openai", script) as server:
        session = ChatSession(settings=_openai_settings(server, send_images=allowed), **shared)
        reply = session.send("what is she feeling?", image=photo("astronaut"), image_name="astronaut.jpg")
    assert reply.tool_calls == ["classify_emotion"] and reply.notices == []
    assert _has_photo(server.requests[0]) is allowed
    if allowed:
        content = _user_messages(server.requests[0])[-1]["content"]
        url = next(b["image_url"]["url"] for b in content if b.get("type") == "image_url")
        assert url.startswith("data:image/jpeg;base64,")


MALFORMED = {
    "unparseable arguments": [{"tool_calls": [("classify_emotion", '{"image_id": "img1"')]}],
    "unknown tool": [{"tool_calls": [("read_file", {"path": "/etc/passwd"})]}],
    "invented photo": [{"tool_calls": [("classify_emotion", {"image_id": "img9"})]}],
    "server error": [{"status": 500}],
    "not json": [{"raw": b"<html>gateway timeout</html>"}],
    "no answer after tools": [{"tool_calls": [("classify_emotion", {"image_id": "img1"})]}, {"content": ""}],
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_openai_malformed_replies_fall_back(case: str, shared: dict[str, Any]) -> None:
    with ScriptedServer("openai", MALFORMED[case]) as server:
        session = _session(None, _openai_settings(server), shared, photo("astronaut"), "astronaut.jpg")
        reply = session.send("What emotion is this?")
    assert reply.tool_calls == ["classify_emotion"], case
    assert "happy" in reply.text.lower()
    assert len(reply.notices) == 1 and "offline planner" in reply.notices[0], reply.notices
    assert [type(m).__name__ for m in session.history] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]


# --- Ollama ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunks", [1, 4], ids=["one-piece", "streamed"])
def test_ollama_protocol_tool_calls(chunks: int, shared: dict[str, Any]) -> None:
    script = [
        {
            "tool_calls": [
                ("answer_question", {"image_id": "img1", "question": "Is the mouth open?", "face": 2})
            ]
        },
        {"content": "The person on the right has her mouth slightly open.", "chunks": chunks},
    ]
    with ScriptedServer("ollama", script) as server:
        session = _session(None, _ollama_settings(server), shared, photo("pair"), "pair.png")
        reply = session.send("is the mouth of the person on the right open?")
    assert reply.notices == [] and reply.text == "The person on the right has her mouth slightly open."
    assert reply.tool_calls == ["answer_question"] and reply.results[0].args["face"] == 2
    assert reply.results[0].artifact["text"].startswith(("Yes", "No"))
    assert server.paths == ["/api/chat"] * 2
    first, second = server.requests
    assert first["model"] == "scripted-model" and "find_faces" in _tool_names(first)
    assert '- img1: "pair.png"' in first["messages"][0]["content"] and not _has_photo(first)
    assert any(m.get("role") == "tool" and "face 2" in m.get("content", "") for m in second["messages"])


def test_ollama_photos_only_when_allowed(shared: dict[str, Any]) -> None:
    for allowed in (False, True):
        script = [{"tool_calls": [("classify_emotion", {"image_id": "img1"})]}, {"content": "Happy."}]
        with ScriptedServer("ollama", script) as server:
            session = ChatSession(settings=_ollama_settings(server, send_images=allowed), **shared)
            reply = session.send("what is she feeling?", image=photo("astronaut"), image_name="astronaut.jpg")
        assert reply.tool_calls == ["classify_emotion"] and reply.notices == []
        assert _has_photo(server.requests[0]) is allowed


@pytest.mark.parametrize(
    "script",
    [
        [{"raw": b'{"error": "model \'scripted-model\' not found"}\n'}],
        [{"tool_calls": [("describe_face", {"image_id": "img1", "face": "the left one"})]}],
        [{"status": 500}],
    ],
    ids=["error-line", "bad-arguments", "server-error"],
)
def test_ollama_malformed_replies_fall_back(script: list[dict[str, Any]], shared: dict[str, Any]) -> None:
    with ScriptedServer("ollama", script) as server:
        session = _session(None, _ollama_settings(server), shared, photo("astronaut"), "astronaut.jpg")
        reply = session.send("What emotion is this?")
    assert reply.tool_calls == ["classify_emotion"] and "happy" in reply.text.lower()
    assert len(reply.notices) == 1 and "offline planner" in reply.notices[0], reply.notices
