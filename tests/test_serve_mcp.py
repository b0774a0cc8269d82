"""The MCP server driven by the official ``mcp`` client over stdio and streamable HTTP, and its tools
loaded into a LangChain agent with ``langchain-mcp-adapters``."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, ToolMessage
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from benchmarks.photos import group_photo
from tests.conftest import png_bytes
from tests.serving import ROOT, free_port, server_process

TOOLS = {"classify_emotion", "explain_prediction", "answer_question", "describe_face", "find_faces"}
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _jpeg(rgb: np.ndarray) -> bytes:
    return png_bytes(rgb, "JPEG", quality=92)


def _text(result: Any) -> str:
    return " ".join(c.text for c in result.content if c.type == "text")


def _error(result: Any, kind: str, *words: str) -> str:
    text = _text(result)
    assert result.isError, text
    assert text.startswith(f"{kind}: "), text
    assert "Traceback" not in text and all(w in text for w in words), text
    return text


def _run(coro: Any, timeout: float = 150) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_mcp_over_stdio(tmp_path, astronaut, grace_hopper, chelsea):
    allowed = tmp_path / "photos"
    allowed.mkdir()
    (allowed / "grace.jpg").write_bytes(_jpeg(grace_hopper))
    (tmp_path / "outside.jpg").write_bytes(_jpeg(astronaut))
    (allowed / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    photo = _b64(_jpeg(astronaut))
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "tools", "serve", "mcp", "--allow-dir", str(allowed)],
        cwd=str(ROOT),
        env={**os.environ, "FACE_AGENT_TORCH_THREADS": "1"},
    )

    async def session() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            listed = (await s.list_tools()).tools
            assert {t.name for t in listed} == TOOLS
            assert all(t.description and "image" in t.inputSchema["properties"] for t in listed)

            result = await s.call_tool("classify_emotion", {"image": photo})
            assert not result.isError and "happy" in _text(result)
            face = result.structuredContent["faces"][0]
            assert face["label"] == "happy" and len(face["box"]) == 4

            result = await s.call_tool("explain_prediction", {"image": f"data:image/jpeg;base64,{photo}"})
            assert not result.isError and "happy" in _text(result)
            images = [c for c in result.content if c.type == "image"]
            assert len(images) == 1 and images[0].mimeType == "image/png"
            assert Image.open(io.BytesIO(base64.b64decode(images[0].data))).size[0] > 100
            assert abs(sum(result.structuredContent["regions"].values()) - 1) < 1e-3

            result = await s.call_tool("answer_question", {"image": photo, "question": "Is the mouth open?"})
            assert not result.isError and "open" in _text(result) and result.structuredContent["short"]
            result = await s.call_tool("describe_face", {"image": photo})
            assert not result.isError and "eyes" in _text(result).lower()

            group, _ = group_photo()
            result = await s.call_tool("find_faces", {"image": _b64(_jpeg(group))})
            assert not result.isError and result.structuredContent["count"] >= 8
            assert [c.type for c in result.content] == ["text", "image"]  # the numbered photo
            assert "faces:" in _text(result) and "left" in _text(result)

            result = await s.call_tool(
                "answer_question", {"image": "grace.jpg", "question": "Is the mouth open?"}
            )
            assert not result.isError and "closed" in _text(result)  # a path inside --allow-dir

            call = s.call_tool
            _error(
                await call("classify_emotion", {"image": "this is not base64 !!"}),
                "InvalidImageError",
                "base64",
            )
            not_image = _b64(b"hello, this is a text file and certainly not a photograph of anybody")
            _error(
                await call("classify_emotion", {"image": not_image}),
                "InvalidImageError",
                "not a supported image",
            )
            _error(await call("classify_emotion", {"image": _b64(_jpeg(chelsea))}), "NoFaceError", "No face")
            outside = str(tmp_path / "outside.jpg")
            _error(
                await call("classify_emotion", {"image": outside}),
                "InvalidRequestError",
                "outside the folder",
            )
            _error(
                await call("classify_emotion", {"image": "../outside.jpg"}), "InvalidRequestError", "outside"
            )
            _error(await call("classify_emotion", {"image": "link.jpg"}), "InvalidRequestError", "outside")
            _error(
                await call("classify_emotion", {"image": "missing.jpg"}), "InvalidImageError", "No such file"
            )
            _error(
                await call("explain_prediction", {"image": photo, "face": 2}), "InvalidRequestError", "1 face"
            )
            _error(await call("answer_question", {"image": photo, "question": ""}), "InvalidRequestError")
            _error(
                await call("describe_face", {"image": photo, "face": "two"}), "InvalidRequestError", "face"
            )
            # Still serving after all that.
            assert not (await call("classify_emotion", {"image": photo})).isError

    _run(session())


@pytest.fixture(scope="module")
def allowed(tmp_path_factory, grace_hopper, astronaut) -> Path:
    """A folder the HTTP server may read (grace.jpg inside; outside.jpg next to it, outside)."""
    root = tmp_path_factory.mktemp("mcp")
    (root / "allowed").mkdir()
    (root / "allowed" / "grace.jpg").write_bytes(_jpeg(grace_hopper))
    (root / "outside.jpg").write_bytes(_jpeg(astronaut))
    return root / "allowed"


@pytest.fixture(scope="module")
def mcp_url(allowed: Path) -> Iterator[str]:
    """``python -m tools serve mcp --http PORT --allow-dir DIR``, for the module."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"

    def ready() -> bool:
        try:
            httpx.get(url, timeout=1)
            return True
        except httpx.HTTPError:
            return False

    with server_process(["serve", "mcp", "--http", str(port), "--allow-dir", str(allowed)], ready):
        yield url


