"""Answer writing for the offline planner: one reply built from the tools' structured results.

Every figure comes from a tool artifact (never from the text), so the words match the numbers the UI
shows. The answer takes the question's shape: the answer itself first (yes or no, the one word, who
ranks first — or that it is a tie —, which photo wins a comparison, whether anyone shows a feature),
then the readings in plain words. Photos are named by their file names and faces by their numbers on
the numbered photo, never by internal ids or tool names; technical figures (log-odds, exact deltas of
the faithfulness test, landmark measurements) stay in the artifacts, where the app shows them on demand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.discourse import names_list
from agent.results import ToolResult
from agent.understanding.rules import Request
from tools import boundaries
from tools.explainer import METHOD_TITLES
from tools.labels import display_name

__all__ = [
    "compose_answer",
    "help_text",
    "small_talk_text",
    "scrub",
    "NEED_PHOTO",
    "REFUSAL",
    "UNCLEAR",
]

_REGION_WORDS = {
    "brows": "on the brows",
    "eyes": "on the eyes",
    "nose": "on the nose",
    "mouth": "on the mouth",
    "cheeks_jaw": "on the cheeks and jaw",
    "forehead": "on the forehead",
    "other": "outside the face, on hair or background",
}

CAPABILITIES = (
    "I look at the faces in the photos and videos you upload and can:\n"
    '- **read the emotion** on each face ("What is she feeling?"): the emotion with its confidence, the '
    "runner-up and a compound reading such as *happily surprised*;\n"
    '- **explain the reading** with a heatmap ("Why?", "Show me the heatmap for sadness", "with '
    'Grad-CAM++ / Score-CAM"): which facial regions drove it, and a check of whether the heatmap is faithful;\n'
    '- **answer questions about the face** ("Is the mouth open?", "Are her eyes closed?", "Describe the '
    'face");\n'
    '- **find and count faces** ("How many people are there?"), with a photo of numbered boxes, and talk '
    'about one of them ("the person on the left", "face 2", "number 3", "the smiling one");\n'
    '- **compare photos and faces** ("which of the two looks happier?", "who is smiling the most?");\n'
    '- **tell a video\'s story** ("what happens in the video?", "when was she happiest?", "what is he '
    'feeling at 0:05?");\n'
    '- **explain the product** ("What does happily surprised mean?", "What is Grad-CAM?", "How accurate is '
    'it?").\n'
    "I read expressions, not feelings, and I don't judge age, gender, origin, identity, looks, honesty, "
    "health, personality or intentions. Everything runs on this machine; I don't read files, run code or "
    "browse the web."
)
NEED_PHOTO = (
    'Please upload a photo of a face first (JPEG, PNG, WebP ...). Then ask me, for example, "What is she '
    'feeling?", "Why?" or "Is the mouth open?".'
)
REFUSAL = (
    "Sorry, I can't do that: I only work with the photos and videos uploaded to this chat, so I don't read "
    "files, run code or browse the web. I can read the emotion on a face, explain it with a heatmap, or "
    "answer questions about the face."
)
UNCLEAR = (
    'I\'m not sure what you\'d like me to do with the photo. You can ask "What is she feeling?", "Why did '
    'you predict that?", "Show me the heatmap for surprise", "Is the mouth open?" or "Describe the '
    'face"; type "help" for more.'
)
_TOOL_WORDS = {
    "classify_emotion": "the emotion reading",
    "explain_prediction": "the heatmap",
    "answer_question": "the face question",
    "describe_face": "the description",
    "find_faces": "the face finder",
    "analyze_video": "the video analysis",
    "video_frame": "taking the frame",
}


def help_text(has_images: bool) -> str:
    """What the assistant can do, with a hint about the next step."""
    hint = "" if has_images else "\n\nUpload a photo of a face (or a video) to begin."
    return CAPABILITIES + hint


def small_talk_text(kind: str, has_images: bool) -> str:
    """The reply to help, greetings, thanks, goodbyes and refused requests."""
    if kind == "help":
        return help_text(has_images)
    if kind == "refuse":
        return REFUSAL
    if kind == "greeting":
        follow = (
            'Ask me about the photo, e.g. "What is she feeling?"'
            if has_images
            else "Upload a photo of a face and ask me what the person is feeling, why, or about their eyes and mouth."
        )
        return f"Hello! {follow}"
    if kind == "thanks":
        return "You're welcome! Ask me anything else about the photo: the emotion, why, or the face itself."
    if kind == "bye":
        return "Goodbye! Your photos stay in this session's memory only."
    if kind == "empty":
        return 'Type a question about the photo, e.g. "What is she feeling?".'
    return UNCLEAR


def _pct(p: float) -> str:
    p = float(p)
    if p >= 0.995:
        return "100%"
    return f"{100 * p:.0f}%" if p >= 0.01 else f"{100 * p:.1f}%"


def scrub(text: str, names: Mapping[str, str]) -> str:
    """The text with internal ids written as file names and tool names as words (a safety net)."""

    def name(m: re.Match[str]) -> str:
        return str(names.get(m.group(0)) or ("the video" if m.group(0).startswith("vid") else "the photo"))

    text = re.sub(r"\b(?:img|vid)\d+\b", name, text)
    for tool, words in _TOOL_WORDS.items():
        text = text.replace(tool, words)
    return text


def _photo_name(image_id: str, names: Mapping[str, str]) -> str:
    return str(names.get(image_id) or "the photo")


def _compound_sentence(compound: dict | None) -> str:
    if not compound or compound.get("label") is None:
        return ""
    label = display_name(compound["label"])
    if compound.get("derived"):
        parts = " + ".join(display_name(c) for c in compound.get("components", ()))
        return f"Compound reading: {label} (derived from the basic-emotion scores: {parts})."
    return f"Compound reading: {label} ({_pct(compound.get('score', 0.0))}, predicted by the compound model)."


_SUPERLATIVE = {"happy": "happiest", "sad": "saddest", "angry": "angriest", "neutral": "calmest"}
_COMPARATIVE_WORD = {"happy": "happier", "sad": "sadder", "angry": "angrier", "neutral": "calmer"}
_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def _superlative(emotion: str, least: bool = False) -> str:
    if least:
        return f"the least {display_name(emotion)}"
    return "the " + _SUPERLATIVE.get(emotion, f"most {display_name(emotion)}")


def _comparative_word(emotion: str, least: bool = False) -> str:
    if least:
        return f"less {display_name(emotion)}"
    return _COMPARATIVE_WORD.get(emotion, f"more {display_name(emotion)}")


def _count_words(n: int) -> str:
    return _NUMBER_WORDS.get(n, str(n))


@dataclass
class _Reading:
    """One face's classification, with how to name it in the answer."""

    image_id: str
    number: int
    pred: dict
    many_faces: bool
    where: str = ""
    chosen: str = ""

    def who(self, names: Mapping[str, str], many_images: bool, capital: bool = True) -> str:
        if self.chosen:
            text = f"{self.chosen} (face {self.number})"
        elif self.many_faces:
            text = f"face {self.number}" + (f" ({self.where})" if self.where else "")
        else:
            text = "the face"
        if many_images:
            photo = _photo_name(self.image_id, names)
            text = f"{text} in {photo}" if (self.many_faces or self.chosen) else photo
        return text[:1].upper() + text[1:] if capital and not re.match(r"[\w-]+\.\w+", text) else text

    def p(self, emotion: str) -> float:
        return float(self.pred["probs"].get(emotion, 0.0))


