"""Planning requests about photos: which tools to call, on which photos and faces.

``plan_photos`` turns an understood request (``agent.understanding``) and the discourse state
(``agent.discourse``) into tool calls. The references are resolved first (photos by ordinal, name
or content; faces by number, position or emotion); when a face can only be placed once the faces are
listed, the first call looks them up (``find_faces`` or ``classify_emotion``) and the calls that needed
them follow in the same turn. A person named by appearance ("the guy in sunglasses") cannot be placed
by any offline model: the plan shows the numbered photo and asks which number, and the next message
("number 2") carries the waiting request out for that face.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.discourse import Call, Conversation, Resolution, resolve_face, resolve_images
from agent.understanding.rules import ASK, CLASSIFY, DESCRIBE, EXPLAIN, LOCATE, Request

__all__ = [
    "Plan",
    "plan_photos",
    "TOOL_OF",
    "INTENT_OF",
    "MAX_CALLS",
    "MISSING",
    "canonical_questions",
    "covered",
]

TOOL_OF = {
    CLASSIFY: "classify_emotion",
    EXPLAIN: "explain_prediction",
    ASK: "answer_question",
    DESCRIBE: "describe_face",
    LOCATE: "find_faces",
}
INTENT_OF = {v: k for k, v in TOOL_OF.items()}
MAX_CALLS = 12  # per turn; "explain every face of five photos" is not a chat request
MISSING = {
    "explain_prediction": "I can't show heatmaps here: the explanation tool is not available.",
    "answer_question": "I can't answer questions about the face here: the question tool is not available.",
    "describe_face": "I can't describe the face here: the question tool is not available.",
    "classify_emotion": "I can't read emotions here: the classification tool is not available.",
    "find_faces": "I can't locate faces here: the face-finding tool is not available.",
}


@dataclass
class Plan(Resolution):
    """What the planner will do with one request.

    Attributes:
        request: the understood message.
        calls: tool calls (name, args) still to make this turn, in order; empty when ``reply``
            answers directly or when every call has run.
        reply: a direct answer (help, small talk, a decline, a question back, no photo), or None.
        notes: sentences for the end of the final answer (a missing tool, only one photo to compare ...).
        lead: a sentence for the start of the final answer (the question back when a person was named
            by appearance; a decline next to the analysis of a new upload).
        where: (image id, face number) -> the face's position in words ("on the left").
        chosen: how a face named by position or emotion was resolved.
        lookup: True when ``calls`` only look up faces that the request refers to.
        lookups: calls of this turn that only looked up faces (their results are not reported).
        pending: the request waiting for the user to say which face they meant (kept in the answer's
            message, read back by ``agent.discourse``).
        declined: the boundary category when the request was declined.
    """

    request: Request | None = None
    lead: str = ""
    lookup: bool = False
    lookups: list[Call] = field(default_factory=list)
    pending: dict[str, Any] | None = None
    declined: str | None = None
    declined_media: list[str] = field(default_factory=list)

    @property
    def tools(self) -> list[str]:
        """The tool names of ``calls``, in order."""
        return [name for name, _ in self.calls]


# --- questions for the face answerer ------------------------------------------------------------

_FEATURE_WORDS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("smile", re.compile(r"\bsmil\w*|\bgrin\w*|\blaugh\w*", re.I), "Is the person smiling?"),
    (
        "eyes",
        re.compile(r"\beyes?\b|\beyelids?\b|\bblink\w*|\bsquint\w*|\bwink\w*|\bsleepy\b", re.I),
        "Are the eyes open?",
    ),
    (
        "mouth",
        re.compile(r"\bmouths?\b|\blips?\b|\bteeth\b|\bjaw\b|\bpout\w*|\bshout\w*|\byell\w*", re.I),
        "Is the mouth open?",
    ),
    (
        "brows",
        re.compile(r"\b(?:eye)?brows?\b|\bforehead\b|\bfrown\w*", re.I),
        "What are the eyebrows doing?",
    ),
    (
        "head",
        re.compile(
            r"\bhead\b|\btilt\w*|\bturned\b|\bfacing\b|\bcamera\b|\blooking\s+(?:at|away|down|up)\b", re.I
        ),
        "Which way is the head turned?",
    ),
)
_GROUP_FEATURE = re.compile(
    r"\b(?:who|whose|anyone|any1|anybody|everyone|every1|everybody|each|all\s+of\s+them|more\s+people|how\s+many|"
    r"which\s+(?:one|person|face|of\s+them|photo|picture|pic|shot))\b|\b(?!best\b)\w+est\b|\bmost\b",
    re.I,
)
_ONE_PERSON = re.compile(r"\b(?:she|he|her|him|his|she's|he's)\b", re.I)
_FEELING = re.compile(r"\bsmil\w*|\bgrin\w*|\blaugh\w*|\bhapp\w*|\bcheer\w*", re.I)
_COMPARING = re.compile(
    r"\b(?:who|whose|which|compare|comparing|between|more|most|less|least|bigger|biggest|wider|widest|"
    r"higher|highest|anyone|any1|anybody|everyone|every1|everybody|each|all)\b|\w+est\b",
    re.I,
)


def canonical_questions(question: str) -> list[str]:
    """The question as the per-face answerer should get it.

    A comparison ("who has the wider-open eyes?", "who's smiling the most?") or a question about
    several features ("describe what her brows and mouth are doing") is asked of each face as one
    plain question per feature ("Are the eyes open?"); anything else is passed as written.
    """
    features = [(name, plain) for name, pattern, plain in _FEATURE_WORDS if pattern.search(question)]
    if not features:
        from tools.vqa import parse_question

        cleaned = _PERSON_NOUN.sub("the person", question)
        intent = parse_question(cleaned)
        if intent.name == "unknown" or (intent.name == "out_of_scope" and intent.target not in _SAY_WHY):
            # "why did he put his hand on his chin?": no feature named; what the face shows is the answer
            return ["Describe the face."]
        return [cleaned]  # "does she wear glasses?": the answerer says what it can and cannot see
    features = [(name, _plain_question(name, question, plain)) for name, plain in features]
    if (
        len(features) > 1
        and re.search(r"\band\b|\bor\b|,|\bboth\b", question, re.I)
        and not re.search(r"\b(?:smil\w*|grin\w*)\s+with\s+teeth\b", question, re.I)
    ):
        return [plain for _, plain in features[:3]]
    if _COMPARING.search(question):
        return [features[0][1]]
    from tools.vqa import parse_question

    cleaned = _PERSON_NOUN.sub("the person", question)
    if parse_question(cleaned).name in ("mouth", "teeth", "smile", "eyes", "brows", "head"):
        return [cleaned]  # the answerer reads it as written (keeps "closed?" and the like)
    return [features[0][1]]  # "he's yelling, right?": the plain question about that feature


def _plain_question(feature: str, question: str, plain: str) -> str:
    """The plain question for a feature, keeping which state was asked about ("squinting", "closed")."""
    q = question.lower()
    if feature == "eyes":
        if re.search(r"squint|narrow", q):
            return "Is the person squinting?"
        if re.search(r"clos|shut|blink|asleep|sleep", q):
            return "Are the eyes closed?"
    if feature == "mouth" and re.search(r"clos|shut|pressed", q):
        return "Is the mouth closed?"
    if feature == "mouth" and re.search(r"\bteeth\b", q):
        return "Are the teeth showing?"
    if feature in ("smile", "brows") and re.search(r"frown", q):
        return "Is the person frowning?"
    return plain


def feature_name(question: str) -> str | None:
    """The facial feature a question is about (``smile``, ``eyes``, ``mouth``, ``brows``, ``head``), or None."""
    return next((name for name, pattern, _ in _FEATURE_WORDS if pattern.search(question)), None)


# Things on a face the answerer cannot see but can say something useful about (the answer says it).
_SAY_WHY = {"glasses", "makeup", "facial hair", "headwear", "hair", "jewellery", "clothes", "skin", "teeth"}

# Words the face answerer would take for a question about who someone is or their gender.
_PERSON_NOUN = re.compile(
    r"\b(?:this|that|the)\s+(?:\w+\s+)?(?:man|woman|guy|girl|lady|boy|kid|officer|soldier|person|dude|gentleman)\b",
    re.I,
)


# --- helpers -------------------------------------------------------------------------------------


def covered(call: Call, ran: Sequence[Call]) -> bool:
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
    if not intents and any(n == "analyze_video" for n in names):
        intents = [CLASSIFY]
    return intents


def intents_for(req: Request, conv: Conversation) -> tuple[list[str], bool]:
    """The intents to act on and whether they were inherited from the last turn."""
    if req.emotion_only and req.follow_up and conv.last("explain_prediction") and not req.compare:
        return [EXPLAIN], True  # "what about sadness?" after a heatmap: the heatmap for sadness
    if req.intents:
        return list(req.intents), False
    sure_analysis = req.act == "analyze" and req.confidence >= 0.5 and not req.small_talk
    closing = req.small_talk in ("thanks", "bye", "greeting", "help") and not (
        req.has_details or req.appearance
    )
    inherits = not closing and (
        req.has_details or req.follow_up or req.appearance is not None or sure_analysis
    )
    if inherits and conv.last_calls:
        return _inherited(conv), True
    if (req.has_details or req.appearance) and conv.images:
        return [CLASSIFY], False
    if (
        req.act == "analyze"
        and req.confidence >= 0.5
        and not req.small_talk
        and conv.images
        and not conv.last_calls
    ):
        return [CLASSIFY], False  # "what's going on with her face?": what the face shows
    return [], False


def _clarify_appearance(req: Request, conv: Conversation, image_id: str) -> str:
    who = (req.appearance or "that person").strip(" ,.?!")
    who = re.sub(r"^(?:the|that|this)\s+", "the ", who, flags=re.I)
    return (
        f"I can't tell which face is {who}: the offline models read expressions, not clothes, hair or "
        f"what people are holding. Here are the faces of {conv.name(image_id)}, numbered — which number "
        'is it? (You can also say "the one on the left", "top right" and so on.)'
    )


# --- the plan ------------------------------------------------------------------------------------


def plan_photos(
    req: Request,
    conv: Conversation,
    plan: Plan,
    text: str,
    intents: list[str],
    inherited: bool,
    ran: Sequence[Call],
    available: set[str],
) -> Plan:
    """Fills ``plan`` with the calls a photo request needs (or a reply when it cannot be done).

    Args:
        req: the understood message.
        conv: the discourse state.
        plan: the plan to fill (its request is ``req``).
        text: the message as written.
        intents: what to do (``classify``, ``explain`` ...), possibly inherited from the last turn.
        inherited: the intents came from the last turn.
        ran: this turn's calls so far (look-ups).
        available: the tools that exist.
    """
    image_ids = resolve_images(req, conv, plan)
    if image_ids is None:
        return plan
    if plan.calls:  # the photos' readings are needed to tell which one the user means
        plan.calls = [c for c in plan.calls if c not in ran]
        if plan.calls:
            plan.lookup = True
            return plan
    same_focus = image_ids == [i for i in conv.focus if i in conv.images]
    each = req.each and DESCRIBE in intents and req.face is None
    if each and CLASSIFY not in intents:
        intents = [CLASSIFY, *intents]  # "describe each person": the emotion and the state of each face
    ranked_feature = (
        ASK in intents and req.face is None and any(_GROUP_FEATURE.search(q) for q in req.questions or [text])
    )
    if ranked_feature and CLASSIFY not in intents and _FEELING.search(text):
        intents = [CLASSIFY, *intents]  # "who's smiling the most?": the readings and the smiles
    every_face = (
        len(req.faces) > 1
        or req.everyone
        or req.anyone
        or each
        or (len(image_ids) == 1 and (req.compare or req.shape == "rank") and req.face is None)
        or (ranked_feature and req.face is None)
    )
    wanted: list[Call] = []
    lookups: list[Call] = []
    for image_id in image_ids:
        face = resolve_face(req, conv, image_id, plan)
        if plan.reply:
            return plan
        if face in ("find", "classify"):
            lookup: Call = ("find_faces" if face == "find" else "classify_emotion", {"image_id": image_id})
            if lookup not in ran:
                lookups.append(lookup)
                continue
            face = None  # looked up and still unknown (no face, or the look-up failed): the tools will say
        count = conv.count(image_id)
        if req.appearance and face is None and not every_face and len(image_ids) == 1:
            if count is None:
                lookups.append(("find_faces", {"image_id": image_id}))
                continue
            if count > 1:
                # a person named by appearance: show the numbered faces and ask which one
                plan.lead = _clarify_appearance(req, conv, image_id)
                plan.pending = {"text": req.text, "image": image_id, "appearance": req.appearance}
                if ("find_faces", {"image_id": image_id}) not in ran:
                    wanted.append(("find_faces", {"image_id": image_id}))
                else:
                    plan.lookups = []
                continue
        default_face = face or (conv.face if same_focus else None)  # None: the tools take the most prominent
        if count is not None and default_face is not None and default_face > count:
            default_face = None
        per_face_all = every_face and face is None and any(i in (EXPLAIN, ASK, DESCRIBE) for i in intents)
        if per_face_all and count is None and LOCATE not in intents:
            lookups.append(("find_faces", {"image_id": image_id}))
            continue
        faces_for_others = list(range(1, (count or 1) + 1)) if per_face_all else [default_face]
        if (
            per_face_all
            and EXPLAIN in intents
            and len(faces_for_others) > 1
            and not (req.everyone or req.each)
        ):
            faces_for_others = faces_for_others[:1]
        for intent in intents:
            name = TOOL_OF[intent]
            if name not in available:
                if MISSING[name] not in plan.notes:
                    plan.notes.append(MISSING[name])
                continue
            if intent == LOCATE:
                wanted.append((name, {"image_id": image_id}))
            elif intent == CLASSIFY:
                args: dict[str, Any] = {"image_id": image_id}
                if face is not None and not every_face:
                    args["face"] = face
                elif req.report and face is None and (count or 0) > 1:
                    _with_face(args, default_face or conv.prominent(image_id))
                elif (
                    face is None
                    and not every_face
                    and default_face
                    and (count or 0) > 1
                    and (inherited or _ONE_PERSON.search(text))
                ):
                    args["face"] = default_face  # "and the emotion?", "is she surprised?": the face in focus
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
                plain: list[str] = []
                for question in questions[:3] or [text or "Describe the face."]:
                    for q in canonical_questions(question):
                        if q not in plain and not any(
                            feature_name(q) and feature_name(q) == feature_name(p) for p in plain
                        ):
                            plain.append(q)
                if len(plain) > 1 and len(faces_for_others) * len(plain) > 4 and "describe_face" in available:
                    # several features of several faces: one description per face holds them all
                    for number in faces_for_others:
                        call = ("describe_face", _with_face({"image_id": image_id}, number))
                        if call not in wanted:
                            wanted.append(call)
                    continue
                for number in faces_for_others:
                    for question in plain[:3]:
                        wanted.append(
                            (name, _with_face({"image_id": image_id, "question": question}, number))
                        )
            elif intent == DESCRIBE:
                for number in faces_for_others:
                    wanted.append((name, _with_face({"image_id": image_id}, number)))
    _describe_faces(plan, conv, image_ids)
    lookups = [c for c in lookups if c[0] in available]
    waiting = [c for c in lookups if c not in ran]
    if waiting:
        plan.calls, plan.lookup = waiting, True
        return plan
    if len(wanted) > MAX_CALLS:
        wanted = wanted[:MAX_CALLS]
        plan.notes.append(
            f"I ran the first {MAX_CALLS} of the requested analyses; ask for the rest separately."
        )
    plan.calls = [c for c in wanted if c not in ran and not covered(c, ran)]
    plan.lookups = [c for c in ran if c not in wanted and not any(covered(w, [c]) for w in wanted)]
    if plan.pending:
        plan.lookups = []  # the numbered photo is the answer
    return plan


def pending_request(req: Request, conv: Conversation, understand_again: Any) -> bool:
    """Carries a waiting request out when this message names the face it was waiting for.

    Returns True when ``req`` was completed from ``conv.pending`` (its intents and emotions).
    """
    pending = conv.pending
    if not pending or req.intents or req.knowledge or req.small_talk == "refuse":
        return False
    names_face = req.face is not None or req.generic_one is not None
    if not names_face:
        return False
    text = str(pending.get("text", ""))
    if pending.get("appearance"):  # the words that named the person are not what was asked
        text = re.sub(
            re.escape(str(pending["appearance"])).replace(r"\ with", r"\s+w(?:ith|/)?"), " ", text, flags=re.I
        )
        text = re.sub(r"\b(?:is|was)\s+(?=[,.?!-]|$)", " ", text)
    before: Request = understand_again(" ".join(text.split()))
    req.intents = list(before.intents) or [CLASSIFY]
    req.questions = list(before.questions)
    for name in ("target", "versus", "comparative", "shape", "method"):
        if getattr(req, name) in (None, []):
            setattr(req, name, getattr(before, name))
    req.emotions = req.emotions or list(before.emotions)
    if pending.get("image") in conv.images and not req.image_refs:
        req.image_refs, req.image = [pending["image"]], pending["image"]
    req.appearance = None
    return True
