"""The chat page: photos and videos in, questions answered by the agent, one turn after another.

Each run of the page: the sidebar and the session, this run's input (uploads, the chat box, an
example button) queued as turns (``ui_app.parts.turns``), then the history drawn from
``st.session_state["messages"]``. After the person's message of each turn still at work comes a
live bubble (its step and, for a video, a percentage); the page waits for those turns in order and
draws each answer in its bubble as it comes. A message sent meanwhile stops this run, but not the
turns: the next run queues it behind them and waits for all of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import streamlit as st

from tools.errors import FaceAgentError
from ui_app.parts.entries import assistant_entry, frame_photos, user_entry
from ui_app.parts.media import display_copy, poster
from ui_app.parts.render import AVATARS, render_body, render_entry
from ui_app.parts.session import clear_chat, ensure_session, turn_queue
from ui_app.parts.sidebar import IMAGE_TYPES, settings_sidebar
from ui_app.parts.turns import Progress, Turn, TurnQueue, Upload
from ui_app.parts.video import MAX_VIDEO_MB, VIDEO_TYPES, is_video

__all__ = ["EXAMPLE_PROMPTS", "GUIDANCE", "chat_page", "take_live_frames"]

LOG = logging.getLogger("face_agent.ui")
EXAMPLE_PROMPTS = (
    "What emotion is this?",
    "Why did you predict that?",
    "Is the mouth open?",
    "Describe the face.",
)
GUIDANCE = (
    "Add a photo of a face — attach it with the + in the chat box, drop it in the sidebar, or take one with "
    "the camera — then ask what it shows, why, or what the eyes and mouth are doing. Several photos or "
    "videos can go in one message."
)
POLL_S = 0.2  # how often a waiting page looks at its turn (and lets Streamlit take a new message)


# --- input -----------------------------------------------------------------------------------------


@dataclass
class _LiveFrame:
    """A camera frame sent from the Live page, shaped like an upload."""

    name: str
    data: bytes
    file_id: str

    def getvalue(self) -> bytes:
        return self.data


def take_live_frames() -> list[_LiveFrame]:
    """Frames the Live page sent to the chat since the last run (each handed over once)."""
    return [_LiveFrame(**f) for f in st.session_state.pop("live_frames", [])]


def _new_uploads() -> list[Any]:
    """Files from the sidebar uploader, the camera and the Live page that were not handled yet."""
    gen = st.session_state.get("upload_gen", 0)
    seen: set[str] = st.session_state.setdefault("seen_uploads", set())
    fresh = []
    for key in (f"sidebar_upload_{gen}", f"camera_{gen}"):
        value = st.session_state.get(key)
        for file in value if isinstance(value, list) else [value] if value is not None else []:
            if file.file_id not in seen:
                seen.add(file.file_id)
                fresh.append(file)
    return fresh + take_live_frames()


def _upload(file: Any) -> Upload:
    """An attached file with what the page shows of it (a photo's display copy, a video's poster)."""
    data, name = file.getvalue(), str(file.name)
    if is_video(name):
        return Upload(name, data, "video", poster(data) if data else None)
    try:
        preview = display_copy(data) if data else None
    except FaceAgentError:
        preview = None  # the agent refuses it with its own message
    return Upload(name, data, "photo", preview)


def _example_buttons() -> None:
    columns = st.columns(len(EXAMPLE_PROMPTS))
    for column, prompt in zip(columns, EXAMPLE_PROMPTS):
        if column.button(prompt, key=f"example_{prompt}", width="stretch"):
            st.session_state["pending_prompt"] = prompt


def _queue_input(session: Any, queue: TurnQueue, messages: list[dict[str, Any]]) -> None:
    """This run's input as turns: uploads from the sidebar, camera and Live; the chat box; an example."""
    prompt = st.chat_input(
        "Ask about the face, or attach photos and videos with +",
        accept_file="multiple",
        file_type=IMAGE_TYPES + VIDEO_TYPES,
        max_upload_size=MAX_VIDEO_MB,  # photos over their own limit are refused by load_image
    )
    messages_in: list[tuple[str, list[Any]]] = []
    uploads = _new_uploads()
    if uploads:
        messages_in.append(("", uploads))
    if prompt is not None:
        messages_in.append(((prompt.text or "").strip(), list(prompt.files or [])))
    example = st.session_state.pop("pending_prompt", None)
    if example:
        messages_in.append((example, []))
    for text, files in messages_in:
        if not text and not files:
            continue
        attached = [_upload(f) for f in files]
        turn = queue.submit(text, attached, session)
        messages.append(user_entry(turn.number, text, attached))


# --- turns at work ---------------------------------------------------------------------------------


@dataclass
class _Bubble:
    """The assistant's bubble of a turn at work: its status line, progress bar and answer."""

    status: Any
    bar: Any
    body: Any