def _readings(
    results: Sequence[ToolResult], where: Mapping[tuple[str, int], str], chosen: Mapping[tuple[str, int], str]
) -> list[_Reading]:
    readings = []
    for r in results:
        if r.tool != "classify_emotion" or not r.ok:
            continue
        artifact = r.artifact or {}
        preds = artifact.get("predictions") or []
        image_id = artifact.get("image_id") or r.args.get("image_id", "")
        count = int(artifact.get("face_count") or len(preds))
        for pred in preds:
            number = int(pred.get("face", 1))
            position = where.get((image_id, number)) or _position_words(pred)
            readings.append(
                _Reading(
                    image_id,
                    number,
                    pred,
                    count > 1,
                    position if count > 1 else "",
                    chosen.get((image_id, number), ""),
                )
            )
    return readings


def _position_words(pred: dict) -> str:
    position = pred.get("position")
    if not position or position == "centre":
        return ""
    return (
        f"on the {position}"
        if position in ("left", "right")
        else ("in the middle" if position == "middle" else position)
    )


def _asked_emotion(request: Request | None) -> str | None:
    if request is None:
        return None
    found = request.comparative or request.target or (request.emotions[0] if request.emotions else None)
    if found is None and re.search(r"\bsmil\w*|\bgrin\w*|\blaugh\w*", request.text, re.I):
        return "happy"  # "which one is smiling more?": the reading a smile drives
    return found


def _tied(values: Sequence[float]) -> bool:
    """Scores a person cannot tell apart: all within one percentage point."""
    return len(values) > 1 and max(values) - min(values) < 0.01


def _rank_lead(
    readings: list[_Reading],
    emotion: str,
    least: bool,
    names: Mapping[str, str],
    many: bool,
    text: str = "",
) -> str:
    ranked = sorted(readings, key=lambda x: x.p(emotion), reverse=not least)
    best = ranked[0]
    name = display_name(emotion)
    if max(x.p(emotion) for x in ranked) < 0.05:
        rest = ", ".join(f"{x.who(names, many, capital=False)} {_pct(x.p(emotion))}" for x in ranked[1:])
        return (
            f"{best.who(names, many)} looks {_superlative(emotion, least)}, but only just: {name} "
            f"{_pct(best.p(emotion))}, then {rest}; none of them reads {name}."
        )
    if _tied([x.p(emotion) for x in ranked]):
        label = "both" if len(ranked) == 2 else f"all {_count_words(len(ranked))}"
        return (
            f"It's a tie: {label} read {name} at {_pct(best.p(emotion))}, so the model can't tell them apart "
            f"on {name}."
        )
    smiling = emotion == "happy" and bool(re.search(r"\bsmil\w*", text, re.I))
    if len(ranked) == 2:
        other = ranked[1]
        if smiling:
            return (
                f"{best.who(names, many)} is smiling more: happy {_pct(best.p(emotion))} vs {_pct(other.p(emotion))} for "
                f"{other.who(names, many, capital=False)}."
            )
        return (
            f"{best.who(names, many)} looks {_comparative_word(emotion, least)}: "
            f"{name} {_pct(best.p(emotion))} vs {_pct(other.p(emotion))} for {other.who(names, many, capital=False)}."
        )
    top = [x for x in ranked if abs(x.p(emotion) - best.p(emotion)) < 0.01]
    rest = ", ".join(f"{x.who(names, many, capital=False)} {_pct(x.p(emotion))}" for x in ranked[len(top) :])
    if len(top) > 1:
        who = ", ".join(x.who(names, many, capital=False) for x in top[:-1])
        who += " and " + top[-1].who(names, many, capital=False)
        return (
            f"{who[:1].upper() + who[1:]} tie as {_superlative(emotion, least)}: {name} {_pct(best.p(emotion))} each"
            + (f"; then {rest}." if rest else ".")
        )
    return f"{best.who(names, many)} looks {_superlative(emotion, least)}: {name} {_pct(best.p(emotion))}" + (
        f", then {rest}." if rest else "."
    )


def _photo_average(readings: list[_Reading], emotion: str) -> dict[str, float]:
    scores: dict[str, list[float]] = {}
    for x in readings:
        scores.setdefault(x.image_id, []).append(x.p(emotion))
    return {i: sum(v) / len(v) for i, v in scores.items()}