@pytest.mark.enable_socket
def test_mcp_over_http(mcp_url: str, allowed: Path, astronaut):
    photo = _b64(_jpeg(astronaut))

    async def session() -> None:
        async with streamable_http_client(mcp_url) as (read, write, _), ClientSession(read, write) as s:
            await s.initialize()
            listed = (await s.list_tools()).tools
            assert {t.name for t in listed} == TOOLS
            assert all(t.annotations and t.annotations.readOnlyHint for t in listed)
            result = await s.call_tool("classify_emotion", {"image": photo})
            assert not result.isError and result.structuredContent["faces"][0]["label"] == "happy"
            result = await s.call_tool("explain_prediction", {"image": photo, "target": "sad"})
            assert not result.isError and any(c.type == "image" for c in result.content)
            assert result.structuredContent["target"] == "sad"
            result = await s.call_tool("answer_question", {"image": photo, "question": "Are the eyes open?"})
            assert not result.isError and "open" in _text(result)
            result = await s.call_tool("describe_face", {"image": photo})
            assert not result.isError
            _error(await s.call_tool("classify_emotion", {"image": "%%%"}), "InvalidImageError")
            _error(
                await s.call_tool("classify_emotion", {"image": _b64(b"GIF89a but not really" * 4)}),
                "InvalidImageError",
            )
            result = await s.call_tool("classify_emotion", {"image": str(allowed / "grace.jpg")})
            assert not result.isError and result.structuredContent["faces"][0]["label"] == "neutral"
            outside = str(allowed.parent / "outside.jpg")
            _error(
                await s.call_tool("classify_emotion", {"image": outside}), "InvalidRequestError", "outside"
            )
            _error(
                await s.call_tool("describe_face", {"image": "/etc/hostname"}),
                "InvalidRequestError",
                "outside",
            )

    _run(session())


@pytest.mark.enable_socket
def test_mcp_over_http_keeps_the_session_through_errors(mcp_url: str, astronaut):
    """Over HTTP too, a photo over the size limit and bad arguments are tool errors in the project's
    envelope, and the session goes on; the server says its version and lists every tool."""
    photo = _b64(_jpeg(astronaut))
    huge = _b64(os.urandom(27 * 2**20))  # 36 MB of base64: more than the server reads

    async def session() -> None:
        async with streamable_http_client(mcp_url) as (read, write, _), ClientSession(read, write) as s:
            hello = await s.initialize()
            assert hello.serverInfo.name == "facial-emotion" and hello.serverInfo.version == VERSION
            assert all(name in hello.instructions for name in TOOLS)

            result = await s.call_tool("classify_emotion", {"image": huge})
            text = _error(result, "ImageTooLargeError", "MB", "smaller photo")
            assert result.structuredContent == {
                "error": {"type": "ImageTooLargeError", "message": text.split(": ", 1)[1]}
            }
            assert not (await s.call_tool("classify_emotion", {"image": photo})).isError  # still connected

            result = await s.call_tool("classify_emotion", {"image": photo, "face": "two"})
            text = _error(result, "InvalidRequestError", "Invalid arguments for classify_emotion", "face")
            assert "pydantic" not in text and "validation error" not in text
            assert result.structuredContent["error"]["type"] == "InvalidRequestError"
            _error(
                await s.call_tool("describe_face", {}), "InvalidRequestError", "image: this field is required"
            )
            _error(
                await s.call_tool("read_file", {"path": "/etc/passwd"}),
                "InvalidRequestError",
                "no tool",
                "find_faces",
            )
            assert not (await s.call_tool("find_faces", {"image": photo})).isError

    _run(session())


class _ScriptedModel(FakeMessagesListChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> _ScriptedModel:
        return self


@pytest.mark.enable_socket
def test_mcp_tools_in_a_langchain_agent(mcp_url: str, astronaut):
    from langchain.agents import create_agent
    from langchain_mcp_adapters.client import MultiServerMCPClient

    photo = _b64(_jpeg(astronaut))

    async def run() -> list:
        client = MultiServerMCPClient({"faces": {"transport": "streamable_http", "url": mcp_url}})
        tools = await client.get_tools()
        assert {t.name for t in tools} == TOOLS
        model = _ScriptedModel(
            responses=[
                AIMessage(
                    "",
                    tool_calls=[
                        {"name": "classify_emotion", "args": {"image": photo}, "id": "call1"},
                        {"name": "describe_face", "args": {"image": "not base64 !!"}, "id": "call2"},
                    ],
                ),
                AIMessage("She looks happy."),
            ]
        )
        agent = create_agent(model, tools)
        state = await agent.ainvoke({"messages": [{"role": "user", "content": "How does she feel?"}]})
        return state["messages"]

    messages = _run(run())
    results = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    assert "happy" in str(results["call1"].content) and results["call1"].status != "error"
    assert "InvalidImageError" in str(results["call2"].content)  # the tool error reached the agent
    assert messages[-1].content == "She looks happy."
