"""Planning requests about uploaded videos.

``plan_video`` takes the requests a video answers: "what happens in the video?" (the story), "how
did her mood change?" (changes), "when was he happiest?" (peak), "show the timeline", "how many
faces are in the clip?" become ``analyze_video`` calls; "explain the frame at 0:05", "what is he
feeling at 15 seconds?", "near the end?" become ``video_frame``, which adds the frame to the
conversation as a photo (the photo planner then runs on it, ``agent.planning.video_follow_up``).
Several videos named at once ("compare the first two clips") get one call each. It returns None
for everything else: the photo planner goes on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agent.discourse import Conversation, resolve_videos
from agent.understanding.rules import CLASSIFY, LOCATE, Request
from agent.understanding.video import VideoRequest, understand_video

__all__ = ["plan_video", "EXPLAIN_HINT", "NO_VIDEO_TOOL", "OVER_TIME"]

OVER_TIME = {"changes", "peak", "timeline"}  # requests only a video can answer
NO_VIDEO_TOOL = "I can't analyse videos here: the video tool is not available."
EXPLAIN_HINT = (
    "A heatmap or a question about the face needs one moment of the video: ask, for example, "
    '"explain the frame at 0:05" or "is the mouth open at 0:03?", and I will take that frame as a photo.'
)


_GENERIC_VIDEO_RE = re.compile(
    r"\bthe\s+(first|second|third|fourth|1st|2nd|3rd|4th|last|latest)\s+one\b", re.IGNORECASE
)
_ORDINAL_WORDS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}


_BOTH_RE = re.compile(
    r"\bboth\b|\bthe\s+two\b|\beach\s+(?:one|of\s+them)\b|\bcompare\s+them\b", re.IGNORECASE
)


def plan_video(
    req: Request,
    conv: Conversation,
    text: str,
    attached_videos: Sequence[str] = (),
    attached_images: Sequence[str] = (),
    tools: Sequence[str] | None = None,
) -> tuple[list[tuple[str, dict]], str | None] | None:
    """Plans a message about a video: (tool calls, direct reply), or None when it is not about one.

    Args:
        req: the understood message (its text has file names as ids).
        conv: the discourse state (videos, the focus, frames taken).
        text: the message as written (without attachment notes).
        attached_videos / attached_images: ids uploaded with this message.
        tools: the names of the available tools; every tool when None.
    """
    if not conv.videos:
        return None
    request = understand_video(req.text)
    focus_video = conv.focus_video
    if focus_video is None and conv.focus and conv.focus[-1] in conv.frames:
        frame_video = conv.frames[conv.focus[-1]][0]
        if request is not None and (request.kind in OVER_TIME or request.kind == "frame"):
            focus_video = frame_video  # "how did her mood change?" after a frame: its video
    named = resolve_videos(req.text, conv)
    if (
        not named
        and len(conv.videos) > 1
        and _BOTH_RE.search(req.text)
        and (focus_video is not None or not conv.uploads)
    ):
        named = list(conv.videos)  # "compare the two: is he happiest at the same point in both?"
    generic = _GENERIC_VIDEO_RE.search(req.text)
    if (
        not named
        and generic
        and request is not None
        and len(conv.videos) > 1
        and (request.kind in ("frame", "timeline", "changes", "peak") or not conv.uploads)
    ):
        # "and at 5.5s in the first one?" with several videos and no photos: a video by its order
        ids = list(conv.videos)
        word = generic.group(1).lower()
        index = len(ids) if word in ("last", "latest") else _ORDINAL_WORDS.get(word, 0)
        if 1 <= index <= len(ids):
            named = [ids[index - 1]]
    on_video = focus_video is not None and not attached_images
    asked = set(req.intents)
    if request is None:
        if attached_videos and not text:
            request = VideoRequest("summary")
        elif attached_videos and not attached_images and asked <= {CLASSIFY, LOCATE}:
            request = VideoRequest("summary", video_words=True)  # a message sent with a video is about it
        elif (on_video or named) and LOCATE in asked:
            request = VideoRequest("summary", video_words=True)
        elif on_video and asked and not (asked <= {CLASSIFY}):
            return [], EXPLAIN_HINT  # "why?" about a whole video: point to a moment
        elif named and (asked or req.follow_up or not text.strip("?. ")):
            request = VideoRequest("summary", video_words=True)  # "and sky.mp4?"
        else:
            return None
    if request.kind == "frame":
        wanted = bool(on_video or named or attached_videos or request.video_words or focus_video)
    elif request.kind == "summary":
        # a photo sent with the message (or after the video) is what "this" means, unless a video is named
        wanted = (
            request.video_words or bool(named) or (bool(attached_videos or on_video) and not attached_images)
        )
        if wanted and on_video and not (request.video_words or named or attached_videos):
            if asked and not (asked <= {CLASSIFY, LOCATE}):
                return [], EXPLAIN_HINT
    else:
        wanted = (
            request.video_words or bool(named) or bool(attached_videos) or (on_video and not attached_images)
        )
    if not wanted:
        return None
    available = None if tools is None else set(tools)
    targets = (
        named
        or list(attached_videos)[-1:]
        or ([focus_video] if focus_video else [])
        or list(conv.videos)[-1:]
    )
    if request.kind == "frame":
        if available is not None and "video_frame" not in available:
            return [], NO_VIDEO_TOOL
        return [("video_frame", {"video_id": targets[-1], "at": request.at})], None
    if available is not None and "analyze_video" not in available:
        return [], NO_VIDEO_TOOL
    calls = []
    for video_id in targets[:4]:
        args: dict[str, Any] = {"video_id": video_id, "focus": request.kind}
        emotion = request.emotion or (req.comparative if len(targets) > 1 else None)
        if request.kind == "peak" and emotion:
            args["emotion"] = emotion
        elif len(targets) > 1 and emotion:
            args.update(focus="peak", emotion=emotion)  # "where does he look happier?" across clips
        if request.track:
            args["track"] = request.track
        calls.append(("analyze_video", args))
    return calls, None