def _lead(
    readings: list[_Reading], request: Request | None, names: Mapping[str, str], many_images: bool
) -> str:
    """The answer to the question, first: yes/no, the one word, the ranking or the comparison."""
    if not readings or request is None:
        return ""
    emotion = _asked_emotion(request)
    least = bool(re.search(r"\b(?:least|less)\b", request.text, re.IGNORECASE))
    photos = list(dict.fromkeys(x.image_id for x in readings))
    group_photos = len(photos) > 1 and any(x.many_faces for x in readings)
    if request.shape == "word" and len(readings) == 1:
        return f"**{display_name(readings[0].pred['label']).capitalize()}**"
    if len(readings) > 1 and len(photos) == 1:
        if emotion and re.search(r"\bhow\s+many\b", request.text, re.I):
            # "how many people are smiling here?"
            hits = sorted((x for x in readings if x.pred["label"] == emotion), key=lambda x: x.number)
            who = ", ".join(x.who(names, many_images, capital=False) for x in hits)
            return f"**{len(hits)} of {len(readings)}** faces read {display_name(emotion)}" + (
                f": {who}." if hits else "."
            )
        if not emotion and re.search(
            r"\b(?:overall|dominant|general|mostly|main)\b|\bmood\s+of\s+(?:the|this)\b", request.text, re.I
        ):
            labels = [x.pred["label"] for x in readings]
            top = max(set(labels), key=labels.count)
            if labels.count(top) == len(labels):
                return f"All {_count_words(len(labels))} read **{display_name(top)}**."
            others = [x for x in readings if x.pred["label"] != top]
            rest = ", ".join(
                f"{x.who(names, many_images, capital=False)} {display_name(x.pred['label'])}" for x in others
            )
            return f"Mostly **{display_name(top)}**: {labels.count(top)} of {len(readings)} faces" + (
                f"; the others: {rest}." if rest else "."
            )
    if group_photos and (request.shape == "rank" or request.comparative or request.compare) and emotion:
        # "which group looks happier overall?": the photos' average, not one face against another
        means = _photo_average(readings, emotion)
        ranked = sorted(means, key=means.get, reverse=not least)
        name = display_name(emotion)
        parts = ", ".join(f"{_photo_name(i, names)} {_pct(means[i])}" for i in ranked)
        if _tied(list(means.values())):
            return f"They're level on {name}: on average {parts}."
        return (
            f"{_photo_name(ranked[0], names)} looks {_comparative_word(emotion, least) if len(ranked) == 2 else _superlative(emotion, least)} "
            f"overall: average {name} {parts}."
        )
    if len(request.faces) > 1:  # "between face 1 and face 4, who looks happier?": those faces only
        named = [x for x in readings if x.number in request.faces]
        readings = named if len(named) > 1 else readings
    ranking = (
        request.shape == "rank"
        or request.comparative
        or re.search(r"\bmore\b|\bmost\b|\bwhich\b", request.text, re.I)
    )
    if ranking and emotion and len(readings) > 1 and (request.shape != "yesno" or request.comparative):
        return _rank_lead(readings, emotion, least, names, many_images, request.text)
    alternatives = [e for e in request.emotions if e in readings[0].pred["probs"]]
    if len(readings) == 1 and len(alternatives) > 1 and re.search(r"\bor\b", request.text, re.I):
        x = readings[0]
        best = max(alternatives, key=x.p)
        others = ", ".join(f"{display_name(e)} {_pct(x.p(e))}" for e in alternatives if e != best)
        return f"**{display_name(best).capitalize()}** rather than {others.split(' ')[0]}: {display_name(best)} {_pct(x.p(best))}, {others}."
    if request.shape == "yesno" and emotion:
        hits = [x for x in readings if x.pred["label"] == emotion]
        name = display_name(emotion)
        if len(readings) == 1:
            x = readings[0]
            ranked = sorted(x.pred["probs"].items(), key=lambda kv: kv[1], reverse=True)
            runner = (
                f"; runner-up: {display_name(ranked[1][0])} ({_pct(ranked[1][1])})" if len(ranked) > 1 else ""
            )
            if hits:
                return f"Yes — {x.who(names, many_images, capital=False)} reads **{name}** ({_pct(x.pred['confidence'])} confidence{runner})."
            return (
                f"No — {x.who(names, many_images, capital=False)} reads **{display_name(x.pred['label'])}** "
                f"({_pct(x.pred['confidence'])}); {name} is {_pct(x.p(emotion))}."
            )
        every = request.everyone or bool(re.search(r"\b(?:both|all|every)\b", request.text, re.IGNORECASE))
        if every:
            if len(hits) == len(readings):
                return f"Yes — {'both' if len(readings) == 2 else 'all ' + _count_words(len(readings))} read **{name}**."
            if hits:
                who = ", ".join(x.who(names, many_images, capital=False) for x in hits)
                return f"No — only {who} read{'s' if len(hits) == 1 else ''} **{name}**."
            return f"No — none of them reads **{name}**."
        if hits:
            who = "; ".join(
                f"{x.who(names, many_images, capital=False)} reads **{name}** ({_pct(x.p(emotion))})"
                for x in hits
            )
            others = [x for x in readings if x not in hits]
            rest = ", ".join(
                f"{x.who(names, many_images, capital=False)} {display_name(x.pred['label'])}"
                for x in others[:5]
            )
            return f"Yes — {who}" + (f"; the others: {rest}." if rest else ".")
        top = max(readings, key=lambda x: x.p(emotion))
        labels = {x.pred["label"] for x in readings}
        summary = (
            f"all {_count_words(len(readings))} read {display_name(labels.pop())}"
            if len(labels) == 1
            else ", ".join(
                f"face {x.number} {display_name(x.pred['label'])}"
                for x in sorted(readings, key=lambda x: x.number)[:8]
            )
        )
        return (
            f"No — nobody reads **{name}** ({summary}); the highest {name} score is {_pct(top.p(emotion))}, for "
            f"{top.who(names, many_images, capital=False)}."
        )
    if many_images and len(photos) > 1:
        firsts = {}
        for x in readings:
            firsts.setdefault(x.image_id, x)
        labels = {x.pred["label"] for x in firsts.values()}
        parts = ", ".join(
            f"{'the most prominent face of ' if x.many_faces else ''}{_photo_name(i, names)} reads "
            f"**{display_name(x.pred['label'])}** ({_pct(x.pred['confidence'])})"
            for i, x in firsts.items()
        )
        if len(labels) == 1:
            return f"{'Both' if len(firsts) == 2 else 'All'} read **{display_name(labels.pop())}**: {parts}."
        return f"They differ: {parts}."
    return ""


def _compound_once(readings: list[_Reading]) -> str:
    named = [
        (x, x.pred.get("compound") or {}) for x in readings if (x.pred.get("compound") or {}).get("label")
    ]
    if not named:
        return ""
    derived = any(c.get("derived") for _, c in named)
    how = " (derived from the basic-emotion scores)" if derived else ""
    parts = ", ".join(f"face {x.number} {display_name(c['label'])}" for x, c in named)
    return f"Compound readings: {parts}{how}."


def _table(readings: list[_Reading]) -> str:
    rows = ["| Face | Where | Emotion | Confidence | Runner-up |", "|---|---|---|---|---|"]
    for x in readings:
        ranked = sorted(x.pred["probs"].items(), key=lambda kv: kv[1], reverse=True)
        runner = f"{display_name(ranked[1][0])} ({_pct(ranked[1][1])})" if len(ranked) > 1 else "-"
        rows.append(
            f"| {x.number} | {x.where or '-'} | **{display_name(x.pred['label'])}** | {_pct(x.pred['confidence'])} | {runner} |"
        )
    return "\n".join(rows)


def _group_text(readings: list[_Reading], prefix: str, annotated: bool, paragraph: bool) -> str:
    readings = sorted(readings, key=lambda x: (x.image_id, x.number))
    labels = {x.pred["label"] for x in readings}
    note = ", numbered on the attached photo" if annotated else ""
    if len(labels) == 1 and _tied([x.pred["confidence"] for x in readings]):
        head = f"all {_count_words(len(readings))} read **{display_name(labels.pop())}** at {_pct(readings[0].pred['confidence'])}"
    else:
        head = ", ".join(
            f"face {x.number}{f' ({x.where})' if x.where else ''} **{display_name(x.pred['label'])}**"
            for x in readings
        )
    text = f"{prefix}**{len(readings)} faces**{note}: {head}."
    if not paragraph:
        text += f"\n\n{_table(readings)}"
    compound = _compound_once(readings)
    return text + (f" {compound}" if compound else "")


