"""The REST API: ``python -m tools serve rest [--host 127.0.0.1] [--port 8000]``.

    GET  /health                      status, version, uptime, model, memory and queue figures
    GET  /metrics                     Prometheus metrics (requests, latency, queue, memory)
    POST /v1/classify                 multipart: image [, face]
    POST /v1/explain[?format=png]     multipart: image [, face, target, versus, method]
    POST /v1/ask                      multipart: image, question [, face]
    POST /v1/describe                 multipart: image [, face]
    POST /v1/faces[?format=png]       multipart: image (count, boxes, positions, numbered photo)
    POST /v1/video                    multipart: video [, fps] (what ``python -m tools video --json`` prints)
    GET  /docs, /redoc                the API's documentation, served from local files (works offline)

Faces are numbered in reading order (left to right, then top to bottom), from 1, in requests and
responses. Responses are the tools' ``to_dict()``s; errors are ``{"error": {"type", "message"}}``
with 400 (a bad request), 401 (a missing or wrong API key), 404, 405, 413 (too large), 422 (not a
usable image or video, no face) or 503 (the work queue is full, a memory limit, a model missing).
Models load once at start-up (lifespan); the work runs on a bounded thread pool, off the event loop,
and a client that disconnects frees its place in the queue (a video stops at its next frame). Every
response carries ``X-Request-ID``; each request is one access-log line (``tools.serve.observability``).
CORS is off unless origins are configured; an API key (``X-API-Key``) is required on ``/v1`` when one
is configured, and only then does the OpenAPI document declare the scheme and the 401s.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    Security,
    UploadFile,
)
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_TEMPLATE
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tools.errors import (
    CapacityError,
    FaceAgentError,
    ImageTooLargeError,
    InvalidImageError,
    InvalidRequestError,
    InvalidVideoError,
    ModelUnavailableError,
    NoFaceError,
    VideoTooLargeError,
)
from tools.images import MAX_BYTES
from tools.serve import openapi
from tools.serve.observability import (
    CLIENT_GONE,
    REQUEST_ID_HEADER,
    AccessLog,
    Metrics,
    request_ids,
)
from tools.serve.service import FaceService, ToolOutput, WorkQueue, project_version, validation_message
from tools.video import VideoLimits

__all__ = ["RestSettings", "create_app", "API_KEY_HEADER", "VIDEO_PATH", "QUESTION_PATTERN"]

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
VIDEO_PATH = "/v1/video"
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small text fields
DEFAULT_MAX_VIDEO_BYTES = VideoLimits().max_bytes
DEFAULT_MAX_VIDEO_SECONDS = VideoLimits().max_duration_s
MAX_QUESTION_CHARS = 500  # tools.vqa's limit (a test keeps them equal; tools.vqa is heavy to import)
MAX_FPS = 60.0
# A question: printable text (no control characters) with at least one character that is not a
# space. Checked with Python's ``re.search``, the engine Schemathesis generates from, so a client
# and this server agree on every string.
_TEXT = r"[^\x00-\x1f\x7f-\x9f]"
QUESTION_PATTERN = rf"^{_TEXT}*[^\s\x00-\x1f\x7f-\x9f]{_TEXT}*$"
_QUESTION = re.compile(QUESTION_PATTERN)


@dataclass
class RestSettings:
    """How the REST API runs.

    Attributes:
        service: the face tools (a default ``FaceService`` when None).
        workers: threads doing the CPU work.
        max_waiting: requests allowed to wait for a worker before 503.
        max_upload_bytes: the largest photo accepted (413 beyond).
        max_video_bytes: the largest video accepted (413 beyond).
        max_video_seconds: the longest video accepted (422 beyond), read from its header.
        api_key: when set, every ``/v1`` request must carry it in ``X-API-Key``.
        cors_origins: origins allowed by CORS; none means no CORS headers at all.
    """

    service: FaceService | None = None
    workers: int = 2
    max_waiting: int = 32
    max_upload_bytes: int = MAX_BYTES
    max_video_bytes: int = DEFAULT_MAX_VIDEO_BYTES
    max_video_seconds: float = DEFAULT_MAX_VIDEO_SECONDS
    api_key: str | None = None
    cors_origins: Sequence[str] = field(default_factory=tuple)


# Module level: FastAPI resolves the endpoints' (string) annotations in this module's globals.
ImageField = Annotated[UploadFile, File(description="The photo (JPEG, PNG, WebP, GIF, BMP or TIFF).")]
FaceField = Annotated[
    int | None,
    Form(
        ge=1,
        description="Which face: its number in reading order (left to right, then top to bottom, from 1), "
        "as on the numbered photo of /v1/faces; the most prominent face when omitted.",
        examples=[1],
    ),
]
# Left out of the OpenAPI document: one operation, one response type, so generated clients can parse
# every answer; the JSON carries the same PNG in base64. The operations' descriptions mention it.
FormatQuery = Annotated[
    Literal["json", "png"],
    Query(
        description="json (default): the result as JSON; png: only the picture, as image/png.",
        include_in_schema=False,
    ),
]


# --- response models (what the OpenAPI page shows) --------------------------------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


FaceNumber = Annotated[int, Field(ge=1, description="The face's number: reading order, from 1.")]
Box = Annotated[list[int], Field(min_length=4, max_length=4, description="x0, y0, x1, y1 in pixels.")]
ENUM_KEY = openapi.ENUM_MARK
EMOTION = {ENUM_KEY: "Emotion"}  # refine() makes the field a reference to the loaded model's labels


class PredictionOut(_Open):
    face: FaceNumber
    label: str = Field(json_schema_extra=EMOTION)
    confidence: float = Field(ge=0, le=1)
    probs: dict[str, float] = Field(description="Every emotion's probability; they sum to 1.")
    box: Box
    model: str
    compound: dict[str, Any] | None = None
    detection_score: float | None = None


class ClassifyOut(_Open):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "faces": [
                        {
                            "face": 1,
                            "label": "happy",
                            "confidence": 0.98,
                            "probs": {"happy": 0.98, "neutral": 0.02},
                            "box": [179, 83, 266, 170],
                            "model": "faceapi-expression",
                        }
                    ],
                    "most_prominent": 1,
                    "model": "faceapi-expression",
                    "text": "1 face (model faceapi-expression): face 1: happy (98%).",
                }
            ]
        },
    )
    faces: list[PredictionOut] = Field(description="Every face (or the one asked for), by number.")
    most_prominent: FaceNumber = Field(description="The number of the largest, clearest face.")
    model: str
    text: str


class ExplainOut(_Open):
    face: FaceNumber
    target: str = Field(json_schema_extra=EMOTION)
    versus: str | None = Field(None, json_schema_extra=EMOTION)
    method: str
    regions: dict[str, float] = Field(description="Share of the heat on each facial region; sums to 1.")
    target_probability: float
    faithfulness: float
    summary: str
    prediction: PredictionOut
    heatmap_png: str = Field(description="The heatmap over the face, a base64 PNG.")


class AnswerOut(_Open):
    face: FaceNumber
    question: str | None = None
    text: str
    short: str | None = None
    backend: str
    in_scope: bool = True
    declined: str | None = None  # tools.boundaries category when the question was declined


class FaceLocationOut(_Open):
    face: FaceNumber
    box: Box
    position: str
    words: list[str]


class FacesOut(_Open):
    width: int
    height: int
    count: int = Field(ge=0)
    faces: list[FaceLocationOut] = Field(description="The faces in reading order: numbers 1, 2, ... n.")
    most_prominent: int | None = Field(None, ge=1)
    text: str
    annotated_png: str | None = Field(None, description="The photo with numbered boxes, a base64 PNG.")


class VideoFaceOut(_Open):
    track: int = Field(description="The face's number in this video (tracked from frame to frame).")
    label: str = Field(json_schema_extra=EMOTION)
    confidence: float
    box: Box
    smoothed_label: str = Field(json_schema_extra=EMOTION)


class VideoFrameOut(_Open):
    t: float = Field(description="Seconds from the start.")
    faces: list[VideoFaceOut]


class VideoSummaryOut(_Open):
    frames_analyzed: int
    frames_without_faces: int
    tracks: list[dict[str, Any]] = Field(
        description="Per face: its phases, changes, peaks and mean readings."
    )
    story: str = Field(description="What happens to each face, with times, in words.")
    warnings: list[str]


class VideoOut(_Open):
    name: str
    model: str
    labels: list[str]
    duration_s: float
    fps_analyzed: float
    width: int
    height: int
    frames: list[VideoFrameOut]
    summary: VideoSummaryOut


class ErrorBody(BaseModel):
    type: str = Field(description="The error's kind, e.g. InvalidImageError, NoFaceError, CapacityError.")
    message: str = Field(description="What went wrong and what to do, for a person.")


class ErrorOut(BaseModel):
    error: ErrorBody


class HealthOut(_Open):
    status: Literal["ok"]
    version: str
    uptime_s: float
    model: str | None
    memory: dict[str, Any]
    queue: dict[str, int]


# --- errors ------------------------------------------------------------------------------------------------


def _status(exc: FaceAgentError) -> int:
    if isinstance(exc, (ImageTooLargeError, VideoTooLargeError)):
        return 413
    if isinstance(exc, (InvalidImageError, NoFaceError, InvalidVideoError)):
        return 422
    if isinstance(exc, InvalidRequestError):
        return 400
    if isinstance(exc, (CapacityError, ModelUnavailableError)):
        return 503
    return 400


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)


_HTTP_TYPES = {401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed", 413: "ImageTooLargeError"}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FaceAgentError)
    async def _project_error(_: Request, exc: FaceAgentError) -> JSONResponse:
        status = _status(exc)
        headers = {"Retry-After": "1"} if isinstance(exc, CapacityError) else None
        return _error(status, type(exc).__name__, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, "InvalidRequestError", validation_message(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _HTTP_TYPES.get(exc.status_code, "HTTPError")
        if exc.status_code == 413 and request.url.path == VIDEO_PATH:
            kind = "VideoTooLargeError"
        message = str(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{message}: {request.method} {request.url.path}. The endpoints are listed at /docs."
        return _error(exc.status_code, kind, message, dict(exc.headers or {}) or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in a request")
        return _error(500, "InternalError", f"Something went wrong on the server ({type(exc).__name__}).")


class BodyLimit:
    """Refuses request bodies over their path's limit with 413, from Content-Length or while streaming.

    Args:
        app: the app.
        max_bytes: the limit of every path but those in ``paths``.
        paths: path -> (limit, what the upload is: "photo", "video").
    """

    def __init__(self, app: ASGIApp, max_bytes: int, paths: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.paths.get(path, self.max_bytes)
        what, kind = (
            ("video", "VideoTooLargeError") if path == VIDEO_PATH else ("photo", "ImageTooLargeError")
        )
        message = (
            f"The request is larger than the limit of {limit / 2**20:.1f} MB; please send a smaller {what}."
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _error(413, kind, message)(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            incoming = await receive()
            if incoming["type"] == "http.request":
                received += len(incoming.get("body", b""))
                if received > limit:
                    # FastAPI passes its own HTTPException through body parsing (others become 400).
                    raise HTTPException(413, message)
            return incoming

        await self.app(scope, limited, send)


class DocsStayLocal:
    """Adds ``Content-Security-Policy: img-src 'self' data:`` to the documentation pages: ReDoc's
    bundle shows its maker's logo from a CDN, which the browser then never asks for."""

    def __init__(self, app: ASGIApp, paths: Sequence[str] = ("/docs", "/redoc")) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"content-security-policy", b"img-src 'self' data:")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (the body has been read, so only that can arrive)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _check_choice(name: str, value: str | None, choices: Sequence[str]) -> None:
    if value is not None and value not in choices:
        raise InvalidRequestError(f"{name} must be one of: {', '.join(choices)}; got {value[:60]!r}.")


