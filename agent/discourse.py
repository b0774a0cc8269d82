"""The discourse state: what the conversation is about, and what a reference in a new message means.

``Conversation.read`` walks the messages before the current one and keeps, explicitly:

- the photos (in upload order) and videos, with their file names, and the frames taken from videos
  (a frame is a photo of the conversation that remembers its video and time);
- the focus: the photos (or the video) the last turn was about; a new upload takes the focus;
- the face in focus (the one a tool last worked on), and every face's box and scores once a tool
  listed them, so "the one on the left", "the other one", "the smiling one", "the top left one" can
  be placed;
- a pending question: when a person was named by appearance ("the guy in sunglasses") the agent
  showed the numbered faces and asked which number; the next message ("number 2", "the one top
  left") answers that question, and the pending request is then carried out for that face;
- a context that was declined (monitoring employees, candidates or pupils): later requests to
  analyse the same media in that conversation are declined too.

``resolve_images`` / ``resolve_face`` / ``resolve_videos`` turn a ``Request``'s references into ids and
face numbers: ordinals ("the first", "the last", "first vs latest"), "the other / next one" by
position, photos by content ("the group shot", "the one without a face", "the angry one"), file
names in any turn, and videos by name or ordinal ("the 2nd video", "the first two clips"). What they
cannot resolve they say in ``Resolution.reply`` or ask the tools to look up (``Resolution.calls``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent.prompts import ATTACHMENT_RE, VIDEO_ATTACHMENT_RE, parse_image_list, parse_video_list
from agent.results import message_text
from agent.understanding.rules import NUMBER_WORDS, POSITIONS, Request
from tools.labels import display_name
from tools.locate import FaceLocation, FaceMap, locate_faces

__all__ = [
    "Call",
    "Conversation",
    "Resolution",
    "pick_face",
    "resolve_face",
    "resolve_images",
    "resolve_videos",
    "split_turn",
    "names_list",
    "pronoun_of",
]

Call = tuple[str, dict]
_PHOTO_TOOLS = {"classify_emotion", "explain_prediction", "answer_question", "describe_face", "find_faces"}


def names_list(names: Sequence[str]) -> str:
    """ "a.jpg", "a.jpg and b.jpg", "a.jpg, b.jpg and c.jpg"."""
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


@dataclass
class Resolution:
    """What resolving references found out, beside the ids: a direct reply when a reference cannot
    be resolved, look-ups to run first, and how named faces were placed.

    Attributes:
        reply: the answer when a reference cannot be resolved ("there is no photo 3"), or None.
        calls: tool calls to run first (the faces of a photo must be listed to place "the left one").
        notes: sentences for the final answer.
        where: (image id, face number) -> the face's position in words ("on the left").
        chosen: how a face named by position or emotion was resolved, e.g. {("img1", 2): "the face on the right"}.
    """

    reply: str | None = None
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    where: dict[tuple[str, int], str] = field(default_factory=dict)
    chosen: dict[tuple[str, int], str] = field(default_factory=dict)


def split_turn(messages: Sequence[BaseMessage]) -> tuple[int, dict[str, str]]:
    """(index of the last user message, image id -> name from the system prompt)."""
    images: dict[str, str] = {}
    last_human = -1
    for i, message in enumerate(messages):
        if isinstance(message, SystemMessage):
            images.update(parse_image_list(message_text(message)))
        elif isinstance(message, HumanMessage):
            last_human = i
    return last_human, images


@dataclass
class Conversation:
    """What earlier turns established, for resolving references.

    Attributes:
        images: image id -> name, in upload order (frames taken from videos included).
        videos: video id -> name, in upload order.
        frames: image id of a frame taken from a video -> (video id, seconds).
        focus: the photos the conversation is about (the last tool turn's, or a new upload).
        focus_video: the video in focus when the last thing talked about was a video, else None.
        face: the face in focus (its number).
        last_calls: (tool, args) of the last turn that ran tools.
        faces: image id -> the classify predictions seen for it (for counts and left/right).
        tools_run: names of every tool that ran so far.
        boxes: image id -> every face's box, in face-number order (from find_faces or a classification
            of every face).
        sizes: image id -> (width, height).
        probs: image id -> face number -> the emotion scores seen for that face.
        main_face: image id -> the number of its most prominent face, once a tool listed the faces.
        pending: the request waiting for the user to say which face they meant, or None.
        declined: the category of a declined request that binds the rest of the conversation
            (``surveillance``: monitoring a candidate, employee or pupil shown in an upload), or None.
        declined_media: the uploads that request was about.
        pronouns: image id -> "he" / "she" when the user's own words about that photo used one, so
            "is his head tilted?" after talking about her goes back to the photo talked about as "him".
    """

    images: dict[str, str] = field(default_factory=dict)
    videos: dict[str, str] = field(default_factory=dict)
    frames: dict[str, tuple[str, float]] = field(default_factory=dict)
    focus: list[str] = field(default_factory=list)
    focus_video: str | None = None
    face: int | None = None
    last_calls: list[Call] = field(default_factory=list)
    faces: dict[str, list[dict]] = field(default_factory=dict)
    tools_run: set[str] = field(default_factory=set)
    boxes: dict[str, list[list[int]]] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    probs: dict[str, dict[int, dict[str, float]]] = field(default_factory=dict)
    main_face: dict[str, int] = field(default_factory=dict)
    pending: dict[str, Any] | None = None
    declined: str | None = None
    declined_media: set[str] = field(default_factory=set)
    pronouns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, messages: Sequence[BaseMessage], images: Mapping[str, str]) -> Conversation:
        """Walks the messages before the current request (and the current one's attachments)."""
        conv = cls(images=dict(images))
        said: str | None = None
        new_turn = True
        face_before: dict[str | None, int | None] = {}
        last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        for index, message in enumerate(messages):
            if isinstance(message, SystemMessage):
                conv.videos.update(parse_video_list(message_text(message)))
            elif isinstance(message, HumanMessage):
                text = message_text(message)
                found = [
                    (m.start(), "image", m.group("id"), m.group("name")) for m in ATTACHMENT_RE.finditer(text)
                ]
                found += [
                    (m.start(), "video", m.group("id"), m.group("name"))
                    for m in VIDEO_ATTACHMENT_RE.finditer(text)
                ]
                for _, kind, ident, name in sorted(found):
                    (conv.images if kind == "image" else conv.videos).setdefault(ident, name)
                if found:
                    _, kind, ident, _ = max(found)
                    if kind == "image":
                        # photos attached together are looked at together ("give me each one's emotion")
                        together = [i for _, k, i, _ in sorted(found) if k == "image"]
                        conv.focus, conv.focus_video, conv.face = together, None, None
                    else:
                        conv.focus_video = ident
                if index != last_human:
                    conv.pending = None  # a waiting question is answered by the next message only
                said = pronoun_of(ATTACHMENT_RE.sub("", VIDEO_ATTACHMENT_RE.sub("", text)))
                new_turn = True
            elif isinstance(message, AIMessage):
                if not message.tool_calls:
                    extra = message.additional_kwargs or {}
                    conv.pending = extra.get("pending")
                    if extra.get("declined") == "surveillance" and extra.get("media"):
                        conv.declined = "surveillance"
                        conv.declined_media.update(extra["media"])
                    continue
                if new_turn:
                    conv.last_calls, new_turn = [], False
                    if any(c["name"] in _PHOTO_TOOLS for c in message.tool_calls):
                        conv.focus = []
                photos = {
                    (c.get("args") or {}).get("image_id")
                    for c in message.tool_calls
                    if c["name"] in _PHOTO_TOOLS
                }
                if said and len(photos) == 1 and next(iter(photos)) in conv.images:
                    conv.pronouns[next(iter(photos))] = said
                for call in message.tool_calls:
                    args = dict(call.get("args") or {})
                    conv.last_calls.append((call["name"], args))
                    conv.tools_run.add(call["name"])
                    if call["name"] == "analyze_video" and args.get("video_id"):
                        conv.focus_video = args["video_id"]
                    image_id = args.get("image_id")
                    if call["name"] in _PHOTO_TOOLS and image_id in conv.images:
                        if image_id not in conv.focus:
                            conv.focus.append(image_id)
                        conv.focus_video = None
                    if isinstance(args.get("face"), int):
                        face_before[call.get("id")] = conv.face
                        conv.face = args["face"]
            elif isinstance(message, ToolMessage) and isinstance(message.artifact, dict):
                artifact = message.artifact
                if message.name == "video_frame" and artifact.get("image_id") and "error" not in artifact:
                    image_id = artifact["image_id"]
                    conv.images.setdefault(image_id, str(artifact.get("name") or image_id))
                    conv.frames[image_id] = (str(artifact.get("video_id")), float(artifact.get("t") or 0.0))
                    conv.focus, conv.focus_video, conv.face = [image_id], None, None
                    continue
                if "error" in artifact and message.tool_call_id in face_before:
                    conv.face = face_before[message.tool_call_id]  # a face that failed is not in focus
                elif isinstance(artifact.get("face"), int) and "error" not in artifact:
                    conv.face = artifact["face"]  # the face a tool chose (the most prominent)
                conv.absorb_artifact(artifact)
        return conv

    def absorb(self, messages: Sequence[BaseMessage]) -> None:
        """Learns the faces from tool results (this turn's), without moving the focus."""
        for message in messages:
            if isinstance(message, ToolMessage) and isinstance(message.artifact, dict):
                self.absorb_artifact(message.artifact)

    def absorb_artifact(self, artifact: Mapping[str, Any]) -> None:
        """Faces, boxes and scores from one tool artifact."""
        image_id = artifact.get("image_id")
        if not image_id or "error" in artifact:
            return
        if artifact.get("width") and artifact.get("height"):
            self.sizes[image_id] = (int(artifact["width"]), int(artifact["height"]))
        if isinstance(artifact.get("image_size"), (list, tuple)) and len(artifact["image_size"]) == 2:
            self.sizes[image_id] = (int(artifact["image_size"][0]), int(artifact["image_size"][1]))
        if isinstance(artifact.get("faces"), list) and "count" in artifact:
            self.boxes[image_id] = [list(f["box"]) for f in artifact["faces"]]
            if isinstance(artifact.get("most_prominent"), int):
                self.main_face[image_id] = artifact["most_prominent"]
        preds = artifact.get("predictions")
        if preds:
            known = self.faces.get(image_id, [])
            self.faces[image_id] = preds if len(preds) >= len(known) else known
            count = artifact.get("face_count")
            if (count is not None and len(preds) == count) or (
                count is None and len(preds) > len(self.boxes.get(image_id, []))
            ):
                self.boxes[image_id] = [list(p["box"]) for p in preds]
            for pred in preds:
                self.probs.setdefault(image_id, {})[int(pred.get("face", 1))] = dict(pred.get("probs") or {})
            if count is None or len(preds) == count:  # every face, most prominent first
                self.main_face[image_id] = int(preds[0].get("face", 1))
        elif artifact.get("face_count") == 0 or artifact.get("count") == 0:
            self.boxes.setdefault(image_id, [])

    def last(self, tool: str) -> dict | None:
        """The args of the last turn's call to ``tool``, or None."""
        found = [args for name, args in self.last_calls if name == tool]
        return found[-1] if found else None

    def face_map(self, image_id: str) -> FaceMap | None:
        """Where each face of a photo is, when its faces are known."""
        boxes = self.boxes.get(image_id)
        if boxes is None:
            return None
        return locate_faces(boxes, self.sizes.get(image_id, (0, 0)))

    def prominent(self, image_id: str) -> int | None:
        """The number of a photo's most prominent face, when a tool has listed its faces."""
        return self.main_face.get(image_id)

    def count(self, image_id: str) -> int | None:
        """How many faces a photo has, when known."""
        boxes = self.boxes.get(image_id)
        return len(boxes) if boxes is not None else None

    @property
    def uploads(self) -> list[str]:
        """The photos the user uploaded (frames taken from videos left out), in order."""
        return [i for i in self.images if i not in self.frames]

    def name(self, ident: str) -> str:
        """The file name of a photo or video (its id when it has none)."""
        return str(self.images.get(ident) or self.videos.get(ident) or ident)


_HE = re.compile(r"\b(?:he|him|his|himself|man|guy|boy|gentleman|dude|sir)\b", re.I)
_SHE = re.compile(r"\b(?:she|her|hers|herself|woman|lady|girl|madam)\b", re.I)


def pronoun_of(text: str) -> str | None:
    """ "he" or "she" when a message refers to one person with that word (not both), else None."""
    he, she = bool(_HE.search(text)), bool(_SHE.search(text))
    return "he" if he and not she else "she" if she and not he else None


# --- faces ---------------------------------------------------------------------------------------


def pick_face(found: FaceMap, ref: str) -> FaceLocation | None:
    """The face a position means: one word ("left", "largest", "second from left") or a row and a side
    ("top left", "bottom right", "top middle": the face nearest that corner or edge of the group)."""
    parts = str(ref).split()
    if len(parts) == 2 and parts[0] in ("top", "bottom") and parts[1] in ("left", "right", "middle"):
        if not found.faces:
            return None
        xs = [f.centre[0] for f in found.faces]
        ys = [f.centre[1] for f in found.faces]
        span_x, span_y = max(max(xs) - min(xs), 1.0), max(max(ys) - min(ys), 1.0)
        target_x = {"left": 0.0, "middle": 0.5, "right": 1.0}[parts[1]]
        target_y = 0.0 if parts[0] == "top" else 1.0

        def distance(f: FaceLocation) -> float:
            x = (f.centre[0] - min(xs)) / span_x
            y = (f.centre[1] - min(ys)) / span_y
            # the side is the firmer word: "in the middle at the back" is the middle one of the back row
            return 2 * (x - target_x) ** 2 + (y - target_y) ** 2

        return min(found.faces, key=distance)
    return found.pick(ref)


def _emotion_face(conv: Conversation, image_id: str, emotion: str) -> int | None:
    count = conv.count(image_id)
    probs = conv.probs.get(image_id, {})
    if not count or any(n not in probs for n in range(1, count + 1)):
        return None
    return max(range(1, count + 1), key=lambda n: probs[n].get(emotion, 0.0))


def resolve_face(req: Request, conv: Conversation, image_id: str, out: Resolution) -> int | str | None:
    """A face number, None (no face named), or ``"find"`` / ``"classify"`` (look the faces up first)."""
    ref = req.face
    if ref is None and req.generic_one is not None and (len(conv.uploads) < 2 or req.image is not None):
        ref = req.generic_one
    if ref is None:
        return None
    count = conv.count(image_id)
    if isinstance(ref, int):
        if count is not None and ref > count:
            out.reply = (
                f"There {'is' if count == 1 else 'are'} only {count} face{'s' if count != 1 else ''} in "
                f"{conv.name(image_id)}, so there is no face {ref}."
            )
        return ref
    if ref == "other":
        if count == 1:
            out.notes.append("There is only one face in this photo.")
            return 1
        focused = conv.face or conv.prominent(image_id) or 1
        if count and count > 2:
            found = conv.face_map(image_id)
            if found is not None:  # "the other one" beside the face in focus: its nearest neighbour
                here = next((f for f in found.faces if f.number == focused), None)
                if here is not None:
                    others = [f for f in found.faces if f.number != focused]
                    near = min(
                        others,
                        key=lambda f: abs(f.centre[0] - here.centre[0]) + abs(f.centre[1] - here.centre[1]),
                    )
                    return near.number
        return 2 if focused == 1 else 1
    if ref == "last":
        return count or "find"
    if ref in POSITIONS or (
        isinstance(ref, str) and (" from " in ref or ref.split()[0] in ("top", "bottom"))
    ):
        found = conv.face_map(image_id)
        if found is None:
            return "find"
        picked = pick_face(found, ref)
        if picked is None:
            return None
        if found.count > 1:
            out.chosen[(image_id, picked.number)] = f"the face {picked.where()}"
        return picked.number
    if ref == "emotion" and req.face_emotion:
        number = _emotion_face(conv, image_id, req.face_emotion)
        if number is None:
            return "classify"
        if (conv.count(image_id) or 0) > 1:
            out.chosen[(image_id, number)] = f"the {display_name(req.face_emotion)}-looking face"
        return number
    return None


# --- photos --------------------------------------------------------------------------------------

_GROUP_RE = re.compile(
    r"\b(?:the\s+)?group\s+(?:shot|photo|picture|pic|image)\b|\bthe\s+one\s+with\s+(?:all\s+the|the\s+most|many|more)\s+(?:people|faces)\b",
    re.I,
)
_NO_FACE_RE = re.compile(
    r"\b(?:the\s+)?(?:one|photo|picture|pic|image)\s+(?:without|with\s+no)\s+(?:a\s+|any\s+)?(?:face|faces|people|person)\b"
    r"|\b(?:the\s+)?(?:faceless|empty)\s+(?:one|photo|picture|pic|image)\b",
    re.I,
)


def _faces_named(req: Request) -> bool:
    return (
        re.search(r"\b(?:faces?|persons?|people|everyone|everybody)\b", req.text, re.IGNORECASE) is not None
    )


def _about_faces(req: Request, conv: Conversation, default: list[str]) -> bool:
    """True when "both", "which of the two", "everyone" mean the faces of one photo, not the photos."""
    if re.search(r"\b(?:photos?|pictures?|images?|pics?|shots?|uploads?|groups?)\b", req.text, re.IGNORECASE):
        return False
    if len(conv.uploads) < 2:
        return True
    counts = [conv.count(i) for i in conv.uploads]
    if req.face is None and all(c is not None and c <= 1 for c in counts):
        return False  # one face per photo: "which face shows more ...?" compares the photos
    if _faces_named(req) or req.face is not None:
        return True
    count = conv.count(default[0]) if default else None
    return count is not None and count > 1 and len(default) == 1


def _resolve_ref(
    ref: int | str, ids: list[str], default: list[str], conv: Conversation, out: Resolution, req: Request
) -> list[str] | None:
    if isinstance(ref, int):
        if 1 <= ref <= len(ids):
            return [ids[ref - 1]]
        out.reply = (
            f"There is no photo {ref}: this conversation has {len(ids)} photo{'s' if len(ids) != 1 else ''}"
            + (f" ({names_list([conv.name(i) for i in ids])})." if ids else ".")
        )
        return None
    if ref in conv.images:
        return [ref]
    if isinstance(ref, str) and ref.startswith("img"):
        out.reply = f"I don't have that photo; the photos here are {names_list([conv.name(i) for i in ids])}."
        return None
    if ref == "other":
        others = [i for i in ids if i not in default]
        if not others:
            if req.image == "other" and len(ids) < 2:  # "the other photo" with one photo
                out.reply = "There is only one photo in this conversation so far."
                return None
            return default
        return [others[-1]]
    if ref == "latest":
        return ids[-1:]
    if ref == "previous":
        current = (
            ids[-1]
            if "latest" in req.image_refs
            else (default[0] if default and default[0] in ids else ids[-1])
        )
        index = ids.index(current)
        return [ids[index - 1]] if index > 0 else [current]
    if ref == "all":
        return ids
    return default  # "this photo"


def _by_content(req: Request, conv: Conversation, ids: list[str], out: Resolution) -> list[str] | None:
    """Photos named by what they show: "the group shot" (the most faces), "the one without a face"."""
    if len(ids) < 2:
        return None
    if _GROUP_RE.search(req.text) or _NO_FACE_RE.search(req.text):
        unknown = [i for i in ids if conv.count(i) is None]
        if unknown:
            out.calls = [("find_faces", {"image_id": i}) for i in unknown]
            return ids
        if _NO_FACE_RE.search(req.text):
            empty = [i for i in ids if conv.count(i) == 0]
            return empty[-1:] or None
        return [max(ids, key=lambda i: conv.count(i) or 0)]
    return None


_AGAINST_RE = re.compile(
    r"\b(?:same|similar|different|differ\w*|compar\w*|than|versus|vs\.?|like|as)\s+(?:\w+\s+){0,3}(?:as\s+|to\s+|with\s+)?the\s+(?:first|second|third|last|other|previous|earlier)\s+one\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = {**NUMBER_WORDS, **{str(n): n for n in range(2, 7)}}
_COUNTED_RE = re.compile(
    r"\b(?:which|who|any|none|each|one|out)\s+of\s+(?:the|these|those|them|all|my)\s+(two|three|four|five|six|[2-6])\b(?!\s+(?:faces?|people|persons?))"
    r"|\ball\s+(two|three|four|five|six|[2-6])\b(?!\s+(?:faces?|people|persons?))"
    r"|\b(?:the|these|those|my)\s+(two|three|four|five|six|[2-6])\s+(?:photos|pictures|pics|images|portraits|shots|uploads)\b"
    r"|\b(?:compare|between|contrast)\s+(?:the|these|those|both)\s+(two|three|four|five|six|[2-6])\b(?!\s+(?:faces?|people|persons?))",
    re.IGNORECASE,
)


_THIS_OTHER_RE = re.compile(r"\bth(?:is|e\s+new)\s+other\b", re.IGNORECASE)


def _single_faces(conv: Conversation, ids: list[str], default: list[str], req: Request) -> bool:
    """Every photo has one face (a new upload not looked at yet counts when "this other ..." names it)."""
    if req.face is None or _faces_named(req):
        return False
    counts = [conv.count(i) for i in ids]
    unknown = [i for i, c in zip(ids, counts) if c is None]
    if any(c is not None and c != 1 for c in counts):
        return False
    return not unknown or (unknown == default[-1:] and _THIS_OTHER_RE.search(req.text) is not None)


def resolve_images(req: Request, conv: Conversation, out: Resolution) -> list[str] | None:
    """The photos a request is about (None: ``out.reply`` says why it cannot be answered)."""
    ids = conv.uploads or list(conv.images)
    everything = list(conv.images)
    default = [i for i in conv.focus if i in conv.images] or ids[-1:]
    if len(default) > 1 and (isinstance(req.face, int) or req.face in POSITIONS or " from " in str(req.face)):
        # "the person on the left" after comparing photos: the photo where there is a left
        default = [i for i in default if (conv.count(i) or 0) > 1][:1] or default[-1:]
    if len(ids) > 1 and not req.image_refs and _single_faces(conv, ids, default, req):
        # one face per photo: "this other man ... like the first one", "the second man" name photos
        wanted = list(default) if _THIS_OTHER_RE.search(req.text) else []
        if isinstance(req.face, int) and req.face <= len(ids):
            wanted.append(ids[req.face - 1])
        elif req.face == "other" and not wanted:
            wanted = [i for i in ids if i not in default][-1:]
        generic = re.search(
            r"\bthe\s+(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|last)\s+one\b", req.text, re.I
        )
        if generic and wanted:
            word = generic.group(1).lower()
            index = (
                len(ids) if word == "last" else _VIDEO_ORDINALS.get(word, {"fifth": 5, "5th": 5}.get(word, 0))
            )
            if 1 <= index <= len(ids):
                wanted.insert(0, ids[index - 1])
        if wanted:
            req.face, req.generic_one = None, None
            if len(set(wanted)) > 1:
                req.compare = True
            return [i for i in everything if i in wanted]
    chosen: list[str] = []
    for ref in req.image_refs:
        resolved = _resolve_ref(
            ref, everything if (isinstance(ref, str) and ref in conv.images) else ids, default, conv, out, req
        )
        if resolved is None:
            return None
        chosen.extend(i for i in resolved if i not in chosen)
    if chosen:
        if len(chosen) > 1:
            return [i for i in everything if i in chosen]  # compared photos in upload order
        return chosen
    content = _by_content(req, conv, ids, out)
    if content is not None:
        return content
    said = pronoun_of(req.text)
    if (
        said
        and len(default) == 1
        and conv.pronouns.get(default[0], said) != said
        and not req.image_refs
        and (conv.count(default[0]) or 0) <= 1  # in a group, "he" can be one of its faces
    ):
        # "is his head tilted?" after talking about her: the photo the user called "him"
        others = [i for i in ids if conv.pronouns.get(i) == said]
        if len(others) == 1:
            return others
    by_photo = len(default) > 1 or (len(ids) > 1 and bool(default) and conv.count(default[0]) == 1)
    if req.face == "emotion" and req.face_emotion and by_photo and not _faces_named(req):
        # "explain the happier one" after comparing photos: the photo whose face reads it most
        candidates = default if len(default) > 1 else ids
        scores = {i: conv.probs.get(i, {}).get(1) for i in candidates}
        req.face, emotion, req.face_emotion = None, req.face_emotion, None
        missing = [i for i, p in scores.items() if p is None]
        if missing:
            out.calls = [("classify_emotion", {"image_id": i}) for i in missing]
            return candidates
        return [max(candidates, key=lambda i: scores[i].get(emotion, 0.0))]
    counted = _COUNTED_RE.search(req.text)
    if counted and len(ids) > 1:
        n = _NUMBER_WORDS.get(next(g for g in counted.groups() if g).lower())
        if n == len(ids) and not (len(default) == 1 and conv.count(default[0]) == n):
            return ids  # "which of the four ...?" with four photos: all of them
    if req.generic_many and len(ids) > 1 and not _faces_named(req):
        # "compare the first and the third" among several photos: the photos in that order
        many: list[str] = []
        for ref in req.generic_many:
            resolved = _resolve_ref(ref, ids, default, conv, out, req)
            if resolved is None:
                return None
            many.extend(i for i in resolved if i not in many)
        return [i for i in everything if i in many]
    if req.generic_one is not None and len(ids) > 1:
        resolved = _resolve_ref(req.generic_one, ids, default, conv, out, req)
        if resolved is not None and _AGAINST_RE.search(req.text):
            # "same kind of smile as the first one?": that photo against this one
            return [i for i in everything if i in set(resolved) | set(default)]
        return resolved
    if req.image == "all" and req.count:
        return ids  # "how many faces altogether?"
    if req.image == "all" or (req.everyone and len(ids) > 1 and not _faces_named(req)):
        if len(ids) > 1 and not _about_faces(req, conv, default):
            return ids
        if len(ids) < 2 and req.compare and not _about_faces(req, conv, default):
            out.notes.append("There is only one photo so far: upload another one to compare them.")
        return default
    return default


# --- videos --------------------------------------------------------------------------------------

_VIDEO_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_VIDEO_NOUN = r"(?:videos?|clips?|recordings?|movies?|films?|vids?|footage|takes)"
_VIDEO_REF_RE = re.compile(
    rf"\b(?:the\s+)?(?P<word>first|1st|second|2nd|third|3rd|fourth|4th|last|latest|newest|new|other|previous|earlier)\s+(?:one\s+)?{_VIDEO_NOUN}\b"
    rf"|\b(?:the\s+)?(?:first|1st)\s+(?P<n>two|three|2|3)\s+{_VIDEO_NOUN}\b|\b(?P<both>both|all(?:\s+(?:the|my|these|those|of\s+the))?(?:\s+(?:two|three|four|\d))?|(?:the|these|those|my)\s+(?:two|three|four|\d))\s+{_VIDEO_NOUN}\b"
    rf"|\b(?P<which>which(?:\s+(?:one\s+)?of\s+(?:the|these|those|my)(?:\s+(?:two|three|four|\d))?)?)\s+{_VIDEO_NOUN}\b"
    rf"|\b{_VIDEO_NOUN}\s*(?:#|no\.?|number)?\s*(?P<num>\d)\b|\b(?P<id>vid\d+)\b",
    re.IGNORECASE,
)


def resolve_videos(text: str, conv: Conversation) -> list[str]:
    """The videos a message names, in upload order: by id (file names already rewritten to ids),
    ordinal ("the 2nd video", "the first two clips"), "both clips", "the other video"; empty when
    it names none."""
    ids = list(conv.videos)
    found: list[str] = []
    for m in _VIDEO_REF_RE.finditer(text):
        if m.group("id"):
            picked = [m.group("id").lower()] if m.group("id").lower() in conv.videos else []
        elif m.group("num"):
            k = int(m.group("num"))
            picked = ids[k - 1 : k]
        elif m.group("n"):
            k = {"two": 2, "three": 3}.get(m.group("n").lower(), None) or int(m.group("n"))
            picked = ids[:k]
        elif m.group("both") or m.group("which"):
            picked = ids  # "both clips", "which video has the happier moment?": every video
        else:
            word = m.group("word").lower()
            if word in _VIDEO_ORDINALS:
                k = _VIDEO_ORDINALS[word]
                picked = ids[k - 1 : k]
            elif word in ("last", "latest", "newest", "new"):
                picked = ids[-1:]
            else:  # other, previous, earlier
                current = conv.focus_video or (ids[-1] if ids else None)
                picked = [i for i in ids if i != current][-1:]
        found.extend(i for i in picked if i not in found)
    return [i for i in ids if i in found]
