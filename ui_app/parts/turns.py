"""The chat's work queue: every message is a turn, and turns run one after another on a worker thread.

A turn is what one message brings: its files (added to the agent's session in order) and its text
(one ``ChatSession.send``). Turns run on a thread of their own, never in a Streamlit script run, for
one reason: a person may send a second message while the first is still being answered (a video
analysis takes seconds), and Streamlit then stops the running script to start a new run. Work
done inside the script would die with it and the first question would never be answered; work on
the worker thread carries on, and the new run finds the first turn still running and the second
queued behind it, and waits for both in order.

The worker touches only the agent (no ``st.*`` calls: it has no script context) and records what
happens in the turn (the current step, a percentage when the tool reports one) for the page to
show. Plain Python: tested without Streamlit.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from tools.errors import FaceAgentError

__all__ = ["Added", "Progress", "Turn", "TurnQueue", "Upload", "step_words"]

LOG = logging.getLogger("face_agent.ui")

# What the person reads while a tool works: plain words, never the tool's name.
STEP_WORDS = {
    "classify_emotion": "Reading the emotion",
    "explain_prediction": "Computing the heatmap",
    "answer_question": "Answering the question",
    "describe_face": "Describing the face",
    "find_faces": "Finding the faces",
    "analyze_video": "Reading the video, frame by frame",
    "video_frame": "Taking the frame from the video",
}


def step_words(tool: str) -> str:
    """What a tool does, in the words the status line shows ("Reading the emotion")."""
    if tool in STEP_WORDS:
        return STEP_WORDS[tool]
    for name, words in STEP_WORDS.items():  # a remote model's variant of a name ("classify")
        if name.split("_")[0] in tool:
            return words
    return "Working on it"


@dataclass(frozen=True)
class Upload:
    """A file a person attached: a photo or a video, kept in memory.

    Attributes:
        name: the file name (what the page and the agent call it).
        data: the file's bytes.
        kind: ``photo`` or ``video``.
        preview: what the page shows of it (made by the page; the worker never reads it).
    """

    name: str
    data: bytes = field(repr=False)
    kind: str = "photo"
    preview: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class Added:
    """What became of an upload: the session's id for it, or why it was refused."""

    upload: Upload
    agent_id: str | None
    error: str | None = None


@dataclass(frozen=True)
class Progress:
    """A turn as the page shows it.

    Attributes:
        state: ``queued``, ``running`` or ``done``.
        activity: the current step in words ("Reading the video, frame by frame").
        fraction: how far the current step is (0-1), when the tool reports it.
        steps: the steps so far, in order (words).
    """

    state: str
    activity: str
    fraction: float | None
    steps: tuple[str, ...]


