"""Answer writing for the offline planner: one combined reply built from the tools' structured results.

Every figure comes from a tool artifact (never from the text), so the words match the numbers the
UI shows: the emotion and its confidence, the runner-up, the compound reading (marked derived when
it was combined from basic scores), the heatmap's regions with their shares and its faithfulness,
and the facial state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    '- **compare photos** and pick out faces ("compare the two photos", "what about the second face?").\n'
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


def _classify_text(artifact: dict, request: Request | None, prefix: str) -> str:
    preds = artifact.get("predictions") or []
    lines = []
    many_faces = len(preds) > 1
    for pred in preds:
        ranked = sorted(pred["probs"].items(), key=lambda kv: kv[1], reverse=True)
        who = f"Face {pred['face'] + 1}" if many_faces or pred["face"] else "The face"
        line = f"{who} reads **{display_name(pred['label'])}** ({_pct(pred['confidence'])} confidence)"
        if len(ranked) > 1:
            line += f"; runner-up: {display_name(ranked[1][0])} ({_pct(ranked[1][1])})"
        line += ". " + _compound_sentence(pred.get("compound"))
        asked = [
            e for e in (request.emotions if request else []) if e in pred["probs"] and e != pred["label"]
        ]
        for emotion in asked[:2]:
            line += f" You asked about {display_name(emotion)}: {_pct(pred['probs'][emotion])}, so not the main reading."
        if request and pred["label"] in request.emotions:
            line += f" So yes, {display_name(pred['label'])} is what the model sees."
        lines.append(line.strip())
    return (prefix + " ".join(lines)).strip()


def _explain_text(artifact: dict, prefix: str) -> str:
    method = METHOD_TITLES.get(artifact.get("method", ""), artifact.get("method", "the heatmap"))
    target = display_name(artifact.get("target", "?"))
    what = f"**{target}**"
    if artifact.get("versus"):
        what += f" rather than {display_name(artifact['versus'])}"
    face = int(artifact.get("face", 0)) + 1
    top = [(name, share) for name, share in artifact.get("top_regions", []) if share >= 0.01][:3]
    if top:
        words = [f"{_REGION_WORDS.get(name, 'on ' + name)} ({_pct(share)})" for name, share in top]
        where = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        heat = f"the heat lies mostly {where}"
    else:
        heat = "the heat has no clear focus"
    p = artifact.get("target_probability")
    prob = f" (the model gives {target} {_pct(p)})" if p is not None else ""
    text = f"{prefix}{method} for {what} on face {face}{prob}: {heat}."
    faith = str(artifact.get("faithfulness_text", "")).strip()
    if faith:
        text += " " + faith[:1].upper() + faith[1:] + ("" if faith.endswith(".") else ".")
    if artifact.get("overlay_png"):
        text += " The heatmap is attached."
    return text


def _answer_text(result: ToolResult, prefix: str) -> str:
    artifact = result.artifact or {}
    text = str(artifact.get("text", "")).strip()
    how = {"geometry": "from the facial landmarks", "blip": "from the BLIP visual question model"}.get(
        artifact.get("backend", "")
    )
    if result.tool == "describe_face":
        body = text
    else:
        question = str(artifact.get("question") or result.args.get("question", "")).strip()
        body = f"*{question}* {text}" if question else text
    if how and artifact.get("in_scope", True):
        body += f" ({how})"
    return prefix + body


def _error_text(result: ToolResult, prefix: str) -> str:
    message = (result.artifact or {}).get("error") or result.content.removeprefix("Error:").strip()
    verb = {
        "classify_emotion": "read the emotion",
        "explain_prediction": "explain the prediction",
        "answer_question": "answer that question",
        "describe_face": "describe the face",
    }.get(result.tool, f"run {result.tool}")
    return f"{prefix}I couldn't {verb}: {message}"


def _comparison(results: Sequence[ToolResult], request: Request | None, names: Mapping[str, str]) -> str:
    firsts = []
    for r in results:
        preds = (r.artifact or {}).get("predictions") if r.ok else None
        if r.tool == "classify_emotion" and preds:
            firsts.append((r.args.get("image_id", "?"), preds[0]))
    if len(firsts) < 2:
        return ""
    parts = [
        f"{_name(i, names, True)}: {display_name(p['label'])} ({_pct(p['confidence'])})" for i, p in firsts
    ]
    text = "Comparison (most prominent face of each photo): " + "; ".join(parts) + "."
    emotion = (request.comparative or request.target) if request else None
    if emotion and all(emotion in p["probs"] for _, p in firsts):
        best = max(firsts, key=lambda ip: ip[1]["probs"][emotion])
        text += (
            f" The most {display_name(emotion)} is {_name(best[0], names, True)} "
            f"({display_name(emotion)} {_pct(best[1]['probs'][emotion])})."
        )
    elif len({p["label"] for _, p in firsts}) == 1:
        text += f" Both read {display_name(firsts[0][1]['label'])}."
    return text


def compose_answer(
    results: Sequence[ToolResult],
    request: Request | None = None,
    names: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """One answer from the results of a turn's tool calls.

    Args:
        results: the tool calls of the turn, in order.
        request: the understood user message (mentioned emotions are answered directly).
        names: image id -> display name.
        notes: extra sentences for the end (e.g. a tool that is not installed).
    """
    names = names or {}
    images = list(dict.fromkeys(r.args.get("image_id", "") for r in results))
    many = len(images) > 1
    paragraphs = []
    for r in results:
        label = _name(r.args.get("image_id", ""), names, many)
        prefix = f"**{label}**: " if label else ""
        if not r.ok:
            paragraphs.append(_error_text(r, prefix))
        elif r.tool == "classify_emotion":
            paragraphs.append(_classify_text(r.artifact or {}, request, prefix))
        elif r.tool == "explain_prediction":
            paragraphs.append(_explain_text(r.artifact or {}, prefix))
        elif r.tool in ("answer_question", "describe_face"):
            paragraphs.append(_answer_text(r, prefix))
        else:
            paragraphs.append(prefix + r.content)
    comparison = _comparison(results, request, names)
    if comparison:
        paragraphs.append(comparison)
    paragraphs.extend(notes)
    return "\n\n".join(p for p in paragraphs if p) or UNCLEAR
