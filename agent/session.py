"""``ChatSession``: one conversation about uploaded photos, with memory, tools and a safe fallback.

    s = ChatSession()                        # offline planner unless a chat model is configured
    s.add_image("face.jpg")                  # -> "img1"
    reply = s.send("What is she feeling and why?")
    reply.text, reply.tool_calls, reply.images

Memory is a LangGraph ``InMemorySaver`` thread per session. When a real chat model is configured
and fails in a turn (unreachable, timeout, unknown or malformed tool calls, a made-up photo id,
endless tool loops, no tool call where the photo had to be looked at, an empty answer), the turn's
messages are rolled back and the offline planner answers it instead, with a notice in
``reply.notices``. Photos stay in memory; a remote model sees the pixels only when
``settings.send_images`` is on.
"""

from __future__ import annotations

import base64
import io
import logging
import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.memory import InMemorySaver
from PIL import Image

from agent.builder import build_agent
from agent.guard import ModelMisbehaviorError
from agent.models import describe_model, resolve_chat_model
from agent.planner import OfflinePlanner, plan_turn
from agent.prompts import attachment_note, system_prompt
from agent.results import Reply, collect_results, message_text
from agent.settings import AgentSettings
from agent.store import ImageStore, StoredImage
from agent.understanding import warm_up
from agent.video_store import VideoSessionMixin, VideoStore
from tools.errors import CapacityError, FaceAgentError, InvalidImageError
from tools.landmarks import preload as preload_landmarks
from tools.lc import face_tools
from tools.lc_video import VideoToolContext, video_tools

__all__ = ["ChatSession", "EventCallback"]

log = logging.getLogger(__name__)

EventCallback = Callable[[str, str, Any], None]
SENT_IMAGE_SIDE = 768  # photos shown to a remote model (when allowed) are shrunk to this side
# A message is read whole by the understanding's patterns, a few of which look ahead from a trigger
# word: a longer message is answered with a request to shorten it (ten times a long question).
MAX_MESSAGE_CHARS = 8000


class _NoToolUse(ModelMisbehaviorError):
    """The model answered without the tools the request needed."""


def _reason(exc: BaseException, limits: AgentSettings) -> str:
    name = type(exc).__name__
    if isinstance(exc, ModelMisbehaviorError):
        return str(exc)
    if "ModelCallLimit" in name or "ToolCallLimit" in name or "GraphRecursion" in name:
        return f"kept calling tools past this turn's limits ({limits.max_model_calls} model calls)"
    if "Timeout" in name:
        return f"did not answer within {limits.timeout_s:g} s"
    if "Connect" in name or isinstance(exc, (ConnectionError, OSError)):
        return f"could not be reached ({name}: {str(exc)[:160]})"
    return f"failed ({name}: {str(exc)[:160]})"


