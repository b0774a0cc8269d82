"""What a message asks about a video, read from its closed vocabulary: times, "timeline", "change".

``understand_video`` gives the kind of video request: a ``frame`` at a time ("at 0:12", "at 15
seconds", "near the end", "at the start"), the ``timeline`` (chart, CSV), ``changes`` ("how did her
mood change?"), a ``peak`` ("when was he happiest?") or a ``summary`` ("what happens in the
video?"); the discourse state decides whether the message is about a video at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.understanding.rules import EMOTION_CUE_RE, EMOTION_WORDS

__all__ = [
    "CHANGE_RE",
    "FRAME_RE",
    "MOMENT_RE",
    "TIMELINE_RE",
    "APPEAR_RE",
    "VIDEO_WORD_RE",
    "VideoRequest",
    "understand_video",
]

_TIME = r"(?P<time>\d{1,2}:\d{1,2}(?::\d{1,2})?(?:\.\d+)?|\d+(?:\.\d+)?\s*(?:s|secs?|seconds?)\b)"
FRAME_RE = re.compile(
    rf"(?:\b(?:the\s+)?(?:frame|moment|still|picture|image|point|instant|second)\s+)?(?:at|@|from|around|near|by)\s+(?:about\s+|around\s+|the\s+)?{_TIME}(?:\s+mark)?"
    r"|\b(?:at|around|near)\s+(?:the\s+)?(?P<mark>\d+(?:\.\d+)?)[\s-]*(?:s|secs?|seconds?)[\s-]+mark\b",
    re.IGNORECASE,
)
# Moments named without a clock time: "near the end", "at the start", "in the middle of the clip".
MOMENT_RE = re.compile(
    r"\b(?:at|near|towards?|by|in|around)\s+the\s+(?P<moment>very\s+start|start|beginning|very\s+end|end|middle|last\s+(?:frame|second|moment))\b"
    r"|\b(?P<first>first|last|final|opening|closing)\s+(?:frame|moment|second)\b"
    r"|\b(?P<half>halfway|half[\s-]way|midway)\b|\bin\s+the\s+(?P<few>last|final|first)\s+(?:few\s+)?seconds\b",
    re.IGNORECASE,
)
VIDEO_WORD_RE = re.compile(
    r"\b(?:videos?|clips?|footage|movies?|recordings?|films?|vids?|vid\d+|that\s+video|track(?:ed|ing|s)?|takes?)\b",
    re.IGNORECASE,
)
# A face coming into or leaving the picture: the story of the video says when.
APPEAR_RE = re.compile(
    r"\b(?:vanish\w*|disappear\w*|appear\w*|show(?:s|ed)?\s+up|leaves?\s+(?:the\s+)?(?:frame|shot|screen|picture)"
    r"|(?:comes?|came)\s+(?:in|into\s+(?:the\s+)?(?:frame|shot|view))|out\s+of\s+(?:the\s+)?(?:frame|shot|view)|on\s+screen)\b",
    re.IGNORECASE,
)
TIMELINE_RE = re.compile(
    r"\btime[\s-]*line\b|\bover\s+time\b|\bcharts?\b|\bgraphs?\b|\bplot\b|\bsecond\s+by\s+second\b|\bper\s+second\b"
    r"|\bcsv\b|\bframe[\s-]+by[\s-]+frame\b|\bper[\s-]+frame\b|\bexport\w*\b|\braw\s+(?:numbers|data|figures|values)\b",
    re.IGNORECASE,
)
CHANGE_RE = re.compile(
    r"\bchang|\bevolv|\bshift|\bdevelop|\btransition|\bprogress|\bturn(?:ed|s)?\s+(?:from|into)|\bswing"
    r"|\bthroughout\b|\bbec(?:o|a)me\b|\bover\s+the\s+(?:video|clip|course)|\bfluctuat|\bvar(?:y|ied|ies)\b"
    r"|\bhow\s+did\s+(?:she|he|they|it|the\s+\w+)\s+(?:feel|react|go)\b|\bstart\s+and\s+end\b|\bbefore\s+and\s+after\b"
    r"|\bstart(?:s|ed)?\s+(?:to\s+)?(?:smil|laugh|cry|frown)",
    re.IGNORECASE,
)
_WHEN_RE = re.compile(
    r"\bwhen\b|\bwhat\s+time\b|\bat\s+what\s+(?:point|time|moment|second)\b|\bwhich\s+(?:moment|second|part|point)\b"
    r"|\bpeak\b|\bmost\b|\b\w+iest\b|\bhow\s+long\b",
    re.IGNORECASE,
)
_SMILE_RE = re.compile(r"\bsmil(?:e|es|ed|ing)\b|\blaugh", re.IGNORECASE)
_TRACK_RE = re.compile(
    r"\b(?:face|person|track)\s*#?\s*(?P<n>\d)\b|\b(?P<ord>first|second|third|fourth)\s+(?:face|person)\b",
    re.IGNORECASE,
)
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4}
_MOMENTS = {
    "very start": "start",
    "start": "start",
    "beginning": "start",
    "first": "start",
    "opening": "start",
    "very end": "end",
    "end": "end",
    "last": "end",
    "final": "end",
    "closing": "end",
    "middle": "middle",
}


@dataclass(frozen=True)
class VideoRequest:
    """What a message asks about a video.

    Attributes:
        kind: ``frame``, ``timeline``, ``changes``, ``peak`` or ``summary``.
        at: for ``frame``, the time as written (``"0:05"``) or a moment (``"start"``, ``"middle"``,
            ``"end"``).
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
    video_words = bool(VIDEO_WORD_RE.search(text))
    track = None
    m = _TRACK_RE.search(text)
    if m:
        track = int(m.group("n")) if m.group("n") else _ORDINAL[m.group("ord").lower()]
    frame = FRAME_RE.search(text)
    if frame:
        at = frame.group("time") or f"{frame.group('mark')}s"
        return VideoRequest("frame", at=at.strip(), track=track, video_words=video_words)
    if TIMELINE_RE.search(text):
        return VideoRequest("timeline", track=track, video_words=video_words)
    emotion = _emotion(text)
    if emotion and _WHEN_RE.search(text):
        return VideoRequest("peak", emotion=emotion, track=track, video_words=video_words)
    if CHANGE_RE.search(text):
        return VideoRequest("changes", track=track, video_words=video_words)
    moment = MOMENT_RE.search(text)
    if moment:
        found = moment.group("moment") or moment.group("first") or moment.group("few") or "middle"
        word = "middle" if moment.group("half") else " ".join(found.lower().split())
        at = _MOMENTS.get(word, _MOMENTS.get(word.split()[0], "end"))
        return VideoRequest("frame", at=at, track=track, video_words=video_words)
    if APPEAR_RE.search(text):
        return VideoRequest("summary", emotion=emotion, track=track, video_words=True)
    if video_words or EMOTION_CUE_RE.search(text) or emotion:
        return VideoRequest("summary", emotion=emotion, track=track, video_words=video_words)
    return None