# "give me the full breakdown for all seven emotions": every score, not the top two
_EVERY_SCORE_RE = re.compile(
    r"\b(?:all|every|each)\s+(?:(?:seven|7|the|of\s+the)\s+)*(?:emotions?|scores?|probabilit\w*|percentages?|labels?|classes)\b"
    r"|\b(?:full|complete|whole|entire)\s+(?:probability\s+)?(?:breakdown|distribution|list|scores?|probabilit\w*)\b"
    r"|\bbreakdown\b",
    re.IGNORECASE,
)


def _classify_text(
    artifact: dict,
    request: Request | None,
    prefix: str,
    readings: list[_Reading],
    names: Mapping[str, str],
    led: bool,
    paragraph: bool,
) -> str:
    mine = [x for x in readings if x.image_id == artifact.get("image_id")]
    if (
        led
        and len(mine) == 1
        and len(readings) == 1
        and request is not None
        and request.shape in ("yesno", "word")
    ):
        compound = _compound_sentence(mine[0].pred.get("compound"))
        return (prefix + compound).strip() if request.shape == "yesno" else ""
    if len(mine) > 1:
        if led and len({x.image_id for x in readings}) == 1:
            return ""  # the answer (ranking, yes/no) already gives each face's figure: no list again
        return _group_text(mine, prefix, bool(artifact.get("annotated_png")), paragraph)
    lines = []
    for x in mine:
        pred = x.pred
        ranked = sorted(pred["probs"].items(), key=lambda kv: kv[1], reverse=True)
        who = x.who(names, False) if (x.chosen or x.many_faces) else "The face"
        line = f"{who} reads **{display_name(pred['label'])}** ({_pct(pred['confidence'])} confidence)"
        if len(ranked) > 1:
            line += f"; runner-up: {display_name(ranked[1][0])} ({_pct(ranked[1][1])})"
        line += "."
        compound = _compound_sentence(pred.get("compound"))
        if compound:
            line += " " + compound
        asked = [
            e for e in (request.emotions if request else []) if e in pred["probs"] and e != pred["label"]
        ]
        if not led:
            for emotion in asked[:2]:
                line += f" {display_name(emotion).capitalize()} gets {_pct(pred['probs'][emotion])}."
        if request is not None and _EVERY_SCORE_RE.search(request.text) and len(ranked) > 2:
            every = ", ".join(f"{display_name(e)} {_pct(p)}" for e, p in ranked)
            line += f" Every emotion's score: {every}."
        lines.append(line.strip())
    return (prefix + " ".join(lines)).strip()


def _face_words(
    image_id: str, number: int, where: Mapping[tuple[str, int], str], chosen: Mapping[tuple[str, int], str]
) -> str:
    if (image_id, number) in chosen:
        return f"face {number} ({chosen[(image_id, number)].removeprefix('the face ')})"
    if (image_id, number) in where:
        return f"face {number} ({where[(image_id, number)]})"
    return f"face {number}"


_FAITH = {
    "faithful": "This heatmap is faithful: hiding its hottest fifth changes the model's reading much more than "
    "hiding a random fifth of the face, so it shows what the reading relies on.",
    "partly faithful": "This heatmap is only partly faithful: hiding its hot spots changes the reading a little "
    "more than hiding random spots.",
    "not shown to be faithful": "This heatmap is not shown to be faithful: hiding its hot spots changes the reading "
    "no more than hiding random spots, so read it with care.",
    "unfaithful": "This heatmap is unfaithful: hiding its hot spots changes the reading less than hiding random "
    "spots, so it does not show what the reading relies on.",
    "inconclusive": "The faithfulness check is inconclusive here: the model gives this emotion so little that "
    "removing evidence cannot lower it much.",
}


def _faith_words(artifact: dict) -> str:
    text = str(artifact.get("faithfulness_text", "")).strip().lower()
    for verdict in ("not shown to be faithful", "partly faithful", "unfaithful", "inconclusive", "faithful"):
        if text.startswith(verdict):
            return _FAITH[verdict]
    return ""


def _explain_text(artifact: dict, prefix: str, face_words: str = "", single_face: bool = True) -> str:
    method = METHOD_TITLES.get(artifact.get("method", ""), artifact.get("method", "the heatmap"))
    target = display_name(artifact.get("target", "?"))
    what = f"**{target}**"
    if artifact.get("versus"):
        what += f" rather than {display_name(artifact['versus'])}"
    top = [(name, share) for name, share in artifact.get("top_regions", []) if share >= 0.01][:3]
    if top:
        words = [f"{_REGION_WORDS.get(name, 'on ' + name)} ({_pct(share)})" for name, share in top]
        where = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        heat = f"the heat lies mostly {where}"
    else:
        heat = "the heat has no clear focus"
    whose = (
        ""
        if single_face and not face_words
        else f" on {face_words or 'face ' + str(artifact.get('face', 1))}"
    )
    text = f"{prefix}{method} heatmap for {what}{whose}: {heat}."
    pred = artifact.get("prediction") or {}
    p = artifact.get("target_probability")
    if pred.get("label") and pred.get("label") != artifact.get("target") and p is not None:
        text += (
            f" (The model's reading is {display_name(pred['label'])} {_pct(pred.get('confidence', 0))}; "
            f"{target} gets {_pct(p)}.)"
        )
    elif p is not None:
        text += f" The model gives {target} {_pct(p)}."
    faith = _faith_words(artifact)
    if faith:
        text += " " + faith
    if artifact.get("overlay_png"):
        text += " The heatmap is attached."
    return text


_ACCESSORY_NOTES = {
    "whether glasses are worn": " Ordinary glasses usually don't stop the reading; sunglasses or thick frames "
    "hide the eyes and make it less precise.",
    "makeup": " Heavy make-up or face paint can change what the model reads, since it sees only the pixels.",
    "beards or moustaches": " A beard can hide the mouth corners and make the reading less precise.",
    "hats or headwear": " Headwear rarely matters unless it hides the brows or eyes.",
}
_OUT_OF_SCOPE_RE = re.compile(r"^The face geometry cannot tell (?P<what>.+?): .*", re.S)


def _answer_body(result: ToolResult) -> str:
    artifact = result.artifact or {}
    text = str(artifact.get("text", "")).strip() or result.content
    if artifact.get("declined"):
        return text
    m = _OUT_OF_SCOPE_RE.match(text)
    if m:
        what = m.group("what")
        note = _ACCESSORY_NOTES.get(what, "")
        return (
            f"I can't tell {what} from this photo: the facial landmarks I read measure the eyes, brows, "
            f"mouth and head pose only.{note}"
        )
    reading = (artifact.get("evidence") or {}).get("reading") or {}
    if reading.get("yaw") == "turned":
        text += " The face is turned to the side, so this reading is less reliable."
    if text.startswith("I can't tell that from the facial landmarks"):
        return "I can't tell that from the face: I can say whether the mouth is open, whether the person smiles, what the eyes and brows do and how the head is turned."
    return text