class Turn:
    """One message's work: add its files to the session in order, then answer its text once.

    Args:
        number: the turn's number in this browser session (history entries refer to it).
        text: the message (may be empty: files alone are added, not asked about).
        uploads: the files, in the order they were attached.
        session: the ``agent.ChatSession`` (or anything with ``add_image``, ``add_video``, ``send``).
    """

    def __init__(self, number: int, text: str, uploads: list[Upload], session: Any) -> None:
        self.number = number
        self.text = text
        self.uploads = list(uploads)
        self.session = session
        self.added: list[Added] = []
        self.reply: Any = None
        self.failure: BaseException | None = None
        self.cancelled = False
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._state = "queued"
        self._activity = "Waiting for the answer before this one"
        self._fraction: float | None = None
        self._steps: list[str] = []

    # --- what the page reads ----------------------------------------------------------------------

    def progress(self) -> Progress:
        """The turn's state, step and percentage, read under the lock (the worker writes them)."""
        with self._lock:
            return Progress(self._state, self._activity, self._fraction, tuple(self._steps))

    @property
    def ok(self) -> bool:
        """True when every file was accepted."""
        return all(a.error is None for a in self.added)

    def _set(self, activity: str | None = None, fraction: float | None = None, step: bool = False) -> None:
        with self._lock:
            if activity is not None:
                self._activity = activity
                if step and (not self._steps or self._steps[-1] != activity):
                    self._steps.append(activity)
            self._fraction = fraction

    def on_event(self, kind: str, name: str, data: Any = None) -> None:
        """``ChatSession.send``'s ``on_event``: records the tool at work and its progress."""
        if kind == "tool_start":
            self._set(step_words(name), None, step=True)
        elif kind == "tool_progress" and isinstance(data, dict):
            done, total = data.get("done"), data.get("total")
            if isinstance(done, int | float) and isinstance(total, int | float) and total > 0:
                self._set(step_words(name), min(1.0, max(0.0, done / total)))
        elif kind == "tool_end":
            self._set("Writing the answer", None)

    # --- the work (on the worker thread) ----------------------------------------------------------

    def run(self) -> None:
        """Adds the files, then sends the text; every failure is recorded, none is raised."""
        with self._lock:
            self._state, self._activity = "running", "Thinking"
        try:
            for upload in self.uploads:
                self.added.append(self._add(upload))
            if self.text and self.ok:
                self.reply = self.session.send(self.text, on_event=self.on_event)
        except FaceAgentError as exc:
            self.failure = exc
        except Exception as exc:  # the chat must survive anything; the log keeps the traceback
            LOG.exception("turn failed")
            self.failure = exc
        finally:
            with self._lock:
                self._state, self._fraction = "done", None
            self.done.set()

    def _add(self, upload: Upload) -> Added:
        what = "video" if upload.kind == "video" else "photo of a face"
        if not upload.data:
            return Added(upload, None, f"{upload.name} is empty. Please choose a {what}.")
        self._set(f"Reading {upload.name}")
        try:
            if upload.kind == "video":
                agent_id = self.session.add_video(upload.data, upload.name)
            else:
                agent_id = self.session.add_image(upload.data, upload.name)
        except FaceAgentError as exc:
            return Added(upload, None, f"I could not use {upload.name}: {exc}")
        return Added(upload, agent_id)


class TurnQueue:
    """The turns of one browser session, run in order by one worker thread at a time.

    The worker starts with the first turn submitted and ends when no turn is left, so an idle or
    closed browser session keeps no thread. Turns stay listed (``pending``) until the page has shown
    their answer (``forget``), so an answer that finishes between two script runs is never lost.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: list[Turn] = []
        self._worker: threading.Thread | None = None
        self._count = 0

    def submit(self, text: str, uploads: list[Upload], session: Any) -> Turn:
        """Queues a message's work behind the turns before it and makes sure a worker runs."""
        with self._lock:
            self._count += 1
            turn = Turn(self._count, text, uploads, session)
            self._turns.append(turn)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="chat-turns", daemon=True)
                self._worker.start()
        return turn

    def pending(self) -> list[Turn]:
        """Turns whose answer the page has not shown yet, in order (running, queued or done)."""
        with self._lock:
            return list(self._turns)

    @property
    def busy(self) -> bool:
        """True while a turn is running or waiting to run."""
        with self._lock:
            return any(not t.done.is_set() for t in self._turns)

    def forget(self, turn: Turn) -> None:
        """Drops a turn whose answer is now in the history."""
        with self._lock:
            if turn in self._turns:
                self._turns.remove(turn)

    def cancel(self) -> None:
        """Drops every turn (the chat was cleared): queued ones never run; a running one finishes unseen."""
        with self._lock:
            for turn in self._turns:
                turn.cancelled = True
            self._turns.clear()

    def _next(self) -> Turn | None:
        with self._lock:
            turn = next((t for t in self._turns if t.progress().state == "queued"), None)
            if turn is None:
                self._worker = None  # under the lock: a turn submitted now starts a new worker
            return turn

    def _work(self) -> None:
        while (turn := self._next()) is not None:
            turn.run()
