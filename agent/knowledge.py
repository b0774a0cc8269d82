"""What the product can say without looking at a photo: the labels, Grad-CAM, faithfulness, the models.

``topic_of`` recognises a question about the product itself ("what does happily surprised mean?",
"what is grad-cam?", "which model is loaded?"); ``answer`` writes the reply. Questions about a face in
a photo ("what is she feeling?", "what does her expression mean?") are never knowledge questions:
they need the tools.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tools.errors import InvalidRequestError
from tools.labels import BASIC7, display_name, normalize_label

__all__ = ["topic_of", "answer", "default_model_info", "BASIC_MEANINGS"]

BASIC_MEANINGS = {
    "angry": "anger: brows lowered and drawn together, eyes glaring, lips pressed or the mouth squared",
    "disgust": "disgust: the nose wrinkled, the upper lip raised, often the brows lowered",
    "fear": "fear: brows raised and drawn together, eyes wide with the upper lids raised, lips stretched back",
    "happy": "happiness: mouth corners raised in a smile, cheeks lifted, often crow's feet at the eyes",
    "sad": "sadness: the inner ends of the brows raised, mouth corners pulled down, eyelids drooping",
    "surprise": "surprise: brows raised high, eyes wide open, the jaw dropped with the mouth open",
    "neutral": "neutral: a relaxed face with no expression pulling the brows, eyes or mouth",
    "contempt": "contempt: one mouth corner tightened and raised, a one-sided sneer",
}
_ADVERB = {"happily": "happy", "sadly": "sad", "fearfully": "fear", "angrily": "angry", "disgustedly": "disgust",
           "surprisedly": "surprise"}  # fmt: skip

_PERSONAL = re.compile(
    r"\b(?:she|he|her|him|his|hers|they|them|their)\b|\b(?:this\s+(?:person|face|woman|man|photo|picture|image|pic)|"
    r"the\s+(?:person|face|woman|man|photo|picture|image|lady|guy)\b(?!\s+(?:model|classifier))|face\s*\d|photo\s*\d|"
    r"img\d|in\s+the\s+(?:photo|picture|image))",
    re.IGNORECASE,
)
_DEFINE = re.compile(
    r"\bmean(?:s|ing|t)?\b|\bdefin(?:e|ition)\b|^\W*(?:so\s+|and\s+|ok\s+)?(?:what|what's|whats)\s+(?:is|are|'s)?\s*"
    r"(?:a\s+|an\s+|the\s+)?|\bdifference\s+between\b|\bhow\s+(?:does|do|is|are)\b.*\bwork|\bhow\s+(?:do|does|did)\s+"
    r"(?:you|it|the\s+\w+)\s+(?:measure|compute|calculate|work\s+out|decide)|\bexplain\s+what\b|\btell\s+me\s+about\b|"
    r"\bwhat\s+does\s+.*\b(?:show|tell|say)\b",
    re.IGNORECASE,
)
_GRADCAM = re.compile(
    r"\b(?:grad|score|eigen|layer|hires|xgrad|ablation|eigengrad)[\s-]*cam|\bcam\b|\bheat[\s-]*maps?\b|"
    r"\bsaliency|\bfull[\s-]*grad",
    re.IGNORECASE,
)
_FAITH = re.compile(r"\bfaithful", re.IGNORECASE)
_MODEL = re.compile(
    r"\b(?:which|what)\s+(?:emotion\s+)?(?:model|classifier|network|neural\s+net)s?\b|\btrained\s+on\b|"
    r"\b(?:training\s+)?(?:data\s*set|dataset|training\s+data)\b|\bhow\s+(?:accurate|good|reliable)\s+is\s+(?:the\s+|your\s+|this\s+)?"
    r"(?:model|classifier|network|it)\b|\baccuracy\b|\bmodels?\s+(?:is|are)\s+(?:loaded|used|running)\b|"
    r"\b(?:model|classifier)\s+(?:do\s+you|are\s+you)\s+(?:use|using|run|running)\b|\bwhich\s+model\b",
    re.IGNORECASE,
)
_LABELS = re.compile(
    r"\b(?:which|what)\s+(?:emotions|labels|classes|expressions|categories)\s+(?:can|could|does|do|will)\s+"
    r"(?:the\s+|your\s+|this\s+)?(?:model|classifier|network|you|it|app|system)\s+(?:predict|recogni[sz]e|detect|know|"
    r"tell\s+apart|read|classify|distinguish|output|handle)|\bbasic\s+emotions\b|"
    r"\blist\s+(?:the\s+|all\s+(?:the\s+)?)?(?:emotions|labels|classes)\b|\bwhat\s+(?:labels|classes)\b|"
    r"\b(?:labels|classes|categories|emotion\s+names)\s+mean\b",
    re.IGNORECASE,
)
_COMPOUND = re.compile(r"\bcompound\b", re.IGNORECASE)
_EMOTION = re.compile(
    r"\b(?:(happily|sadly|fearfully|angrily|disgustedly|surprisedly)[\s_-]+([a-z]+)|(contempt|anger|angry|disgust|"
    r"disgusted|fear|fearful|happiness|happy|sadness|sad|surprise|surprised|neutral))\b",
    re.IGNORECASE,
)


def topic_of(text: str) -> str | None:
    """The product topic a question asks about, or None when it is not such a question.

    Returns ``model``, ``labels``, ``faithfulness``, ``gradcam``, ``compound`` or ``emotion:<words>``
    (the emotions named, comma-separated).
    """
    if _PERSONAL.search(text):
        return None
    if _MODEL.search(text):
        return "model"
    if _LABELS.search(text):
        return "labels"
    if not _DEFINE.search(text):
        return None
    if _FAITH.search(text):
        return "faithfulness"
    if _GRADCAM.search(text):
        return "gradcam"
    emotions = [m.group(0).lower() for m in _EMOTION.finditer(text)]
    if emotions and re.search(
        r"\bmean|\bdefin|\bdifference|^\W*(?:what|what's|whats)\s+(?:is|are)\b", text, re.I
    ):
        return "emotion:" + ",".join(emotions)
    if _COMPOUND.search(text):
        return "compound"
    return None


def _emotion_text(word: str, labels: Sequence[str]) -> str:
    m = _EMOTION.fullmatch(word)
    if m and m.group(1):
        adverb, adjective = m.group(1).lower(), m.group(2).lower()
        try:
            second = normalize_label(adjective, BASIC7)
        except InvalidRequestError:
            second = adjective
        first = _ADVERB[adverb]
        try:
            known = normalize_label(f"{adverb} {adjective}", labels)
            note = f"It is one of this model's labels ({display_name(known)})."
        except InvalidRequestError:
            note = (
                "This model does not predict it directly; I derive such a compound reading from its "
                "basic-emotion scores when two emotions are both strong."
            )
        return (
            f"**{adverb} {adjective}** is a compound emotion (RAF-DB / RAF-CE): mostly {display_name(second)}, "
            f"with {display_name(first)} mixed in — the face shows signs of both "
            f"({BASIC_MEANINGS.get(second, second).split(':')[1].strip()}; and "
            f"{BASIC_MEANINGS.get(first, first).split(':')[1].strip()}). {note}"
        )
    try:
        label = normalize_label(word, (*BASIC7, "contempt"))
    except InvalidRequestError:
        return ""
    meaning = BASIC_MEANINGS.get(label, display_name(label))
    name, _, signs = meaning.partition(":")
    known = "one of this model's labels" if label in labels else "not one of this model's labels"
    return f"**{display_name(label)}** ({name}) — typical signs:{signs} ({known})."


def default_model_info() -> dict[str, Any] | None:
    """The default classifier's model card (loads the default model, cached)."""
    try:
        from tools.classifier import default_classifier

        spec = default_classifier(None).spec
    except Exception:  # noqa: BLE001 - a missing model must not break a question about it
        return None
    return spec.summary()


