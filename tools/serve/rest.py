"""The REST API: ``python -m tools serve rest [--host 127.0.0.1] [--port 8000]``.

    GET  /health                      model and memory figures
    POST /v1/classify                 multipart: image [, face]
    POST /v1/explain[?format=png]     multipart: image [, face, target, versus, method]
    POST /v1/ask                      multipart: image, question [, face]
    POST /v1/describe                 multipart: image [, face]
    POST /v1/faces[?format=png]       multipart: image (count, boxes, positions, numbered photo)

Responses are the tools' ``to_dict()``s; errors are ``{"error": {"type", "message"}}`` with 400
(a bad request), 401 (a missing or wrong API key), 404, 413 (too large), 422 (not a usable image, no
face) or 503 (the work queue is full, a memory limit, a model missing). Models load once at
start-up (lifespan); the work runs on a bounded thread pool, off the event loop. CORS is off unless
origins are configured; an API key (``X-API-Key``) is required when one is configured. OpenAPI docs
at ``/docs``.
"""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tools.errors import (
    CapacityError,
    FaceAgentError,
    ImageTooLargeError,
    InvalidImageError,
    InvalidRequestError,
    ModelUnavailableError,
    NoFaceError,
)
from tools.images import MAX_BYTES
from tools.serve.service import FaceService, ToolOutput, WorkQueue

__all__ = ["RestSettings", "create_app", "API_KEY_HEADER"]

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small text fields

# Uploads stay in memory (bounded by the body limit and the queue) instead of Starlette's default
# spill of parts over 1 MB to temporary files: nothing of a person's photo is written to disk.
MultiPartParser.spool_max_size = MAX_BYTES + _FORM_OVERHEAD


@dataclass
class RestSettings:
    """How the REST API runs.

    Attributes:
        service: the face tools (a default ``FaceService`` when None).
        workers: threads doing the CPU work.
        max_waiting: requests allowed to wait for a worker before 503.
        max_upload_bytes: the largest request body accepted (413 beyond).
        api_key: when set, every ``/v1`` request must carry it in ``X-API-Key``.
        cors_origins: origins allowed by CORS; none means no CORS headers at all.
    """

    service: FaceService | None = None
    workers: int = 2
    max_waiting: int = 32
    max_upload_bytes: int = MAX_BYTES
    api_key: str | None = None
    cors_origins: Sequence[str] = field(default_factory=tuple)


# Module level: FastAPI resolves the endpoints' (string) annotations in this module's globals.
ImageField = Annotated[UploadFile, File(description="The photo (JPEG, PNG, WebP, GIF, BMP or TIFF).")]
FaceField = Annotated[
    int | None,
    Form(
        ge=1,
        description="Which face: its number in reading order (left to right, then top to bottom, from 1), "
        "as on the numbered photo; the most prominent face when omitted.",
    ),
]


# --- response models (what the OpenAPI page shows) --------------------------------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PredictionOut(_Open):
    face: int
    label: str
    confidence: float
    probs: dict[str, float]
    box: list[int]
    model: str
    compound: dict[str, Any] | None = None
    detection_score: float | None = None


class ClassifyOut(_Open):
    faces: list[PredictionOut]
    most_prominent: int
    model: str
    text: str


class ExplainOut(_Open):
    face: int
    target: str
    method: str
    regions: dict[str, float]
    faithfulness: float
    summary: str
    heatmap_png: str  # base64


class AnswerOut(_Open):
    question: str | None = None
    text: str
    short: str | None = None
    backend: str
    in_scope: bool = True


class FaceLocationOut(_Open):
    face: int
    box: list[int]
    position: str
    words: list[str]


class FacesOut(_Open):
    width: int
    height: int
    count: int
    faces: list[FaceLocationOut]
    most_prominent: int | None = None
    text: str
    annotated_png: str | None = None  # base64


class ErrorBody(BaseModel):
    type: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class HealthOut(_Open):
    status: str
    model: str | None
    memory: dict[str, Any]


# --- errors ------------------------------------------------------------------------------------------------


