"""The offline planner: a chat model of our own that needs no language-model server.

``OfflinePlanner`` is a ``BaseChatModel`` with ``bind_tools``, so ``create_agent`` drives it like any
other model. Each call looks at the conversation:

- the last message is the user's: it reads the request (``agent.intents``), resolves references
  against earlier turns ("that", "instead", "the other one", "the second face") and answers with
  tool calls, or directly for help, small talk, refusals and a missing photo;
- tool results came back: when the request named a face it could not place yet ("the person on the
  right", "the smiling one"), the first call looked the faces up (``find_faces`` or
  ``classify_emotion``) and it now plans the calls that needed them; otherwise it writes the
  combined answer from the artifacts (``agent.compose``), shaped like the question;
- a question about the product itself (a label, Grad-CAM, the model) is answered without tools
  (``agent.knowledge``).

The photos it may use are the ones the system prompt lists (``agent.prompts``) plus any attachment
notes in user messages.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.compose import NEED_PHOTO, compose_answer, small_talk_text
from agent.intents import (
    ASK,
    CLASSIFY,
    DEFAULT_LABELS,
    DESCRIBE,
    EMOTION_WORDS,
    EXPLAIN,
    LOCATE,
    POSITIONS,
    WHO_RE,
    Request,
    understand,
)
from agent.knowledge import answer as knowledge_answer
from agent.prompts import ATTACHMENT_RE, parse_image_list
from agent.results import collect_results, message_text
from agent.video_plan import plan_video, video_follow_up  # video (issue 14)
from tools.labels import display_name
from tools.lc import TOOL_NAMES
from tools.locate import FaceMap, locate_faces

__all__ = ["OfflinePlanner", "Plan", "Conversation", "plan_turn", "TOOL_OF", "INTENT_OF"]

TOOL_OF = {
    CLASSIFY: "classify_emotion",
    EXPLAIN: "explain_prediction",
    ASK: "answer_question",
    DESCRIBE: "describe_face",
    LOCATE: "find_faces",
}
INTENT_OF = {v: k for k, v in TOOL_OF.items()}
MAX_CALLS = 8  # per turn; "explain every face of five photos" is not a chat request
MAX_STEPS = 3  # model calls with tool calls per turn: look up the faces, then act on them
_MISSING = {
    "explain_prediction": "I can't show heatmaps here: the explanation tool is not available.",
    "answer_question": "I can't answer questions about the face here: the question tool is not available.",
    "describe_face": "I can't describe the face here: the question tool is not available.",
    "classify_emotion": "I can't read emotions here: the classification tool is not available.",
    "find_faces": "I can't locate faces here: the face-finding tool is not available.",
}
Call = tuple[str, dict]


@dataclass
class Conversation:
    """What earlier turns established, for resolving references.

    Attributes:
        images: image id -> name, in upload order.
        focus: the photos the conversation is about (the last tool turn's, or a new upload).
        face: the face in focus (1 = most prominent).
        last_calls: (tool, args) of the last turn that ran tools.
        faces: image id -> the classify predictions seen for it (for counts and left/right).
        tools_run: names of every tool that ran so far.
        boxes: image id -> every face's box, in face-number order (from find_faces or a classification
            of every face).
        sizes: image id -> (width, height).
        probs: image id -> face number -> the emotion scores seen for that face.
        main_face: image id -> the number of its most prominent face, once a tool listed the faces.
    """

    images: dict[str, str] = field(default_factory=dict)
    focus: list[str] = field(default_factory=list)
    face: int | None = None
    last_calls: list[Call] = field(default_factory=list)
    faces: dict[str, list[dict]] = field(default_factory=dict)
    tools_run: set[str] = field(default_factory=set)
    boxes: dict[str, list[list[int]]] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    probs: dict[str, dict[int, dict[str, float]]] = field(default_factory=dict)
    main_face: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, messages: Sequence[BaseMessage], images: Mapping[str, str]) -> Conversation:
        """Walks the messages before the current request."""
        conv = cls(images=dict(images))
        new_turn = True
        face_before: dict[str | None, int] = {}
        for message in messages:
            if isinstance(message, HumanMessage):
                attached = [m.group("id") for m in ATTACHMENT_RE.finditer(message_text(message))]
                for image_id in attached:
                    conv.images.setdefault(image_id, image_id)
                if attached:
                    conv.focus, conv.face = [attached[-1]], None
                new_turn = True
            elif isinstance(message, AIMessage) and message.tool_calls:
                if new_turn:
                    conv.last_calls, conv.focus, new_turn = [], [], False
                for call in message.tool_calls:
                    args = dict(call.get("args") or {})
                    conv.last_calls.append((call["name"], args))
                    conv.tools_run.add(call["name"])
                    image_id = args.get("image_id")
                    if image_id in conv.images and image_id not in conv.focus:
                        conv.focus.append(image_id)
                    if isinstance(args.get("face"), int):
                        face_before[call.get("id")] = conv.face
                        conv.face = args["face"]
            elif isinstance(message, ToolMessage) and isinstance(message.artifact, dict):
                if "error" in message.artifact and message.tool_call_id in face_before:
                    conv.face = face_before[message.tool_call_id]  # a face that failed is not in focus
                elif isinstance(message.artifact.get("face"), int) and "error" not in message.artifact:
                    conv.face = message.artifact["face"]  # the face a tool chose (the most prominent)
                conv.absorb_artifact(message.artifact)
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


@dataclass
class Plan:
    """What the planner will do with one request.

    Attributes:
        request: the understood message.
        calls: tool calls (name, args) still to make this turn, in order; empty when ``reply``
            answers directly or when every call has run.
        reply: a direct answer (help, small talk, refusal, no photo), or None.
        notes: sentences for the final answer (a missing tool, only one photo to compare ...).
        where: (image id, face number) -> the face's position in words ("on the left").
        chosen: how a face named by position or emotion was resolved, e.g. {("img1", 2): "on the right"}.
        lookup: True when ``calls`` only look up faces that the request refers to.
        lookups: calls of this turn that only looked up faces (their results are not reported).
    """

    request: Request
    calls: list[Call] = field(default_factory=list)
    reply: str | None = None
    notes: list[str] = field(default_factory=list)
    where: dict[tuple[str, int], str] = field(default_factory=dict)
    chosen: dict[tuple[str, int], str] = field(default_factory=dict)
    lookup: bool = False
    lookups: list[Call] = field(default_factory=list)

    @property
    def tools(self) -> list[str]:
        """The tool names of ``calls``, in order."""
        return [name for name, _ in self.calls]


def _split_turn(messages: Sequence[BaseMessage]) -> tuple[int, dict[str, str]]:
    """(index of the last user message, image id -> name from the system prompt)."""
    images: dict[str, str] = {}
    last_human = -1
    for i, message in enumerate(messages):
        if isinstance(message, SystemMessage):
            images.update(parse_image_list(message_text(message)))
        elif isinstance(message, HumanMessage):
            last_human = i
    return last_human, images


_NOT_NAMES = frozenset(
    "face faces photo photos image images picture pictures person people woman man left right middle top "
    "bottom other first second third last new old this that".split()
)


def _with_image_ids(text: str, names: Mapping[str, str]) -> str:
    """The text with photos named by file name, with or without the extension, written as their ids
    ("and for astronaut.jpg?" -> "and for img2?"), so the rules read them like any photo reference
    (and a file name is not mistaken for a request to open a file)."""
    for image_id, name in names.items():
        name = str(name).strip()
        if not name or name == image_id or re.fullmatch(r"photo \d+", name, re.IGNORECASE):
            continue
        variants = [name]
        stem = name.rsplit(".", 1)[0] if "." in name else ""
        if stem and len(stem) >= 3 and stem.lower() not in _NOT_NAMES and stem.lower() not in EMOTION_WORDS:
            variants += list(dict.fromkeys((stem, stem.replace("_", " "), stem.replace("-", " "))))
        for variant in variants:
            text = re.sub(rf"(?<![\w.]){re.escape(variant)}(?![\w])", image_id, text, flags=re.IGNORECASE)
    return text


def _resolve_ref(
    ref: int | str, ids: list[str], default: list[str], conv: Conversation, plan: Plan, req: Request
):
    if isinstance(ref, int):
        if 1 <= ref <= len(ids):
            return [ids[ref - 1]]
        plan.reply = (
            f"There is no photo {ref}: this conversation has {len(ids)} photo{'s' if len(ids) != 1 else ''}."
        )
        return None
    if ref in conv.images:
        return [ref]
    if isinstance(ref, str) and ref.startswith("img"):
        plan.reply = f"There is no image {ref} in this conversation; the photos are {', '.join(ids)}."
        return None
    if ref == "other":
        others = [i for i in ids if i not in default]
        if not others:
            if req.image == "other" and len(ids) < 2:  # "the other photo" with one photo
                plan.reply = "There is only one photo in this conversation so far."
                return None
            return default
        return [others[-1]]
    if ref == "latest":
        return ids[-1:]
    if ref == "previous":
        current = ids[-1] if "latest" in req.image_refs else (default[0] if default else ids[-1])
        index = ids.index(current)
        return [ids[index - 1]] if index > 0 else [current]
    if ref == "all":
        return ids
    return default  # "this photo"


def _resolve_images(req: Request, conv: Conversation, plan: Plan) -> list[str] | None:
    ids = list(conv.images)
    default = [i for i in conv.focus if i in conv.images] or ids[-1:]
    if len(default) > 1 and (isinstance(req.face, int) or req.face in POSITIONS or " from " in str(req.face)):
        # "the person on the left" after comparing photos: the photo where there is a left
        default = [i for i in default if (conv.count(i) or 0) > 1][:1] or default[-1:]
    chosen: list[str] = []
    for ref in req.image_refs:
        resolved = _resolve_ref(ref, ids, default, conv, plan, req)
        if resolved is None:
            return None
        chosen.extend(i for i in resolved if i not in chosen)
    if chosen:
        if len(chosen) > 1:
            return [i for i in ids if i in chosen]  # compared photos in upload order
        return chosen
    by_photo = len(default) > 1 or (len(ids) > 1 and bool(default) and conv.count(default[0]) == 1)
    if req.face == "emotion" and req.face_emotion and by_photo and not _faces_named(req):
        # "explain the happier one" after comparing photos: the photo whose face reads it most
        candidates = default if len(default) > 1 else ids
        scores = {i: conv.probs.get(i, {}).get(1) for i in candidates}
        req.face, emotion, req.face_emotion = None, req.face_emotion, None
        missing = [i for i, p in scores.items() if p is None]
        if missing:
            plan.calls = [("classify_emotion", {"image_id": i}) for i in missing]
            return candidates
        return [max(candidates, key=lambda i: scores[i].get(emotion, 0.0))]
    if req.generic_one is not None and len(ids) > 1:
        return _resolve_ref(req.generic_one, ids, default, conv, plan, req)
    if req.image == "all" and req.count:
        return ids  # "how many faces altogether?"
    if req.image == "all" or (req.everyone and len(ids) > 1 and not _faces_named(req)):
        if len(ids) > 1 and not _about_faces(req, conv, default):
            return ids
        if len(ids) < 2 and req.compare and not _about_faces(req, conv, default):
            plan.notes.append("There is only one photo so far: upload another one to compare them.")
        return default
    return default


def _faces_named(req: Request) -> bool:
    return (
        re.search(r"\b(?:faces?|persons?|people|everyone|everybody)\b", req.text, re.IGNORECASE) is not None
    )


def _about_faces(req: Request, conv: Conversation, default: list[str]) -> bool:
    """True when "both", "which of the two", "everyone" mean the faces of one photo, not the photos."""
    if re.search(r"\b(?:photos?|pictures?|images?|pics?|shots?|uploads?)\b", req.text, re.IGNORECASE):
        return False
    if len(conv.images) < 2:
        return True
    if _faces_named(req) or req.face is not None:
        return True
    count = conv.count(default[0]) if default else None
    return count is not None and count > 1 and len(default) == 1


def _emotion_face(conv: Conversation, image_id: str, emotion: str) -> int | None:
    count = conv.count(image_id)
    probs = conv.probs.get(image_id, {})
    if not count or any(n not in probs for n in range(1, count + 1)):
        return None
    return max(range(1, count + 1), key=lambda n: probs[n].get(emotion, 0.0))


def _resolve_face(req: Request, conv: Conversation, image_id: str, plan: Plan) -> int | str | None:
    """A face number, None (no face named), or ``"find"`` / ``"classify"`` (look the faces up first)."""
    ref = req.face
    if ref is None and req.generic_one is not None and (len(conv.images) < 2 or req.image is not None):
        ref = req.generic_one
    if ref is None:
        return None
    count = conv.count(image_id)
    if isinstance(ref, int):
        if count is not None and ref > count:
            plan.reply = (
                f"There {'is' if count == 1 else 'are'} only {count} face{'s' if count != 1 else ''} in "
                f"{conv.images.get(image_id, image_id)}, so there is no face {ref}."
            )
        return ref
    if ref == "other":
        if count == 1:
            plan.notes.append("There is only one face in this photo.")
            return 1
        focused = conv.face or conv.prominent(image_id) or 1
        return 2 if focused == 1 else 1
    if ref == "last":
        return count or "find"
    if ref in POSITIONS or (isinstance(ref, str) and " from " in ref):
        found = conv.face_map(image_id)
        if found is None:
            return "find"
        picked = found.pick(ref)
        if picked is None:
            return None
        if found.count > 1:
            plan.chosen[(image_id, picked.number)] = f"the face {picked.where()}"
        return picked.number
    if ref == "emotion" and req.face_emotion:
        number = _emotion_face(conv, image_id, req.face_emotion)
        if number is None:
            return "classify"
        if (conv.count(image_id) or 0) > 1:
            plan.chosen[(image_id, number)] = f"the {display_name(req.face_emotion)}-looking face"
        return number
    return None


def _intents_for(req: Request, conv: Conversation) -> tuple[list[str], bool]:
    """The intents to act on and whether they were inherited from the last turn."""
    if req.emotion_only and req.follow_up and conv.last("explain_prediction") and not req.compare:
        return [EXPLAIN], True  # "what about sadness?" after a heatmap: the heatmap for sadness
    if req.intents:
        return list(req.intents), False
    inherits = req.has_details or req.follow_up
    if inherits and conv.last_calls:
        return _inherited(conv), True
    if req.has_details and conv.images:
        return [CLASSIFY], False
    return [], False


def _inherited(conv: Conversation) -> list[str]:
    """The last turn's intents, without the look-ups that only served to find a face."""
    names = [n for n, _ in conv.last_calls]
    intents = list(dict.fromkeys(INTENT_OF[n] for n in names if n in INTENT_OF))
    if LOCATE in intents and len(intents) > 1:
        intents.remove(LOCATE)  # find_faces looked up "the person on the right"
    classify_all = [a for n, a in conv.last_calls if n == "classify_emotion" and a.get("face") is None]
    per_face = [a for n, a in conv.last_calls if n != "classify_emotion" and isinstance(a.get("face"), int)]
    if CLASSIFY in intents and classify_all and per_face and len(intents) > 1:
        image_id = classify_all[0].get("image_id")
        if (conv.count(image_id) or 0) > 1:
            intents.remove(CLASSIFY)  # it classified every face to find "the smiling one"
    return intents


