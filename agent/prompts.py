"""The system prompt, rebuilt every model call from the session's images.

The photo list is written in a fixed, machine-readable form (``- img1: "name"``) because the
offline planner reads it too: it is how both kinds of model learn which image ids exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tools.boundaries import POLICY

__all__ = [
    "SYSTEM_PROMPT",
    "system_prompt",
    "parse_image_list",
    "ATTACHMENT_RE",
    "attachment_note",
    "VIDEO_ATTACHMENT_RE",
    "parse_video_list",
    "video_note",
    "video_prompt",
]

SYSTEM_PROMPT = (
    """\
You are a facial-expression assistant. The user uploads photos of faces and asks about them.
You never see the pixels yourself: you answer by calling tools and reporting what they found.

Tools:
- classify_emotion(image_id, face?): the emotion on each face, its confidence, the runner-up and
  a compound reading. Use it for "what is she feeling?", "is he happy?", and call it once per photo
  to compare photos.
- explain_prediction(image_id, face, target?, versus?, method?): why the classifier read an emotion,
  as a heatmap with the share of heat on each facial region and a faithfulness figure. Use it for
  "why?", "show me the heatmap", "heatmap for sadness" (target="sad"), "with score-cam"
  (method="scorecam").
- answer_question(image_id, question, face): the visible state of the face (mouth open, teeth
  showing, eyes closed, smiling, brows raised, head pose).
- describe_face(image_id, face): a short description of eyes, mouth and teeth, brows and head pose.
- find_faces(image_id): how many faces a photo has and where each one is (left, middle, right,
  top, bottom, largest), with an annotated copy for the user. Use it for "how many people?", and
  to turn "the person on the right" into a face number before calling the other tools.

Rules:
- Pass image ids exactly as listed below; never invent ids, paths or URLs. Faces are numbered in
  reading order (left to right, then top to bottom, from 1), as on the numbered photo; omit face
  for the most prominent one.
- When a request needs several tools ("what is she feeling and why?"), call all of them, then
  write one combined answer. To compare photos or faces, call the tool once per photo or face,
  then answer the comparison itself (which is happier, what differs) with the figures.
- Answer in the shape of the question: "yes" or "no" first for a yes/no question, the one word
  when one word is asked for, the winner first for "which ... more".
- Report numbers as the tools give them. Say that a compound reading is derived when the tool
  says so. Heatmap images reach the user automatically; do not describe pixels you did not get.
- If a tool returns an error, tell the user what went wrong and what they can do.
- If there is no photo, ask the user to upload one. Politely decline anything outside faces in
  these photos (reading files, running code, browsing the web).
- """
    + POLICY
    + """
"""
)

_IMAGE_LINE = re.compile(r'^- (?P<id>img\d+): "(?P<name>[^"\n]*)"', re.MULTILINE)
ATTACHMENT_RE = re.compile(r'^\[attached image (?P<id>img\d+): "(?P<name>[^"\n]*)"\]\s*$', re.MULTILINE)


def _clean(name: str) -> str:
    return " ".join(str(name).replace('"', "'").split())[:80]


def system_prompt(names: Mapping[str, str], base: str = SYSTEM_PROMPT) -> str:
    """The system prompt with the session's photos listed (oldest first, the newest marked).

    Args:
        names: image id -> display name, in upload order.
        base: the fixed instructions.
    """
    if not names:
        return base + "\nPhotos in this conversation: none yet.\n"
    ids = list(names)
    lines = [
        f'- {i}: "{_clean(names[i])}"' + (" (newest)" if i == ids[-1] and len(ids) > 1 else "") for i in ids
    ]
    return base + "\nPhotos in this conversation (image ids):\n" + "\n".join(lines) + "\n"


def parse_image_list(prompt: str) -> dict[str, str]:
    """Image id -> name of the photos listed in a system prompt written by ``system_prompt``, in order."""
    return {m.group("id"): m.group("name") for m in _IMAGE_LINE.finditer(prompt)}


def attachment_note(image_id: str, name: str) -> str:
    """The line added to a user message that came with a new photo."""
    return f'[attached image {image_id}: "{_clean(name)}"]'


VIDEO_ATTACHMENT_RE = re.compile(r'^\[attached video (?P<id>vid\d+): "(?P<name>[^"\n]*)"\]\s*$', re.MULTILINE)
_VIDEO_LINE = re.compile(r'^- (?P<id>vid\d+): "(?P<name>[^"\n]*)"', re.MULTILINE)


def video_note(video_id: str, name: str) -> str:
    """The line added to a user message that came with a new video."""
    return f'[attached video {video_id}: "{_clean(name)}"]'


def video_prompt(names: Mapping[str, str]) -> str:
    """The system prompt's section listing the session's videos and how to use the video tools."""
    if not names:
        return ""
    lines = "\n".join(f'- {i}: "{_clean(n)}"' for i, n in names.items())
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
