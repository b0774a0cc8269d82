"""What the MCP server and the REST API share: the models, the image inputs and the work queue.

``FaceService`` runs the face tools on one image with the process-wide cached models and per-image
cache (``tools.analysis.default_cache``), and returns a ``ToolOutput``: a short text (the same kind
of sentence the LangChain tools give a model), the tool's ``to_dict()`` data and, for explanations,
the heatmap PNG. Faces are counted from 1 in every argument, as in ``tools.lc``.

``decode_image_argument`` turns a tool argument into something ``tools.images`` reads: base64, a
data URL, or a file path, the last only inside a folder the operator allowed. ``WorkQueue`` runs the
CPU work off the event loop on a fixed number of threads with a bounded number of requests waiting;
past it, ``CapacityError`` (a 503 / an MCP tool error) instead of an ever longer queue. A request whose
caller gives up frees its place at once: work not started yet never runs, and long work (a video)
stops at its next frame when told through its ``stop`` event.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from tools.errors import CapacityError, ImageTooLargeError, InvalidImageError, InvalidRequestError
from tools.faces import index_of_number
from tools.images import MAX_BYTES
from tools.wording import prediction_text

__all__ = [
    "FaceService",
    "ToolOutput",
    "WorkQueue",
    "WorkAbandoned",
    "decode_image_argument",
    "validation_message",
    "project_version",
    "IMAGE_SUFFIXES",
]

T = TypeVar("T")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+/-]*)(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,", re.I)
_WHITESPACE = re.compile(r"\s+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


@dataclass
class ToolOutput:
    """One tool's answer: text for a person or a model, plain data, and an optional PNG."""

    text: str
    data: dict[str, Any]
    png: bytes | None = None


@lru_cache(maxsize=1)
def project_version() -> str:
    """The project's version: pyproject.toml's in a checkout, else the installed distribution's."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    try:
        return metadata.version("facial-emotion-agent")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def validation_message(errors: Iterable[Mapping[str, Any]], prefix: str = "Invalid request") -> str:
    """One sentence from pydantic's validation errors: ``"Invalid request: face: ...; image: ..."``.

    Args:
        errors: pydantic's ``errors()`` (``loc``, ``msg``, ``type``).
        prefix: what was invalid ("Invalid request", "Invalid arguments for classify_emotion").
    """
    parts = []
    for problem in errors:
        where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "header"))
        what = "this field is required" if problem.get("type") == "missing" else problem.get("msg", "invalid")
        parts.append(f"{where}: {what}" if where else str(what))
    return f"{prefix}: " + "; ".join(parts or ["invalid"]) + "."


# --- image arguments ------------------------------------------------------------------------------------


def _path_like(value: str) -> bool:
    return value.startswith("~") or any(c in value for c in "/\\.:")


def _strict_base64(value: str) -> bool:
    return len(value) % 4 == 0 and _BASE64.fullmatch(value) is not None


def decode_image_argument(
    value: Any, allow_dir: Path | None = None, max_bytes: int = MAX_BYTES, what: str = "image"
) -> bytes | Path:
    """The file a tool argument names: base64, a ``data:`` URL, or a path under ``allow_dir``.

    Base64 is recognised first (a JPEG's base64 starts with ``/9j/``, so a leading slash alone does
    not make a path); a string that is not base64 and looks like a path (``/``, ``\\``, ``.``,
    ``~``, ``file://``) is a path.

    Args:
        value: the argument as the client sent it.
        allow_dir: the folder files may be read from; None refuses every path.
        max_bytes: the largest decoded size accepted (a video tool passes its own).
        what: what the file is, for messages ("image", "video").

    Returns:
        The decoded bytes, or the resolved path of a file inside ``allow_dir``.

    Raises:
        InvalidRequestError: not a string, a path when paths are not allowed or outside the folder.
        InvalidImageError: base64 that does not decode; ``ImageTooLargeError`` past the size limit.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"Give the {what} as a base64 string or a data URL (data:...;base64,...).")
    text = value.strip()
    match = _DATA_URL.match(text)
    if match is not None:
        if not match.group("b64"):
            raise InvalidImageError("Only base64 data URLs are accepted (data:image/png;base64,...).")
        text = text[match.end() :]
    elif text.startswith("file://"):
        return _allowed_path(text[len("file://") :], allow_dir, what)
    payload = _WHITESPACE.sub("", text)
    if match is None and not (len(payload) >= 64 and _strict_base64(payload)) and _path_like(text):
        return _allowed_path(text, allow_dir, what)
    if len(payload) > (max_bytes * 4) // 3 + 4:
        raise ImageTooLargeError(
            f"The {what} is about {len(payload) * 3 / 4 / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB."
        )
    try:
        if "-" in payload or "_" in payload:
            return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImageError(
            f"The {what} argument is not valid base64 (nor a data URL): send the file's bytes base64-encoded."
        ) from exc


