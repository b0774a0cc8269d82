"""The MCP server: ``python -m tools serve mcp`` (stdio) or ``... mcp --http PORT`` (streamable HTTP).

Tools, with the names and meaning of the LangChain tools (``tools.lc``): ``classify_emotion``,
``explain_prediction`` (text plus the heatmap as image content), ``answer_question``,
``describe_face`` and ``find_faces`` (plus the numbered photo). Each takes ``image`` as base64 or a
data URL; a file path only when the server was started with ``--allow-dir DIR`` and the resolved
path lies inside DIR. Every tool returns a short text and its data as structured content; every
error a caller can cause comes back as a tool error (``isError``) whose text is ``Type: message``
and whose structured content is the REST API's envelope ``{"error": {"type", "message"}}``: the
project's errors, arguments of the wrong type or missing (pydantic's complaint, reworded), an
unknown tool, and over HTTP a request too large to read (``http_app``), which the SDK's transport
would answer with a plain-text 413 that ends the client's session. The server reports the
project's version in ``serverInfo``.

Adding a tool is one typed async function below plus one line in ``MCP_TOOLS``: the function's
docstring is the description a model reads, its annotated arguments the input schema; the
instructions list the tools from that table.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tools.boundaries import POLICY
from tools.errors import FaceAgentError, ImageTooLargeError, InvalidRequestError
from tools.images import MAX_BYTES
from tools.serve.service import (
    FaceService,
    ToolOutput,
    WorkQueue,
    decode_image_argument,
    project_version,
    validation_message,
)

__all__ = ["ServeState", "MCP_TOOLS", "build_mcp_server", "http_app", "SERVER_NAME", "instructions"]

log = logging.getLogger(__name__)

SERVER_NAME = "facial-emotion"
# The largest JSON-RPC request read over HTTP: a photo at the size limit in base64, plus room.
MAX_HTTP_BODY = (MAX_BYTES * 4) // 3 + 1024 * 1024


def instructions(tools: Sequence[Callable[..., Any]]) -> str:
    """What the server tells a client model: every tool by name with its docstring's first line."""
    lines = [f"- {tool.__name__}: {(tool.__doc__ or '').strip().splitlines()[0]}" for tool in tools]
    return (
        "Tools that read faces in photos:\n"
        + "\n".join(lines)
        + "\nPass the photo as base64 or a data URL. Faces are numbered in reading order (left to right, "
        "then top to bottom, from 1), as on the numbered photo of find_faces. Errors come back as tool "
        "errors whose text is 'ErrorType: message'. " + POLICY
    )


def error_result(kind: str, message: str) -> CallToolResult:
    """A tool error: ``Type: message`` as text and the REST API's envelope as structured content."""
    return CallToolResult(
        content=[TextContent(type="text", text=f"{kind}: {message}")],
        structuredContent={"error": {"type": kind, "message": message}},
        isError=True,
    )


@dataclass
class ServeState:
    """What the tools share: the models, the work queue and the folder files may come from."""

    service: FaceService
    queue: WorkQueue
    allow_dir: Path | None = None

    async def call(
        self, file: str, work: Callable[[Any], ToolOutput], max_bytes: int = MAX_BYTES, what: str = "image"
    ) -> CallToolResult:
        """Decodes a file argument (base64, data URL, allowed path), runs ``work`` on a worker thread
        with the bytes or path, and builds the MCP result (errors as ``isError`` results)."""
        try:
            source = decode_image_argument(file, self.allow_dir, max_bytes, what)
            out = await self.queue.run(lambda: work(source))
        except FaceAgentError as exc:
            return error_result(type(exc).__name__, str(exc))
        content: list[TextContent | ImageContent] = [TextContent(type="text", text=out.text)]
        if out.png:
            content.append(
                ImageContent(
                    type="image", data=base64.b64encode(out.png).decode("ascii"), mimeType="image/png"
                )
            )
        return CallToolResult(content=content, structuredContent=out.data)


def _state(ctx: Context) -> ServeState:
    return ctx.fastmcp.face_state  # type: ignore[attr-defined]  # set by build_mcp_server


