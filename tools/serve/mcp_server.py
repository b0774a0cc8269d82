"""The MCP server: ``python -m tools serve mcp`` (stdio) or ``... mcp --http PORT`` (streamable HTTP).

Tools, with the names and meaning of the LangChain tools (``tools.lc``): ``classify_emotion``,
``explain_prediction`` (text plus the heatmap as image content), ``answer_question`` and
``describe_face``. Each takes ``image`` as base64 or a data URL; a file path only when the server
was started with ``--allow-dir DIR`` and the resolved path lies inside DIR. Every tool returns a
short text and its data as structured content; every error a caller can cause comes back as a tool
error (``isError``) carrying the project's message.

Adding a tool is one typed async function below plus one line in ``MCP_TOOLS``: the function's
docstring is the description a model reads, its annotated arguments the input schema.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import Field

from tools.errors import FaceAgentError
from tools.images import MAX_BYTES
from tools.serve.service import FaceService, ToolOutput, WorkQueue, decode_image_argument

__all__ = ["ServeState", "MCP_TOOLS", "build_mcp_server", "SERVER_NAME"]

log = logging.getLogger(__name__)

SERVER_NAME = "facial-emotion"
INSTRUCTIONS = (
    "Tools that read faces in photos: the emotion of each face (classify_emotion), why the model "
    "read it so with a heatmap (explain_prediction), and the visible state of a face: mouth, eyes, "
    "brows, head pose (answer_question, describe_face). Pass the photo as base64 or a data URL. "
    "Faces are numbered in reading order (left to right, then top to bottom, from 1), as on the "
    "numbered photo of find_faces."
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
            return CallToolResult(
                content=[TextContent(type="text", text=f"{type(exc).__name__}: {exc}")],
                structuredContent={"error": {"type": type(exc).__name__, "message": str(exc)}},
                isError=True,
            )
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
    server = FastMCP(
        SERVER_NAME,
        instructions=INSTRUCTIONS,
        host=host,
        port=port,
        max_request_body_size=(MAX_BYTES * 4) // 3 + 1024 * 1024,
        log_level="WARNING",
    )
    server.face_state = ServeState(  # type: ignore[attr-defined]  # read back by _state()
        service or FaceService(), WorkQueue(workers, max_waiting), allow_dir
    )
    for tool in MCP_TOOLS:
        server.add_tool(tool, name=tool.__name__, structured_output=False, annotations=READ_ONLY)
    return server