def plan_turn(
    messages: Sequence[BaseMessage],
    labels: Sequence[str] | None = None,
    tools: Sequence[str] | None = None,
    model_info: Mapping[str, Any] | None = None,
) -> Plan:
    """Plans the answer to the last user message of a conversation.

    The messages may already hold this turn's tool calls and results: the plan then holds only the
    calls still to make (after a look-up of the faces, the calls that needed it), and ``where`` /
    ``chosen`` describe the faces for the answer.

    Args:
        messages: the conversation, ending with (or containing) the user's message; the system
            prompt lists the photos.
        labels: the classifier's labels (emotions are resolved into them).
        tools: names of the tools available; all of them when None.
        model_info: the classifier's model card, for questions about the model.
    """
    last_human, images = _split_turn(messages)
    human = messages[last_human] if last_human >= 0 else HumanMessage("")
    raw = message_text(human)
    attached = [m.group("id") for m in ATTACHMENT_RE.finditer(raw)]
    text = ATTACHMENT_RE.sub("", raw).strip()
    history = messages[: last_human + 1] if last_human >= 0 else messages
    turn = messages[last_human + 1 :] if last_human >= 0 else []
    conv = Conversation.read(history, images)
    conv.absorb(turn)
    req = understand(_with_image_ids(text, conv.images), tuple(labels) if labels else None)
    plan = Plan(req)
    if not req.intents and not req.knowledge and _GO_ON_RE.match(text):
        req.intents = _go_on(history[:-1])
    if not req.intents and WHO_RE.match(text):
        _who(req, history[:-1], labels)
    if attached:
        conv.focus, conv.face = [attached[-1]], None
    available = set(TOOL_NAMES if tools is None else tools)
    ran = [
        (c["name"], dict(c.get("args") or {})) for m in turn if isinstance(m, AIMessage) for c in m.tool_calls
    ]

    if req.small_talk == "refuse":
        plan.reply = small_talk_text("refuse", bool(conv.images))
        return plan
    # --- video (issue 14): requests about uploaded videos are planned by agent.video_plan ---
    video = plan_video(history, tools)
    if video is not None:
        calls, plan.reply = video
        plan.calls = [(name, args) for name, args in calls if (name, dict(args)) not in ran]
        return plan
    # --- end video ---
    if req.knowledge:
        plan.reply = knowledge_answer(req.knowledge, list(labels or DEFAULT_LABELS), model_info)
        return plan
    intents, inherited = _intents_for(req, conv)
    if not intents:
        plan.reply = small_talk_text(req.small_talk or ("unclear" if text else "empty"), bool(conv.images))
        if attached and req.small_talk in (None, "empty"):
            intents = [CLASSIFY]  # a photo with no request ("", "here", "upload"): say what is on it
            plan.reply = None
        else:
            return plan
    if not conv.images:
        plan.reply = NEED_PHOTO
        return plan
    image_ids = _resolve_images(req, conv, plan)
    if image_ids is None:
        return plan
    if plan.calls:  # the photos' readings are needed to tell which one the user means
        plan.calls = [c for c in plan.calls if c not in ran]
        if plan.calls:
            plan.lookup = True
            return plan
    same_focus = image_ids == [i for i in conv.focus if i in conv.images]
    every_face = (
        req.everyone
        or req.anyone
        or (len(image_ids) == 1 and (req.compare or req.shape == "rank") and req.face is None)
    )
    wanted: list[Call] = []
    lookups: list[Call] = []
    for image_id in image_ids:
        face = _resolve_face(req, conv, image_id, plan)
        if plan.reply:
            return plan
        if face in ("find", "classify"):
            lookup: Call = ("find_faces" if face == "find" else "classify_emotion", {"image_id": image_id})
            if lookup not in ran:
                lookups.append(lookup)
                continue
            face = None  # looked up and still unknown (no face, or the look-up failed): the tools will say
        count = conv.count(image_id)
        default_face = face or (conv.face if same_focus else None)  # None: the tools take the most prominent
        if count is not None and default_face is not None and default_face > count:
            default_face = None
        per_face_all = every_face and face is None and any(i in (EXPLAIN, ASK, DESCRIBE) for i in intents)
        if per_face_all and count is None and LOCATE not in intents:
            lookups.append(("find_faces", {"image_id": image_id}))
            continue
        faces_for_others = list(range(1, (count or 1) + 1)) if per_face_all else [default_face]
        for intent in intents:
            name = TOOL_OF[intent]
            if name not in available:
                if _MISSING[name] not in plan.notes:
                    plan.notes.append(_MISSING[name])
                continue
            if intent == LOCATE:
                wanted.append((name, {"image_id": image_id}))
            elif intent == CLASSIFY:
                args: dict[str, Any] = {"image_id": image_id}
                if face is not None and not every_face:
                    args["face"] = face
                elif req.report and face is None and (count or 0) > 1:
                    _with_face(args, default_face or conv.prominent(image_id))
                wanted.append((name, args))
            elif intent == EXPLAIN:
                for number in faces_for_others:
                    wanted.append((name, _explain_args(req, conv, image_id, number, inherited)))
            elif intent == ASK:
                questions = req.questions or [
                    a.get("question")
                    for n, a in conv.last_calls
                    if n == "answer_question" and a.get("question")
                ]
                for number in faces_for_others:
                    for question in questions[:3] or [text or "Describe the face."]:
                        wanted.append(
                            (name, _with_face({"image_id": image_id, "question": question}, number))
                        )
            elif intent == DESCRIBE:
                for number in faces_for_others:
                    wanted.append((name, _with_face({"image_id": image_id}, number)))
    _describe_faces(plan, conv, image_ids)
    lookups = [c for c in lookups if c[0] in available]
    pending = [c for c in lookups if c not in ran]
    if pending:
        plan.calls, plan.lookup = pending, True
        return plan
    if len(wanted) > MAX_CALLS:
        wanted = wanted[:MAX_CALLS]
        plan.notes.append(
            f"I ran the first {MAX_CALLS} of the requested analyses; ask for the rest separately."
        )
    plan.calls = [c for c in wanted if c not in ran and not _covered(c, ran)]
    plan.lookups = [c for c in ran if c not in wanted and not any(_covered(w, [c]) for w in wanted)]
    if not wanted and not ran:
        plan.reply = " ".join(plan.notes) or small_talk_text("unclear", True)
    return plan