_TEETH_RE = re.compile(r"\bteeth\b|\btooth\b", re.I)
_COVERED_RE = re.compile(r"\bhand\b|\bcover\w*|\bhidden\b|\bhides?\b|\bblock\w*|\bmask\b|\bocclu\w*", re.I)


def _teeth_note(result: ToolResult) -> str:
    reading = ((result.artifact or {}).get("evidence") or {}).get("reading") or {}
    mouth = reading.get("mouth")
    if not mouth:
        return ""
    if mouth == "closed":
        return "With the lips closed, the teeth don't show."
    return "The lips are apart, so the teeth can show (the landmarks measure the lips, not the teeth themselves)."


def _region_lead(results: Sequence[ToolResult], request: Request | None) -> str:
    """ "Is the heatmap mostly on her mouth?": yes or no from the heatmap's regions."""
    if request is None or not re.search(
        r"\bheat|\bmap\b|\bfocus|\blook(?:ed|ing)?\s+at\b", request.text, re.I
    ):
        return ""
    asked = [
        region
        for region, pattern in (
            ("mouth", r"mouth|lips"),
            ("eyes", r"\beyes?\b"),
            ("brows", r"brow"),
            ("nose", r"nose"),
            ("cheeks_jaw", r"cheek|jaw"),
            ("forehead", r"forehead"),
        )
        if re.search(pattern, request.text, re.I)
    ]
    explained = [r for r in results if r.tool == "explain_prediction" and r.ok]
    if not asked or not explained:
        return ""
    regions = (explained[-1].artifact or {}).get("regions") or {}
    top = max(regions, key=regions.get) if regions else None
    share = float(regions.get(asked[0], 0.0))
    words = _REGION_WORDS.get(asked[0], asked[0])
    if top == asked[0] or share >= 0.5:
        return f"Yes — the heat lies mostly {words} ({_pct(share)})."
    return (
        f"No — the heat lies mostly {_REGION_WORDS.get(top, str(top))} ({_pct(regions.get(top, 0.0))}); "
        f"{words.removeprefix('on ')} gets {_pct(share)}."
    )


def _contrast_lead(results: Sequence[ToolResult], request: Request | None) -> str:
    """ "Why would it say disgust rather than anger?" when it does not say disgust: that, first."""
    if request is None or not (request.versus or request.target):
        return ""
    for r in results:
        artifact = r.artifact or {}
        pred = artifact.get("prediction") or {}
        if (
            r.tool == "explain_prediction"
            and r.ok
            and pred.get("label")
            and pred["label"] != artifact.get("target")
        ):
            return (
                f"It doesn't read {display_name(artifact.get('target', ''))}: the model reads **{display_name(pred['label'])}** "
                f"({_pct(pred.get('confidence', 0))}), and {display_name(artifact.get('target', ''))} gets "
                f"{_pct(artifact.get('target_probability') or 0)}. The heatmap below shows where the evidence for "
                f"{display_name(artifact.get('target', ''))} would be."
            )
    return ""


_THROWS_OFF_RE = re.compile(
    r"\bthrow\w*\s+off\b|\baffect|\bmess\w*\s+(?:up|with)\b|\bconfus|\bfool|\binterfer|\bproblem\b", re.I
)
_COVERING_RE = re.compile(r"face\s+paint|make-?up|glasses|sunglasses|beard|mask|hand|hair|tattoo|paint", re.I)


def _occlusion_lead(results: Sequence[ToolResult], request: Request | None) -> str:
    """ "Does the face paint throw off the reading?": an honest answer from the heatmap, first."""
    if request is None or not (_THROWS_OFF_RE.search(request.text) and _COVERING_RE.search(request.text)):
        return ""
    explained = [r for r in results if r.tool == "explain_prediction" and r.ok]
    thing = _COVERING_RE.search(request.text).group(0).lower()
    text = (
        f"It can: the model reads only pixels, so anything over the eyes, brows or mouth — {thing} included — "
        "can change what it reads."
    )
    if explained:
        top = [(n, v) for n, v in (explained[-1].artifact or {}).get("top_regions", [])][:1]
        if top:
            region = _REGION_WORDS.get(top[0][0], top[0][0])
            text += f" Here the heat lies mostly {region} ({_pct(top[0][1])}): if the {thing} is there, it is part of what drives the reading."
    return text


_SIZE_ASKED_RE = re.compile(
    r"\b(?:largest|biggest|closest|nearest|smallest|tiniest|furthest|farthest)\b", re.IGNORECASE
)


def _size_lead(artifact: dict, request: Request | None) -> str:
    """ "Which face is the largest?": the face whose box is largest (or smallest), said first."""
    faces = [f for f in artifact.get("faces") or [] if len(f.get("box") or []) == 4]
    asked = _SIZE_ASKED_RE.search(request.text) if request is not None else None
    if asked is None or len(faces) < 2:
        return ""

    def area(f: dict) -> float:
        x0, y0, x1, y1 = f["box"]
        return float((x1 - x0) * (y1 - y0))

    small = asked.group(0).lower() in ("smallest", "tiniest", "furthest", "farthest")
    pick = (min if small else max)(faces, key=area)
    where = _position_words({"position": pick.get("position")})
    word = "smallest" if small else "largest"
    return f"The {word} face is **face {int(pick.get('face', 1))}** ({where}). "


def _faces_text(artifact: dict, prefix: str, request: Request | None = None) -> str:
    count = int(artifact.get("count", 0))
    if count == 0:
        return (
            f"{prefix}I can't find a face in this photo. I read the expressions of human faces: upload a photo "
            "where a face is clearly visible, and I can read its emotion, explain it and describe it."
        )
    faces = artifact.get("faces") or []
    if count == 1:
        return f"{prefix}I can see **1 face**" + (
            " (boxed on the attached photo)." if artifact.get("annotated_png") else "."
        )
    parts = []
    for f in faces:
        words = f.get("words") or []
        where = _position_words({"position": f.get("position")})
        sizes = [w for w in words if w in ("largest", "smallest")]
        extra = [w for w in words if w in ("top", "bottom")]
        text = f"face {int(f.get('face', 1))} {where}" + (f", at the {extra[0]}" if extra else "")
        parts.append(text + (f" ({sizes[0]})" if sizes else ""))
    note = " The numbered photo is attached." if artifact.get("annotated_png") else ""
    return (
        f"{prefix}{_size_lead(artifact, request)}I can see **{count} faces**: "
        + ", ".join(parts)
        + "."
        + note
    )


