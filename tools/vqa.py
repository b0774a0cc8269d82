"""Questions about a face: "Is the mouth open?", "Describe the eyes", "Is she smiling?".

``FaceQA`` answers with one of two backends:

- ``geometry`` (always available): the 68 landmarks of ``tools.landmarks`` (MediaPipe FaceMesh's by
  default; ``FACE_AGENT_LANDMARKS`` or ``landmarks=`` picks dlib's or face-api's) measured by
  ``tools.geometry`` (mouth, teeth, smile, eyes, brows, head pose), normalised for face size, roll
  and yaw and the same for a photo and its mirror image. It says plainly when a question is beyond
  landmarks (hair, glasses, age ...) and when a face is too small to tell a state, and why.
  **One face, one story**: when the classifier reads a face happy (>= ``HAPPY_CONFIDENT``) but the
  mouth corners measure level, the smile is measured again with a second landmark model on a
  larger crop; if that also finds no smile the answer says so and why (a closed-lip smile, a small
  or turned face) rather than a bare "no".
- ``blip``: BLIP-VQA (``tools.blip``) when its weights are on this machine or a download was
  opted into; it answers open questions about anything visible. Its image embedding is computed
  once per image and face and reused for follow-up questions. Where the landmarks measure the same
  thing (mouth, teeth, smile, eyes, brows, head), BLIP's yes/no is checked against them and a
  disagreement is said in the answer.

Questions about the emotion itself ("what is she feeling?", "is he angry?") go to the emotion
classifier whichever backend is set (``backend="classifier"`` on the answer). Questions this product
does not answer about anyone (age, gender, origin, identity, looks, lying, health, personality,
intentions: ``tools.boundaries``) are declined before any backend sees them (``backend="policy"``).

Question understanding is deterministic: keyword patterns with synonyms pick the topic (the feature
mentioned first wins), a leading auxiliary verb ("is", "are", "does" ...) makes it a yes/no
question, and state words ("closed", "raised", "tilted" ...) say what is asked about.

Settings come from the constructor, with environment defaults: ``FACE_AGENT_VQA_BACKEND``
(auto|geometry|blip), ``FACE_AGENT_BLIP_MODEL`` (hub id or folder) and ``FACE_AGENT_BLIP_DOWNLOAD``
(1 to allow the ~1.5 GB download).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from tools import boundaries
from tools import geometry as geo
from tools.analysis import AnalysisCache, ImageRecord, default_cache
from tools.blip import BLIP_DOWNLOAD_SIZE, DEFAULT_BLIP_MODEL, BlipVQA, blip_weights_present, is_local_source
from tools.errors import FaceAgentError, InvalidRequestError
from tools.faces import face_numbers, index_of_number
from tools.images import ImageInput
from tools.labels import COMPOUND_PARTS, display_name
from tools.landmarks import face_landmarks, landmark_model_name

__all__ = [
    "Answer",
    "FaceQA",
    "Intent",
    "parse_question",
    "ask",
    "describe",
    "default_faceqa",
    "BACKENDS",
    "DESCRIBE_QUESTIONS",
]

BACKENDS = ("auto", "geometry", "blip")
MAX_QUESTION_CHARS = 500
# What BLIP is asked for a description (it answers one short phrase per question).
DESCRIBE_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("eyes", "are the eyes open?"),
    ("mouth", "is the mouth open?"),
    ("smiling", "is the person smiling?"),
    ("eyebrows", "are the eyebrows raised?"),
    ("head", "which way is the head turned?"),
    ("glasses", "is the person wearing glasses?"),
    ("hair", "what color is the hair?"),
)
_BLIP_HINT = (
    "The BLIP backend can answer this when it is enabled (it needs a one-time download of "
    f"{BLIP_DOWNLOAD_SIZE}: set FACE_AGENT_BLIP_DOWNLOAD=1 or press the app's 'Download BLIP' button)."
)


@dataclass(frozen=True)
class Answer:
    """The answer to one question about one face.

    Attributes:
        question: the question as asked.
        text: the answer for people: a sentence ("Yes, she is smiling: ...") or, from BLIP, the
            normalised short answer ("yes", "open", "2").
        backend: ``geometry``, ``blip`` or ``classifier``.
        evidence: what the answer rests on: the measurements and states (geometry), the raw model
            answer (blip) or the class probabilities (classifier).
        in_scope: False when the backend cannot tell (geometry asked about hair, glasses ...) or the
            question was declined.
        declined: the ``tools.boundaries`` category of a declined question (age, identity ...), or None.
        face_index: the face answered about: its place in the list of faces (0 = most prominent).
        number: that face's number as people see it (reading order, from 1).
    """

    question: str
    text: str
    backend: str
    evidence: dict = field(default_factory=dict)
    in_scope: bool = True
    face_index: int = 0
    number: int = 1
    declined: str | None = None

    @property
    def short(self) -> str:
        """The normalised short answer: ``yes``/``no`` for yes-no questions, the state for open ones
        (``closed``, ``slightly open``, ``broad``, ``raised`` ...), BLIP's normalised word, the emotion
        label for emotion questions; empty when out of scope or when no single word fits."""
        if not self.in_scope:
            return ""
        first = self.text.replace(";", ",").split(",")[0].split(".")[0].strip().lower()
        if first in ("yes", "no"):
            return first
        if self.backend == "classifier":
            return str(self.evidence.get("label", ""))
        if self.backend == "blip":
            word = self.text.strip().rstrip(".").lower()
            return word if len(word.split()) <= 3 else ""
        reading, feature = self.evidence.get("reading") or {}, self.evidence.get("intent")
        value = reading.get(feature) if feature in ("mouth", "smile", "teeth", "eyes", "brows") else None
        return "" if value is None else str(value)

    def to_dict(self) -> dict:
        """Plain-type view for JSON and tool artifacts."""
        return {
            "question": self.question,
            "text": self.text,
            "short": self.short,
            "backend": self.backend,
            "evidence": _plain(self.evidence),
            "in_scope": self.in_scope,
            "face": self.number,
            "declined": self.declined,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


# --- question understanding ------------------------------------------------------------------------


@dataclass(frozen=True)
class Intent:
    """What a question asks.

    Attributes:
        name: ``mouth``, ``smile``, ``eyes``, ``brows``, ``head``, ``emotion``, ``describe``,
            ``out_of_scope`` or ``unknown``.
        yes_no: whether it is a yes/no question.
        target: the state asked about ("closed", "raised", "tilted" ...), the emotion label for
            ``emotion`` questions, the topic ("hair", "glasses" ...) for ``out_of_scope``; or None.
        subject: how to refer to the person: ``she``, ``he``, ``they`` or ``the person``.
        person_frame: for left/right questions, whether "left" means the person's own left
            ("her left") rather than the picture's.
        side: ``left`` or ``right`` when the question names a side ("tilted to the left"), else None.
    """

    name: str
    yes_no: bool = False
    target: str | None = None
    subject: str = "the person"
    person_frame: bool = False
    side: str | None = None


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})\b")


# Beyond landmarks, in the order they are checked (glasses before clothes: "wearing glasses").
_OUT_OF_SCOPE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("hair", _rx(r"hair\w*|bald\w*|blond\w*|brunette|ginger|ponytail|fringe|bangs|curls|curly|haircut")),
    ("glasses", _rx(r"glasses|spectacles|specs|eyewear|sunglasses|goggles|lenses|monocle")),
    ("facial hair", _rx(r"beard\w*|mo?ustache\w*|stubble|goatee|sideburns|clean[- ]shaven|shaved|shaven")),
    ("makeup", _rx(r"make[- ]?up|lipstick|mascara|eyeliner|eye ?shadow|cosmetics|blush|rouge")),
    ("jewellery", _rx(r"jewell?e?ry|earrings?|necklace|piercings?|pierced|bracelet|rings?")),
    ("headwear", _rx(r"hat|cap|helmet|hood|headscarf|scarf|bandana|veil|hijab|turban")),
    (
        "clothes",
        _rx(r"cloth\w*|wear\w*|wore|shirt|t-shirt|dress\w*|jacket|suit|uniform|collar|tie|outfit|coat"),
    ),
    ("age", _rx(r"age|aged|old|older|young|younger|years|elderly|teen\w*|child|kid|baby|adult")),
    (
        "gender",
        _rx(
            r"gender|sex|male|female|man or (?:a )?woman|woman or (?:a )?man|(?:is|it|this|that) (?:a )?(?:man|woman|boy|girl|guy|lady)"
        ),
    ),
    ("skin", _rx(r"skin\w*|complexion|freckles?|wrinkles?|wrinkled|tanned|pale|acne|scars?|tattoos?|moles?")),
    ("identity", _rx(r"who|name|famous|celebrity|identity|ethnicity|race|nationality|recogni[sz]e")),
    ("colour", _rx(r"colou?rs?|colou?red|red|blue|green|brown|hazel|grey|gray|black|white|purple|pink")),
    ("dental work", _rx(r"braces|dental|fillings?|dentures?")),
    (
        "background",
        _rx(r"background|behind|setting|scene|room|outdoors?|indoors?|location|taken|surroundings"),
    ),
    ("other people", _rx(r"how many|people|persons|crowd")),
    ("objects", _rx(r"holding|hands?|microphone|phone|flag|mask")),
)
_TOPIC_PHRASES = {
    "hair": "anything about hair",
    "glasses": "whether glasses are worn",
    "facial hair": "beards or moustaches",
    "makeup": "makeup",
    "jewellery": "jewellery",
    "headwear": "hats or headwear",
    "clothes": "clothing",
    "age": "age",
    "gender": "gender",
    "skin": "skin or marks on it",
    "identity": "who someone is",
    "colour": "colours",
    "dental work": "dental work such as braces",
    "background": "the background or setting",
    "other people": "how many people there are",
    "objects": "objects or hands",
}

_FEATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("teeth", _rx(r"teeth|tooth|toothy")),
    ("smile", _rx(r"smil\w*|grin\w*|beam\w*|smirk\w*|laugh\w*")),
    ("mouth", _rx(r"mouth\w*|lips?|jaw|agape|gap(?:e|es|ing)|yawn\w*|talking|speaking|open[- ]mouthed")),
    (
        "eyes",
        _rx(
            r"eyes?|eyelids?|lids|blink\w*|wink\w*|squint\w*|wide[- ]eyed|asleep|sleep\w*|peering|eye[- ]?opening"
        ),
    ),
    ("brows", _rx(r"(?:eye)?brows?|forehead|furrow\w*|frown\w*|scowl\w*|knit\w*")),
    (
        "head",
        _rx(
            r"head|tilt\w*|turn(?:ed|ing|s)?|facing|faces|pose|posture|angle|nod\w*|profile|yaw|pitch|roll"
            r"|gaz(?:e|ing)|lean\w*|which way|which direction|direction|chin"
            r"|look(?:s|ing)? (?:up|down|away|left|right|sideways|straight|at|to|towards?|into|ahead|forward)"
            r"|where (?:is|are|does|do) \w+ look\w*"
        ),
    ),
)

_EMOTION_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ["happy", "happiness", "joy", "joyful", "cheerful", "glad", "pleased", "delighted", "content"],
        "happy",
    ),
    **dict.fromkeys(
        ["sad", "sadness", "unhappy", "upset", "sorrowful", "gloomy", "depressed", "miserable"], "sad"
    ),
    **dict.fromkeys(
        ["angry", "anger", "mad", "furious", "annoyed", "irritated", "cross", "enraged"], "angry"
    ),
    **dict.fromkeys(
        ["afraid", "scared", "fear", "fearful", "frightened", "terrified", "anxious", "nervous", "worried"],
        "fear",
    ),
    **dict.fromkeys(
        ["surprised", "surprise", "shocked", "astonished", "amazed", "startled", "stunned"], "surprise"
    ),
    **dict.fromkeys(["disgusted", "disgust", "repulsed", "revolted", "grossed"], "disgust"),
    **dict.fromkeys(["neutral", "calm", "expressionless", "blank", "relaxed"], "neutral"),
    **dict.fromkeys(["contempt", "contemptuous", "scornful"], "contempt"),
}
_EMOTION = _rx(
    r"emotions?|emotional|feel\w*|mood|expression|sentiment|how does \w+ look|how do \w+ look|"
    + "|".join(sorted(_EMOTION_WORDS, key=len, reverse=True))
)
_DESCRIBE = _rx(
    r"describe\w*|description|what (?:do|can) you see|tell me about|what does (?:the |this )?(?:face|she|he|it|the person) look like"
    r"|facial features|the face|summar\w+"
)
_AUX = re.compile(
    r"^(?:is|isn't|are|aren't|am|was|wasn't|were|weren't|does|doesn't|do|don't|did|didn't|can|could|has|hasn't"
    r"|have|haven't|had|will|would|should|may|might)\b"
)
_WH = re.compile(r"^(?:what|which|how|where|why|who|when|describe|tell|explain|show|give|list)\b")

# State words per feature, checked in order; the first that occurs is what a yes/no question asks.
_TARGETS: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    "mouth": (
        ("closed", _rx(r"closed?|shut|together|sealed|pressed")),
        ("wide", _rx(r"wide|gaping|agape|gape|fully|yawn\w*")),
        ("open", _rx(r"open\w*|parted|apart|talking|speaking|ajar")),
    ),
    "smile": (("grin", _rx(r"grin\w*|broad\w*|big|beam\w*|laugh\w*")), ("smile", _rx(r"smil\w*|smirk\w*"))),
    "teeth": (("visible", _rx(r"see|seen|visible|show\w*|bar\w*|any|teeth|tooth")),),
    "eyes": (
        ("wink", _rx(r"wink\w*|one eye")),
        ("squint", _rx(r"squint\w*|narrow\w*|half[- ]closed|half[- ]open|sleepy")),
        ("closed", _rx(r"closed?|shut|blink\w*|asleep|sleeping")),
        ("wide", _rx(r"wide\w*|bulging")),
        ("open", _rx(r"open\w*")),
    ),
    "brows": (
        ("furrowed", _rx(r"furrow\w*|knit\w*|frown\w*|scowl\w*|together|pinched|drawn in")),
        ("raised", _rx(r"raised?|up|lifted|arched|high")),
        ("lowered", _rx(r"lowered|down|low|drawn down")),
    ),
    "head": (
        (
            "up",
            _rx(
                r"(?:looking|tilted|tipped|turned|head|chin) up|upwards?|chin raised|raised|tilted back|back"
            ),
        ),
        ("down", _rx(r"(?:looking|tilted|tipped|turned|head|chin) down|downwards?|lowered|bowed|bent")),
        ("tilted", _rx(r"tilt\w*|lean\w*|cock\w*|slant\w*|askew|crooked")),
        ("frontal", _rx(r"camera|straight|forward|ahead|front|directly|at (?:me|us|the viewer)|frontal")),
        ("turned", _rx(r"turn\w*|away|sideways|profile|averted|rotated")),
        ("left", _rx(r"left")),
        ("right", _rx(r"right")),
    ),
}
_SUBJECTS = (
    ("she", _rx(r"she|her|hers|herself|woman|girl|lady")),
    ("he", _rx(r"he|him|his|himself|man|boy|guy")),
    ("they", _rx(r"they|them|their|theirs|themselves")),
)
_SIDE = _rx(r"left|right")
_PERSON_FRAME = _rx(r"(?:her|his|their|its) (?:own )?(?:left|right)")


def _first(patterns: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> str | None:
    for name, pattern in patterns:
        if pattern.search(text):
            return name
    return None


def _clean(question: str) -> str:
    text = question.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[^\w' -]+", " ", text)
    return " ".join(text.split())


def parse_question(question: str) -> Intent:
    """Works out what a question asks (deterministic keyword rules, no model).

    Args:
        question: the question as a person wrote it.

    Returns:
        The intent: topic, yes/no or open, the state asked about, how to refer to the person.
    """
    text = _clean(question)
    subject = _first(_SUBJECTS, text) or "the person"
    yes_no = bool(_AUX.match(text)) and not _WH.match(text)
    person_frame = bool(_PERSON_FRAME.search(text))

    # Feature words first in the question decide the topic ("are her lips parted in a smile" -> mouth).
    hits = [(m.start(), name) for name, pattern in _FEATURES if (m := pattern.search(text))]
    topic = _first(_OUT_OF_SCOPE, text)
    if topic is not None:
        return Intent("out_of_scope", yes_no, topic, subject)
    if hits:
        name = min(hits)[1]
        target = _first(_TARGETS[name], text)
        side_match = _SIDE.search(text)
        side = side_match.group(0) if side_match else None
        return Intent(name, yes_no and target is not None, target, subject, person_frame, side)
    if _EMOTION.search(text):
        word = next((w for w in text.split() if w in _EMOTION_WORDS), None)
        label = _EMOTION_WORDS.get(word) if word else None
        return Intent("emotion", yes_no and label is not None, label, subject)
    if _DESCRIBE.search(text):
        return Intent("describe", False, None, subject)
    return Intent("unknown", yes_no, None, subject)


# --- phrasing ------------------------------------------------------------------------------------


class _Words:
    """Pronouns for the person a question is about."""

    def __init__(self, subject: str) -> None:
        self.nom = subject
        self.be = "are" if subject == "they" else "is"
        self.poss = {"she": "her", "he": "his"}.get(subject, "their")


def _other(side: str) -> str:
    return "left" if side == "right" else "right"


def _sentence(text: str) -> str:
    text = text.strip()
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


_MOUTH_DESC = {
    "closed": "the mouth is closed (the lips meet)",
    "slightly open": "the mouth is slightly open (the lips are parted)",
    "open": "the mouth is open",
    "wide open": "the mouth is wide open",
}
_EYE_WORD = {
    "closed": "closed",
    "squinting": "narrowed (squinting)",
    "open": "open",
    "wide open": "wide open",
}


def _smile_clause(r: geo.FaceReading) -> str:
    return {
        "broad": "its corners are raised in a broad smile",
        "smile": "its corners are raised in a smile",
        "none": "its corners are level (no smile)",
        "frown": "its corners are turned down",
    }[r.smile]


def _teeth_clause(r: geo.FaceReading) -> str:
    if r.teeth is None:
        return ""
    if r.teeth == "visible":
        return ", with teeth showing"
    return "" if r.mouth == "closed" else ", with no teeth showing"


def _cant_tell(r: geo.FaceReading, state: str, what: str) -> str:
    return _sentence(f"I can't tell {what}: {r.cant_tell.get(state, 'the face is not clear enough')}")


def _eyes_desc(r: geo.FaceReading, w: _Words) -> str:
    if r.eyes is None:
        return f"the eyes can't be read: {r.cant_tell.get('eyes', 'the face is not clear enough')}"
    if r.eyes == "winking":
        side = r.wink_side or "left"
        return (
            f"the eye on the {side} of the picture ({w.poss} {_other(side)} eye) is closed while the other "
            "is open: a wink"
        )
    return f"both eyes are {_EYE_WORD[r.eyes]}"


def _brows_desc(r: geo.FaceReading) -> str:
    state = {
        "raised": "the eyebrows are raised",
        "lowered": "the eyebrows are lowered",
        "neutral": "the eyebrows are in a resting position, neither raised nor lowered",
    }[r.brows]
    return state + (
        ", and drawn together (a frown between them)" if r.furrowed else ", and not drawn together"
    )


def _yaw_phrase(r: geo.FaceReading, w: _Words) -> str:
    if r.yaw == "frontal":
        return "faces the camera"
    side = r.yaw_side or "left"
    degree = "slightly " if r.yaw == "slight" else ""
    return f"is turned {degree}towards the {side} of the picture ({w.poss} {_other(side)})"


def _pitch_phrase(r: geo.FaceReading) -> str:
    return {"level": "is level", "up": "is tilted up (chin raised)", "down": "is tilted down (chin lowered)"}[
        r.pitch
    ]


def _roll_phrase(r: geo.FaceReading, w: _Words) -> str:
    if r.roll == "upright":
        return "is upright"
    side = r.roll_side or "left"
    degree = "slightly " if r.roll == "slight" else ""
    return f"leans {degree}towards the {side} of the picture ({w.poss} {_other(side)} shoulder)"


def _head_desc(r: geo.FaceReading, w: _Words) -> str:
    parts = [_yaw_phrase(r, w), _pitch_phrase(r), _roll_phrase(r, w)]
    return "the head " + ", ".join(parts[:-1]) + " and " + parts[-1]


def _describe_text(r: geo.FaceReading, w: _Words) -> str:
    return " ".join(
        [
            _sentence(_eyes_desc(r, w)),
            _sentence(f"{_MOUTH_DESC[r.mouth]}{_teeth_clause(r)}, and {_smile_clause(r)}"),
            _sentence(_brows_desc(r)),
            _sentence(_head_desc(r, w)),
        ]
    )


def _answer_mouth(intent: Intent, r: geo.FaceReading, w: _Words) -> str:
    desc = _MOUTH_DESC[r.mouth]
    if not intent.yes_no:
        width = {
            "wide": ", stretched wide",
            "narrow": ", drawn narrow (pursed)",
            "medium": ", of ordinary width",
        }[r.mouth_width]
        return _sentence(f"{desc}{width}{_teeth_clause(r)}; {_smile_clause(r)}")
    if intent.target == "closed":
        return _sentence(f"Yes, {desc}" if r.mouth == "closed" else f"No, {desc}")
    if intent.target == "wide":
        return _sentence(f"Yes, {desc}" if r.mouth == "wide open" else f"No, {desc}")
    return {
        "closed": f"No, {desc}.",
        "slightly open": "Yes, slightly open: the lips are parted.",
        "open": "Yes, the mouth is open.",
        "wide open": "Yes, the mouth is wide open.",
    }[r.mouth]


def _answer_smile(intent: Intent, r: geo.FaceReading, w: _Words) -> str:
    if r.smile == "broad":
        teeth = ", showing teeth" if r.teeth == "visible" else ""
        state = f"{w.nom} {w.be} smiling broadly: the mouth corners are raised and the mouth stretched{teeth}"
    elif r.smile == "smile":
        lips = " (a closed-lip smile)" if r.mouth == "closed" else ""
        state = f"{w.nom} {w.be} smiling: the mouth corners are raised{lips}"
    elif r.smile == "frown":
        state = "the mouth corners are turned down, not up"
    else:
        state = "the mouth corners are level, so no smile"
    if not intent.yes_no:
        return _sentence(state)
    if r.smile in ("broad", "smile"):
        if intent.target == "grin" and r.smile == "smile":
            return _sentence(f"Yes, gently: {w.nom} {w.be} smiling, though not broadly")
        return _sentence(f"Yes, {state}")
    return _sentence(f"No, {state}")


def _answer_teeth(intent: Intent, r: geo.FaceReading, w: _Words) -> str:
    if r.teeth is None:
        return _cant_tell(r, "teeth", "whether teeth show")
    if r.teeth == "visible":
        where = " in a smile" if r.smile in ("broad", "smile") else ""
        return _sentence(f"Yes, teeth show between the parted lips{where}")
    if r.mouth == "closed":
        return "No, the lips are closed, so no teeth show."
    return _sentence(f"No, {_MOUTH_DESC[r.mouth]} but no teeth show")


def _answer_eyes(intent: Intent, r: geo.FaceReading, w: _Words) -> str:
    if r.eyes is None:
        return _cant_tell(r, "eyes", "the state of the eyes")
    desc = _eyes_desc(r, w)
    if not intent.yes_no:
        text = _sentence(desc)
        if r.eyes != "winking" and r.eye_left_view != r.eye_right_view:
            text += (
                f" Eye by eye, as seen in the picture: the left one reads {r.eye_left_view}, "
                f"the right one {r.eye_right_view}."
            )
        return text
    asked = {"closed": ("closed",), "squint": ("squinting",), "wide": ("wide open",), "wink": ("winking",)}
    yes_states = asked.get(intent.target or "open", ("open", "wide open", "squinting"))
    if r.eyes in yes_states:
        if intent.target == "open" and r.eyes == "squinting":
            return _sentence(f"Yes, but narrowed: {w.nom} {w.be} squinting")
        return _sentence(f"Yes, {desc}")
    if r.eyes == "winking":
        return _sentence(f"No, only one: {desc}")
    return _sentence(f"No, {desc}")


def _answer_brows(intent: Intent, r: geo.FaceReading, w: _Words) -> str:
    desc = _brows_desc(r)
    if not intent.yes_no:
        return _sentence(desc)
    yes = {"raised": r.brows == "raised", "lowered": r.brows == "lowered", "furrowed": r.furrowed}[
        intent.target or ""
    ]
    return _sentence(f"{'Yes' if yes else 'No'}, {desc}")


def _answer_head(intent: Intent, r: geo.FaceReading, w: _Words) -> str:
    desc = _head_desc(r, w)
    if not intent.yes_no:
        return _sentence(desc + " (judged from the head pose; the landmarks do not track the eyes' gaze)")
    target = intent.target
    # A named side is the picture's unless the question said "her left" etc.
    side = None
    if intent.side is not None:
        side = _other(intent.side) if intent.person_frame else intent.side
    if target == "tilted":
        if side is not None and r.roll != "upright":
            return _sentence(f"{'Yes' if r.roll_side == side else 'No'}, the head {_roll_phrase(r, w)}")
        if side is not None:
            return "No, the head is upright."
        if r.roll != "upright" or r.pitch != "level":
            parts = [
                p
                for p, on in (
                    (_roll_phrase(r, w), r.roll != "upright"),
                    (_pitch_phrase(r), r.pitch != "level"),
                )
                if on
            ]
            return _sentence("Yes, the head " + " and ".join(parts))
        return "No, the head is upright and level."
    if target == "frontal":
        yes = r.yaw == "frontal" and r.pitch == "level"
        return _sentence(f"{'Yes' if yes else 'No'}, {desc}")
    if target in ("up", "down"):
        return _sentence(f"{'Yes' if r.pitch == target else 'No'}, the head {_pitch_phrase(r)}")
    # turned / left / right: the yaw, towards a named side or any.
    yes = r.yaw != "frontal" and (side is None or r.yaw_side == side)
    return _sentence(f"{'Yes' if yes else 'No'}, the head {_yaw_phrase(r, w)}")


_ANSWERERS = {
    "mouth": _answer_mouth,
    "teeth": _answer_teeth,
    "smile": _answer_smile,
    "eyes": _answer_eyes,
    "brows": _answer_brows,
    "head": _answer_head,
}
_FEATURE_THRESHOLDS = {
    "mouth": ("MOUTH_PARTED_GAP", "MOUTH_OPEN_GAP", "TEETH_AREA"),
    "teeth": ("TEETH_AREA",),
    "smile": ("SMILE_WIDTH_WEIGHT", "SMILE_SCORE", "SMILE_MIN_LIFT", "TEETH_AREA"),
    "eyes": ("EYE_CLOSED_EAR", "EYE_NARROWED", "EYE_SMILE_NARROWED", "EYE_WIDE_EAR"),
    "brows": ("BROW_RAISED", "BROW_LOWERED", "BROW_TOGETHER_GAP", "BROW_TOGETHER_INNER"),
    "head": ("YAW_TURNED", "PITCH_OFFSET", "PITCH_UP", "PITCH_DOWN", "ROLL_TILTED"),
}
# The classifier reads a face happy with at least this probability: a smile is expected (see
# FaceQA._one_story), and a confident expression that the measures contradict is said.
HAPPY_CONFIDENT = 0.9
# Under this happy probability a gentle closed-lip "smile" of the corners alone is not read as one.
NOT_HAPPY = 0.02
# emotion -> state -> (its value in that expression, the measure, the typical resting value of the
# measure in THRESHOLDS, the threshold at which the measure alone reads the state). The prototypes of
# the Facial Action Coding System: surprise and fear raise the brows (AU1+2) and the upper lids (AU5);
# anger lowers the brows and draws them together (AU4). When the classifier's own reading (its top
# label) is one of these, the state is read once the measure has gone at least 1 - p of the way from
# the typical resting value to that threshold (p: the classifier's probability; see ``_lean``).
EXPECTED: dict[str, dict[str, tuple[Any, str, str, str]]] = {
    "surprise": {
        "brows": ("raised", "brow_height", "BROW_TYPICAL", "BROW_RAISED"),
        "eyes": ("wide open", "ear_mean", "EAR_TYPICAL", "EYE_WIDE_EAR"),
    },
    "fear": {
        "brows": ("raised", "brow_height", "BROW_TYPICAL", "BROW_RAISED"),
        "eyes": ("wide open", "ear_mean", "EAR_TYPICAL", "EYE_WIDE_EAR"),
    },
    "angry": {
        "brows": ("lowered", "brow_height", "BROW_TYPICAL", "BROW_LOWERED"),
        "furrowed": (True, "brow_inner_gap", "BROW_GAP_TYPICAL", "BROW_TOGETHER_GAP"),
    },
}
_COMPARED = {
    "brows": {True: "higher", False: "lower"},
    "eyes": {True: "wider", False: "narrower"},
    "furrowed": {True: "further apart", False: "closer together"},
}
_STATE_WORDS = {
    ("brows", "raised"): "the brows are raised",
    ("brows", "lowered"): "the brows are lowered",
    ("eyes", "wide open"): "the eyes are wide open",
    ("furrowed", True): "the brows are drawn together",
}
# The landmark model asked for a second measure of a smile the classifier expects (a larger crop and
# another fitting method than dlib's), and the one asked when the default is that model.
SECOND_OPINION = {
    "dlib": "facemesh",
    "facemesh": "dlib",
    "facemesh-base": "dlib",
    "faceapi": "facemesh",
    "faceapi-tiny": "facemesh",
}


# FaceMesh's eyelid points stay a little apart on eyes squeezed shut (aspect 0.15-0.18 where dlib's
# meet, 0.04-0.07): eyes FaceMesh measures narrow are looked at again with dlib for shut lids.
SHUT_EYES_OPINION = {"facemesh": "dlib", "facemesh-base": "dlib"}


# --- the answerer --------------------------------------------------------------------------------


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class FaceQA:
    """Answers questions about a face in a photo.

    Args:
        backend: ``auto`` (BLIP when its weights are on this machine or a download is allowed,
            geometry otherwise), ``geometry`` or ``blip``. None reads ``FACE_AGENT_VQA_BACKEND``
            (default ``auto``).
        blip_model: BLIP hub id or local folder. None reads ``FACE_AGENT_BLIP_MODEL`` (default
            ``Salesforce/blip-vqa-base``).
        allow_download: allow fetching BLIP's weights (~1.5 GB). None reads
            ``FACE_AGENT_BLIP_DOWNLOAD`` (default off).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps`` for BLIP.
        classifier: the emotion classifier for emotion questions (the cached default when None).
        cache: the per-image cache (the process-wide one when None).
        blip: a ready ``BlipVQA`` (e.g. ``BlipVQA.from_model``); selects the BLIP backend.
        landmarks: the landmark model of the geometry (``tools.landmarks.LANDMARK_MODELS``); None
            reads ``FACE_AGENT_LANDMARKS`` (default ``tools.landmarks.DEFAULT_LANDMARKS``).

    Raises:
        InvalidRequestError: an unknown backend or landmark model name.
        ModelUnavailableError: ``blip`` was asked for, its weights are not here and no download
            was allowed (the message says how to opt in).
    """

    def __init__(
        self,
        backend: str | None = "auto",
        blip_model: str | None = None,
        allow_download: bool | None = None,
        device: str = "auto",
        *,
        classifier: Any = None,
        cache: AnalysisCache | None = None,
        blip: BlipVQA | None = None,
        landmarks: str | None = None,
    ) -> None:
        if backend is None or (backend == "auto" and os.environ.get("FACE_AGENT_VQA_BACKEND")):
            backend = os.environ.get("FACE_AGENT_VQA_BACKEND") or "auto"
        backend = backend.strip().lower()
        if backend not in BACKENDS:
            raise InvalidRequestError(f"Unknown VQA backend {backend!r}; use one of: {', '.join(BACKENDS)}.")
        self.landmarks = landmark_model_name(landmarks)
        self.blip_model = blip_model or os.environ.get("FACE_AGENT_BLIP_MODEL") or DEFAULT_BLIP_MODEL
        self.allow_download = (
            _env_flag("FACE_AGENT_BLIP_DOWNLOAD") if allow_download is None else allow_download
        )
        self.cache = cache if cache is not None else default_cache()
        self._classifier = classifier
        self._classifier_lock = threading.Lock()
        self.blip: BlipVQA | None = blip
        if blip is not None:
            backend = "blip"
        elif backend == "auto":
            wanted = blip_weights_present(self.blip_model) or (
                self.allow_download and not is_local_source(self.blip_model)
            )
            backend = "blip" if wanted else "geometry"
        if backend == "blip" and self.blip is None:
            self.blip = BlipVQA(self.blip_model, allow_download=self.allow_download, device=device)
        self.backend_name: str = backend

    @property
    def classifier(self) -> Any:
        """The emotion classifier (loaded on first emotion question)."""
        with self._classifier_lock:
            if self._classifier is None:
                from tools.classifier import default_classifier

                self._classifier = default_classifier()
            return self._classifier

    def ask(self, image: ImageInput | ImageRecord, question: str, face: int | None = None) -> Answer:
        """Answers one question about one face.

        Args:
            image: a path, bytes, PIL image, RGB/gray array or an ``ImageRecord``.
            question: the question in plain English.
            face: the face's number (reading order: left to right, then top to bottom, from 1);
                None for the most prominent face.

        Raises:
            InvalidRequestError: an empty or overlong question, or a face number out of range.
            InvalidImageError, NoFaceError, ModelUnavailableError.
        """
        question = _check_question(question)
        crossed = boundaries.check(question)
        if crossed is not None:  # declined whatever the backend: BLIP would answer "how old is she?"
            evidence = {"boundary": crossed.to_dict()}
            return Answer(question, crossed.text(), "policy", evidence, False, 0, face or 1, crossed.category)
        record = self.cache.get(image)
        index, number = _face_of(record, face)
        intent = parse_question(question)
        if intent.name == "emotion":
            answer = self._ask_classifier(record, question, intent, index)
        elif intent.name == "describe":
            answer = self._describe(record, index, question, _Words(intent.subject))
        elif self.blip is not None:
            answer = self._ask_blip(record, question, intent, index)
        else:
            answer = self._ask_geometry(record, question, intent, index)
        return replace(answer, number=number)

    def describe(self, image: ImageInput | ImageRecord, face: int | None = None) -> Answer:
        """A short paragraph on the eyes, mouth, brows and head pose of one face.

        With the BLIP backend it is made of BLIP's answers to ``DESCRIBE_QUESTIONS``.

        Args:
            image: a path, bytes, PIL image, RGB/gray array or an ``ImageRecord``.
            face: the face's number (reading order, from 1); None for the most prominent face.
        """
        record = self.cache.get(image)
        index, number = _face_of(record, face)
        answer = self._describe(record, index, "Describe the face.", _Words("the person"))
        return replace(answer, number=number)

    def state(
        self, image: ImageInput | ImageRecord, face: int = 0
    ) -> tuple[geo.FaceGeometry, geo.FaceReading, dict]:
        """The measured state of one face as the voice answers from it: the geometry's reading,
        checked against the classifier's (see ``_one_story``).

        Returns:
            (measurements, reading, evidence: box, landmark model, the classifier's reading, notes).
        """
        record = self.cache.get(image)
        measured, reading, where = self._measure(record, face)
        reading, notes, story = self._one_story(record, face, measured, reading)
        return measured, reading, {**where, **story, "notes": [text for _, text in notes]}

    # --- backends ------------------------------------------------------------------------------

    def _measure(
        self, record: ImageRecord, face: int, model: str | None = None
    ) -> tuple[geo.FaceGeometry, geo.FaceReading, dict]:
        """The measurements and states of one face with one landmark model (cached on the record)."""
        name = model or self.landmarks

        def compute() -> tuple[geo.FaceGeometry, geo.FaceReading]:
            found = face_landmarks(record, face, name)
            measured = geo.measure(found.points, record.rgb)
            return measured, geo.read(measured, name)

        measured, reading = record.cached(("geometry", name, face), compute)
        found_face = record.face(face)
        width = found_face.box[2] - found_face.box[0]
        return (
            measured,
            reading,
            {"box": list(found_face.box), "face_width_px": int(width), "landmarks": name},
        )

    def _emotion(self, record: ImageRecord, face: int) -> tuple[str, float, dict[str, float]] | None:
        """(label, its probability, the share of each basic emotion) from the classifier, or None."""
        try:
            p = self.classifier.predict(record)[face]
        except FaceAgentError:  # a missing classifier must not break a geometry answer
            return None
        shares = {e: _label_share(p.probs, e) for e in ("happy", "surprise", "fear", "angry", "disgust")}
        return p.label, p.confidence, {e: v for e, v in shares.items() if v is not None}

    def _one_story(
        self, record: ImageRecord, face: int, measured: geo.FaceGeometry, reading: geo.FaceReading
    ) -> tuple[geo.FaceReading, list[tuple[str, str]], dict]:
        """Checks the measured states against a second landmark model and the classifier's reading
        of the same face.

        - Eyes FaceMesh measures narrow (an aperture under the narrowed threshold of a smiling face)
          are measured again with dlib (``SHUT_EYES_OPINION``), whose eyelid points follow lids
          squeezed shut; when those meet, the eyes are closed. Not on small faces, where a second
          fit of eyes a few pixels tall would cost without telling more.
        - A face read happy (>= ``HAPPY_CONFIDENT``) whose corners measure no smile is measured again
          with a second landmark model (``SECOND_OPINION``: another fitting method on its own crop);
          if that finds the smile, its reading is used, else a note says the two disagree and why.
        - A face whose top label is surprise, fear or anger makes the states of that expression
          likely (``EXPECTED``: raised brows and wide eyes; lowered brows drawn together), the more
          so the surer the classifier is. The evidence is graded, so no probability is a knife edge:
          with probability p the state is read once its measure has gone 1 - p of the way from a
          typical resting face (the median of the labelled development faces) to the threshold at
          which the measure alone reads it (``_lean``), and the note says why; otherwise the second
          landmark model measures it again by the same rule. If neither finds it, the measured
          state stays, and when the classifier is confident (>= ``HAPPY_CONFIDENT``) the note says
          they disagree. Not on small faces (eyes under ``SMALL_FACE_IOD`` px apart), whose
          measures are too rough.
        - A gentle closed-lip smile (corners only) on a face the classifier reads as not happy at all
          (< ``NOT_HAPPY``) is not read as a smile; a broad one on a face read as disgust or anger
          keeps it, with a note: a sneer or a grimace also lifts the corners.

        Returns:
            (the reading to answer from, (feature, note) pairs for the answers, evidence).
        """
        notes: list[tuple[str, str]] = []
        evidence: dict[str, Any] = {}
        limits = geo.THRESHOLDS[reading.model]
        narrow = max(limits["EYE_NARROWED"], limits["EYE_SMILE_NARROWED"])
        if (
            reading.eyes in ("squinting", "open")
            and measured.ear_mean < narrow
            and measured.iod_px >= geo.SMALL_FACE_IOD
            and (second := SHUT_EYES_OPINION.get(reading.model)) is not None
        ):
            # Eyes this narrow by these points may be squeezed shut: their lids stay a little apart.
            remeasured = self._second_measure(record, face, reading.model, second)
            if remeasured is not None:
                again = remeasured[1]
                evidence["second_opinion_eyes"] = {"landmarks": second, "eyes": again.eyes}
                if again.eyes == "closed":
                    reading = replace(
                        reading,
                        eyes="closed",
                        eye_left_view=again.eye_left_view,
                        eye_right_view=again.eye_right_view,
                    )
                    notes.append(
                        (
                            "eyes",
                            f"(The first landmarks found the eyes {_EYE_WORD[str(reading.eyes)]}; measured again with {second} "
                            "landmarks, which follow eyelids squeezed shut, the lids meet.)",
                        )
                    )
        emotion = self._emotion(record, face)
        if emotion is None:
            return reading, notes, evidence
        label, confidence, shares = emotion
        evidence["classifier"] = {"label": label, "confidence": confidence, **shares}
        changed: dict[str, Any] = {}
        happy = shares.get("happy", 0.0)
        if reading.smile not in ("broad", "smile") and happy >= HAPPY_CONFIDENT:
            second = SECOND_OPINION.get(reading.model)
            remeasured = self._second_measure(record, face, reading.model)
            again = None if remeasured is None else remeasured[1]
            if again is not None:
                evidence["second_opinion"] = {"landmarks": second, "smile": again.smile}
            if again is not None and again.smile in ("broad", "smile"):
                changed["smile"] = again.smile
                notes.append(
                    (
                        "smile",
                        f"(A first fit of the landmarks found the mouth corners level; measured again with "
                        f"{second} landmarks on their own crop they are raised, as the expression, read happy "
                        f"({happy:.0%}), suggests.)",
                    )
                )
            else:
                evidence.setdefault("disagreements", []).append("smile")
                notes.append(
                    (
                        "smile",
                        f"But the expression as a whole reads happy ({happy:.0%}), so this may still be a smile "
                        f"the mouth corners do not show: {_no_smile_why(measured, reading)}.",
                    )
                )
        elif reading.smile == "smile" and happy < NOT_HAPPY:
            # Corners raised a little, lips closed, and nothing else of a smile: a sneer, a pout or a
            # resting mouth that curves up. The smile is not read.
            changed["smile"] = "none"
            notes.append(
                (
                    "smile",
                    f"(The mouth corners curve up a little, but the expression as a whole reads "
                    f"{display_name(label)} ({confidence:.0%}) and not happy ({happy:.0%}): not a smile.)",
                )
            )
        elif reading.smile in ("broad", "smile") and happy < 0.1:
            for other in ("disgust", "angry"):
                if shares.get(other, 0.0) >= HAPPY_CONFIDENT:
                    evidence.setdefault("disagreements", []).append("smile")
                    notes.append(
                        (
                            "smile",
                            f"The expression as a whole reads {display_name(other)} ({shares[other]:.0%}), though: "
                            "a sneer or a grimace also lifts the mouth corners.",
                        )
                    )
        for emotion_label, expected in EXPECTED.items():
            share = shares.get(emotion_label, 0.0)
            # Only the classifier's own reading (its top label) implies states; on a small face the
            # measures are too rough to confirm or deny what the expression implies.
            if not _reads_as(label, emotion_label) or measured.iod_px < geo.SMALL_FACE_IOD:
                continue
            reads = f"the expression reads {display_name(emotion_label)} ({share:.0%})"
            for state, (value, measure, typical, threshold) in expected.items():
                if getattr(reading, state) == value or (state == "eyes" and reading.eyes is None):
                    continue
                t = geo.THRESHOLDS[reading.model]
                figure, usual = getattr(measured, measure), t[typical]
                higher = t[threshold] > usual
                what = _STATE_WORDS[(state, value)]
                topic = "eyes" if state == "eyes" else "brows"
                if _lean(figure, usual, t[threshold]) >= 1.0 - share:
                    changed[state] = value
                    notes.append(
                        (
                            topic,
                            f"({what.capitalize()}: {reads}, and they are {_COMPARED[state][higher]} than on "
                            f"a typical resting face, {figure:.2f} against {usual:.2f}.)",
                        )
                    )
                elif (again := self._second_measure(record, face, reading.model)) is not None and (
                    getattr(again[1], state) == value
                    or _lean(
                        getattr(again[0], measure),
                        geo.THRESHOLDS[again[1].model][typical],
                        geo.THRESHOLDS[again[1].model][threshold],
                    )
                    >= 1.0 - share
                ):
                    changed[state] = value
                    notes.append(
                        (
                            topic,
                            f"({what.capitalize()}: {reads}; the first fit of the landmarks did not show it, "
                            f"measured again with {again[1].model} landmarks they are "
                            f"{_COMPARED[state][higher]} than on a typical resting face.)",
                        )
                    )
                elif share >= HAPPY_CONFIDENT:
                    evidence.setdefault("disagreements", []).append(state)
                    notes.append(
                        (
                            topic,
                            f"Though {reads}, in which {what} usually, they measure "
                            + (
                                f"{_COMPARED[state][not higher]} than"
                                if _lean(figure, usual, t[threshold]) < 0
                                else "about as"
                            )
                            + f" on a typical resting face ({figure:.2f} against {usual:.2f}).",
                        )
                    )
        evidence["agrees"] = "disagreements" not in evidence
        if changed:
            evidence["changed_by_expression"] = sorted(changed)
            reading = replace(reading, **changed)
        return reading, notes, evidence

    def _second_measure(
        self, record: ImageRecord, face: int, model: str, second: str | None = None
    ) -> tuple[geo.FaceGeometry, geo.FaceReading] | None:
        """The face measured with ``second``, by default the second landmark model of ``model``
        (``SECOND_OPINION``); None when there is none or it fails."""
        second = second or SECOND_OPINION.get(model)
        if second is None:
            return None
        try:
            measured, reading, _ = self._measure(record, face, second)
        except FaceAgentError:
            return None
        return measured, reading

    def _ask_geometry(self, record: ImageRecord, question: str, intent: Intent, face: int) -> Answer:
        words = _Words(intent.subject)
        evidence: dict[str, Any] = {"intent": intent.name, "target": intent.target}
        if intent.name in _ANSWERERS:
            measured, reading, where = self._measure(record, face)
            evidence.update(where)
            notes: list[str] = []
            if intent.name in ("smile", "eyes", "brows"):
                reading, story_notes, story = self._one_story(record, face, measured, reading)
                evidence.update(story)
                notes = [text for topic, text in story_notes if topic == intent.name]
            text = _ANSWERERS[intent.name](intent, reading, words)
            asked = "furrowed" if intent.name == "brows" and intent.target == "furrowed" else intent.name
            if asked in evidence.get("disagreements", ()):
                text = _hedged(text, intent)
            if notes:
                text += " " + " ".join(notes)
            text += _small_face_note(measured)
            limits = geo.THRESHOLDS[reading.model]
            evidence.update(
                measurements=measured.to_dict(),
                reading=reading.to_dict(),
                thresholds={k: limits[k] for k in _FEATURE_THRESHOLDS[intent.name] if k in limits},
                figures=_figures(measured, reading),
            )
            return Answer(question, text, "geometry", evidence, True, face)
        if intent.name == "out_of_scope":
            what = _TOPIC_PHRASES.get(intent.target or "", "that")
            text = (
                f"The face geometry cannot tell {what}: the landmarks only measure the eyes, eyebrows, "
                f"mouth, teeth and head pose. {_BLIP_HINT}"
            )
        else:
            text = (
                "I can't tell that from the facial landmarks. They answer whether the mouth is open, "
                "whether teeth show, whether the person smiles, whether the eyes are open, closed or "
                "squinting, what the eyebrows do and how the head is turned or tilted; the emotion comes "
                "from the classifier. " + _BLIP_HINT
            )
        return Answer(question, text, "geometry", evidence, False, face)

    def _geometry_check(self, record: ImageRecord, question: str, face: int) -> dict[str, Any] | None:
        """The geometry's answer to a question BLIP answered, and whether the two agree (yes/no ones)."""
        intent = parse_question(question)
        if intent.name not in _ANSWERERS:
            return None
        _, reading, _ = self._measure(record, face)
        text = _ANSWERERS[intent.name](intent, reading, _Words(intent.subject))
        first = text.replace(",", " ").replace(".", " ").split()[0].lower() if text else ""
        check: dict[str, Any] = {"text": text}
        if intent.yes_no and first in ("yes", "no"):
            check["answer"] = first
        return check

    def _ask_blip(self, record: ImageRecord, question: str, intent: Intent, face: int) -> Answer:
        assert self.blip is not None
        answer, raw, view = self.blip.answer(record, question, face)
        evidence: dict[str, Any] = {
            "raw": raw,
            "model": self.blip.model_id,
            "view": view,
            "intent": intent.name,
        }
        text = answer or "no answer"
        # The landmarks measure the same thing exactly: their reading checks BLIP's.
        check = self._geometry_check(record, question, face)
        if check is not None:
            evidence["geometry"] = check["text"]
            said = (answer or "").strip().lower()
            if "answer" in check and said in ("yes", "no"):
                evidence["agrees"] = said == check["answer"]
                if not evidence["agrees"]:
                    text = f"{text} (BLIP's answer). The landmarks measure otherwise: {check['text']}"
        return Answer(question, text, "blip", evidence, True, face)

    def _describe(self, record: ImageRecord, face: int, question: str, words: _Words) -> Answer:
        if self.blip is not None:
            answers = {}
            raws = {}
            for topic, q in DESCRIBE_QUESTIONS:
                answers[topic], raws[topic], view = self.blip.answer(record, q, face)
            text = "; ".join(f"{topic}: {answers[topic] or '?'}" for topic, _ in DESCRIBE_QUESTIONS) + "."
            evidence: dict[str, Any] = {
                "answers": answers,
                "raw": raws,
                "model": self.blip.model_id,
                "view": view,
            }
            checks, disagreements = {}, []
            for topic, q in DESCRIBE_QUESTIONS:
                check = self._geometry_check(record, q, face)
                if check is None:
                    continue
                said = (answers[topic] or "").strip().lower()
                agrees = (
                    None if "answer" not in check or said not in ("yes", "no") else said == check["answer"]
                )
                checks[topic] = {"geometry": check["text"], "agrees": agrees}
                if agrees is False:
                    disagreements.append(f"{topic}: {check['text']}")
            evidence["geometry"] = checks
            text = _sentence(text)
            if disagreements:
                text += " The landmarks measure otherwise for " + " ".join(disagreements)
            return Answer(question, text, "blip", evidence, True, face)
        measured, reading, where = self._measure(record, face)
        reading, story_notes, story = self._one_story(record, face, measured, reading)
        notes = [text for _, text in story_notes]
        evidence = {
            "measurements": measured.to_dict(),
            "reading": reading.to_dict(),
            "thresholds": dict(geo.THRESHOLDS[reading.model]),
            "figures": _figures(measured, reading),
            **where,
            **story,
        }
        text = _describe_text(reading, words) + "".join(" " + n for n in notes) + _small_face_note(measured)
        return Answer(question, text, "geometry", evidence, True, face)

    def _ask_classifier(self, record: ImageRecord, question: str, intent: Intent, face: int) -> Answer:
        predictions = self.classifier.predict(record)
        if not 0 <= face < len(predictions):
            record.face(face)  # raises the project's out-of-range error
        p = predictions[face]
        ranked = p.ranked()
        reading = f"the classifier reads {display_name(p.label)} ({p.confidence:.0%})"
        if len(ranked) > 1:
            reading += f", then {display_name(ranked[1][0])} ({ranked[1][1]:.0%})"
        evidence: dict[str, Any] = {
            "label": p.label,
            "confidence": p.confidence,
            "probs": dict(p.probs),
            "model": p.model,
        }
        if p.compound is not None and p.compound.label:
            evidence["compound"] = p.compound.to_dict()
        target = intent.target
        if not intent.yes_no or target is None:
            text = _sentence(reading)
            if p.compound is not None and p.compound.label and p.label != "neutral":
                text += f" Compound reading: {p.compound.describe()}."
            return Answer(question, text, "classifier", evidence, True, face)
        share = _label_share(p.probs, target)
        evidence["asked"] = {"label": target, "probability": share}
        if share is None:
            text = _sentence(f"The model has no '{display_name(target)}' class; {reading}")
        elif p.label == target or (p.label in COMPOUND_PARTS and target in COMPOUND_PARTS[p.label]):
            text = _sentence(f"Yes, {reading}")
        else:
            text = _sentence(f"No, {reading}; {display_name(target)} gets {share:.0%}")
        return Answer(question, text, "classifier", evidence, True, face)


def _face_of(record: ImageRecord, number: int | None) -> tuple[int, int]:
    """(list index, reading-order number) of the face people call ``number`` (None: the most
    prominent one)."""
    faces = record.faces
    index = index_of_number(faces, number)
    return index, face_numbers(faces)[index]


def _small_face_note(measured: geo.FaceGeometry) -> str:
    if measured.iod_px >= geo.SMALL_FACE_IOD:
        return ""
    return (
        f" The face is small in this photo (its eyes are {measured.iod_px:.0f} px apart), so this is a "
        "rough reading."
    )


def _no_smile_why(measured: geo.FaceGeometry, reading: geo.FaceReading) -> str:
    """Why a face the classifier reads happy may measure no smile, from what was measured."""
    if measured.iod_px < geo.SMALL_FACE_IOD:
        return (
            f"the face is small (its eyes are {measured.iod_px:.0f} px apart), so the mouth corners are "
            "placed within a pixel or two"
        )
    if abs(measured.yaw_deg) >= geo.THRESHOLDS[reading.model]["YAW_TURNED"]:
        return f"the head is turned ({abs(measured.yaw_deg):.0f} degrees), which hides one mouth corner"
    if reading.mouth == "closed":
        return "a closed-lip smile lifts the corners only a little, and here they measure almost level"
    return "the eyes and cheeks can smile while the mouth corners stay level"


def _reads_as(label: str, emotion: str) -> bool:
    """Whether the classifier's top label is ``emotion`` or a compound class containing it."""
    return label == emotion or emotion in COMPOUND_PARTS.get(label, ())


def _lean(figure: float, typical: float, threshold: float) -> float:
    """How far a measure lies from a typical resting face towards a state's threshold: 0 at the
    typical value, 1 at the threshold (where the measure alone reads the state), negative on the
    other side of the typical value."""
    span = threshold - typical
    return (figure - typical) / span if abs(span) > 1e-9 else 0.0


def _hedged(text: str, intent: Intent) -> str:
    """A bare "No, ..." that the classifier's reading disagrees with becomes "Not clearly: ..."."""
    if intent.yes_no and text.startswith("No, "):
        return "Not clearly: " + text[len("No, ") :].replace("are level, so no smile", "measure level")
    return text


_FIGURE_NAMES = {
    "mouth_gap": "inner-lip gap (eye distances)",
    "mouth_width": "mouth width (eye distances)",
    "smile_lift": "mouth-corner lift (eye distances)",
    "teeth_area": "visible teeth (square eye distances)",
    "ear_left_view": "eye opening, left in the picture (height / width)",
    "ear_right_view": "eye opening, right in the picture (height / width)",
    "brow_height": "brow height above the eye corners (eye distances)",
    "brow_inner_gap": "gap between the inner brows (eye distances)",
    "yaw_deg": "head turn (degrees, + = to the picture's right)",
    "pitch_deg": "head pitch (degrees, + = chin up)",
    "roll_deg": "head roll (degrees, + = leaning to the picture's right)",
    "iod_px": "distance between the eyes (pixels)",
}


def _figures(measured: geo.FaceGeometry, reading: geo.FaceReading) -> dict[str, float | None]:
    """The measurements behind a reading, named for people (what an app shows behind an expander)."""
    values = measured.to_dict()
    figures: dict[str, float | None] = {label: values[key] for key, label in _FIGURE_NAMES.items()}
    figures["landmark model"] = reading.model  # type: ignore[assignment]
    return figures


def _label_share(probs: dict[str, float], target: str) -> float | None:
    """The probability of a basic emotion: its own class, or the compound classes that contain it."""
    if target in probs:
        return float(probs[target])
    parts = [p for label, p in probs.items() if target in COMPOUND_PARTS.get(label, ())]
    return float(sum(parts)) if parts else None


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InvalidRequestError("Ask a question about the face, e.g. 'Is the mouth open?'.")
    question = " ".join(question.split())
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidRequestError(
            f"The question is too long ({len(question)} characters; at most {MAX_QUESTION_CHARS})."
        )
    return question


@lru_cache(maxsize=1)
def default_faceqa() -> FaceQA:
    """The process-wide answerer with settings from the environment."""
    return FaceQA(backend=None)


def ask(image: ImageInput | ImageRecord, question: str, face: int | None = None) -> Answer:
    """Answers a question about a face with the cached default ``FaceQA``.

    Example:
        >>> ask("face.jpg", "Is the mouth open?").text  # doctest: +SKIP
        'No, the mouth is closed (the lips meet).'
    """
    return default_faceqa().ask(image, question, face=face)


def describe(image: ImageInput | ImageRecord, face: int | None = None) -> Answer:
    """Describes the eyes, mouth, brows and head pose of a face with the cached default ``FaceQA``."""
    return default_faceqa().describe(image, face=face)