class ChatSession(VideoSessionMixin):  # add_video and the frame-to-photo hook
    """A conversation about one or more uploaded photos.

    Args:
        model: None (use ``FACE_AGENT_CHAT_MODEL``, else the offline planner), ``"offline"``, an
            ``init_chat_model`` string, or a ``BaseChatModel``.
        settings: connection settings and per-turn limits; from the environment when None.
        classifier: the emotion model: an ``EmotionClassifier``, a checkpoint folder, or None for
            ``settings.classifier`` / the offline default.
        tools: the tools to offer; the installed face tools when None.
        thread_id: the memory thread; a fresh one when None.
        method: the CAM method for explanations that name none (``gradcam`` when None).
        qa_backend: the question answerer's backend (``auto``, ``geometry``, ``blip``); its default when None.
        allow_download: let the question answerer download BLIP's weights (off by default).
        explainer: a shared ``Explainer`` (over the same classifier); one is made on first use when None.
        qa: a shared ``FaceQA`` (the app passes one per process, so BLIP loads once); made on first
            use from ``qa_backend``/``allow_download`` when None.
    """

    def __init__(
        self,
        model: str | BaseChatModel | None = None,
        *,
        settings: AgentSettings | None = None,
        classifier: Any = None,
        tools: list | None = None,
        thread_id: str | None = None,
        method: str | None = None,
        qa_backend: str | None = None,
        allow_download: bool | None = None,
        explainer: Any = None,
        qa: Any = None,
    ) -> None:
        self.settings = settings or AgentSettings.from_env()
        # The understanding model and the voice's landmark model load while the first message is
        # being written (each in its own thread: ONNX Runtime builds sessions without the GIL).
        warm_up()
        preload_landmarks()
        self.store = ImageStore()
        self.videos = VideoStore()
        self._unannounced_videos = []
        self.thread_id = thread_id or uuid.uuid4().hex
        self.checkpointer = InMemorySaver()
        # the video tools beside the photo tools
        self.tools = list(tools) if tools is not None else face_tools() + video_tools()
        qa_options = {"backend": qa_backend, "allow_download": allow_download}
        self._context = VideoToolContext(
            classifier=self._load_classifier(classifier),
            default_method=_check_method(method),
            explainer=explainer,
            qa=qa,
            qa_options={k: v for k, v in qa_options.items() if v is not None},
        )
        self._pending_notices: list[str] = []
        self._unannounced: list[StoredImage] = []
        self.model_error: str | None = None
        try:
            self.model = resolve_chat_model(
                "offline" if model is None and self.settings.offline else model, self.settings
            )
        except FaceAgentError as exc:
            self.model, self.model_error = None, str(exc)
            self._pending_notices.append(f"{exc} Answering with the offline planner instead.")
        classifier = self._context.classifier
        labels = list(classifier.labels) if classifier is not None else None
        self.planner = OfflinePlanner(labels=labels, model_info=_model_info(classifier))
        self._offline = build_agent(self.planner, self.tools, self.checkpointer, settings=self.settings)
        self._remote = (
            build_agent(self.model, self.tools, self.checkpointer, settings=self.settings)
            if self.model
            else None
        )

    def _load_classifier(self, classifier: Any) -> Any:
        spec = classifier if classifier is not None else self.settings.classifier
        if spec is None or not isinstance(spec, str):
            return spec
        from tools.classifier import default_classifier

        return default_classifier(None if spec in ("", "default") else spec)

    # --- photos and history --------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """The chat model answering turns ("offline planner" when none is configured)."""
        return describe_model(self.model)

    @property
    def images(self) -> list[StoredImage]:
        """The photos of this session (id, name), in upload order."""
        return list(self.store)

    @property
    def history(self) -> list[BaseMessage]:
        """The conversation so far (user, assistant and tool messages)."""
        state = self._offline.get_state(self._config())
        return list(state.values.get("messages", [])) if state and state.values else []

    def add_image(self, source: Any, name: str | None = None) -> str:
        """Adds a photo to the session and returns its id (``img1`` ...); the next message mentions it.

        Args:
            source: bytes, a path, a file-like upload, a PIL image or an ndarray (decoded in memory).
            name: a display name; taken from the file name when None.

        Raises:
            InvalidImageError: the input is not a readable image.
        """
        known = len(self.store)
        stored = self.store.add(source, name)
        if len(self.store) > known:
            self._unannounced.append(stored)
        return stored.id

    # --- one turn --------------------------------------------------------------------------------------

    def send(
        self,
        text: str,
        image: Any = None,
        *,
        image_name: str | None = None,
        on_event: EventCallback | None = None,
    ) -> Reply:
        """Answers one user message; never raises for problems a user can cause.

        Args:
            text: the message.
            image: a photo sent with the message (added to the session first), or None.
            image_name: its display name.
            on_event: called with ``("tool_start", name, args)`` and ``("tool_end", name, content)``
                while tools run, and ``("tool_progress", name, {"done": n, "total": m or None})``
                while a long one (a video analysis) works, for live status.

        Returns:
            The reply: text, tools that ran, heatmap PNGs, notices and per-tool results.
        """
        notices, self._pending_notices = self._pending_notices, []
        if image is not None:
            try:
                self.add_image(image, image_name)
            except (InvalidImageError, CapacityError) as exc:
                return Reply(text=f"I couldn't use that photo: {exc}", notices=notices, error=str(exc))
        text = str(text or "")
        if len(text) > MAX_MESSAGE_CHARS:
            problem = f"the message is {len(text):,} characters long; at most {MAX_MESSAGE_CHARS:,} are read"
            return Reply(
                text=f"That message is too long for me: {problem}. Please shorten it, or ask one thing at a time.",
                notices=notices,
                error=problem,
            )
        message = self._human_message(text)
        new: list[BaseMessage] = []
        if self._remote is not None:
            try:
                new = self._run(self._remote, message, on_event)
                self._check_remote_turn(new)
            except Exception as exc:
                log.info("chat model failed, falling back to the offline planner", exc_info=True)
                self._rollback(new or self._turn_messages(message))
                notices.append(
                    f"The chat model {self.model_name} {_reason(exc, self.settings)}; "
                    "the offline planner answered this turn instead."
                )
                new = []
        if not new:
            try:
                new = self._run(self._offline, self._strip_images(message), on_event)
            except Exception as exc:
                log.exception("offline turn failed")
                self._rollback(self._turn_messages(message))
                return Reply(
                    text=f"Sorry, something went wrong while answering: {type(exc).__name__}: {exc}",
                    notices=notices,
                    error=f"{type(exc).__name__}: {exc}",
                )
        self._unannounced = []
        self._videos_announced()
        return self._reply(new, notices)

    def _config(self) -> dict[str, Any]:
        # Each model call is two graph steps at most (model, tools) plus the middleware hooks.
        return {
            "configurable": {"thread_id": self.thread_id},
            "recursion_limit": 6 * self.settings.max_model_calls + 10,
        }

    def _tool_context(self) -> VideoToolContext:
        self._context.images = self.store.records()
        self._context.names = self.store.names()
        return self._video_context(self._context)

    def _human_message(self, text: str) -> HumanMessage:
        notes = [attachment_note(s.id, s.name) for s in self._unannounced] + self._video_notes()  # video
        body = "\n".join([*notes, text]).strip()
        if not (self._remote is not None and self.settings.send_images and self._unannounced):
            return HumanMessage(body)
        blocks: list[dict[str, Any]] = [{"type": "text", "text": body}]
        for stored in self._unannounced:
            blocks.append({"type": "image", "base64": _jpeg_base64(stored), "mime_type": "image/jpeg"})
        return HumanMessage(content=blocks)

    @staticmethod
    def _strip_images(message: HumanMessage) -> HumanMessage:
        return message if isinstance(message.content, str) else HumanMessage(message_text(message))

    def _run(self, agent: Any, message: HumanMessage, on_event: EventCallback | None) -> list[BaseMessage]:
        config = self._config()
        # The turn's messages are read off the streamed state, from the user's message on: reading
        # them back with get_state would deserialise the whole conversation twice per turn.
        message = message.model_copy(update={"id": message.id or uuid.uuid4().hex})
        state: dict[str, Any] = {}
        context = self._tool_context()
        context.progress = None if on_event is None else _progress_hook(on_event)
        # durability="exit": the conversation is checkpointed once, when the turn ends (also when it
        # fails), instead of after every step; nothing reads the intermediate checkpoints.
        for mode, chunk in agent.stream(
            {"messages": [message]},
            config,
            context=context,
            stream_mode=["updates", "values"],
            durability="exit",
        ):
            if mode == "values":
                state = chunk if isinstance(chunk, dict) else state
                continue
            if on_event is None:
                continue
            for data in chunk.values():
                for m in (data or {}).get("messages", []) if isinstance(data, dict) else []:
                    _emit(on_event, m)
        messages = list(state.get("messages", []))
        for i in range(len(messages) - 1, -1, -1):
            if messages[i].id == message.id:
                return messages[i:]
        return []

    def _turn_messages(self, message: HumanMessage) -> list[BaseMessage]:
        """This turn's messages already in memory (when a run failed half-way), from the user's on."""
        messages = self.history
        for i in range(len(messages) - 1, -1, -1):
            if isinstance(messages[i], HumanMessage) and message_text(messages[i]) == message_text(message):
                return messages[i:]
        return []

    def _rollback(self, messages: list[BaseMessage]) -> None:
        removals = [RemoveMessage(id=m.id) for m in messages if m.id]
        if removals:
            self._offline.update_state(self._config(), {"messages": removals})

    def _check_remote_turn(self, new: list[BaseMessage]) -> None:
        """Raises when a remote model's turn cannot stand as the answer."""
        final = new[-1] if new else None
        if not isinstance(final, AIMessage) or final.tool_calls or not message_text(final).strip():
            raise ModelMisbehaviorError("returned an empty answer")
        if any(isinstance(m, ToolMessage) for m in new):
            return
        earlier = self.history[: len(self.history) - len(new)]
        prompt = SystemMessage(system_prompt(self.store.names()))
        needed = set(
            plan_turn([prompt, *earlier, *new[:1]], self.planner.labels, [t.name for t in self.tools]).tools
        )
        ran_before = {c["name"] for m in earlier if isinstance(m, AIMessage) for c in m.tool_calls}
        if needed - ran_before:
            raise _NoToolUse("answered without running the tools the question needs")

    def _reply(self, new: list[BaseMessage], notices: list[str]) -> Reply:
        results = collect_results(new)
        finals = [m for m in new if isinstance(m, AIMessage) and not m.tool_calls]
        text = message_text(finals[-1]).strip() if finals else ""
        # Heatmaps and annotated photos (numbered face boxes), in the order the tools made them.
        images = [
            r.artifact[key]
            for r in results
            if r.ok and r.artifact
            for key in ("annotated_png", "overlay_png")
            if isinstance(r.artifact.get(key), (bytes, bytearray))
        ]
        errors = [(r.artifact or {}).get("error") or r.content for r in results if not r.ok]
        return Reply(
            text=text or "I have no answer to that.",
            tool_calls=[r.tool for r in results],
            images=[bytes(i) for i in images],
            notices=notices,
            results=results,
            error=errors[0] if errors else None,
        )


def _model_info(classifier: Any) -> dict[str, Any] | None:
    """The classifier's model card as plain types, for the planner's answers about the model."""
    spec = getattr(classifier, "spec", None)
    if spec is None:
        return None  # the default model, loaded on first use; the planner reads its card then
    return spec.summary()


def _check_method(method: str | None) -> str:
    if not method:
        return "gradcam"
    from tools.explainer import resolve_method

    return resolve_method(method)


def _emit(on_event: EventCallback, message: BaseMessage) -> None:
    try:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                on_event("tool_start", call["name"], dict(call.get("args") or {}))
        elif isinstance(message, ToolMessage):
            on_event("tool_end", message.name or "", message_text(message))
    except Exception:
        log.warning("on_event callback failed", exc_info=True)


def _progress_hook(on_event: EventCallback) -> Callable[[str, int, int | None], None]:
    def report(name: str, done: int, total: int | None) -> None:
        try:
            on_event("tool_progress", name, {"done": done, "total": total})
        except Exception:
            log.warning("on_event callback failed", exc_info=True)

    return report


def _jpeg_base64(stored: StoredImage) -> str:
    image = Image.fromarray(stored.record.rgb)
    image.thumbnail((SENT_IMAGE_SIDE, SENT_IMAGE_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
