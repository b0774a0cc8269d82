"""The video tools as LangChain tools: ``analyze_video`` and ``video_frame`` over uploaded video ids.

Like the photo tools (``tools.lc``), they take ids, never files: the videos (bytes in memory) come
from the runtime context, a ``VideoToolContext`` (a ``FaceToolContext`` with videos). A video is
analysed once per session and model; every later question about it reads the cached analysis.

``video_frame`` turns one frame into a photo of the conversation (through the context's
``add_frame`` hook), so every photo tool (classify, explain, ask, describe) works on it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool
from pydantic import Field

from tools.errors import FaceAgentError, InvalidRequestError
from tools.labels import display_name, normalize_label
from tools.lc import FaceToolContext

__all__ = [
    "VideoToolContext",
    "analyze_video",
    "video_frame",
    "video_tools",
    "VIDEO_TOOL_NAMES",
    "CHART_POINTS",
]

CHART_POINTS = 240  # timeline points per track sent to the chart; the CSV has every frame

VideoId = Annotated[
    str,
    Field(description="Id of a video of this conversation, exactly as listed (e.g. 'vid1'); never a path."),
]
Focus = Annotated[
    Literal["summary", "changes", "peak", "timeline"],
    Field(
        description="What to report: 'summary' (dominant emotion per face), 'changes' (how the mood "
        "changed, with times), 'peak' (when an emotion was strongest; give emotion), 'timeline' (per second)."
    ),
]
Emotion = Annotated[
    str | None,
    Field(description="For focus='peak': the emotion, e.g. 'happy' for 'when was he happiest?'."),
]
Track = Annotated[
    int | None,
    Field(description="Which face track, as numbered in an earlier answer; omit for the main face.", ge=1),
]
At = Annotated[
    str,
    Field(description="When in the video, as said by the user: '0:05', '5', '5s', '1:02.5'."),
]


@dataclass
class VideoToolContext(FaceToolContext):
    """A ``FaceToolContext`` that also holds the session's videos.

    Attributes:
        videos: video id -> an object with ``analysis(classifier, fps)`` and ``frame(t)`` (a stored
            video of ``agent.video_store``), or raw video bytes.
        video_names: video id -> display name.
        add_frame: ``(rgb, name) -> image id``: adds a frame as a photo of the conversation.
    """

    videos: Mapping[str, Any] = field(default_factory=dict)
    video_names: Mapping[str, str] = field(default_factory=dict)
    add_frame: Callable[[Any, str], str] | None = None

    def video(self, video_id: str) -> Any:
        """The stored video of ``video_id``; ``InvalidRequestError`` listing the valid ids otherwise."""
        key = str(video_id).strip()
        if key in self.videos:
            return self.videos[key]
        valid = ", ".join(self.videos) or "none (ask the user to upload a video)"
        raise InvalidRequestError(
            f"There is no video {video_id!r} in this conversation. Valid video ids: {valid}."
        )


def _context(runtime: ToolRuntime | None) -> VideoToolContext:
    context = getattr(runtime, "context", None)
    if context is None or not hasattr(context, "videos"):
        raise InvalidRequestError(
            "The video tools read videos from the conversation, and none was given "
            "(run them inside an agent with context=VideoToolContext(videos=...))."
        )
    return context


def _run(video_id: str, work: Callable[[], tuple[str, dict]]) -> tuple[str, dict]:
    try:
        return work()
    except FaceAgentError as exc:
        return f"Error: {exc}", {"video_id": video_id, "error": str(exc), "error_type": type(exc).__name__}


def _analysis(context: VideoToolContext, video_id: str) -> Any:
    stored = context.video(video_id)
    classifier = context.get_classifier()
    if hasattr(stored, "analysis"):
        return stored.analysis(classifier)
    from tools.video import analyze_video as run

    return run(stored, classifier=classifier, name=context.video_names.get(video_id, video_id))


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def _face_words(result: Any, track: int, many: bool) -> str:
    return f"face {track}" if many else "the face"


def _summary_text(result: Any, track: int | None) -> str:
    from tools.video import format_time

    if not result.tracks:
        return result.describe()
    tracks = [track] if track is not None else result.tracks
    summary = {t["track"]: t for t in result.summary()["tracks"]}
    many = len(result.tracks) > 1
    parts = [f"{result.name} ({format_time(result.duration_s)}, {len(result.frames)} frames analysed):"]
    for k in tracks[:4]:
        tr = summary[k]
        mean = tr["mean_probs"][tr["dominant"]]
        parts.append(
            f"{_face_words(result, k, many)} (seen {format_time(tr['first_s'])}–{format_time(tr['last_s'])}) "
            f"is mostly {display_name(tr['dominant'])} (mean {_pct(mean)})"
            + (
                f", with {len(tr['changes'])} change{'s' if len(tr['changes']) != 1 else ''}."
                if tr["changes"]
                else "."
            )
        )
    if result.frames_without_faces:
        parts.append(f"{result.frames_without_faces} frames had no face.")
    parts.extend(result.warnings)
    return " ".join(parts)


def _changes_text(result: Any, track: int | None) -> str:
    from tools.video import format_time

    if not result.tracks:
        return result.describe()
    k = track or result.main_track()
    many = len(result.tracks) > 1
    who = _face_words(result, k, many)
    rows = result.readings(k)
    start = rows[0][1].smoothed_label
    changes = result.changes(k)
    if not changes:
        return (
            f"In {result.name}, {who} stays {display_name(start)} the whole time "
            f"({format_time(rows[0][0])}–{format_time(rows[-1][0])}); the mood does not change."
        )
    steps = "; ".join(
        f"at {format_time(c['t'])} {display_name(c['from'])} → {display_name(c['to'])}" for c in changes[:8]
    )
    more = f" (and {len(changes) - 8} more)" if len(changes) > 8 else ""
    return (
        f"In {result.name}, {who} starts {display_name(start)} and changes {len(changes)} "
        f"time{'s' if len(changes) != 1 else ''}: {steps}{more}. Mostly {display_name(result.dominant(k))}."
    )


def _peak_text(result: Any, track: int | None, emotion: str | None) -> str:
    from tools.video import format_time

    if not result.tracks:
        return result.describe()
    k = track or result.main_track()
    who = _face_words(result, k, len(result.tracks) > 1)
    if emotion is None:
        emotion = result.dominant(k)
    peak = result.peak(emotion, k)
    text = (
        f"In {result.name}, {who} looks most {display_name(emotion)} at {format_time(peak['t'])} "
        f"({display_name(emotion)} {_pct(peak['probability'])}, smoothed)."
    )
    if peak["probability"] < 0.3:
        text += f" That is weak: {display_name(emotion)} never dominates this face."
    return text


def _timeline_text(result: Any, track: int | None) -> str:
    from tools.video import format_time

    rows = [r for r in result.timeline() if track is None or r["track"] in (track, None)]
    cells: dict[float, list[str]] = {}
    for r in rows:
        cell = (
            "no face"
            if r["track"] is None
            else f"face {r['track']} {display_name(r['label'])} {_pct(r['probs'][r['label']])}"
        )
        cells.setdefault(r["start"], []).append(cell)
    lines = [f"{format_time(s)} {', '.join(c)}" for s, c in list(cells.items())[:30]]
    more = " …" if len(cells) > 30 else ""
    return f"Timeline of {result.name} (per second): " + "; ".join(lines) + more + "."


def _chart_timeline(result: Any) -> list[dict]:
    """Mean probabilities per track in at most ``CHART_POINTS`` steps (at least 0.1 s each)."""
    step = max(0.1, result.duration_s / CHART_POINTS)
    return [r for r in result.timeline(step) if r["track"] is not None]


@tool(response_format="content_and_artifact")
def analyze_video(
    video_id: VideoId,
    focus: Focus = "summary",
    emotion: Emotion = None,
    track: Track = None,
    runtime: ToolRuntime[VideoToolContext] = None,  # type: ignore[assignment]  # injected by the agent
) -> tuple[str, dict]:
    """Reads the emotions of the faces in a video over time (faces tracked across frames).

    Use it for "what happens in the video?", "how did her mood change?" (focus='changes'), "when was
    he happiest?" (focus='peak', emotion='happy'), "show the timeline" (focus='timeline'). Returns
    the dominant emotion per face, changes with timestamps, peaks; the chart and CSV reach the user.
    """

    def work() -> tuple[str, dict]:
        context = _context(runtime)
        result = _analysis(context, video_id)
        label = None
        if emotion:
            label = normalize_label(emotion, result.labels)  # raises, listing the labels
        if track is not None:
            result._track_of(track)  # raises with the valid tracks
        text = {
            "summary": lambda: _summary_text(result, track),
            "changes": lambda: _changes_text(result, track),
            "peak": lambda: _peak_text(result, track, label),
            "timeline": lambda: _timeline_text(result, track),
        }[focus]()
        artifact = {
            "video_id": video_id,
            "name": result.name,
            "focus": focus,
            "emotion": label,
            "track": track,
            "labels": list(result.labels),
            "duration_s": round(result.duration_s, 3),
            "fps_analyzed": round(result.fps_analyzed, 3),
            "summary": result.summary(),
            "timeline": _chart_timeline(result),
            "csv": result.to_csv(),
        }
        return text, artifact

    return _run(video_id, work)


def _jpeg(rgb: Any) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@tool(response_format="content_and_artifact")
def video_frame(
    video_id: VideoId,
    at: At,
    runtime: ToolRuntime[VideoToolContext] = None,  # type: ignore[assignment]  # injected by the agent
) -> tuple[str, dict]:
    """Takes the frame of a video shown at a given time and adds it to the conversation as a photo.

    Use it for "explain the frame at 0:05", "what is she feeling at 0:03?", "show me the frame at 7 s";
    then call the photo tools (classify_emotion, explain_prediction ...) on the returned image id.
    """

    def work() -> tuple[str, dict]:
        from tools.video import extract_frame, format_time, parse_time

        context = _context(runtime)
        stored = context.video(video_id)
        seconds = parse_time(at)
        if hasattr(stored, "frame"):
            t, rgb = stored.frame(seconds)
        else:
            t, rgb = extract_frame(stored, seconds)
        if context.add_frame is None:
            raise InvalidRequestError("This conversation cannot take frames as photos (no add_frame hook).")
        name = f"{context.video_names.get(video_id, video_id)} at {format_time(t)}"
        image_id = context.add_frame(rgb, name)
        return (
            f"The frame at {format_time(t)} of {context.video_names.get(video_id, video_id)} is now photo "
            f"{image_id}; use the photo tools on it.",
            {
                "video_id": video_id,
                "t": round(t, 3),
                "image_id": image_id,
                "name": name,
                "frame_jpeg": _jpeg(rgb),
            },
        )

    return _run(video_id, work)


VIDEO_TOOL_NAMES: tuple[str, ...] = ("analyze_video", "video_frame")


def video_tools() -> list[BaseTool]:
    """The video tools (PyAV is a requirement, so they are always available)."""
    return [analyze_video, video_frame]
