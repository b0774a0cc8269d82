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
