"""Understanding: what one user message asks for, before the conversation is looked at.

    from agent.understanding import understand
    req = understand("whats the guy w the sunglasses feeling", names={"img1": "friends.jpg"})
    req.act, req.intents, req.appearance      # "analyze", ["classify"], "the guy with the sunglasses"

Two parts, each replaceable and tested alone:

- ``nlu``: learned from examples (``data/*.yml``): the act (analyze, a product question and its topic,
  a request to decline and its category, small talk) and, for analysis, what is asked (emotion,
  explanation, a facial feature, a description, the faces), several at once; below a confidence
  threshold the agent asks instead of guessing.
- ``rules``: the closed vocabularies (emotions, CAM methods, ordinals, numbers, positions, times,
  file names, the answer's shape) that fill the slots a tool needs; their patterns are also features
  of the learned classifiers.

``tools.boundaries`` has the last word on what is declined: its precise phrases decline whatever the
classifier thinks, and the classifier adds the paraphrases they miss.

Imports run one way: understanding -> discourse (``agent.discourse``) -> planning
(``agent.planning``) -> composing (``agent.compose``).
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Mapping, Sequence

from agent.understanding.nlu import ACTS_ANALYZE, Interpretation, NLUModel, default_model
from agent.understanding.rules import (
    APPEARANCE_RE,
    ASK,
    CLASSIFY,
    COUNT_RE,
    DESCRIBE,
    EMOTION_WORDS,
    EXPLAIN,
    FEATURE_RE,
    LOCATE,
    REPORT_RE,
    Request,
    clauses,
    parse,
)
from agent.understanding.topics import emotion_terms, topic_of
from tools import boundaries

__all__ = [
    "Request",
    "understand",
    "with_ids",
    "warm_up",
    "shipped_model",
    "INTENT_OF_ASK",
    "PARAGRAPH_RE",
    "EACH_RE",
]

INTENT_OF_ASK = {
    "emotion": CLASSIFY,
    "explain": EXPLAIN,
    "feature": ASK,
    "describe": DESCRIBE,
    "faces": LOCATE,
}
PARAGRAPH_RE = re.compile(
    r"\b(?:in\s+)?(?:one|a|single|1)\s+(?:short\s+|brief\s+|little\s+)?paragraph\b|\bin\s+(?:a\s+)?few\s+(?:words|sentences)\b"
    r"|\bbriefly\b|\bshort\s+summary\b|\bin\s+(?:one|a)\s+sentence\b|\bin\s+(?:two|2|three|3)\s+sentences\b",
    re.IGNORECASE,
)
EACH_RE = re.compile(
    r"\bone\s+by\s+one\b|\beach\s+(?:person|face|one|of\s+them|individual)\b|\bevery\s+(?:person|face)\b|\bper\s+(?:face|person)\b"
    r"|\beveryone\b|\beverybody\b|\ball\s+of\s+them\b",
    re.IGNORECASE,
)
# Topics the rules also know: "show the grad-cam++ map" is a request when the rules read one and no
# definition is asked ("what is grad-cam?").
_RULE_TOPICS = {"gradcam", "faithfulness", "methods"}
_REQUEST_RE = re.compile(
    r"^\W*(?:ok(?:ay)?\W+|now\W+|please\W+|pls\W+|then\W+)?(?:show|make|run|use|do|give|redo|try|compute|explain|"
    r"visuali[sz]e|draw|generate|render|apply|let'?s|(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?"
    r"(?:make|show|do|run|give|redo|try|compute|use|generate|draw|render|apply))\b",
    re.IGNORECASE,
)
_DEFINE_RE = re.compile(
    r"^\W*(?:please\s+)?explain\s+(?:what\s+)?(?:grad[\s-]*cam(?:\+\+)?|score[\s-]*cam|cams?|heat\s*maps?|faithfulness|saliency)"
    r"(?:\s+(?:is|means|does))?\s*(?:to\s+(?:me|a\s+\w+)|simply|briefly|in\s+(?:one|two|three|\d|a\s+few|simple|plain)\b|[.?!]|$)",
    re.IGNORECASE,
)
# "what does 'happily surprised' mean?", "how would I explain that to ten-year-olds?": the word itself
_TERM_DEFINED_RE = re.compile(
    r"\bmeans?\b|\bmeaning\b|\bdefin(?:e|ition)\b|\bhow\s+(?:would|should|do|can|could)\s+i\s+explain\b",
    re.IGNORECASE,
)
_RUN_CODE_RE = re.compile(r"\b(?:run|execute|eval|exec)\b", re.IGNORECASE)
# A reading below this is not acted on when the rules saw nothing either: the agent asks.
_BOUNDARY_MIN = 0.5
_BOUNDARY_ALONE = 0.35
_REFUSE_MIN = 0.6
_NOT_NAMES = frozenset(
    "face faces photo photos image images picture pictures person people woman man left right middle top "
    "bottom other first second third last new old this that video clip".split()
)


# A file named after an emotion (angry.jpg) is named in a message with a photo noun: "the anger photo",
# "the angry and disgust photos"; alone the word is the emotion ("is she angry?").
_EMOTION_FORMS = {
    "angry": ("angry", "anger"), "anger": ("angry", "anger"),
    "disgust": ("disgust", "disgusted", "disgusting"), "disgusted": ("disgust", "disgusted"),
    "surprise": ("surprise", "surprised"), "surprised": ("surprise", "surprised"),
    "happy": ("happy", "happiness"), "sad": ("sad", "sadness"), "fear": ("fear", "scared", "fearful"),
    "scared": ("fear", "scared"), "neutral": ("neutral",),
}  # fmt: skip
_PHOTO_NOUN = r"(?:photos?|pics?|pictures?|images?|shots?|portraits?|files?)"


def _emotion_named_file(text: str, ident: str, stem: str) -> str:
    forms = "|".join(_EMOTION_FORMS.get(stem.lower(), (stem,)))
    listed = r"(?:\s*(?:,|and|&|or|vs\.?|versus)\s*(?:the\s+)?[a-z]+)*"
    return re.sub(rf"(?<![\w.])(?:{forms})(?={listed}\s+{_PHOTO_NOUN}\b)", ident, text, flags=re.IGNORECASE)


_LOAD_LOCK = threading.Lock()


def shipped_model() -> NLUModel:
    """The shipped understanding model with its sentence encoder, loaded once (a second caller waits
    for the first instead of loading it again)."""
    with _LOAD_LOCK:
        model = default_model()
        if "embedding" in model.blocks:
            model._embed(["warm up"])  # the encoder's ONNX session, built now rather than mid-turn
        return model


_WARM_UP: list[threading.Thread] = []
_WARM_UP_LOCK = threading.Lock()  # not _LOAD_LOCK, which the load holds while it runs


def warm_up() -> threading.Thread:
    """Loads the understanding model in a background thread (a session is built before its first
    message is written), so that message does not wait for it; returns the daemon thread, started
    once per process."""

    def load() -> None:
        from tools.errors import FaceAgentError

        try:
            shipped_model()
        except FaceAgentError:
            pass  # the first message says what is missing

    with _WARM_UP_LOCK:
        if not _WARM_UP:
            _WARM_UP.append(threading.Thread(target=load, name="understanding-warm-up", daemon=True))
            _WARM_UP[0].start()
        return _WARM_UP[0]


def with_ids(text: str, names: Mapping[str, str]) -> str:
    """The text with photos and videos named by file name (with or without the extension) written as
    their ids ("and for astronaut.jpg?" -> "and for img2?"), so the rules read them like any photo
    reference (and a file name is never taken for a request to open a file)."""
    for ident, name in names.items():
        name = str(name).strip()
        if not name or name == ident or re.fullmatch(r"(?:photo|video) \d+", name, re.IGNORECASE):
            continue
        variants = [name]
        stem = name.rsplit(".", 1)[0] if "." in name else ""
        if stem and len(stem) >= 3 and stem.lower() not in _NOT_NAMES and stem.lower() not in EMOTION_WORDS:
            variants += list(dict.fromkeys((stem, stem.replace("_", " "), stem.replace("-", " "))))
        elif stem and stem.lower() in EMOTION_WORDS:
            text = _emotion_named_file(text, ident, stem)
        for variant in variants:
            text = re.sub(rf"(?<![\w.]){re.escape(variant)}(?![\w])", ident, text, flags=re.IGNORECASE)
    return text


def _merge_intents(req: Request, reading: Interpretation) -> list[str]:
    """The intents to act on: the learned asks (the rules' patterns are among their features), with
    the closed-vocabulary certainties of the rules: a CAM method asks for a heatmap, "how many" for the
    faces, "tell me everything" for all three readings; the rules' own reading when the classifier
    reads a follow-up."""
    rule_intents = list(req.intents)
    scores = {INTENT_OF_ASK[a]: p for a, p in reading.ask_scores.items()}
    wanted = [INTENT_OF_ASK[a] for a in reading.asks] or rule_intents
    if len(clauses(req.text)) > 1 and len(rule_intents) > 1:
        # several clauses, each asking its own thing ("what is she feeling, why, and is the mouth open?")
        wanted += [i for i in rule_intents if i not in wanted]
    why = re.match(r"\W*(?:and\s+|so\s+|but\s+)?why\b", req.text, re.I)
    if EXPLAIN in rule_intents and why and ASK not in rule_intents and DESCRIBE not in rule_intents:
        wanted = [
            i for i in wanted if i not in (ASK, DESCRIBE)
        ]  # "why is she smiling?": the smile is the subject
        if EXPLAIN not in wanted:
            wanted.append(EXPLAIN)
    if EXPLAIN in wanted and ASK in wanted and re.search(r"\bheat|\bmap\b", req.text, re.I):
        wanted.remove(ASK)  # "is the heatmap mostly on her mouth?" asks about the heatmap, not the mouth
    if ASK in wanted and DESCRIBE in wanted and not (req.each or REPORT_RE.search(req.text)):
        # a description and a feature answer serve each other: keep one
        if ASK in rule_intents and DESCRIBE not in rule_intents:
            wanted.remove(DESCRIBE)
        elif DESCRIBE in rule_intents and ASK not in rule_intents:
            wanted.remove(ASK)
        else:
            wanted.remove(ASK if scores[DESCRIBE] >= scores[ASK] else DESCRIBE)
    if boundaries.soft_note(req.text) and CLASSIFY not in wanted:
        wanted.insert(0, CLASSIFY)  # "is he really happy or is that a fake smile?": the reading, and the note
    if req.method and EXPLAIN not in wanted:
        wanted.append(EXPLAIN)  # naming a CAM method is asking for a heatmap
    if COUNT_RE.search(req.text) and LOCATE not in wanted:
        wanted.append(LOCATE)
    if REPORT_RE.search(req.text):
        for intent in (CLASSIFY, EXPLAIN, DESCRIBE):
            if intent not in wanted:
                wanted.append(intent)
    if ASK in wanted and rule_intents == [CLASSIFY] and req.shape == "yesno" and (req.anyone or req.everyone):
        if re.search(r"\b(?:smil\w*|grin\w*|laugh\w*|frown\w*|cry\w*)\b", req.text, re.I):
            wanted.remove(ASK)  # "is anyone smiling?" asks for the readings of every face
    if (
        CLASSIFY in wanted
        and rule_intents == [ASK]
        and len(clauses(req.text)) == 1
        and not req.emotions
        and re.search(r"\b(?:frown\w*|smil\w*|grin\w*|pout\w*|squint\w*|blink\w*|smirk\w*)\b", req.text, re.I)
    ):
        wanted.remove(CLASSIFY)  # "is he frowning?" asks what the face does: the feature answers it
    ordered = [i for i in rule_intents if i in wanted]
    ordered += [i for i in (CLASSIFY, EXPLAIN, ASK, DESCRIBE, LOCATE) if i in wanted and i not in ordered]
    if ASK in ordered and not req.questions:
        req.questions = [req.text if req.text.endswith("?") else req.text + "?"]
    if ASK not in ordered:
        req.questions = []
    return ordered


_PHRASE_END = re.compile(
    r"\s*(?:[,.;:!?()]|\s-\s|\b(?:feeling|feel|feels|does|do|did|is|isn't|was|looks?|looking\s+(?:happy|sad|bored|angry)|seems?|"
    r"she|he|they|whats?|what's|how|why|doing|up\s+with|right|smil\w*|happy|sad|neutral|angry|can|could|would|will|"
    r"u|you|are|has|have|got|in\s+(?:this|the|that)\s+(?:photo|pic|picture|image|group|shot))\b)",
    re.IGNORECASE,
)


_ABOUT_A_FACE = re.compile(
    r"\b(?:she|he|her|him|his|this\s+(?:one|guy|girl|man|woman|person|face|photo|pic|picture)|the\s+(?:face|photo|pic|picture)|"
    r"face\s*\d|img\d)\b",
    re.IGNORECASE,
)


def _sure_product(reading: Interpretation, text: str) -> bool:
    """A question about the product the classifier is sure of, whose pronouns are not about a face
    ("vendors claim they can spot a fake smile. can yours?")."""
    return reading.confidence >= 0.95 and _ABOUT_A_FACE.search(text) is None


def _appearance(text: str) -> str | None:
    """A person named by appearance, as written ("the guy w the sunglasses" -> "the guy with the sunglasses")."""
    m = APPEARANCE_RE.search(text)
    if m is None:
        return None
    rest = text[m.end() :]
    end = _PHRASE_END.search(rest)
    phrase = (text[m.start() : m.end()] + (rest[: end.start()] if end else rest)).strip()
    phrase = re.sub(r"\bw/?(?=\s)", "with", phrase)
    phrase = re.sub(r"(?:\s+(?:lol|lmao|haha+|pls|plz|please|tho|though|btw))+\W*$", "", phrase, flags=re.I)
    return " ".join(phrase.split()[:10])


def understand(
    text: str,
    labels: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    model: NLUModel | None = None,
) -> Request:
    """Reads one user message.

    Args:
        text: the message (attachment notes removed).
        labels: the classifier's labels, to resolve emotions into; basic + compound when None.
        names: id -> file name of the session's photos and videos.
        model: the understanding model; the shipped one when None.
    """
    key = (" ".join(str(text).split()), tuple(labels or ()), tuple(sorted((names or {}).items())), id(model))
    cached = _CACHE.get(key)
    if cached is None:
        cached = _understand(key[0], labels, names, model)
        with _LOCK:
            _CACHE[key] = cached
            while len(_CACHE) > 256:
                _CACHE.pop(next(iter(_CACHE)))
    return copy.deepcopy(cached)  # the planner completes a request from the conversation


_CACHE: dict[tuple, Request] = {}
_LOCK = threading.Lock()


def _understand(
    text: str,
    labels: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    model: NLUModel | None = None,
) -> Request:
    names = dict(names or {})
    text = " ".join(str(text).split())
    req = parse(with_ids(text, names), tuple(labels) if labels else None)
    if not text:
        return req
    reading = (model or shipped_model()).interpret(text, names.values())
    req.act, req.confidence = reading.act, reading.confidence
    req.alternatives = [(a, p) for a, p in reading.ranking[1:3]]
    req.appearance = _appearance(text)
    req.soft_note = boundaries.soft_note(text) is not None
    req.paragraph = bool(PARAGRAPH_RE.search(text))
    req.each = bool(EACH_RE.search(text))

    crossed = boundaries.check(text)
    # the classifier's paraphrases of a boundary: surer when the rules saw nothing to analyse
    floor = _BOUNDARY_MIN if req.intents else _BOUNDARY_ALONE
    if (
        crossed is None
        and reading.kind == "boundary"
        and reading.confidence >= floor
        and not (req.count and reading.topic == "identity")  # "is there just the one person?": a count
        # "run this python code: import os": running code is refused by the rules, not declined as writing it
        and not (req.small_talk == "refuse" and _RUN_CODE_RE.search(text))
    ):
        crossed = boundaries.CATEGORIES.get(reading.topic)
    if crossed is not None:
        req.act, req.boundary = f"boundary/{crossed.category}", crossed.category
        req.intents, req.questions, req.knowledge, req.small_talk = [], [], None, None
        return req
    if req.small_talk == "refuse":
        req.act = "refuse"
        return req
    rule_intents = list(req.intents)
    if (
        reading.kind == "refuse"
        and reading.confidence >= _REFUSE_MIN
        and not rule_intents
        and not req.knowledge
    ):
        req.small_talk, req.act = "refuse", "refuse"
        return req
    personal = bool(
        re.search(
            r"\b(?:she|he|her|him|his|they|them|their|this\s+(?:one|guy|girl|man|woman|person))\b", text, re.I
        )
    )
    ruled_topic = (
        reading.topic in _RULE_TOPICS
        and EXPLAIN in rule_intents
        and not topic_of(with_ids(text, names))
        and _REQUEST_RE.match(text) is not None
        and not _DEFINE_RE.match(text)  # "explain grad-cam to me in two sentences": the method itself
    )
    if (
        reading.kind == "product"
        and reading.confident
        and not (personal and rule_intents and not _sure_product(reading, text))
        and not ruled_topic
        and not isinstance(req.face, int)  # "is face 1 harder to read in profile?": read face 1
        and not (req.image == "all" and req.follow_up and names)  # "do all photos": the last request on each
    ):
        topic = reading.topic
        if topic == "emotion":
            terms = emotion_terms(text) or [
                w for w in re.findall(r"[a-z]+", text.lower()) if w in EMOTION_WORDS
            ]
            req.knowledge = "emotion:" + ",".join(terms) if terms else "compound"
        else:
            req.knowledge = topic
        req.intents, req.questions, req.small_talk = [], [], None
        return req
    if (
        reading.kind == "chat"
        and reading.confident
        and rule_intents == [CLASSIFY]
        and reading.confidence >= 0.9
        and "?" not in text
        and _ABOUT_A_FACE.search(text) is None
        and not (req.face or req.image_refs or req.everyone or req.anyone)
    ):
        rule_intents = []  # "fair enough! thanks, that was fun": an emotion word, not a request
        req.intents = []
    if reading.kind == "chat" and reading.confident and not rule_intents and not req.knowledge:
        req.small_talk = reading.topic
        return req
    if req.knowledge and (reading.kind == "product" or not reading.confident):
        return req  # the rules recognised a question about the product
    if req.knowledge and req.knowledge.startswith("emotion:") and _TERM_DEFINED_RE.search(text):
        req.intents, req.questions = [], []
        return req  # an emotion word asked about as a word, whatever photo is here
    req.knowledge = None
    if not reading.confident and not (rule_intents or req.has_details or req.follow_up or req.small_talk):
        req.clarify = True  # neither the classifier nor the rules are sure: ask instead of guessing
        return req
    if reading.kind == ACTS_ANALYZE or rule_intents:
        req.act = ACTS_ANALYZE
        req.intents = _merge_intents(req, reading)
        if req.appearance and ASK in req.intents and not FEATURE_RE.search(text.replace(req.appearance, " ")):
            # "the one looking at her phone": the words name the person, they ask nothing about a feature
            req.intents.remove(ASK)
            req.questions = []
        if req.intents:
            req.small_talk = None
        elif reading.kind == ACTS_ANALYZE and reading.confident and req.small_talk in ("greeting", "thanks"):
            req.small_talk = None  # "hey, what's going on with her face": not a greeting
        return req
    if not reading.confident and not (req.has_details or req.follow_up or req.small_talk):
        req.clarify = True
    return req