_GO_ON_RE = re.compile(
    r"^\W*(?:ok(?:ay)?|yes|yeah|sure|great|then|so)?[\s,!.]*(?:show\s+(?:me|it|one|us)|let'?s\s+see(?:\s+it)?|do\s+it|"
    r"go\s+ahead|yes\s+please|please\s+do|try\s+it)(?:\s+please)?\W*$",
    re.IGNORECASE,
)


def _go_on(history: Sequence[BaseMessage]) -> list[str]:
    """What "show me" / "go ahead" asks for after a question about the product: its demonstration."""
    previous = [m for m in history if isinstance(m, HumanMessage)]
    if not previous:
        return []
    from agent.knowledge import topic_of

    topic = topic_of(ATTACHMENT_RE.sub("", message_text(previous[-1])).strip())
    if topic in ("gradcam", "faithfulness"):
        return [EXPLAIN]
    if topic:
        return [CLASSIFY]
    return []


def _who(req: Request, history: Sequence[BaseMessage], labels: Sequence[str] | None) -> None:
    """ "Who?" / "which one?" after "is anyone smiling?": the face (or photo) that reads it most."""
    previous = [m for m in history if isinstance(m, HumanMessage)]
    if not previous:
        return
    before = understand(
        ATTACHMENT_RE.sub("", message_text(previous[-1])).strip(), tuple(labels) if labels else None
    )
    emotion = before.comparative or before.target or (before.emotions[0] if before.emotions else None)
    if emotion:
        req.intents, req.shape, req.comparative, req.compare = [CLASSIFY], "rank", emotion, True
        req.emotions = [emotion]
        req.image = req.image or "all"


