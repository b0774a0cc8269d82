"""How the servers read image arguments and bound their work (tools.serve.service), without a server."""

from __future__ import annotations

import asyncio
import base64
import threading

import pytest

from tests.conftest import png_bytes
from tools.errors import CapacityError, ImageTooLargeError, InvalidImageError, InvalidRequestError
from tools.images import MAX_BYTES
from tools.serve.service import WorkQueue, decode_image_argument


@pytest.fixture(scope="module")
def jpeg(astronaut) -> bytes:
    return png_bytes(astronaut, "JPEG")


def test_base64_and_data_urls(jpeg):
    b64 = base64.b64encode(jpeg).decode()
    assert b64.startswith("/9j/")  # a JPEG's base64 starts with a slash: still not a path
    assert decode_image_argument(b64) == jpeg
    assert decode_image_argument(f"data:image/jpeg;base64,{b64}") == jpeg
    assert decode_image_argument(base64.urlsafe_b64encode(jpeg).decode().rstrip("=")) == jpeg
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))  # MIME line breaks
    assert decode_image_argument(wrapped) == jpeg


@pytest.mark.parametrize(
    "value, error",
    [
        ("", InvalidRequestError),
        (None, InvalidRequestError),
        (b"bytes", InvalidRequestError),
        ("not base64 at all !!", InvalidImageError),
        ("data:image/png,rawpixels", InvalidImageError),
        ("face.jpg", InvalidRequestError),  # a path, and this server reads no files
        ("/etc/passwd", InvalidRequestError),
        ("file:///etc/passwd", InvalidRequestError),
        ("A" * (MAX_BYTES * 4 // 3 + 8), ImageTooLargeError),
    ],
)
def test_refused_arguments(value, error):
    with pytest.raises(error) as info:
        decode_image_argument(value)
    assert len(str(info.value)) > 20 and len(str(info.value)) < 600


def test_paths_only_inside_the_allowed_folder(tmp_path, jpeg):
    inside = tmp_path / "allowed"
    (inside / "sub").mkdir(parents=True)
    (inside / "sub" / "a.jpg").write_bytes(jpeg)
    (tmp_path / "secret.jpg").write_bytes(jpeg)
    (inside / "escape.jpg").symlink_to(tmp_path / "secret.jpg")
    assert decode_image_argument("sub/a.jpg", inside) == inside / "sub" / "a.jpg"
    assert decode_image_argument(str(inside / "sub" / "a.jpg"), inside) == inside / "sub" / "a.jpg"
    assert decode_image_argument(f"file://{inside}/sub/a.jpg", inside) == inside / "sub" / "a.jpg"
    for outside in ("../secret.jpg", str(tmp_path / "secret.jpg"), "escape.jpg", "sub/../../secret.jpg", "/"):
        with pytest.raises(InvalidRequestError, match="outside the folder"):
            decode_image_argument(outside, inside)


def test_work_queue_refuses_past_its_limit():
    queue = WorkQueue(workers=1, max_waiting=1)
    release = threading.Event()

    async def scenario() -> list:
        first = asyncio.ensure_future(queue.run(lambda: release.wait(10) and "first"))
        second = asyncio.ensure_future(queue.run(lambda: "second"))
        await asyncio.sleep(0.05)
        assert queue.pending == 2
        with pytest.raises(CapacityError, match="busy"):
            await queue.run(lambda: "third")
        release.set()
        return [await first, await second, await queue.run(lambda: "after")]

    try:
        assert asyncio.run(scenario()) == ["first", "second", "after"]
        assert queue.pending == 0
    finally:
        queue.shutdown()


def test_serve_imports_only_tools_and_its_server_libraries():
    import ast
    from pathlib import Path

    import tools.serve

    forbidden = {"agent", "training", "ui", "streamlit", "langchain", "langchain_core", "langgraph"}
    for path in Path(tools.serve.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


def test_a_caller_that_stops_waiting_frees_its_place():
    queue = WorkQueue(workers=1, max_waiting=1)
    release = threading.Event()
    ran: list[str] = []

    async def scenario() -> str:
        first = asyncio.ensure_future(queue.run(lambda: release.wait(10)))
        second = asyncio.ensure_future(queue.run(lambda: ran.append("second")))
        await asyncio.sleep(0.05)
        assert (queue.pending, queue.busy, queue.waiting) == (2, 1, 1)
        second.cancel()
        first.cancel()
        await asyncio.gather(first, second, return_exceptions=True)
        assert (queue.pending, queue.waiting, queue.abandoned) == (0, 0, 2)
        third = asyncio.ensure_future(queue.run(lambda: "third"))  # admitted while the first still runs
        await asyncio.sleep(0.05)
        assert (queue.pending, queue.busy) == (1, 1)
        release.set()
        return await third

    try:
        assert asyncio.run(scenario()) == "third"
        assert ran == []  # the second never started
    finally:
        queue.shutdown()


def test_long_work_stops_when_told():
    from benchmarks.photos import media_bytes
    from tools.serve.service import FaceService, WorkAbandoned

    queue = WorkQueue(workers=1, max_waiting=0)
    stop = threading.Event()
    stop.set()
    service = FaceService()
    try:
        with pytest.raises(WorkAbandoned, match="stopped after 1 frames"):
            asyncio.run(queue.run(lambda: service.video(media_bytes("smile_clip"), fps=5, stop=stop)))
        assert queue.stopped == 1 and queue.busy == 0
    finally:
        queue.shutdown()


def _asgi_exchange(app, chunks: list[bytes]) -> tuple[list[dict], bytes]:
    """Sends ``chunks`` as a POST without Content-Length; returns what was sent back."""
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}
    asyncio.run(app(scope, receive, send))
    return sent, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_mcp_requests_too_large_to_read_are_tool_errors():
    import json

    from tools.serve.mcp_server import _TooLarge

    seen: list[bytes] = []

    async def transport(scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = _TooLarge(transport, max_bytes=1000)
    small = [b'{"jsonrpc": "2.0", ', b'"id": 1, "method": "ping"}']
    assert _asgi_exchange(app, small)[1] == b"ok" and seen == [b"".join(small)]  # handed on whole

    # Python's client puts the id first; TypeScript's last, after the arguments.
    for request in (
        b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "find_faces", "arguments": {"image": "'
        + b"A" * 5000
        + b'"}}}',
        b'{"method": "tools/call", "params": {"arguments": {"image": "'
        + b"A" * 5000
        + b'"}}, "jsonrpc": "2.0", "id": "r-7"}',
    ):
        sent, body = _asgi_exchange(app, [request[i : i + 700] for i in range(0, len(request), 700)])
        answer = json.loads(body)
        assert sent[0]["status"] == 200 and answer["id"] in (7, "r-7")
        result = answer["result"]
        assert result["isError"] and result["structuredContent"]["error"]["type"] == "ImageTooLargeError"
        assert result["content"][0]["text"].startswith("ImageTooLargeError: The request is")
    assert len(seen) == 1  # the large ones never reached the transport
    sent, body = _asgi_exchange(
        app, [b'{"jsonrpc": "2.0", "id": 3, "method": "ping", "x": "' + b"A" * 2000 + b'"}']
    )
    assert sent[0]["status"] == 413 and json.loads(body)["error"]["code"] == -32600  # not a tool call