ImageArg = Annotated[
    str,
    Field(
        description="The photo: base64 of the file's bytes, or a data URL (data:image/jpeg;base64,...). "
        "A file path only if this server allows a folder."
    ),
]
# Bounds are checked by the tools (the project's messages), not by the schema (pydantic's).
FaceNumber = Annotated[
    int | None,
    Field(
        description="Which face: its number in reading order (left to right, then top to bottom, from 1), "
        "as find_faces numbers them; omit for the most prominent face."
    ),
]


async def classify_emotion(
    image: ImageArg,
    ctx: Context,
    face: Annotated[
        int | None, Field(description="Which face (its reading-order number); omit for every face.")
    ] = None,
) -> CallToolResult:
    """Reads the emotion on the faces of a photo with the emotion classifier.

    Use it for "what is she feeling?", "is he happy?", "what emotion is this?". Returns, per face,
    the emotion, its confidence, every class's probability, the face box and a compound reading.
    """
    return await _state(ctx).call(image, lambda src: _state(ctx).service.classify(src, face=face))


async def explain_prediction(
    image: ImageArg,
    ctx: Context,
    face: FaceNumber = None,
    target: Annotated[
        str | None, Field(description="Emotion to explain, e.g. 'sad'; omit for the prediction.")
    ] = None,
    versus: Annotated[
        str | None, Field(description="Emotion to contrast with ('why happy rather than surprise').")
    ] = None,
    method: Annotated[
        str | None,
        Field(
            description="CAM method: gradcam (default), gradcam++, hirescam, xgradcam, layercam, scorecam ..."
        ),
    ] = None,
) -> CallToolResult:
    """Explains why the classifier read an emotion, with a heatmap (Grad-CAM family) over the face.

    Use it for "why?", "what made you say that?", "show me the heatmap". Returns which facial regions
    hold the heat, the target's probability and how faithful the map is, and the heatmap as a PNG.
    """
    return await _state(ctx).call(
        image,
        lambda src: _state(ctx).service.explain(src, face=face, target=target, versus=versus, method=method),
    )


async def answer_question(
    image: ImageArg,
    question: Annotated[str, Field(description="The question, e.g. 'Is the mouth open?'.")],
    ctx: Context,
    face: FaceNumber = None,
) -> CallToolResult:
    """Answers a question about the visible state of a face: mouth, eyes, brows, smile, head pose.

    Use it for "is the mouth open?", "are her eyes closed?", "is he frowning?". Returns a short
    answer and how it was found (landmark geometry or a VQA model).
    """
    return await _state(ctx).call(image, lambda src: _state(ctx).service.ask(src, question, face=face))


async def describe_face(image: ImageArg, ctx: Context, face: FaceNumber = None) -> CallToolResult:
    """Describes the visible state of a face in a few sentences: eyes, mouth, brows and head pose."""
    return await _state(ctx).call(image, lambda src: _state(ctx).service.describe(src, face=face))


async def find_faces(image: ImageArg, ctx: Context) -> CallToolResult:
    """Counts the faces of a photo and says where each one is.

    Use it for "how many people are there?", "who is on the left?", or to learn which face number
    is "the person on the right" before asking about it. Returns each face's number (reading order:
    left to right, then top to bottom, as the other tools count), box and position words (left,
    middle, right, top, bottom, largest), and the photo with numbered boxes as an image.
    """
    return await _state(ctx).call(image, lambda src: _state(ctx).service.find_faces(src))


# The tools only read what they are given: clients may call them without asking the user each time.
READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)

# The registration table: one async function each, shaped like those above, and one line here. A
# video tool passes its own size limit: ``_state(ctx).call(video, work, max_bytes=..., what="video")``.
MCP_TOOLS: list[Callable[..., Any]] = [
    classify_emotion,
    explain_prediction,
    answer_question,
    describe_face,
    find_faces,
]


