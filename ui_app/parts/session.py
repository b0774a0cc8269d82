"""The browser session's agent: models shared by the process, one ``ChatSession`` per browser session.

``st.session_state`` holds the ``ChatSession``, the photo registry (agent id -> name, bytes, display
copy), the videos (for a rebuilt session) and the turn queue. Models load once per process
(``st.cache_resource``) and are shared by all sessions. Photos stay in this process's memory.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import streamlit as st

from tools.errors import FaceAgentError, InvalidRequestError
from ui_app.parts.sidebar import FROM_ENV, OFFLINE, OLLAMA, OPENAI, AppSettings
from ui_app.parts.turns import TurnQueue

__all__ = [
    "build_session",
    "clear_chat",
    "ensure_session",
    "load_classifier",
    "load_qa",
    "serving_threads",
    "turn_queue",
]

LOG = logging.getLogger("face_agent.ui")


@st.cache_resource(show_spinner="Loading the emotion model…")
def load_classifier(path: str | None) -> Any:
    """The classifier for ``path`` (None = the offline default), loaded once per process."""
    from tools.classifier import default_classifier

    return default_classifier(path)


@st.cache_resource
def serving_threads() -> int:
    """Once per process: one torch thread per request (see ``tools.device.serving_threads``)."""
    from tools.device import serving_threads as choose

    return choose()


@st.cache_resource(show_spinner="Loading the question answerer…")
def load_qa(backend: str, classifier_path: str | None) -> Any:
    """One ``FaceQA`` per backend and classifier, shared by every session (BLIP is loaded once)."""
    from tools.vqa import FaceQA

    return FaceQA(backend=backend, allow_download=False, classifier=load_classifier(classifier_path))


def _agent_options(settings: AppSettings, base: Any) -> dict[str, Any]:
    """``model`` and ``settings`` for ``ChatSession`` from the sidebar's chat-model choice."""
    if settings.chat == OFFLINE:
        return {"model": "offline", "settings": base}
    if settings.chat == FROM_ENV:
        return {"model": None, "settings": base}
    name = settings.chat_model.strip()
    if not name:
        raise InvalidRequestError("Enter the model name of your server in the sidebar.")
    provider = "ollama" if settings.chat == OLLAMA else "openai"
    # The provider prefix keeps names with a colon ("qwen2.5:7b") from reading as provider:model.
    model = f"{provider}:{name}"
    changes = {"chat_model": model, "base_url": settings.base_url.strip() or None}
    if settings.chat == OPENAI:
        changes["api_key"] = settings.api_key or None
    return {"model": model, "settings": base.with_(**changes)}


def build_session(settings: AppSettings) -> Any:
    """A new ``agent.ChatSession`` for these settings, sharing the process-wide models.

    Raises:
        FaceAgentError: a setting cannot be used (missing checkpoint, no model name ...).
    """
    import agent

    classifier_path = settings.classifier or agent.AgentSettings.from_env().classifier
    options = _agent_options(settings, agent.AgentSettings.from_env())
    options.update(
        classifier=load_classifier(classifier_path),
        method=settings.method,
        qa_backend=settings.qa_backend,
        allow_download=False,  # only the sidebar's button downloads anything
    )
    options["qa"] = load_qa(settings.qa_backend, classifier_path)  # one answerer (and BLIP) per process
    return agent.ChatSession(**options)


def turn_queue() -> TurnQueue:
    """The browser session's turn queue."""
    state = st.session_state
    if not isinstance(state.get("turns"), TurnQueue):
        state["turns"] = TurnQueue()
    return state["turns"]


def _carry(session: Any) -> None:
    """Adds the browser session's photos and videos to a new agent session (the settings changed)."""
    state = st.session_state
    carried: dict[str, dict[str, Any]] = {}
    for photo in state.get("photos", {}).values():
        if photo.get("frame"):  # a frame the agent took from a video: the video itself is carried
            continue
        try:
            carried[session.add_image(photo["bytes"], photo["name"])] = photo
        except FaceAgentError:  # it was accepted before; skip it rather than lose the session
            LOG.warning("could not carry photo %s into the new session", photo["name"])
    state["photos"] = carried
    for video in state.get("videos", {}).values():
        try:
            session.add_video(video["bytes"], video["name"])
        except FaceAgentError:
            LOG.warning("could not carry video %s into the new session", video["name"])


def ensure_session(settings: AppSettings) -> Any:
    """The browser session's ``ChatSession``; rebuilt (photos carried over) when the settings change.

    While a turn is at work the session is kept: the new settings apply once the answers are in
    (``state["settings_waiting"]`` tells the page to run again then).
    """
    state = st.session_state
    # Plain dicts: compared by value whatever module reload made the dataclass.
    if state.get("chat") is not None and state.get("chat_settings") == asdict(settings):
        state["settings_waiting"] = False
        return state["chat"]
    if state.get("chat") is not None and turn_queue().busy:
        state["settings_waiting"] = True
        return state["chat"]
    state["settings_waiting"] = False
    try:
        session = build_session(settings)
    except FaceAgentError as exc:
        st.sidebar.error(f"{exc} Using the offline defaults meanwhile.")
        settings = AppSettings(method=settings.method)
        if state.get("chat") is not None and state.get("chat_settings") == asdict(settings):
            return state["chat"]
        session = build_session(settings)
    had_chat = state.get("chat") is not None
    _carry(session)
    state["chat"], state["chat_settings"] = session, asdict(settings)
    if had_chat and state.get("messages"):
        st.toast("Settings changed: the assistant starts afresh; your photos are kept.")
    return session


def clear_chat() -> None:
    """Forgets the history, the photos, the queued turns and the agent's memory (a new session on rerun)."""
    state = st.session_state
    if isinstance(state.get("turns"), TurnQueue):
        state["turns"].cancel()
    for key in (
        "messages",
        "photos",
        "videos",
        "chat",
        "chat_settings",
        "seen_uploads",
        "pending_prompt",
        "turns",
    ):
        state.pop(key, None)
    # New widget keys empty the uploader and the camera.
    state["upload_gen"] = state.get("upload_gen", 0) + 1