def _error_text(result: ToolResult, prefix: str, names: Mapping[str, str]) -> str:
    artifact = result.artifact or {}
    message = artifact.get("error") or result.content.removeprefix("Error:").strip()
    if artifact.get("error_type") == "NoFaceError" or "No face found" in str(message):
        photo = _photo_name(str(artifact.get("image_id") or result.args.get("image_id", "")), names)
        return (
            f"{prefix}I found no face in {photo}, so there is no expression to read. I read the expressions of "
            "human faces: upload a photo where a face is clearly visible (well lit, at least about 24 pixels "
            "wide), and I can read its emotion, explain the reading and describe the face."
        )
    verb = {
        "classify_emotion": "read the emotion",
        "explain_prediction": "explain the prediction",
        "answer_question": "answer that question",
        "describe_face": "describe the face",
        "find_faces": "find the faces",
        "analyze_video": "analyse the video",
        "video_frame": "take that frame",
    }.get(result.tool, "do that")
    return f"{prefix}I couldn't {verb}: {message}"


# --- faces' features compared (who smiles most, is anyone blinking, which photo has more eyes open) ---

_STATE_ORDER = {
    "smile": {"frown": -1, "none": 0, "smile": 1, "broad": 2},
    "eyes": {"closed": 0, "winking": 1, "squinting": 1, "open": 2, "wide open": 3},
    "mouth": {"closed": 0, "slightly open": 1, "open": 2, "wide open": 3},
    "brows": {"lowered": 0, "neutral": 1, "raised": 2},
}
_MEASURE = {"smile": "smile_lift", "eyes": "ear_mean", "mouth": "mouth_open_ratio", "brows": "brow_height"}


def _feature_of(text: str) -> str | None:
    t = text.lower()
    for name, pattern in (
        ("smile", r"smil|grin|laugh"),
        ("eyes", r"\beyes?\b|blink|squint|wink|asleep|sleepy"),
        ("mouth", r"mouth|lips|teeth|yawn|shout|yell"),
        ("brows", r"brow|frown|forehead"),
        ("head", r"head|tilt|camera|facing|looking"),
    ):
        if re.search(pattern, t):
            return name
    return None


def _rows(results: Sequence[ToolResult]) -> list[tuple[str, int, dict, dict]]:
    rows = []
    seen = set()
    for r in results:
        if r.tool not in ("answer_question", "describe_face") or not r.ok:
            continue
        evidence = (r.artifact or {}).get("evidence") or {}
        reading, measured = evidence.get("reading"), evidence.get("measurements") or {}
        image_id = str((r.artifact or {}).get("image_id") or r.args.get("image_id", ""))
        number = int((r.artifact or {}).get("face") or r.args.get("face") or 1)
        if reading and (image_id, number) not in seen:
            seen.add((image_id, number))
            rows.append((image_id, number, reading, measured))
    return rows


def _state_words(feature: str, reading: dict) -> str:
    if feature == "smile":
        return {
            "broad": "a broad smile",
            "smile": "a smile",
            "none": "no smile",
            "frown": "corners turned down",
        }.get(reading.get("smile", ""), "no smile")
    if feature == "eyes":
        return f"eyes {reading.get('eyes', 'open')}"
    if feature == "mouth":
        return f"mouth {reading.get('mouth', 'closed')}"
    if feature == "brows":
        return f"brows {reading.get('brows', 'neutral')}" + (
            ", drawn together" if reading.get("furrowed") else ""
        )
    return (
        "facing the camera"
        if reading.get("yaw") == "frontal"
        else f"head turned {reading.get('yaw_side') or 'aside'}"
    )


def _holds(feature: str, text: str, reading: dict) -> bool:
    """Whether a face shows what the question asks about ("blinking" -> eyes closed or squinting)."""
    t = text.lower()
    if feature == "eyes":
        if re.search(r"clos|shut|blink|asleep|squint|sleepy|half", t):
            return reading.get("eyes") in ("closed", "squinting", "winking")
        return reading.get("eyes") in ("open", "wide open")
    if feature == "smile":
        if re.search(r"frown", t):
            return reading.get("smile") == "frown"
        return reading.get("smile") in ("smile", "broad")
    if feature == "mouth":
        if re.search(r"clos|shut", t):
            return reading.get("mouth") == "closed"
        return reading.get("mouth") in ("slightly open", "open", "wide open")
    if feature == "brows":
        if re.search(r"frown|furrow|together", t):
            return bool(reading.get("furrowed"))
        return reading.get("brows") == "raised"
    return reading.get("yaw") in ("frontal", "slight")