def _allowed_path(text: str, allow_dir: Path | None, what: str = "image") -> Path:
    shown = text if len(text) <= 200 else text[:200] + "..."
    if allow_dir is None:
        raise InvalidRequestError(
            f"This server does not read files (it was started without --allow-dir); send the {what} "
            "as base64 or a data URL instead."
        )
    root = allow_dir.expanduser().resolve()
    path = Path(text).expanduser()
    resolved = (path if path.is_absolute() else root / path).resolve()
    if not resolved.is_relative_to(root):
        raise InvalidRequestError(
            f"{shown} is outside the folder this server may read ({root}); only files inside it are accepted."
        )
    return resolved


# --- the work queue --------------------------------------------------------------------------------------


class WorkAbandoned(Exception):
    """Raised inside long work whose caller has gone; nobody receives it (not a ``FaceAgentError``)."""


class WorkQueue:
    """Runs blocking work on ``workers`` threads with at most ``max_waiting`` requests queued.

    A caller that stops waiting (its task is cancelled: a client that disconnected) frees its place
    at once; work of its that had not started is dropped. Work already running cannot be interrupted
    from outside (it stops early only if it watches a stop event), so up to ``workers`` abandoned
    jobs may still hold threads while new requests wait behind them.

    Args:
        workers: threads doing the work (one torch thread each; see ``tools.device.serving_threads``).
        max_waiting: requests allowed to wait for a thread; one more is refused with ``CapacityError``.
    """

    def __init__(self, workers: int = 2, max_waiting: int = 32) -> None:
        self.workers = max(1, workers)
        self.max_waiting = max(0, max_waiting)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="face-serve")
        self._pending = 0
        self._busy = 0
        self._queued = 0
        self.abandoned = 0  # callers that stopped waiting
        self.stopped = 0  # jobs that noticed and stopped early (``WorkAbandoned``)
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        """Requests admitted at once (running or waiting) before ``CapacityError``."""
        return self.workers + self.max_waiting

    @property
    def pending(self) -> int:
        """Requests running or waiting now whose callers still wait for them."""
        return self._pending

    @property
    def busy(self) -> int:
        """Worker threads working now (abandoned work included, until it ends)."""
        return self._busy

    @property
    def waiting(self) -> int:
        """Jobs waiting for a thread."""
        return self._queued

    async def run(self, fn: Callable[[], T]) -> T:
        """Runs ``fn`` on a worker thread and waits for it without blocking the event loop.

        Raises:
            CapacityError: every worker is busy and the waiting line is full.
        """
        with self._lock:
            if self._pending >= self.limit:
                raise CapacityError(
                    f"The server is busy: {self._pending} requests are running or waiting "
                    f"(limit {self.limit}). Try again in a moment."
                )
            self._pending += 1
            self._queued += 1

        def job() -> T:
            with self._lock:
                self._queued -= 1
                self._busy += 1
            try:
                return fn()
            except WorkAbandoned:
                with self._lock:
                    self.stopped += 1
                raise
            finally:
                with self._lock:
                    self._busy -= 1

        future = self._executor.submit(job)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()  # not started: it never runs; running: it ends unobserved
            with self._lock:
                self.abandoned += 1
            raise
        finally:
            with self._lock:
                self._pending -= 1
                if future.cancelled():
                    self._queued -= 1

    def shutdown(self) -> None:
        """Stops the threads (waits for running work)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


# --- the tools -------------------------------------------------------------------------------------------


@dataclass
class FaceService:
    """The face tools over the process-wide cached models, for the servers.

    Args:
        model: a checkpoint folder, or None for the offline default classifier.
        qa_options: keyword arguments for ``FaceQA`` (``backend``, ``blip_model``, ``allow_download``).
        default_method: the CAM method used when a call names none.
    """

    model: str | None = None
    qa_options: dict[str, Any] = field(default_factory=dict)
    default_method: str = "gradcam"
    _classifier: Any = field(default=None, init=False, repr=False)
    _explainer: Any = field(default=None, init=False, repr=False)
    _qa: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def load(self) -> FaceService:
        """Loads every model now (the servers call this once at start-up)."""
        with self._lock:
            if self._classifier is None:
                from tools.classifier import default_classifier
                from tools.explainer import Explainer
                from tools.vqa import FaceQA

                classifier = default_classifier(self.model)
                self._explainer = Explainer(classifier, render_ahead=True)
                self._qa = FaceQA(classifier=classifier, **self.qa_options)
                self._classifier = classifier
        return self

    @property
    def classifier(self) -> Any:
        """The emotion classifier (loaded on first use)."""
        return self.load()._classifier

    @property
    def model_name(self) -> str:
        return str(self.classifier.name)

    @property
    def labels(self) -> list[str]:
        """The emotions the loaded classifier reads (its label set, in its order)."""
        return list(self.classifier.labels)

    @property
    def methods(self) -> list[str]:
        """The CAM methods ``explain`` takes, by their canonical names."""
        from tools.explainer import METHODS

        return list(METHODS)

    def classify(self, image: Any, face: int | None = None) -> ToolOutput:
        """Every face's emotion (or one face's), in the order of their numbers (reading order);
        ``most_prominent`` names the largest, clearest face."""
        predictions = self.classifier.predict(image)
        count = len(predictions)
        if face is not None:
            predictions = [predictions[index_of_number([p.face for p in predictions], face)]]
        prominent = predictions[0].number
        preds = [p.to_dict() for p in sorted(predictions, key=lambda p: p.number)]
        lines = "; ".join(prediction_text(p) for p in preds)
        text = f"{count} face{'s' if count != 1 else ''} (model {self.model_name}): {lines}."
        return ToolOutput(text, {"faces": preds, "most_prominent": prominent, "model": self.model_name})

    def explain(
        self,
        image: Any,
        face: int | None = None,
        target: str | None = None,
        versus: str | None = None,
        method: str | None = None,
    ) -> ToolOutput:
        """A CAM heatmap of one face (its number; the most prominent when None): regions,
        faithfulness, and the overlay PNG."""
        explanation = self.load()._explainer.explain(
            image,
            target=target or None,
            method=method or self.default_method,
            face=face,
            versus=versus or None,
        )
        return ToolOutput(explanation.summary(), explanation.to_dict(), explanation.overlay_png)

    def find_faces(self, image: Any) -> ToolOutput:
        """How many faces, where each is (boxes, position words) and a numbered copy of the photo."""
        from tools.locate import annotate, find_faces

        found = find_faces(image)
        png = annotate(image, found.boxes()) if found.count else None
        return ToolOutput(found.summary(), found.to_dict(), png)

    def ask(self, image: Any, question: str, face: int | None = None) -> ToolOutput:
        """Answers a question about the visible state of one face (the most prominent when None)."""
        answer = self.load()._qa.ask(image, question, face=face)
        if answer.declined:  # tools.boundaries: the same decline on every surface
            return ToolOutput(f"Declined ({answer.declined}): {answer.text}", answer.to_dict())
        note = "" if answer.in_scope else " (outside what this answerer can judge reliably)"
        return ToolOutput(f"face {answer.number}: {answer.text}{note} [{answer.backend}]", answer.to_dict())

    def describe(self, image: Any, face: int | None = None) -> ToolOutput:
        """A short paragraph on the eyes, mouth, brows and head pose of one face."""
        answer = self.load()._qa.describe(image, face=face)
        return ToolOutput(f"face {answer.number}: {answer.text} [{answer.backend}]", answer.to_dict())

    def video(
        self,
        video: Any,
        fps: float | None = None,
        name: str | None = None,
        limits: Any = None,
        stop: threading.Event | None = None,
    ) -> ToolOutput:
        """Faces of a video over time, as ``python -m tools video --json`` prints them.

        Args:
            video: the file's bytes (decoded in memory), or a path.
            fps: frames analysed per second of video; every frame up to 30 a second when None.
            name: the file's name, for the result and messages.
            limits: a ``tools.video.VideoLimits`` (size, duration, resolution); the defaults when None.
            stop: when set, the analysis stops at its next frame (``WorkAbandoned``).
        """
        from tools.video import analyze_video

        def progress(done: int, total: int | None) -> None:
            if stop is not None and stop.is_set():
                raise WorkAbandoned(f"stopped after {done} frames: the caller has gone")

        result = analyze_video(
            video,
            fps=fps,
            classifier=self.classifier,
            progress=progress,
            limits=limits,
            name=name,
            threads=None,
        )
        return ToolOutput(result.story(), result.to_dict())

    def health(self) -> dict[str, Any]:
        """Model and memory figures for ``/health``."""
        from tools.pixels import default_budget

        return {
            "status": "ok",
            "model": self.model_name if self._classifier is not None else None,
            "memory": default_budget().stats().to_dict(),
        }