def _model_text(info: Mapping[str, Any] | None, labels: Sequence[str]) -> str:
    if not info:
        info = default_model_info()
        labels = (info or {}).get("labels") or labels
    if not info:
        return (
            f"The emotion model predicts {len(labels)} labels: {', '.join(display_name(x) for x in labels)}."
        )
    provenance = info.get("provenance") or {}
    parts = [f"The emotion classifier is **{info.get('name', 'unknown')}**"]
    if info.get("arch"):
        parts[0] += (
            f" ({info['arch']}, {info.get('input_size', '?')} px {'grey' if info.get('channels') == 1 else 'colour'} face crops)"
        )
    dataset = provenance.get("dataset")
    if dataset:
        parts.append(f"trained on {dataset}")
    text = ", ".join(parts) + "."
    if provenance.get("reported_accuracy") or provenance.get("accuracy") or provenance.get("metrics"):
        text += f" Reported accuracy: {provenance.get('reported_accuracy') or provenance.get('accuracy') or provenance.get('metrics')}."
    if provenance.get("source"):
        text += f" Weights: {provenance['source']}."
    text += f" It predicts {len(labels)} labels: {', '.join(display_name(x) for x in labels)}."
    text += (
        " Faces are found by the face detector and aligned before classification; the explanations use "
        "Grad-CAM-family heatmaps on the same network, and questions about the face are answered from 68 "
        "facial landmarks (or BLIP-VQA when its weights are installed)."
    )
    return text