def _bubble(turn: Turn) -> _Bubble:
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        status = st.status(_label(turn.progress()), state="running", expanded=False)
        return _Bubble(status, st.empty(), st.container())


def _label(progress: Progress) -> str:
    if progress.state == "queued":
        return "Queued: answered after the message before it"
    if progress.fraction is not None:
        return f"{progress.activity}… {progress.fraction:.0%}"
    return f"{progress.activity}…"


def _follow(turn: Turn, bubble: _Bubble) -> None:
    """Shows a turn's step and percentage until it is done."""
    shown: tuple[Any, ...] | None = None
    while True:
        progress = turn.progress()
        # Whole percents: a video reports every frame, the page needs no more than a hundred updates.
        key = (
            progress.state,
            progress.activity,
            None if progress.fraction is None else int(100 * progress.fraction),
        )
        if key != shown:
            bubble.status.update(label=_label(progress), state="running")
            if progress.fraction is not None:
                bubble.bar.progress(progress.fraction, text=_label(progress))
            else:
                bubble.bar.empty()
            shown = key
        if turn.done.wait(POLL_S):
            return
        # Reading the session state lets Streamlit stop this run for a new message; the turn carries on.
        _ = "turns" in st.session_state


def _finish(turn: Turn, queue: TurnQueue, messages: list[dict[str, Any]], bubble: _Bubble) -> None:
    """Records a finished turn (its photos and videos, its answer in the history) and draws the answer."""
    photos: dict[str, dict[str, Any]] = st.session_state.setdefault("photos", {})
    videos: dict[str, dict[str, Any]] = st.session_state.setdefault("videos", {})
    # From here to ``forget`` no Streamlit call: a new message cannot cut the bookkeeping in half.
    for added in turn.added:
        if added.agent_id is None:
            continue
        upload = added.upload
        if upload.kind == "video":
            videos[added.agent_id] = {"name": upload.name, "bytes": upload.data}
        else:
            display, scale = upload.preview or (None, 1.0)
            photos[added.agent_id] = {
                "name": upload.name,
                "bytes": upload.data,
                "display": display,
                "scale": scale,
            }
    if turn.reply is not None:
        photos.update(frame_photos(turn.reply))
    entry = assistant_entry(turn, photos)
    after = max(
        (i for i, e in enumerate(messages) if e.get("turn") == turn.number), default=len(messages) - 1
    )
    messages.insert(after + 1, entry)
    queue.forget(turn)
    failed = bool(entry.get("errors"))
    steps = entry.get("steps") or []
    label = ("Could not answer" if failed else "Done") + (
        ": " + " → ".join(s.lower() for s in steps) if steps else ""
    )
    bubble.status.update(label=label, state="error" if failed else "complete")
    bubble.bar.empty()
    with bubble.body:
        render_body(entry, after + 1)


def _show_history(messages: list[dict[str, Any]], queue: TurnQueue) -> None:
    """Draws the history; after each turn still at work, its live bubble; then waits for them in order."""
    pending = queue.pending()
    open_turns = {t.number: t for t in pending}
    last_user = {e.get("turn"): i for i, e in enumerate(messages) if e["role"] == "user"}
    bubbles: dict[int, _Bubble] = {}
    for index, entry in enumerate(messages):
        render_entry(entry, index)
        number = entry.get("turn")
        if entry["role"] == "user" and number in open_turns and last_user.get(number) == index:
            bubbles[number] = _bubble(open_turns[number])
    for turn in pending:
        bubble = bubbles.get(turn.number) or _bubble(turn)
        _follow(turn, bubble)
        _finish(turn, queue, messages, bubble)


# --- the page --------------------------------------------------------------------------------------


def chat_page() -> None:
    """The chat: settings, history, input, the agent's turns in order."""
    st.title(":material/sentiment_satisfied: Facial emotion agent")
    st.caption(
        "Upload a face and chat about it: the emotion, why the model thinks so, and what the face is doing."
    )
    settings = settings_sidebar(on_clear=clear_chat)
    try:
        session = ensure_session(settings)
    except ImportError as exc:
        st.error(f"The agent could not be loaded ({exc}). Run `make install` and start the app again.")
        st.stop()
    except Exception as exc:  # explain on screen, never a traceback
        LOG.exception("session could not start")
        st.error(f"The assistant could not start: {exc}")
        st.stop()
    if st.session_state.get("settings_waiting"):
        st.sidebar.caption(":material/hourglass_top: The new settings apply once the current answer is in.")

    _example_buttons()
    queue = turn_queue()
    messages: list[dict[str, Any]] = st.session_state.setdefault("messages", [])
    _queue_input(session, queue, messages)
    _show_history(messages, queue)
    if not (st.session_state.get("photos") or st.session_state.get("videos")):
        st.info(GUIDANCE, icon=":material/photo_camera:")
    if st.session_state.get("settings_waiting"):
        st.rerun()  # the answers are in: now the session can be rebuilt with the new settings
