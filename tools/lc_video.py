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
        description="What to report: 'summary' (the story: each face's phases with times), 'changes' (how "
        "the mood changed, with times), 'peak' (the stretch where an emotion was strongest and its peak; give "
        "emotion), 'timeline' (per second)."
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
    Field(
        description="When in the video, as said by the user: '0:05', '5', '5s', '1:02.5', or 'start', "
        "'middle', 'end'."
    ),
]
MOMENTS = ("start", "middle", "end")


@dataclass
class VideoToolContext(FaceToolContext):
    """A ``FaceToolContext`` that also holds the session's videos.

    Attributes:
        videos: video id -> an object with ``analysis(classifier, fps)`` and ``frame(t)`` (a stored
            video of ``agent.video_store``), or raw video bytes.
        video_names: video id -> display name.
        add_frame: ``(frame, name) -> image id``: adds a frame as a photo of the conversation; the
            frame is a ``tools.analysis.ImageRecord`` carrying the faces the video analysis finds in it.
        progress: ``(tool name, frames done, frames expected or None)``, called while a video is
            analysed (an app shows a percentage); None when nobody listens.
    """

    videos: Mapping[str, Any] = field(default_factory=dict)
    video_names: Mapping[str, str] = field(default_factory=dict)
    add_frame: Callable[[Any, str], str] | None = None
    progress: Callable[[str, int, int | None], None] | None = None

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
    listener = context.progress
    progress = None if listener is None else (lambda done, total: listener("analyze_video", done, total))
    if hasattr(stored, "analysis"):
        return stored.analysis(classifier, progress=progress)
    from tools.video import analyze_video as run

    return run(
        stored, classifier=classifier, name=context.video_names.get(video_id, video_id), progress=progress
    )


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def _face_words(result: Any, track: int, many: bool) -> str:
    return f"face {track}" if many else "the face"


def _smoothed_note(result: Any) -> str:
    return f"smoothed over ~{result.smooth_s:g} s"


def _summary_text(result: Any, track: int | None) -> str:
    """The story: each face's phases with times (``VideoAnalysis.story``)."""
    return result.story(track)


def _changes_text(result: Any, track: int | None) -> str:
    from tools.video import format_time

    if not result.tracks:
        return result.story()
    k = track or result.main_track()
    who = _face_words(result, k, len(result.tracks) > 1)
    phases = result.phases(k)
    last = phases[-1]
    if len(phases) == 1:
        return (
            f"In {result.name}, {who} stays {last.name} the whole time it is seen "
            f"({format_time(last.start_s)}–{result.end_words(last.end_s)}); the mood does not change "
            f"(readings {_smoothed_note(result)}; stretches under {result.min_phase_s:.1f} s not counted)."
        )
    changes = result.changes(k)
    steps = ", ".join(f"at {format_time(c['t'])} {c['from_phase']} → {c['to_phase']}" for c in changes[:8])
    more = f" (and {len(changes) - 8} more)" if len(changes) > 8 else ""
    return (
        f"In {result.name}, {who} starts {phases[0].name} and changes "
        f"{ {1: 'once', 2: 'twice'}.get(len(changes), f'{len(changes)} times') }: {steps}{more}; then {last.name} to "
        f"{result.end_words(last.end_s)}. (Times from the readings {_smoothed_note(result)}; stretches "
        f"under {result.min_phase_s:.1f} s are merged into a neighbour.)"
    )


def _peak_text(result: Any, track: int | None, emotion: str | None) -> str:
    from tools.video import format_time

    if not result.tracks:
        return result.story()
    k = track or result.main_track()
    who = _face_words(result, k, len(result.tracks) > 1)
    if emotion is None:
        emotion = result.dominant(k)
    peak = result.peak(emotion, k)
    name, pct = display_name(emotion), _pct(peak["probability"])
    if peak["until"] - peak["t"] >= 1.0:
        when = f"from {format_time(peak['t'])} to {result.end_words(peak['until'])}"
    else:
        when = f"at {format_time(peak['t'])}"
    mix = f"{peak['phase']}: " if peak["phase"] != name else ""
    if peak["start_s"] is None:
        text = (
            f"In {result.name}, {who} never looks mainly {name}; {name} is strongest {when} "
            f"({pct}, {_smoothed_note(result)})."
        )
        if peak["probability"] < 0.3:
            text += f" That is weak: {name} never dominates this face."
        return text
    return (
        f"In {result.name}, {who} looks most {name} from {format_time(peak['start_s'])} to "
        f"{result.end_words(peak['end_s'])} ({mix}{name} {_pct(peak['mean'])} on average), "
        f"and most strongly {when} ({name} {pct}). (Readings {_smoothed_note(result)}.)"
    )


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
    return (
        f"Timeline of {result.name} (each second: the mean of its frames' single readings, not smoothed): "
        + "; ".join(lines)
        + more
        + "."
    )


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
    each face's story (phases with start and end times, from readings smoothed over ~0.5 s), changes,
    peaks; the chart and CSV reach the user.
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


def _cached_analysis(stored: Any, classifier: Any) -> Any:
    """The video's analysis when one was already computed (a frame question never waits for one)."""
    cached = getattr(stored, "cached_analysis", None)
    return cached(classifier) if cached is not None else None