def _covered(call: Call, ran: Sequence[Call]) -> bool:
    """True when a call's result is already in this turn's results (a classification of every face
    covers one of its faces)."""
    name, args = call
    if name != "classify_emotion" or "face" not in args:
        return False
    return any(n == name and a.get("image_id") == args["image_id"] and a.get("face") is None for n, a in ran)


def _describe_faces(plan: Plan, conv: Conversation, image_ids: Sequence[str]) -> None:
    for image_id in image_ids:
        found = conv.face_map(image_id)
        if found is not None and found.count > 1:
            for f in found.faces:
                plan.where[(image_id, f.number)] = f.where()


def _with_face(args: dict[str, Any], face: int | None) -> dict[str, Any]:
    """The call's arguments with ``face`` when one is named (none: the tool takes the most prominent)."""
    if face is not None:
        args["face"] = face
    return args


def _explain_args(
    req: Request, conv: Conversation, image_id: str, face: int | None, inherited: bool
) -> dict[str, Any]:
    args = _with_face({"image_id": image_id}, face)
    last = conv.last("explain_prediction") or {}
    carry = (inherited or req.follow_up) and (last.get("image_id") == image_id or req.face is not None)
    target = req.target or (last.get("target") if carry and not req.versus else None)
    method = req.method or (last.get("method") if carry else None)
    versus = req.versus or (last.get("versus") if carry and not req.target else None)
    if target:
        args["target"] = target
    if versus and versus != target:
        args["versus"] = versus
    if method:
        args["method"] = method
    return args