class _FaceMCP(FastMCP):
    """FastMCP whose argument errors and unknown tools are tool errors in the project's envelope."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any]
    ) -> Sequence[ContentBlock] | dict[str, Any]:
        try:
            return await super().call_tool(name, arguments)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                message = validation_message(cause.errors(), f"Invalid arguments for {name}")
            elif name not in {t.name for t in self._tool_manager.list_tools()}:
                known = ", ".join(t.__name__ for t in MCP_TOOLS)
                message = f"There is no tool {name[:80]!r}; the tools are: {known}."
            else:
                log.exception("unexpected error in tool %s", name)
                return error_result(
                    "InternalError", f"Something went wrong on the server ({type(cause or exc).__name__})."
                )  # type: ignore[return-value]
            return error_result(InvalidRequestError.__name__, message)  # type: ignore[return-value]


def build_mcp_server(
    service: FaceService | None = None,
    *,
    allow_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 2,
    max_waiting: int = 32,
) -> FastMCP:
    """The FastMCP server with every tool of ``MCP_TOOLS`` registered.

    Args:
        service: the face tools (a default ``FaceService`` when None); load its models before serving.
        allow_dir: the folder image paths may point into; None accepts base64 and data URLs only.
        host: where the HTTP transport listens (127.0.0.1 unless told otherwise).
        port: the HTTP transport's port.
        workers: threads doing the CPU work.
        max_waiting: tool calls allowed to wait for a thread before they are refused.
    """
    server = _FaceMCP(
        SERVER_NAME,
        instructions=instructions(MCP_TOOLS),
        host=host,
        port=port,
        # Larger requests never reach the transport over HTTP: http_app() answers them.
        max_request_body_size=MAX_HTTP_BODY + 1,
        log_level="WARNING",
    )
    server._mcp_server.version = project_version()  # serverInfo.version (the SDK's own otherwise)
    server.face_state = ServeState(  # type: ignore[attr-defined]  # read back by _state()
        service or FaceService(), WorkQueue(workers, max_waiting), allow_dir
    )
    for tool in MCP_TOOLS:
        server.add_tool(tool, name=tool.__name__, structured_output=False, annotations=READ_ONLY)
    return server


# --- HTTP: requests too large to read -------------------------------------------------------------------

_KEEP = 64 * 1024  # bytes kept from each end of an oversized request, to find its id and method
_ID = re.compile(rb'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.){0,200}")')
_TOOL_CALL = re.compile(rb'"method"\s*:\s*"tools/call"')


class _TooLarge:
    """ASGI middleware: a request over ``max_bytes`` is read through (keeping only its two ends) and
    answered as a JSON-RPC result with a tool error, so the client's session goes on."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), b"")
        if declared.isdigit() and int(declared) <= self.max_bytes:
            await self.app(scope, receive, send)  # the transport still checks the actual size
            return
        buffered: list[Message] = []  # the request as it came, while it is within the limit
        head, tail, size, more = bytearray(), b"", 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client has gone
            chunk = message.get("body", b"")
            more = bool(message.get("more_body", False))
            size += len(chunk)
            if len(head) < _KEEP:
                head += chunk[: _KEEP - len(head)]
            tail = (tail + chunk)[-_KEEP:]
            if size <= self.max_bytes:
                buffered.append(message)
            else:
                buffered.clear()
        if size <= self.max_bytes:  # sent without a length, and small after all: hand it on

            async def again() -> Message:
                return buffered.pop(0) if buffered else await receive()

            await self.app(scope, again, send)
            return
        await self._refuse(send, bytes(head), tail, size)

    async def _refuse(self, send: Send, head: bytes, tail: bytes, size: int) -> None:
        found = _ID.search(head) or _ID.search(tail)
        request_id = json.loads(found.group(1)) if found else None
        limit_mb = MAX_BYTES / 2**20
        message = (
            f"The request is {size / 2**20:.1f} MB; a photo may be at most {limit_mb:.0f} MB "
            f"(about {self.max_bytes / 2**20:.0f} MB as base64). Send a smaller photo."
        )
        if request_id is not None and (_TOOL_CALL.search(head) or _TOOL_CALL.search(tail)):
            result = error_result(ImageTooLargeError.__name__, message)
            body: dict[str, Any] = {
                "jsonrpc": "2.0",
                "id": request_id,
                "result": result.model_dump(by_alias=True, exclude_none=True),
            }
            status = 200
        else:
            body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32600, "message": message}}
            status = 413
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def http_app(server: FastMCP, max_bytes: int = MAX_HTTP_BODY) -> ASGIApp:
    """The streamable-HTTP ASGI app of ``server``, answering requests over ``max_bytes`` with a tool
    error instead of the transport's plain-text 413 (run it with uvicorn)."""
    return _TooLarge(server.streamable_http_app(), max_bytes)