def _feature_lead(
    results: Sequence[ToolResult],
    request: Request | None,
    names: Mapping[str, str],
    where: Mapping[tuple[str, int], str],
) -> str:
    """The answer to a question about a feature across faces or photos, first."""
    if request is None:
        return ""
    rows = _rows(results)
    if len(rows) < 2:
        return ""
    text = request.text
    feature = _feature_of(text)
    if feature is None:
        return ""
    photos = list(dict.fromkeys(i for i, *_ in rows))

    def who(image_id: str, number: int, capital: bool = False) -> str:
        many = sum(1 for i, *_ in rows if i == image_id) > 1
        label = f"face {number}" + (f" ({where[(image_id, number)]})" if (image_id, number) in where else "")
        if len(photos) > 1:
            label = f"{label} in {_photo_name(image_id, names)}" if many else _photo_name(image_id, names)
        return label[:1].upper() + label[1:] if capital and not re.match(r"[\w-]+\.\w+", label) else label

    ranking = re.search(
        r"\b(?:who|whose|which|compare|comparing|between)\b|\bmost\b|\bleast\b|\b\w+est\b|\bwider|\bbigger|\bmore\b",
        text,
        re.I,
    )
    if len(photos) > 1 and any(sum(1 for i, *_ in rows if i == p) > 1 for p in photos):
        # "in which photo do more people have their eyes open and face the camera?"
        features = [
            f
            for f in ("eyes", "head", "smile", "mouth", "brows")
            if f == feature or _feature_of(re.sub(feature, "", text)) == f
        ][:2]
        counts = {}
        for p in photos:
            mine = [r for i, n, r, m in rows if i == p]
            counts[p] = (
                sum(all(_holds(f, text if f == feature else "", r) for f in features) for r in mine),
                len(mine),
            )
        # "more people with ...": the count first; the share breaks a tie
        best = max(photos, key=lambda p: (counts[p][0], counts[p][0] / max(counts[p][1], 1)))
        what = " and ".join(
            {
                "eyes": "eyes open",
                "head": "facing the camera",
                "smile": "smiling",
                "mouth": "mouth open",
                "brows": "brows raised",
            }[f]
            for f in features
        )
        parts = "; ".join(f"{_photo_name(p, names)}: {counts[p][0]} of {counts[p][1]}" for p in photos)
        return f"**{_photo_name(best, names)}** has more people with {what} ({parts})."
    if ranking and feature in _MEASURE:
        least = bool(re.search(r"\bleast\b|\bnarrow|\bsmallest\b|\bless\b", text, re.I)) or (
            feature == "brows"
            and re.search(r"\blow(?:er|ering|ered|est)?\b|\bfrown|\bfurrow|\bknit", text, re.I)
        )
        order = _STATE_ORDER.get(feature, {})
        key = lambda row: (order.get(row[2].get(feature), 0), float(row[3].get(_MEASURE[feature], 0.0)))  # noqa: E731
        ranked = sorted(rows, key=key, reverse=not least)
        first = ranked[0]
        rest = "; ".join(f"{who(i, n)}: {_state_words(feature, r)}" for i, n, r, _ in ranked[1:])
        adjective = {
            "smile": "the biggest smile",
            "eyes": "the widest-open eyes",
            "mouth": "the most open mouth",
            "brows": "the highest brows",
        }[feature]
        if least:
            adjective = {
                "smile": "the smallest smile",
                "eyes": "the least open eyes",
                "mouth": "the most closed mouth",
                "brows": "the lowest brows",
            }[feature]
        if len(ranked) > 1 and key(ranked[0]) == key(ranked[1]):
            return (
                f"It's a tie on {feature}: "
                + "; ".join(f"{who(i, n)}: {_state_words(feature, r)}" for i, n, r, _ in ranked)
                + "."
            )
        if len(ranked) == 2:
            adjective = (
                {
                    "smile": "the bigger smile",
                    "eyes": "the wider-open eyes",
                    "mouth": "the more open mouth",
                    "brows": "the higher brows",
                }[feature]
                if not least
                else adjective.replace("most", "more")
                .replace("least", "less")
                .replace("smallest", "smaller")
                .replace("lowest", "lower")
            )
            second = ranked[1]
            same = first[2].get(feature) == second[2].get(feature)
            return (
                f"{who(first[0], first[1], capital=True)} has {adjective}: {_state_words(feature, first[2])}"
                + (
                    f" too for {who(second[0], second[1])}, but measured "
                    + (
                        {"smile": "smaller", "eyes": "less open", "mouth": "more closed", "brows": "lower"}
                        if least
                        else {"smile": "wider", "eyes": "wider open", "mouth": "more open", "brows": "higher"}
                    )[feature]
                    + " here"
                    if same
                    else f", against {_state_words(feature, second[2])} for {who(second[0], second[1])}"
                )
                + "."
            )
        return f"{who(first[0], first[1], capital=True)} has {adjective} ({_state_words(feature, first[2])}); then {rest}."
    if request.shape == "yesno" or request.anyone or request.everyone:
        hits = [(i, n, r) for i, n, r, _ in rows if _holds(feature, text, r)]
        if hits:
            listed = "; ".join(f"{who(i, n)} ({_state_words(feature, r)})" for i, n, r in hits)
            if len(hits) == len(rows):
                return f"Yes — all {_count_words(len(rows))}: {listed}."
            return (
                f"Yes — {listed}; the others: "
                + "; ".join(
                    f"{who(i, n)} {_state_words(feature, r)}" for i, n, r, _ in rows if (i, n, r) not in hits
                )
                + "."
            )
        states = {_state_words(feature, r) for *_, r, _m in rows}
        if len(states) == 1:
            return f"No — all {_count_words(len(rows))} have {states.pop()}."
        return "No — " + "; ".join(f"{who(i, n)}: {_state_words(feature, r)}" for i, n, r, _ in rows) + "."
    return ""


# --- videos --------------------------------------------------------------------------------------


def _video_text(result: ToolResult, request: Request | None, read_again: bool = False) -> str:
    artifact = result.artifact or {}
    text = result.content
    if result.tool == "video_frame":
        frame = str(artifact.get("text") or "").strip()
        name = str(artifact.get("name") or "the video")
        if artifact.get("face_count") == 0:
            return f"There is no face at that moment ({name}), so there is no expression to read there."
        return f"**{name}**: {frame}" if frame else ""
    summary = artifact.get("summary") or {}
    tracks = summary.get("tracks") if isinstance(summary, dict) else None
    emotion = artifact.get("emotion")
    if (
        request is not None
        and tracks
        and emotion
        and re.search(r"\b(?:start|starts|begin|begins|first|become|becomes|turn)\w*\b", request.text, re.I)
    ):
        peak = (tracks[0].get("peaks") or {}).get(emotion) or {}
        if peak.get("start_s") is not None:
            from tools.video import format_time

            word = (
                "smiling"
                if re.search(r"smil|laugh|grin", request.text, re.I)
                else f"looking {display_name(emotion)}"
            )
            return f"The face starts {word} at about **{format_time(peak['start_s'])}**. {text}"
    if request is not None and re.search(r"\bhow\s+many\b|\bcount\b|\btrack(?:ed|s)?\b", request.text, re.I):
        n = len(tracks) if isinstance(tracks, (list, dict)) else None
        if n is not None:
            head = f"**{n} face{'s' if n != 1 else ''}** tracked in {artifact.get('name', 'the video')}."
            return f"{head} {text}"
    return text


_WHEN_COMPARED_RE = re.compile(
    r"\bsame\s+(?:point|time|moment|place|spot)\b|\bwhen\b|\bat\s+what\s+(?:point|time)\b", re.IGNORECASE
)


def _videos_lead(videos: Sequence[ToolResult], request: Request | None) -> str:
    """Several videos compared ("where does he look happier?"): each one's peak of the emotion asked."""
    emotion = _asked_emotion(request) or "happy"
    peaks, moments = {}, {}
    for r in videos:
        artifact = r.artifact or {}
        tracks = (artifact.get("summary") or {}).get("tracks") or []
        peak = ((tracks[0].get("peaks") or {}).get(emotion) or {}) if tracks else {}
        peaks[str(artifact.get("name", "the video"))] = float(peak.get("probability") or 0.0)
        moments[str(artifact.get("name", "the video"))] = peak.get("t")
    if len(peaks) < 2:
        return ""
    name = display_name(emotion)
    if (
        request is not None
        and _WHEN_COMPARED_RE.search(request.text)
        and all(t is not None for t in moments.values())
    ):
        from tools.video import format_time

        times = [float(t) for t in moments.values()]
        when = ", ".join(f"{v} at {format_time(float(t))}" for v, t in moments.items())
        if max(times) - min(times) <= 1.0:
            return f"Yes — about the same point: the faces look most {name} at {when}."
        return f"No — at different points: the faces look most {name} at {when}."
    ranked = sorted(peaks, key=peaks.get, reverse=True)
    parts = ", ".join(f"{v} {_pct(peaks[v])}" for v in ranked)
    if max(peaks.values()) - min(peaks.values()) < 0.03:
        return f"About the same: at their most {name}, the faces read {name} at {parts}."
    tied = [v for v in ranked if peaks[ranked[0]] - peaks[v] < 0.03]
    if len(tied) > 1:  # the top ones tie: say so, then who trails
        return f"{names_list([f'**{v}**' for v in tied])} tie: at their most {name}, {parts}."
    return f"**{ranked[0]}** looks {_comparative_word(emotion)}: at their most {name}, {parts}."


