"""Answer writing for the offline planner: one combined reply built from the tools' structured results.

Every figure comes from a tool artifact (never from the text), so the words match the numbers the
UI shows: the emotion and its confidence, the runner-up, the compound reading (marked derived when
it was combined from basic scores), the heatmap's regions with their shares and its faithfulness,
and the facial state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.intents import Request
from agent.results import ToolResult
from tools.explainer import METHOD_TITLES
from tools.labels import display_name

__all__ = [
    "compose_answer",
    "help_text",
    "small_talk_text",
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
    "I look at the faces in the photos you upload and can:\n"
    '- **read the emotion** on each face ("What is she feeling?"): the emotion with its confidence, the '
    "runner-up and a compound reading such as *happily surprised*;\n"
    '- **explain the prediction** with a heatmap ("Why?", "Show me the heatmap for sadness", "with '
    'Grad-CAM++ / Score-CAM"): which facial regions drove it, with their shares and a faithfulness check;\n'
    '- **answer questions about the face** ("Is the mouth open?", "Are her eyes closed?", "Describe the '
    'face");\n'
    '- **find and count faces** ("How many people are there?"), with a photo of numbered boxes, and talk '
    'about one of them ("the person on the left", "face 2", "the smiling one");\n'
    '- **compare photos and faces** ("compare this one with the first photo", "which of the two looks '
    'happier?", "what is everyone feeling?");\n'
    '- **explain the product** ("What does happily surprised mean?", "What is Grad-CAM?", "Which model is '
    'this?").\n'
    "Everything runs on this machine; I cannot read files, run code or browse the web."
)
NEED_PHOTO = (
    'Please upload a photo of a face first (JPEG, PNG, WebP ...). Then ask me, for example, "What is she '
    'feeling?", "Why?" or "Is the mouth open?".'
)
REFUSAL = (
    "Sorry, I can't do that: I only work with the photos uploaded to this chat, so I don't read files, run "
    "code, browse the web or identify people. I can read the emotion on a face, explain it with a heatmap, "
    "or answer questions about the face."
)
UNCLEAR = (
    'I\'m not sure what you\'d like me to do with the photo. You can ask "What is she feeling?", "Why did '
    'you predict that?", "Show me the heatmap for surprise", "Is the mouth open?" or "Describe the '
    'face"; type "help" for more.'
)


def help_text(has_images: bool) -> str:
    """What the assistant can do, with a hint about the next step."""
    hint = "" if has_images else "\n\nUpload a photo of a face to begin."
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
            else (
                "Upload a photo of a face and ask me what the person is feeling, why, or about their eyes and mouth."
            )
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
        return f"{100 * p:.1f}%"
    return f"{100 * p:.0f}%" if p >= 0.01 else f"{100 * p:.1f}%"


def _name(image_id: str, names: Mapping[str, str], many: bool) -> str:
    if not many:
        return ""
    name = names.get(image_id)
    return f"{image_id} ({name})" if name and name != image_id else image_id


def _compound_sentence(compound: dict | None) -> str:
    if not compound:
        return ""
    if compound.get("label") is None:
        suffix = " (derived from the basic-emotion scores)" if compound.get("derived") else ""
        return f"Compound reading: none, one emotion dominates{suffix}."
    label = display_name(compound["label"])
    if compound.get("derived"):
        parts = " + ".join(display_name(c) for c in compound.get("components", ()))
        extra = "" if compound.get("in_label_set", True) else ", not one of RAF-CE's compound classes"
        return (
            f"Compound reading: {label} (derived from the basic-emotion scores: {parts}{extra}; "
            "not predicted by a compound model)."
        )
    return f"Compound reading: {label} ({_pct(compound.get('score', 0.0))}, predicted by the compound model)."


_SUPERLATIVE = {"happy": "happiest", "sad": "saddest", "angry": "angriest", "neutral": "calmest"}
_COMPARATIVE_WORD = {"happy": "happier", "sad": "sadder", "angry": "angrier", "neutral": "calmer"}


def _superlative(emotion: str, least: bool = False) -> str:
    if least:
        return f"the least {display_name(emotion)}"
    return "the " + _SUPERLATIVE.get(emotion, f"most {display_name(emotion)}")


def _comparative_word(emotion: str, least: bool = False) -> str:
    if least:
        return f"less {display_name(emotion)}"
    return _COMPARATIVE_WORD.get(emotion, f"more {display_name(emotion)}")


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
            text = (f"{text} in " if self.many_faces or self.chosen else "") + _name(
                self.image_id, names, True
            )
            if not (self.many_faces or self.chosen):
                text = _name(self.image_id, names, True)
        return text[:1].upper() + text[1:] if capital and not re.match(r"img\d", text) else text

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
    return request.comparative or request.target or (request.emotions[0] if request.emotions else None)


def _lead(
    readings: list[_Reading], request: Request | None, names: Mapping[str, str], many_images: bool
) -> str:
    """The answer to the question, first: yes/no, the one word, the ranking or the comparison."""
    if not readings or request is None:
        return ""
    emotion = _asked_emotion(request)
    least = bool(re.search(r"\b(?:least|less)\b", request.text, re.IGNORECASE))
    if request.shape == "word" and len(readings) == 1:
        return f"**{display_name(readings[0].pred['label']).capitalize()}**"
    if (request.shape == "rank" or request.comparative) and emotion and len(readings) > 1:
        ranked = sorted(readings, key=lambda x: x.p(emotion), reverse=not least)
        best = ranked[0]
        if len(ranked) == 2:
            other = ranked[1]
            return (
                f"{best.who(names, many_images)} looks {_comparative_word(emotion, least)}: "
                f"{display_name(emotion)} {_pct(best.p(emotion))} vs {_pct(other.p(emotion))} for "
                f"{other.who(names, many_images, capital=False)}."
            )
        rest = ", ".join(
            f"{x.who(names, many_images, capital=False)} {_pct(x.p(emotion))}" for x in ranked[1:]
        )
        return (
            f"{best.who(names, many_images)} looks {_superlative(emotion, least)}: {display_name(emotion)} "
            f"{_pct(best.p(emotion))}, then {rest}."
        )
    if request.shape == "yesno" and emotion:
        hits = [x for x in readings if x.pred["label"] == emotion]
        if len(readings) == 1:
            x = readings[0]
            if hits:
                return f"Yes — {x.who(names, many_images, capital=False)} reads **{display_name(emotion)}** ({_pct(x.pred['confidence'])} confidence)."
            return (
                f"No — {x.who(names, many_images, capital=False)} reads **{display_name(x.pred['label'])}** "
                f"({_pct(x.pred['confidence'])}); {display_name(emotion)} is {_pct(x.p(emotion))}."
            )
        every = request.everyone or bool(re.search(r"\b(?:both|all|every)\b", request.text, re.IGNORECASE))
        if every:
            if len(hits) == len(readings):
                return f"Yes — all {len(readings)} read **{display_name(emotion)}**."
            if hits:
                who = ", ".join(x.who(names, many_images, capital=False) for x in hits)
                return f"No — only {who} read{'s' if len(hits) == 1 else ''} **{display_name(emotion)}**."
            return f"No — none of them reads **{display_name(emotion)}**."
        if hits:
            who = ", ".join(
                f"{x.who(names, many_images, capital=False)} ({_pct(x.p(emotion))})" for x in hits
            )
            return f"Yes — {who} read{'s' if len(hits) == 1 else ''} **{display_name(emotion)}**."
        top = max(readings, key=lambda x: x.p(emotion))
        return (
            f"No — no face reads **{display_name(emotion)}**; the highest {display_name(emotion)} score is "
            f"{_pct(top.p(emotion))}, for {top.who(names, many_images, capital=False)}."
        )
    if many_images and len({x.image_id for x in readings}) > 1:
        firsts = {}
        for x in readings:
            firsts.setdefault(x.image_id, x)
        labels = {x.pred["label"] for x in firsts.values()}
        parts = ", ".join(
            f"{'the most prominent face of ' if x.many_faces else ''}{_name(i, names, True)} reads "
            f"**{display_name(x.pred['label'])}** ({_pct(x.pred['confidence'])})"
            for i, x in firsts.items()
        )
        if len(labels) == 1:
            return f"{'Both' if len(firsts) == 2 else 'All'} read **{display_name(labels.pop())}**: {parts}."
        return f"They differ: {parts}."
    return ""


def _compound_once(readings: list[_Reading]) -> str:
    """The compound readings of several faces in one sentence (the boilerplate said once)."""
    named = [
        (x, x.pred.get("compound") or {}) for x in readings if (x.pred.get("compound") or {}).get("label")
    ]
    derived = any((x.pred.get("compound") or {}).get("derived") for x in readings)
    how = " (derived from the basic-emotion scores, not predicted by a compound model)" if derived else ""
    if not named:
        return f"Compound readings: none, one emotion dominates on every face{how}." if derived else ""
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


def _group_text(readings: list[_Reading], prefix: str, annotated: bool, said_none: bool = False) -> str:
    readings = sorted(readings, key=lambda x: (x.image_id, x.number))
    head = ", ".join(
        f"face {x.number}{f' ({x.where})' if x.where else ''} **{display_name(x.pred['label'])}**"
        for x in readings
    )
    note = ", numbered on the attached photo" if annotated else ""
    text = f"{prefix}**{len(readings)} faces**{note}: {head}.\n\n{_table(readings)}"
    compound = _compound_once(readings)
    if said_none and compound.startswith("Compound readings: none"):
        compound = ""
    return text + (f"\n\n{compound}" if compound else "")


def _classify_text(
    artifact: dict,
    request: Request | None,
    prefix: str,
    readings: list[_Reading],
    names: Mapping[str, str],
    many_images: bool,
    led: bool,
    said: set[str],
) -> str:
    mine = [x for x in readings if x.image_id == artifact.get("image_id")]
    if len(mine) > 1:
        if led and not many_images:
            return ""  # the answer (ranking, yes/no) already gives each face's figure: no list again
        text = _group_text(mine, prefix, bool(artifact.get("annotated_png")), "none" in said)
        said.add("none")
        return text
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
        key = "none" if (pred.get("compound") or {}).get("label") is None else compound
        if compound and key not in said:
            said.add(key)
            line += " " + compound
        asked = [
            e for e in (request.emotions if request else []) if e in pred["probs"] and e != pred["label"]
        ]
        if not led:
            for emotion in asked[:2]:
                line += f" You asked about {display_name(emotion)}: {_pct(pred['probs'][emotion])}, so not the main reading."
            if request and pred["label"] in request.emotions:
                line += f" So yes, {display_name(pred['label'])} is what the model sees."
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


def _explain_text(artifact: dict, prefix: str, face_words: str = "") -> str:
    method = METHOD_TITLES.get(artifact.get("method", ""), artifact.get("method", "the heatmap"))
    target = display_name(artifact.get("target", "?"))
    what = f"**{target}**"
    if artifact.get("versus"):
        what += f" rather than {display_name(artifact['versus'])}"
    face = int(artifact.get("face", 1))
    top = [(name, share) for name, share in artifact.get("top_regions", []) if share >= 0.01][:3]
    if top:
        words = [f"{_REGION_WORDS.get(name, 'on ' + name)} ({_pct(share)})" for name, share in top]
        where = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        heat = f"the heat lies mostly {where}"
    else:
        heat = "the heat has no clear focus"
    p = artifact.get("target_probability")
    prob = f" (the model gives {target} {_pct(p)})" if p is not None else ""
    text = f"{prefix}{method} for {what}{prob} on {face_words or f'face {face}'}: {heat}."
    faith = str(artifact.get("faithfulness_text", "")).strip()
    if faith:
        text += " " + faith[:1].upper() + faith[1:] + ("" if faith.endswith(".") else ".")
    if artifact.get("overlay_png"):
        text += " The heatmap is attached."
    return text


def _answer_text(result: ToolResult, prefix: str, echo: bool, face_words: str = "") -> str:
    artifact = result.artifact or {}
    text = str(artifact.get("text", "")).strip()
    how = {"geometry": "from the facial landmarks", "blip": "from the BLIP visual question model"}.get(
        artifact.get("backend", "")
    )
    if result.tool == "describe_face" or not echo:
        body = text
    else:
        question = str(artifact.get("question") or result.args.get("question", "")).strip()
        body = f"{text} (*{question}*)" if question else text
    extra = [
        w
        for w in (face_words.replace(" (", ", ").rstrip(")"), how if artifact.get("in_scope", True) else None)
        if w
    ]
    if extra:
        body += f" ({'; '.join(extra)})"
    return prefix + body


def _faces_text(artifact: dict, prefix: str) -> str:
    count = int(artifact.get("count", 0))
    if count == 0:
        return f"{prefix}I can't find a face in this photo."
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
    return f"{prefix}I can see **{count} faces**: " + ", ".join(parts) + "." + note


def _error_text(result: ToolResult, prefix: str) -> str:
    message = (result.artifact or {}).get("error") or result.content.removeprefix("Error:").strip()
    verb = {
        "classify_emotion": "read the emotion",
        "explain_prediction": "explain the prediction",
        "answer_question": "answer that question",
        "describe_face": "describe the face",
        "find_faces": "find the faces",
    }.get(result.tool, f"run {result.tool}")
    return f"{prefix}I couldn't {verb}: {message}"


def compose_answer(
    results: Sequence[ToolResult],
    request: Request | None = None,
    names: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
    where: Mapping[tuple[str, int], str] | None = None,
    chosen: Mapping[tuple[str, int], str] | None = None,
    lookups: Sequence[tuple[str, dict]] = (),
) -> str:
    """One answer from the results of a turn's tool calls: the question's answer first, figures after.

    Args:
        results: the tool calls of the turn, in order.
        request: the understood user message (its shape: yes/no, one word, ranking ...).
        names: image id -> display name.
        notes: extra sentences for the end (e.g. a tool that is not installed).
        where: (image id, face number) -> the face's position in words, for photos with several faces.
        chosen: faces the user named by position or emotion -> how to call them.
        lookups: calls that only looked up faces for this turn; their results are not reported.
    """
    names = names or {}
    where = where or {}
    chosen = chosen or {}
    hidden = [(n, a) for n, a in lookups]
    shown = [r for r in results if not (r.ok and (r.tool, r.args) in hidden)]  # a failed look-up is news
    images = list(dict.fromkeys(r.args.get("image_id", "") for r in shown))
    many = len(images) > 1
    readings = _readings(shown, where, chosen)
    lead = _lead(readings, request, names, many)
    paragraphs = [lead] if lead else []
    said: set[str] = set()
    asks = sum(1 for r in shown if r.tool == "answer_question")
    counts = [int((r.artifact or {}).get("count", 0)) for r in shown if r.tool == "find_faces" and r.ok]
    if len(counts) > 1:
        paragraphs.append(f"**{sum(counts)} faces in total** across {len(counts)} photos.")
    for r in shown:
        label = _name(r.args.get("image_id", ""), names, many)
        prefix = f"**{label}**: " if label else ""
        image_id = r.args.get("image_id", "")
        face = r.args.get("face")
        face_words = _face_words(image_id, int(face), where, chosen) if isinstance(face, int) else ""
        multi = (image_id, 2) in where or any(k[0] == image_id for k in chosen)
        if not r.ok:
            paragraphs.append(_error_text(r, prefix))
        elif r.tool == "classify_emotion":
            paragraphs.append(
                _classify_text(r.artifact or {}, request, prefix, readings, names, many, bool(lead), said)
            )
        elif r.tool == "explain_prediction":
            paragraphs.append(_explain_text(r.artifact or {}, prefix, face_words))
        elif r.tool in ("answer_question", "describe_face"):
            paragraphs.append(_answer_text(r, prefix, asks > 1, face_words if multi else ""))
        elif r.tool == "find_faces":
            paragraphs.append(_faces_text(r.artifact or {}, prefix))
        else:
            paragraphs.append(prefix + r.content)
    paragraphs.extend(notes)
    return "\n\n".join(p for p in paragraphs if p) or UNCLEAR