def _status(exc: FaceAgentError) -> int:
    if isinstance(exc, ImageTooLargeError):
        return 413
    if isinstance(exc, (InvalidImageError, NoFaceError)):
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
        parts = []
        for problem in exc.errors():
            where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query"))
            parts.append(f"{where}: {problem.get('msg', 'invalid')}" if where else str(problem.get("msg")))
        return _error(400, "InvalidRequestError", "Invalid request: " + "; ".join(parts) + ".")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _HTTP_TYPES.get(exc.status_code, "HTTPError")
        message = str(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{message}: {request.method} {request.url.path}. The endpoints are listed at /docs."
        return _error(exc.status_code, kind, message, dict(exc.headers or {}) or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in a request")
        return _error(500, "InternalError", f"Something went wrong on the server ({type(exc).__name__}).")


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, from Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = (
            f"The request is larger than the limit of {self.max_bytes / 2**20:.1f} MB; "
            "please send a smaller photo."
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _error(413, "ImageTooLargeError", message)(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            incoming = await receive()
            if incoming["type"] == "http.request":
                received += len(incoming.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI passes its own HTTPException through body parsing (others become 400).
                    raise HTTPException(413, message)
            return incoming

        await self.app(scope, limited, send)


# --- the app -----------------------------------------------------------------------------------------------


def create_app(settings: RestSettings | None = None) -> FastAPI:
    """The FastAPI app (run it with uvicorn; ``python -m tools serve rest`` does)."""
    settings = settings or RestSettings()
    service = settings.service or FaceService()
    queue = WorkQueue(settings.workers, settings.max_waiting)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await queue.run(service.load)  # models load once, before the first request
        try:
            yield
        finally:
            queue.shutdown()

    app = FastAPI(
        title="Facial emotion tools",
        version="1",
        description="Emotion classification, Grad-CAM explanations and facial-state answers for face photos.",
        lifespan=lifespan,
        responses={400: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    )
    app.state.service, app.state.queue, app.state.settings = service, queue, settings
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + _FORM_OVERHEAD)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=[API_KEY_HEADER, "Content-Type"],
        )

    async def check_key(request: Request) -> None:
        if settings.api_key is None:
            return
        given = request.headers.get(API_KEY_HEADER, "")
        if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
            raise StarletteHTTPException(401, f"A valid API key is required in the {API_KEY_HEADER} header.")

    async def run(image: UploadFile, work: Callable[[bytes], ToolOutput]) -> ToolOutput:
        data = await image.read()
        if len(data) > settings.max_upload_bytes:
            raise ImageTooLargeError(
                f"The photo is {len(data) / 2**20:.1f} MB; the limit is {settings.max_upload_bytes / 2**20:.1f} MB."
            )
        return await queue.run(lambda: work(data))

    router = APIRouter(prefix="/v1", dependencies=[Depends(check_key)], responses={401: {"model": ErrorOut}})

    @router.post("/classify", response_model=ClassifyOut, summary="Emotion of every face")
    async def classify(
        image: ImageField,
        face: Annotated[
            int | None,
            Form(ge=1, description="Only this face (its reading-order number); every face when omitted."),
        ] = None,
    ) -> dict[str, Any]:
        out = await run(image, lambda data: service.classify(data, face=face))
        return {**out.data, "text": out.text}

    @router.post(
        "/explain",
        response_model=ExplainOut,
        summary="Why: Grad-CAM heatmap, facial regions, faithfulness",
        responses={200: {"content": {"image/png": {}}, "description": "JSON, or the PNG with ?format=png"}},
    )
    async def explain(
        image: ImageField,
        face: FaceField = None,
        target: Annotated[
            str | None, Form(description="Emotion to explain; the prediction if empty.")
        ] = None,
        versus: Annotated[str | None, Form(description="Emotion to contrast with.")] = None,
        method: Annotated[str | None, Form(description="CAM method (gradcam by default).")] = None,
        format: Annotated[str, Query(pattern="^(json|png)$")] = "json",
    ) -> Any:
        out = await run(
            image, lambda data: service.explain(data, face=face, target=target, versus=versus, method=method)
        )
        if format == "png":
            return Response(out.png, media_type="image/png")
        return {**out.data, "heatmap_png": base64.b64encode(out.png or b"").decode("ascii")}

    @router.post("/ask", response_model=AnswerOut, summary="Answer a question about a face")
    async def ask(
        image: ImageField,
        question: Annotated[str, Form(min_length=1, description="e.g. 'Is the mouth open?'")],
        face: FaceField = None,
    ) -> dict[str, Any]:
        return (await run(image, lambda data: service.ask(data, question, face=face))).data

    @router.post("/describe", response_model=AnswerOut, summary="Describe a face")
    async def describe(image: ImageField, face: FaceField = None) -> dict[str, Any]:
        return (await run(image, lambda data: service.describe(data, face=face))).data

    @router.post(
        "/faces",
        response_model=FacesOut,
        summary="How many faces and where: boxes, position words, a numbered photo",
        responses={200: {"content": {"image/png": {}}, "description": "JSON, or the PNG with ?format=png"}},
    )
    async def faces(image: ImageField, format: Annotated[str, Query(pattern="^(json|png)$")] = "json") -> Any:
        out = await run(image, service.find_faces)
        if format == "png":
            if out.png is None:
                raise NoFaceError("No face found in this photo, so there is nothing to annotate.")
            return Response(out.png, media_type="image/png")
        png = base64.b64encode(out.png).decode("ascii") if out.png else None
        return {**out.data, "text": out.text, "annotated_png": png}

    @app.get("/health", response_model=HealthOut, summary="Is the server up; memory figures")
    async def health() -> dict[str, Any]:
        return {
            **service.health(),
            "queue": {"pending": queue.pending, "limit": queue.workers + queue.max_waiting},
        }

    app.include_router(router)
    return app