def _tool_names(tools: Any) -> list[str] | None:
    if tools is None:
        return None
    names = []
    for spec in tools:
        if isinstance(spec, dict):
            names.append(spec.get("function", spec).get("name", ""))
        else:
            names.append(getattr(spec, "name", ""))
    return names


class OfflinePlanner(BaseChatModel):
    """A rule-based chat model that plans tool calls and writes answers from their results.

    Deterministic and offline; the default model of ``ChatSession``. Standard chat-model
    parameters (temperature, max_tokens ...) are accepted and ignored.

    Attributes:
        model_name: the name reported in traces.
        labels: the classifier's labels, to resolve emotions into; basic + compound when None.
        model_info: the classifier's model card (name, architecture, provenance), for questions
            about the model.
    """

    model_name: str = "offline-planner"
    labels: list[str] | None = None
    model_info: dict[str, Any] | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    stop: list[str] | None = None
    max_retries: int | None = None
    api_key: str | None = None
    streaming: bool = False

    @property
    def _llm_type(self) -> str:
        return "face-agent-offline-planner"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "ls_provider": "face_agent",
            "ls_model_name": kwargs.get("model", self.model_name),
            "ls_model_type": "chat",
        }
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Runnable:
        """Binds tools (any format ``convert_to_openai_tool`` accepts); the planner calls only these."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = _tool_names(kwargs.get("tools"))
        last_human, _ = _split_turn(messages)
        turn = messages[last_human + 1 :] if last_human >= 0 else []
        # --- video (issue 14): a frame taken from a video is analysed next, in the same turn ---
        follow = video_follow_up(messages, self.labels, tools) if turn else []
        if follow:
            calls = [
                {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
                for name, args in follow
            ]
            return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=calls))])
        # --- end video ---
        steps = sum(1 for m in turn if isinstance(m, AIMessage) and m.tool_calls)
        plan = plan_turn(messages, self.labels, tools, self.model_info)
        if plan.calls and steps < MAX_STEPS:
            calls = [
                {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
                for name, args in plan.calls
            ]
            message = AIMessage("", tool_calls=calls)
        elif any(isinstance(m, ToolMessage) for m in turn):
            message = AIMessage(self._answer(plan, turn, messages))
        else:
            message = AIMessage(plan.reply or "")
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _answer(self, plan: Plan, turn: Sequence[BaseMessage], messages: Sequence[BaseMessage]) -> str:
        _, images = _split_turn(messages)
        results = collect_results(turn)
        return compose_answer(
            results,
            plan.request,
            images,
            plan.notes,
            where=plan.where,
            chosen=plan.chosen,
            lookups=plan.lookups,
        )