def _b64(png: bytes | None) -> str | None:
    return base64.b64encode(png).decode("ascii") if png else None


# --- the app -----------------------------------------------------------------------------------------------


def create_app(settings: RestSettings | None = None) -> FastAPI:
    """The FastAPI app (run it with uvicorn; ``python -m tools serve rest`` does)."""
    settings = settings or RestSettings()
    service = settings.service or FaceService()
    queue = WorkQueue(settings.workers, settings.max_waiting)
    version = project_version()
    started = time.monotonic()
    # Uploads stay in memory (bounded by the body limits and the queue) instead of Starlette's spill
    # of parts over 1 MB to temporary files: nothing of a person's photo or video is written to disk.
    # (A class attribute: the largest limit of any app in the process wins.)
    largest = max(settings.max_upload_bytes, settings.max_video_bytes) + _FORM_OVERHEAD
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, largest)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await queue.run(service.load)  # models load once, before the first request
        try:
            yield
        finally:
            queue.shutdown()

    app = FastAPIOffline(
        title="Facial emotion tools",
        version=version,
        description=(
            "Emotion classification, Grad-CAM explanations, facial-state answers and face locations for "
            "photos, and emotions over time for videos. Faces are numbered in reading order (left to "
            "right, then top to bottom), from 1, in requests and responses. Every error is "
            '`{"error": {"type", "message"}}`; an unknown path is a 404 and a wrong method a 405 of that '
            "shape. Each response carries `X-Request-ID` (yours when you send a plausible one). "
            "Metrics for Prometheus at `/metrics`."
        ),
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.service, app.state.queue, app.state.settings = service, queue, settings
    metrics = Metrics(queue, lambda: {"version": version, "model": service.model_name})
    app.state.metrics = metrics
    _install_error_handlers(app)
    # Outermost last: CORS, then request ids, then the access log and metrics, then the body limit.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_upload_bytes + _FORM_OVERHEAD,
        paths={VIDEO_PATH: settings.max_video_bytes + _FORM_OVERHEAD},
    )
    route_paths: set[str] = set()  # filled below, once the routes exist
    app.add_middleware(DocsStayLocal)
    app.add_middleware(AccessLog, metrics=metrics, paths=route_paths)
    app.add_middleware(request_ids)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=[API_KEY_HEADER, REQUEST_ID_HEADER, "Content-Type"],
            expose_headers=[REQUEST_ID_HEADER],
        )

    dependencies = []
    if settings.api_key is not None:
        key_header = APIKeyHeader(
            name=API_KEY_HEADER,
            scheme_name="ApiKey",
            description="The key the server was started with (FACE_AGENT_SERVE_API_KEY).",
            auto_error=False,
        )
        expected = settings.api_key.encode()

        # A default, not Annotated[...]: the annotation is a string resolved in the module's globals.
        async def check_key(given: str | None = Security(key_header)) -> None:
            if not hmac.compare_digest((given or "").encode(), expected):
                raise StarletteHTTPException(
                    401, f"A valid API key is required in the {API_KEY_HEADER} header."
                )

        dependencies.append(Depends(check_key))

    async def run(
        request: Request,
        upload: UploadFile,
        work: Callable[[bytes, threading.Event], ToolOutput],
        video: bool = False,
    ) -> ToolOutput | Response:
        """Reads the upload, runs ``work(data, stop)`` in the queue; a client that disconnects first
        gets its place freed and ``stop`` set, and the answer is a 499 nobody reads."""
        data = await upload.read()
        limit = settings.max_video_bytes if video else settings.max_upload_bytes
        if len(data) > limit:
            too_large = VideoTooLargeError if video else ImageTooLargeError
            what = "video" if video else "photo"
            raise too_large(f"The {what} is {len(data) / 2**20:.1f} MB; the limit is {limit / 2**20:.1f} MB.")
        stop = threading.Event()
        job = asyncio.ensure_future(queue.run(lambda: work(data, stop)))
        gone = asyncio.ensure_future(_client_gone(request))
        try:
            await asyncio.wait({job, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not job.done():
                stop.set()
                job.cancel()
        if not job.done():
            await asyncio.wait({job})  # the cancellation lands: the queue place is free
        if job.cancelled():
            return Response(status_code=CLIENT_GONE)
        return job.result()

    async def answer(
        request: Request,
        upload: UploadFile,
        work: Callable[[bytes, threading.Event], ToolOutput],
        shape: Callable[[ToolOutput], Any],
        video: bool = False,
    ) -> Any:
        out = await run(request, upload, work, video)
        return out if isinstance(out, Response) else shape(out)

    photo_router = APIRouter(prefix="/v1", dependencies=dependencies, tags=["photos"])
    video_router = APIRouter(prefix="/v1", dependencies=dependencies, tags=["video"])

    @photo_router.post("/classify", response_model=ClassifyOut, summary="Emotion of every face")
    async def classify(
        request: Request,
        image: ImageField,
        face: Annotated[
            int | None,
            Form(
                ge=1,
                description="Only this face (its reading-order number); every face when omitted.",
                examples=[1],
            ),
        ] = None,
    ) -> Any:
        return await answer(
            request,
            image,
            lambda data, _: service.classify(data, face=face),
            lambda out: {**out.data, "text": out.text},
        )

    @photo_router.post(
        "/explain",
        response_model=ExplainOut,
        summary="Why: Grad-CAM heatmap, facial regions, faithfulness",
        description="The heatmap is `heatmap_png` (base64); `?format=png` answers with only that PNG "
        "(image/png) instead of JSON.",
    )
    async def explain(
        request: Request,
        image: ImageField,
        face: FaceField = None,
        target: Annotated[
            str | None,
            Form(
                description="Emotion to explain; the face's prediction when omitted.",
                json_schema_extra=EMOTION,
                examples=["sad"],
            ),
        ] = None,
        versus: Annotated[
            str | None,
            Form(
                description="Emotion to contrast with ('why happy rather than surprise').",
                json_schema_extra=EMOTION,
            ),
        ] = None,
        method: Annotated[
            str | None,
            Form(description="CAM method; gradcam when omitted.", json_schema_extra={ENUM_KEY: "CamMethod"}),
        ] = None,
        format: FormatQuery = "json",
    ) -> Any:
        labels = service.labels
        _check_choice("target", target, labels)
        _check_choice("versus", versus, labels)
        _check_choice("method", method, service.methods)

        def shape(out: ToolOutput) -> Any:
            if format == "png":
                return Response(out.png, media_type="image/png")
            return {**out.data, "heatmap_png": _b64(out.png) or ""}

        return await answer(
            request,
            image,
            lambda data, _: service.explain(data, face=face, target=target, versus=versus, method=method),
            shape,
        )

    @photo_router.post("/ask", response_model=AnswerOut, summary="Answer a question about a face")
    async def ask(
        request: Request,
        image: ImageField,
        question: Annotated[
            str,
            Form(
                min_length=1,
                max_length=MAX_QUESTION_CHARS,
                description="The question, in printable text (no control characters), e.g. 'Is the mouth open?'.",
                json_schema_extra={"pattern": QUESTION_PATTERN},
                examples=["Is the mouth open?"],
            ),
        ],
        face: FaceField = None,
    ) -> Any:
        if _QUESTION.search(question) is None:
            raise InvalidRequestError(
                "Ask a question in printable text (no control characters), e.g. 'Is the mouth open?'."
            )
        return await answer(
            request, image, lambda data, _: service.ask(data, question, face=face), lambda out: out.data
        )

    @photo_router.post("/describe", response_model=AnswerOut, summary="Describe a face")
    async def describe(request: Request, image: ImageField, face: FaceField = None) -> Any:
        return await answer(
            request, image, lambda data, _: service.describe(data, face=face), lambda out: out.data
        )

    @photo_router.post(
        "/faces",
        response_model=FacesOut,
        summary="How many faces and where: boxes, position words, a numbered photo",
        description="Faces 1..n in reading order (left to right, then top to bottom). The numbered photo is "
        "`annotated_png` (base64); `?format=png` answers with only that PNG (image/png) instead of JSON.",
    )
    async def find_faces(request: Request, image: ImageField, format: FormatQuery = "json") -> Any:
        def shape(out: ToolOutput) -> Any:
            if format == "png":
                if out.png is None:
                    raise NoFaceError("No face found in this photo, so there is nothing to annotate.")
                return Response(out.png, media_type="image/png")
            return {**out.data, "text": out.text, "annotated_png": _b64(out.png)}

        return await answer(request, image, lambda data, _: service.find_faces(data), shape)

    @video_router.post(
        "/video",
        response_model=VideoOut,
        summary="Emotions of the faces of a video over time: tracks, phases, the story",
        description="The same JSON as `python -m tools video --json`. The video is decoded in memory; its "
        "size and duration are checked from its header before any frame is decoded.",
    )
    async def analyze_video(
        request: Request,
        video: Annotated[
            UploadFile, File(description="The video (MP4, MOV, WebM, MKV, AVI or an animated GIF).")
        ],
        fps: Annotated[
            float | None,
            Form(
                gt=0,
                le=MAX_FPS,
                description="Frames to analyse per second of video; every frame (up to 30 a second) when omitted.",
                examples=[5],
            ),
        ] = None,
    ) -> Any:
        limits = VideoLimits(max_bytes=settings.max_video_bytes, max_duration_s=settings.max_video_seconds)
        name = (video.filename or "video").replace("\\", "/").rsplit("/", 1)[-1][:200] or "video"
        return await answer(
            request,
            video,
            lambda data, stop: service.video(data, fps=fps, name=name, limits=limits, stop=stop),
            lambda out: out.data,
            video=True,
        )

    service_router = APIRouter(tags=["service"])

    @service_router.get(
        "/health", response_model=HealthOut, summary="Is the server up: version, uptime, memory"
    )
    async def health() -> dict[str, Any]:
        return {
            **service.health(),
            "version": version,
            "uptime_s": round(time.monotonic() - started, 1),
            "queue": {
                "pending": queue.pending,
                "waiting": queue.waiting,
                "busy": queue.busy,
                "workers": queue.workers,
                "limit": queue.limit,
                "abandoned": queue.abandoned,
                "stopped": queue.stopped,
            },
        }

    @service_router.get(
        "/metrics",
        summary="Prometheus metrics: requests, latency, queue, memory",
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics"}
        },
    )
    async def metrics_text() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    for router in (photo_router, video_router, service_router):
        app.include_router(router)
        route_paths.update(route.path for route in router.routes if isinstance(route, APIRoute))

    errors = [400, 413, 422, 503] + ([401] if settings.api_key is not None else [])

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=[
                    {"name": "photos", "description": "One photo in, its faces read."},
                    {"name": "video", "description": "A video in, its faces over time."},
                    {"name": "service", "description": "Health and metrics."},
                ],
            )
            # The error schema is used only by the responses refine() adds.
            _, defs = models_json_schema([(ErrorOut, "serialization")], ref_template=REF_TEMPLATE)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs["$defs"])
            app.openapi_schema = openapi.refine(
                schema,
                enums={
                    "Emotion": (service.labels, f"An emotion the loaded model ({service.model_name}) reads."),
                    "CamMethod": (service.methods, "A class-activation-map method (pytorch-grad-cam)."),
                },
                errors={"/v1/": errors},
                request_id_header=REQUEST_ID_HEADER,
            )
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
    return app