GRADCAM_TEXT = (
    "**Grad-CAM** (gradient-weighted class activation mapping) shows where the network looked: it takes the "
    "feature maps of one convolutional layer, weights each map by the gradient of the chosen emotion's score "
    "with respect to it, sums them and keeps the positive part. The result is a coarse heatmap over the face — "
    "hot where evidence for that emotion was found. I report how the heat splits over facial regions (eyes, "
    "brows, nose, mouth, cheeks/jaw, forehead, other) and can use 14 variants (Grad-CAM++, Score-CAM, "
    "Eigen-CAM ...). A heatmap shows correlation inside the network, not a proof of why; that is what the "
    "faithfulness figure checks."
)
FAITH_TEXT = (
    "The **faithfulness** figure checks whether the heatmap really shows what the prediction depends on: the "
    "hottest 20% of the explained layer's cells are removed (set to their mean) and the drop in the "
    "emotion's probability is compared with the drop from removing random 20% sets. Score = hot drop minus "
    "random drop: clearly positive means *faithful* (the hot spots matter more than chance), near zero means "
    "*not shown to be faithful*, negative means *unfaithful*."
)
COMPOUND_TEXT = (
    "**Compound emotions** (from RAF-DB / RAF-CE) combine two basic emotions on one face, e.g. *happily "
    "surprised* (surprise with joy), *sadly angry*, *fearfully surprised*, *disgustedly angry*. A compound "
    "model predicts them directly; with a basic-emotion model I derive a compound reading when the two "
    "strongest emotions are both substantial, and say that it is derived."
)


def answer(topic: str, labels: Sequence[str], model_info: Mapping[str, Any] | None = None) -> str:
    """The reply to a knowledge question.

    Args:
        topic: what ``topic_of`` returned.
        labels: the classifier's labels.
        model_info: the classifier's model card (name, arch, provenance ...), when known.
    """
    if model_info is None and topic != "gradcam" and topic != "faithfulness":
        model_info = default_model_info()  # the session's default model, loaded on first use
    labels = list((model_info or {}).get("labels") or labels)
    if topic == "model":
        return _model_text(model_info, labels)
    if topic == "labels":
        basic = [x for x in labels if "_" not in x]
        compound = [x for x in labels if "_" in x]
        text = f"The emotion model predicts: {', '.join(display_name(x) for x in basic)}."
        if compound:
            text += f" Compound labels: {', '.join(display_name(x) for x in compound)}."
        return text + " Ask me what any of them means, e.g. *what does happily surprised mean?*"
    if topic == "gradcam":
        return GRADCAM_TEXT
    if topic == "faithfulness":
        return FAITH_TEXT
    if topic == "compound":
        return COMPOUND_TEXT
    if topic.startswith("emotion:"):
        words = list(dict.fromkeys(topic.removeprefix("emotion:").split(",")))
        parts = [t for t in (_emotion_text(w, labels) for w in words) if t]
        if parts:
            return "\n\n".join(parts)
    return COMPOUND_TEXT