def _box_iou(a: tuple, b: tuple) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _frame_text(result: Any, t: float, predictions: list) -> str:
    """The frame's own reading (one frame, not smoothed) beside the video's timeline there (smoothed)."""
    from tools.video import format_time

    if not predictions:
        return "No face was found in this frame."
    many = len(predictions) > 1
    analysed = result.frame_at(t) if result is not None else None
    same = analysed is not None and abs(analysed.t - t) < 1e-3
    sentences = []
    for i, p in enumerate(predictions[:4]):
        number = getattr(p, "number", None) or i + 1
        who = f"Face {number} of this frame" if many else "This single frame"
        text = f"{who} reads {display_name(p.label)} {_pct(p.confidence)} (this frame alone, not smoothed"
        reading = None
        if analysed is not None:
            iou, reading = max(
                ((_box_iou(tuple(p.box), f.box), f) for f in analysed.faces),
                key=lambda m: m[0],
                default=(0.0, None),
            )
            reading = reading if iou >= 0.3 else None
        if reading is None:
            text += ")"
            if analysed is not None:
                text += "; the video's timeline has no face here"
            sentences.append(text + ".")
            continue
        k = result.labels.index(reading.smoothed_label)
        smooth = f"{display_name(reading.smoothed_label)} {_pct(reading.smoothed[k])}"
        if same:
            text += ", as the video's analysis read this frame)"
            where = format_time(analysed.t)
        else:
            text += (
                f"); the nearest analysed frame, at {format_time(analysed.t)}, read "
                f"{display_name(reading.label)} {_pct(reading.confidence)} on its own"
            )
            where = f"{format_time(analysed.t)}"
        whose = f" for its face {reading.track}" if len(result.tracks) > 1 else ""
        verb = "agrees:" if reading.smoothed_label == p.label else "reads"
        text += (
            f". Smoothed over ~{result.smooth_s:g} s (the frames just before count too), the timeline{whose} "
            f"{verb} {smooth} at {where}"
        )
        phase = next((ph for ph in result.phases(reading.track) if ph.start_s <= analysed.t < ph.end_s), None)
        if phase is not None:
            text += (
                f", within a stretch of {phase.name} from {format_time(phase.start_s)} to "
                f"{result.end_words(phase.end_s)}"
            )
        sentences.append(text + ".")
    if len(predictions) > 4:
        sentences.append(f"And {len(predictions) - 4} more faces.")
    return " ".join(sentences)


def _moment(stored: Any, at: str) -> float:
    """Seconds of "start", "middle" or "end" ("near the end": half a second before the last frame)."""
    from tools.video import probe_video

    info = getattr(stored, "info", None)
    if info is None:
        info = probe_video(stored if isinstance(stored, (bytes, bytearray)) else stored.data)
    duration = float(info.duration_s or 0.0)
    return {"start": 0.0, "middle": duration / 2, "end": max(0.0, duration - 0.5)}[str(at).strip().lower()]


@tool(response_format="content_and_artifact")
def video_frame(
    video_id: VideoId,
    at: At,
    runtime: ToolRuntime[VideoToolContext] = None,  # type: ignore[assignment]  # injected by the agent
) -> tuple[str, dict]:
    """Takes the frame of a video shown at a given time and adds it to the conversation as a photo.

    Use it for "explain the frame at 0:05", "what is she feeling at 0:03?", "show me the frame at 7 s";
    then call the photo tools (classify_emotion, explain_prediction ...) on the returned image id.
    Returns the frame's own reading (one frame) beside the video's timeline there (smoothed).
    """

    def work() -> tuple[str, dict]:
        from tools.errors import NoFaceError
        from tools.video import DETECT_SIDE, extract_frame, format_time, frame_record, parse_time

        context = _context(runtime)
        stored = context.video(video_id)
        seconds = _moment(stored, at) if str(at).strip().lower() in MOMENTS else parse_time(at)
        if hasattr(stored, "frame"):
            t, rgb = stored.frame(seconds)
        else:
            t, rgb = extract_frame(stored, seconds)
        if context.add_frame is None:
            raise InvalidRequestError("This conversation cannot take frames as photos (no add_frame hook).")
        classifier = context.get_classifier()
        result = _cached_analysis(stored, classifier)
        # The faces the analysis finds in this frame (same search size, same crops): the photo tools
        # then read the frame exactly as the video's single-frame reading does.
        record = frame_record(rgb, result.detect_side if result is not None else DETECT_SIDE)
        video_name = context.video_names.get(video_id, video_id)
        name = f"{video_name} at {format_time(t)}"
        image_id = context.add_frame(record, name)
        try:
            predictions = classifier.predict(record)
        except NoFaceError:
            predictions = []
        text = (
            f"The frame at {format_time(t)} of {video_name} is now photo {image_id}; use the photo tools on "
            "it. " + _frame_text(result, t, predictions)
        )
        return (
            text,
            {
                "video_id": video_id,
                "t": round(t, 3),
                "image_id": image_id,
                "name": name,
                "frame_jpeg": _jpeg(rgb),
                "smoothed_s": result.smooth_s if result is not None else None,
                "face_count": len(predictions),
                "text": _frame_text(result, t, predictions),
            },
        )

    return _run(video_id, work)


VIDEO_TOOL_NAMES: tuple[str, ...] = ("analyze_video", "video_frame")


def video_tools() -> list[BaseTool]:
    """The video tools (PyAV is a requirement, so they are always available)."""
    return [analyze_video, video_frame]
