"""The offline planner's video side: requests about uploaded videos, and frames taken as photos.

Hooked into ``agent.planner`` at two marked spots:

- ``plan_video`` runs first in ``plan_turn``: "how did her mood change?" (changes), "when was he
  happiest?" (peak), "show the timeline", "what happens in the video?" (summary) become an
  ``analyze_video`` call; "explain the frame at 0:05" becomes ``video_frame``, which adds the frame
  to the conversation as a photo. It returns None for everything else (the photo planner goes on).
- ``video_follow_up`` runs when tool results come back: after ``video_frame``, the rest of the
  request ("explain", "what is she feeling", "is the mouth open") is planned by the photo planner on
  the new photo, in the same turn.

Videos are listed in the system prompt (``- vid1: "name"``) and announced in the user's message
(``[attached video vid1: "name"]``), like photos.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent.intents import EMOTION_CUE_RE, EMOTION_WORDS, understand
from agent.prompts import ATTACHMENT_RE, attachment_note, system_prompt
from agent.results import message_text

__all__ = [
    "VIDEO_ATTACHMENT_RE",
    "VideoRequest",
    "parse_video_list",
    "plan_video",
    "understand_video",
    "video_follow_up",
    "video_note",
    "video_prompt",
]

VIDEO_ATTACHMENT_RE = re.compile(r'^\[attached video (?P<id>vid\d+): "(?P<name>[^"\n]*)"\]\s*$', re.MULTILINE)
_VIDEO_LINE = re.compile(r'^- (?P<id>vid\d+): "(?P<name>[^"\n]*)"', re.MULTILINE)
_VIDEO_ID = re.compile(r"\bvid\d+\b", re.IGNORECASE)
_PHOTO_TOOLS = {"classify_emotion", "explain_prediction", "answer_question", "describe_face"}
_VIDEO_TOOLS = {"analyze_video", "video_frame"}
_OVER_TIME = {"changes", "peak", "timeline"}  # requests only a video can answer

_TIME = r"(?P<time>\d{1,2}:\d{1,2}(?::\d{1,2})?(?:\.\d+)?|\d+(?:\.\d+)?\s*(?:s|secs?|seconds?)\b)"
_FRAME_RE = re.compile(
    rf"(?:\b(?:the\s+)?(?:frame|moment|still|picture|image|point|instant|second)\s+)?(?:at|@|from|around)\s+{_TIME}",
    re.IGNORECASE,
)
_FRAME_WORD = re.compile(r"\b(?:frame|moment|still|instant)\b", re.IGNORECASE)
_VIDEO_WORD = re.compile(r"\b(?:videos?|clips?|footage|movies?|recordings?|films?|vid\d+)\b", re.IGNORECASE)
_TIMELINE_RE = re.compile(
    r"\btime[\s-]*line\b|\bover\s+time\b|\bcharts?\b|\bgraphs?\b|\bplot\b|\bsecond\s+by\s+second\b|\bper\s+second\b"
    r"|\bcsv\b",
    re.IGNORECASE,
)
_CHANGE_RE = re.compile(
    r"\bchang|\bevolv|\bshift|\bdevelop|\btransition|\bprogress|\bturn(?:ed|s)?\s+(?:from|into)|\bswing"
    r"|\bthroughout\b|\bbec(?:o|a)me\b|\bover\s+the\s+(?:video|clip|course)|\bfluctuat|\bvar(?:y|ied|ies)\b"
    r"|\bhow\s+did\s+(?:she|he|they|it|the\s+\w+)\s+(?:feel|react|go)\b|\bstart\s+and\s+end\b|\bbefore\s+and\s+after\b",
    re.IGNORECASE,
)
_WHEN_RE = re.compile(
    r"\bwhen\b|\bwhat\s+time\b|\bat\s+what\s+(?:point|time|moment|second)\b|\bwhich\s+(?:moment|second|part|point)\b"
    r"|\bpeak\b|\bmost\b|\b\w+iest\b",
    re.IGNORECASE,
)
_SMILE_RE = re.compile(r"\bsmil(?:e|es|ed|ing)\b|\blaugh", re.IGNORECASE)
_TRACK_RE = re.compile(
    r"\b(?:face|person|track)\s*#?\s*(?P<n>\d)\b|\b(?P<ord>first|second|third|fourth)\s+(?:face|person)\b",
    re.IGNORECASE,
)
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4}
NO_VIDEO_TOOL = "I can't analyse videos here: the video tool is not available."
EXPLAIN_HINT = (
    "A heatmap or a question about the face needs one moment of the video: ask, for example, "
    '"explain the frame at 0:05" or "is the mouth open at 0:03?", and I will take that frame as a photo.'
)


def video_note(video_id: str, name: str) -> str:
    """The line added to a user message that came with a new video."""
    clean = " ".join(str(name).replace('"', "'").split())[:80]
    return f'[attached video {video_id}: "{clean}"]'


def video_prompt(names: Mapping[str, str]) -> str:
    """The system prompt's section listing the session's videos and how to use the video tools."""
    if not names:
        return ""
    lines = "\n".join(
        f'- {i}: "{" ".join(str(n).replace(chr(34), chr(39)).split())[:80]}"' for i, n in names.items()
    )
    return (
        "\nVideos in this conversation (video ids):\n"
        + lines
        + "\nFor a video, call analyze_video(video_id, focus, emotion?, track?): focus 'summary', 'changes' "
        "(how the mood changed), 'peak' (when an emotion was strongest) or 'timeline'. For one moment "
        '("explain the frame at 0:05"), call video_frame(video_id, at) and then the photo tools on the image '
        "id it returns.\n"
    )


def parse_video_list(text: str) -> dict[str, str]:
    """Video id -> name of the videos listed in a system prompt (``video_prompt``), in order."""
    return {m.group("id"): m.group("name") for m in _VIDEO_LINE.finditer(text)}


@dataclass(frozen=True)
class VideoRequest:
    """What a message asks about a video.

    Attributes:
        kind: ``frame``, ``timeline``, ``changes``, ``peak`` or ``summary``.
        at: the time as written (``"0:05"``), for ``frame``.
        emotion: the emotion of a ``peak`` ("happiest" -> ``happy``), or None.
        track: a face number, or None.
        video_words: the message names a video ("the clip", "vid1").
    """

    kind: str
    at: str | None = None
    emotion: str | None = None
    track: int | None = None
    video_words: bool = False


def _emotion(text: str) -> str | None:
    if _SMILE_RE.search(text):
        return "happy"
    for word in re.findall(r"[a-z-]+", text.lower()):
        if word in EMOTION_WORDS:
            return EMOTION_WORDS[word]
    return None


def understand_video(text: str) -> VideoRequest | None:
    """Reads a message as a video request; None when it asks nothing a video answers."""
    text = " ".join(str(text).split())
    if not text:
        return None
    video_words = bool(_VIDEO_WORD.search(text))
    track = None
    m = _TRACK_RE.search(text)
    if m:
        track = int(m.group("n")) if m.group("n") else _ORDINAL[m.group("ord").lower()]
    frame = _FRAME_RE.search(text)
    if frame and (_FRAME_WORD.search(text) or ":" in frame.group("time") or video_words):
        return VideoRequest("frame", at=frame.group("time").strip(), track=track, video_words=video_words)
    if _TIMELINE_RE.search(text):
        return VideoRequest("timeline", track=track, video_words=video_words)
    emotion = _emotion(text)
    if emotion and _WHEN_RE.search(text):
        return VideoRequest("peak", emotion=emotion, track=track, video_words=video_words)
    if _CHANGE_RE.search(text):
        return VideoRequest("changes", track=track, video_words=video_words)
    if video_words or EMOTION_CUE_RE.search(text) or emotion:
        return VideoRequest("summary", emotion=emotion, track=track, video_words=video_words)
    return None


def _strip_notes(text: str) -> str:
    return VIDEO_ATTACHMENT_RE.sub("", ATTACHMENT_RE.sub("", text)).strip()


def _focus(messages: Sequence[BaseMessage]) -> tuple[str, str] | None:
    """("video" | "image", id) of what the conversation was last about."""
    focus = None
    for message in messages:
        if isinstance(message, HumanMessage):
            text = message_text(message)
            found = [(m.start(), "image", m.group("id")) for m in ATTACHMENT_RE.finditer(text)]
            found += [(m.start(), "video", m.group("id")) for m in VIDEO_ATTACHMENT_RE.finditer(text)]
            if found:
                _, kind, ident = max(found)
                focus = (kind, ident)
        elif isinstance(message, AIMessage):
            for call in message.tool_calls:
                args = call.get("args") or {}
                if call["name"] == "analyze_video" and args.get("video_id"):
                    focus = ("video", args["video_id"])
                elif call["name"] in _PHOTO_TOOLS and args.get("image_id"):
                    focus = ("image", args["image_id"])
        elif isinstance(message, ToolMessage) and message.name == "video_frame":
            artifact = message.artifact if isinstance(message.artifact, dict) else {}
            if artifact.get("image_id"):
                focus = ("image", artifact["image_id"])
    return focus


def _frame_videos(messages: Sequence[BaseMessage]) -> dict[str, tuple[str, str]]:
    """Image id of each frame taken from a video -> ("video", that video's id)."""
    frames: dict[str, tuple[str, str]] = {}
    for message in messages:
        if isinstance(message, ToolMessage) and message.name == "video_frame":
            artifact = message.artifact if isinstance(message.artifact, dict) else {}
            if artifact.get("image_id") and artifact.get("video_id"):
                frames[artifact["image_id"]] = ("video", artifact["video_id"])
    return frames


def _known_videos(messages: Sequence[BaseMessage]) -> dict[str, str]:
    videos: dict[str, str] = {}
    for message in messages:
        if isinstance(message, SystemMessage):
            videos.update(parse_video_list(message_text(message)))
        elif isinstance(message, HumanMessage):
            for m in VIDEO_ATTACHMENT_RE.finditer(message_text(message)):
                videos.setdefault(m.group("id"), m.group("name"))
    return videos


def plan_video(
    messages: Sequence[BaseMessage], tools: Sequence[str] | None = None
) -> tuple[list[tuple[str, dict]], str | None] | None:
    """Plans the last user message when it is about a video: (tool calls, direct reply) or None.

    Args:
        messages: the conversation up to (and including) the user's message.
        tools: the names of the available tools; every tool when None.
    """
    videos = _known_videos(messages)
    humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if not videos or not humans:
        return None
    raw = message_text(messages[humans[-1]])
    text = _strip_notes(raw)
    attached_video = [m.group("id") for m in VIDEO_ATTACHMENT_RE.finditer(raw)]
    attached_image = [m.group("id") for m in ATTACHMENT_RE.finditer(raw)]
    focus = _focus(messages[: humans[-1] + 1])
    request = understand_video(text)
    if focus is not None and focus[0] == "image" and request is not None and request.kind in _OVER_TIME:
        # "how did her mood change?" after a frame was taken: a frame has no "over time", its video has
        focus = _frame_videos(messages).get(focus[1], focus)
    on_video = focus is not None and focus[0] == "video"
    if request is None:
        if attached_video and not text:
            request = VideoRequest("summary")
        elif on_video and understand(text).intents:
            return [], EXPLAIN_HINT  # "why?" about a whole video: point to a moment
        else:
            return None
    named = [v for v in (m.group(0).lower() for m in _VIDEO_ID.finditer(text)) if v in videos]
    if request.kind == "frame":
        wanted = True
    elif request.kind == "summary":
        # a photo sent with the message (or after the video) is what "this" means, unless a video is named
        wanted = request.video_words or (bool(attached_video or on_video) and not attached_image)
        if wanted and on_video and not request.video_words and not attached_video:
            intents = understand(text).intents
            if intents and set(intents) - {"classify"}:
                return [], EXPLAIN_HINT
    else:
        wanted = request.video_words or bool(attached_video) or (on_video and not attached_image)
    if not wanted:
        return None
    available = None if tools is None else set(tools)
    video_id = (named or attached_video or ([focus[1]] if on_video else []) or list(videos)[-1:])[-1]
    if request.kind == "frame":
        if available is not None and "video_frame" not in available:
            return [], NO_VIDEO_TOOL
        return [("video_frame", {"video_id": video_id, "at": request.at})], None
    if available is not None and "analyze_video" not in available:
        return [], NO_VIDEO_TOOL
    args: dict[str, Any] = {"video_id": video_id, "focus": request.kind}
    if request.kind == "peak" and request.emotion:
        args["emotion"] = request.emotion
    if request.track:
        args["track"] = request.track
    return [("analyze_video", args)], None


def _without_time(text: str) -> str:
    stripped = _FRAME_RE.sub(" ", text)
    stripped = re.sub(
        r"\b(?:in|of|on)\s+(?:the\s+)?(?:video|clip|footage|vid\d+)\b", " ", stripped, flags=re.I
    )
    return " ".join(stripped.split()).strip(" ,.")


def video_follow_up(
    messages: Sequence[BaseMessage], labels: Sequence[str] | None = None, tools: Sequence[str] | None = None
) -> list[tuple[str, dict]]:
    """The photo-tool calls to run on frames this turn took from videos (none when already run).

    Args:
        messages: the conversation, ending with this turn's tool messages.
        labels: the classifier's labels.
        tools: the names of the available tools.
    """
    from agent.planner import plan_turn  # the photo planner, on the frame as a new photo

    humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if not humans:
        return []
    turn = messages[humans[-1] + 1 :]
    used = {
        (call.get("args") or {}).get("image_id")
        for m in turn
        if isinstance(m, AIMessage)
        for call in m.tool_calls
        if call["name"] in _PHOTO_TOOLS
    }
    frames = [
        m.artifact
        for m in turn
        if isinstance(m, ToolMessage)
        and m.name == "video_frame"
        and isinstance(m.artifact, dict)
        and m.artifact.get("image_id")
        and "error" not in m.artifact
    ]
    calls: list[tuple[str, dict]] = []
    photo_tools = None if tools is None else [t for t in tools if t in _PHOTO_TOOLS]
    text = _without_time(_strip_notes(message_text(messages[humans[-1]])))
    for artifact in frames:
        image_id = artifact["image_id"]
        if image_id in used:
            continue
        name = str(artifact.get("name") or image_id)
        synthetic = [
            SystemMessage(system_prompt({image_id: name})),
            HumanMessage((attachment_note(image_id, name) + "\n" + text).strip()),
        ]
        plan = plan_turn(synthetic, labels, photo_tools if photo_tools is not None else sorted(_PHOTO_TOOLS))
        calls.extend((n, a) for n, a in plan.calls if n in _PHOTO_TOOLS)
    return calls