# --- the answer ----------------------------------------------------------------------------------


def _each_text(
    results: Sequence[ToolResult], readings: list[_Reading], where: Mapping[tuple[str, int], str]
) -> str:
    """ "Describe each person": one line per face, its emotion and what the face does."""
    rows = {}
    for r in results:
        if r.tool in ("describe_face", "answer_question") and r.ok:
            artifact = r.artifact or {}
            key = (
                str(artifact.get("image_id") or r.args.get("image_id", "")),
                int(artifact.get("face") or r.args.get("face") or 1),
            )
            rows.setdefault(key, []).append(_answer_body(r))
    if len(rows) < 2:
        return ""
    emotions = {(x.image_id, x.number): x for x in readings}
    lines = []
    for key in sorted(rows):
        x = emotions.get(key)
        feel = f" — **{display_name(x.pred['label'])}** ({_pct(x.pred['confidence'])})" if x else ""
        place = f" ({where[key]})" if key in where else ""
        lines.append(f"- **Face {key[1]}**{place}{feel}: {' '.join(rows[key])}")
    return "\n".join(lines)


def compose_answer(
    results: Sequence[ToolResult],
    request: Request | None = None,
    names: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
    where: Mapping[tuple[str, int], str] | None = None,
    chosen: Mapping[tuple[str, int], str] | None = None,
    lookups: Sequence[tuple[str, dict]] = (),
    lead: str = "",
) -> str:
    """One answer from the results of a turn's tool calls: the question's answer first, figures after.

    Args:
        results: the tool calls of the turn, in order.
        request: the understood user message (its shape: yes/no, one word, ranking, one paragraph ...).
        names: image or video id -> file name.
        notes: extra sentences for the end (e.g. a tool that is not installed).
        where: (image id, face number) -> the face's position in words, for photos with several faces.
        chosen: faces the user named by position or emotion -> how to call them.
        lookups: calls that only looked up faces for this turn; their results are not reported.
        lead: a sentence for the start (a question back, a decline next to an analysis).
    """
    names = names or {}
    where = where or {}
    chosen = chosen or {}
    hidden = [(n, a) for n, a in lookups]
    shown = [r for r in results if not (r.ok and (r.tool, r.args) in hidden)]  # a failed look-up is news
    frames = {str((r.artifact or {}).get("image_id")) for r in shown if r.tool == "video_frame" and r.ok}
    photo_results = [r for r in shown if r.tool not in ("analyze_video", "video_frame")]
    images = list(dict.fromkeys(r.args.get("image_id", "") for r in photo_results))
    many = len(images) > 1
    readings = _readings(photo_results, where, chosen)
    paragraph = bool(request and request.paragraph)
    each = bool(request and request.each) and any(r.tool == "describe_face" for r in photo_results)
    by_feature = _feature_lead(photo_results, request, names, where)
    feature = (
        _region_lead(photo_results, request)
        or by_feature
        or _contrast_lead(photo_results, request)
        or _occlusion_lead(photo_results, request)
    )
    first = feature or _lead(readings, request, names, many)
    paragraphs = [p for p in (lead, first) if p]
    if each:
        text = _each_text(photo_results, readings, where)
        if text:
            paragraphs.append(text)
            photo_results = [r for r in photo_results if r.tool not in ("describe_face", "answer_question")]
            if len(images) == 1:
                photo_results = [r for r in photo_results if r.tool != "classify_emotion"]
    feature_led = bool(by_feature)
    videos = [r for r in shown if r.tool == "analyze_video" and r.ok]
    if len(videos) > 1:
        paragraphs.append(_videos_lead(videos, request))
    counts = [
        int((r.artifact or {}).get("count", 0)) for r in photo_results if r.tool == "find_faces" and r.ok
    ]
    if len(counts) > 1:
        paragraphs.append(f"**{sum(counts)} faces in total** across {len(counts)} photos.")
    for r in shown:
        if r.tool in ("analyze_video", "video_frame"):
            if not r.ok:
                paragraphs.append(_error_text(r, "", names))
            else:
                frame_id = str((r.artifact or {}).get("image_id"))
                again = any(p.args.get("image_id") == frame_id for p in photo_results)
                paragraphs.append(_video_text(r, request, again))
            continue
        if r not in photo_results:
            continue
        image_id = r.args.get("image_id", "")
        label = _photo_name(image_id, names) if (many and image_id not in frames) else ""
        prefix = f"**{label}**: " if label else ""
        face = r.args.get("face")
        face_words = _face_words(image_id, int(face), where, chosen) if isinstance(face, int) else ""
        multi = (image_id, 2) in where or any(k[0] == image_id for k in chosen)
        if not r.ok:
            paragraphs.append(_error_text(r, prefix, names))
        elif r.tool == "classify_emotion" and image_id in frames and len(readings) == 1 and not first:
            continue  # the frame's own reading is in the frame's text, beside the timeline's
        elif r.tool == "classify_emotion":
            paragraphs.append(
                _classify_text(r.artifact or {}, request, prefix, readings, names, bool(first), paragraph)
            )
        elif r.tool == "explain_prediction":
            paragraphs.append(_explain_text(r.artifact or {}, prefix, face_words if multi else "", not multi))
        elif r.tool in ("answer_question", "describe_face"):
            if feature_led and (r.tool == "answer_question" or len(_rows(photo_results)) > 1):
                continue  # the comparison above already gives each face's state
            body = _answer_body(r)
            if request is not None and _TEETH_RE.search(request.text) and "mouth" in body.lower():
                body += " " + _teeth_note(r)
            if request is not None and _COVERED_RE.search(request.text):
                body += " Part of the face is covered, so the landmarks there are estimated: treat this as uncertain."
            if multi and face_words:
                body = f"{body} ({face_words.replace(' (', ', ').rstrip(')')})"
            paragraphs.append(prefix + body)
        elif r.tool == "find_faces":
            paragraphs.append(_faces_text(r.artifact or {}, prefix, request))
        else:
            paragraphs.append(prefix + r.content)
    if request is not None and request.soft_note:
        thinking = re.search(r"\bthink\w*|\bon\s+(?:his|her|their)\s+mind\b", request.text, re.I)
        paragraphs.append(
            ("I can't tell what someone is thinking. " if thinking else "")
            + boundaries.EXPRESSION_NOT_FEELING
        )
    paragraphs.extend(notes)
    paragraphs = [p for p in paragraphs if p]
    if paragraph:
        flat = " ".join(re.sub(r"\s*\n+\s*", " ", p) for p in paragraphs if not p.lstrip().startswith("|"))
        return scrub(flat, names) or UNCLEAR
    return scrub("\n\n".join(paragraphs), names) or UNCLEAR
