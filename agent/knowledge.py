"""What the product can say without looking at a photo: the answers to questions about the product.

Understanding (``agent.understanding``) recognises the question and its topic; ``answer`` writes the
reply: the labels and what they look like, compound readings, Grad-CAM and the CAM methods,
faithfulness, the model and its measured accuracy with its limits, what it can read, privacy, running
offline, file formats, the live camera, the Python API / CLI / REST / MCP, the law (EU AI Act) and why
an expression is not a feeling. Figures come from the model card and the project's measurements, never
invented.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tools.errors import InvalidRequestError
from tools.labels import BASIC7, display_name, normalize_label

__all__ = ["answer", "default_model_info", "BASIC_MEANINGS", "TOPIC_TEXTS"]

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

_EMOTION = re.compile(
    r"\b(?:(happily|sadly|fearfully|angrily|disgustedly|surprisedly)[\s_-]+([a-z]+)|(contempt|anger|angry|disgust|"
    r"disgusted|fear|fearful|happiness|happy|sadness|sad|surprise|surprised|neutral))\b",
    re.IGNORECASE,
)


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
    text = f"The emotion classifier is **{info.get('name', 'unknown')}**"
    if info.get("arch"):
        colour = "grey" if info.get("channels") == 1 else "colour"
        text += f", a {info['arch'].replace('_', ' ')} network reading {info.get('input_size', '?')} px {colour} face crops"
    dataset = str(provenance.get("dataset") or "")
    if dataset.startswith("not documented"):
        text += f". Its training data are {dataset} (its authors do not say which dataset they used)"
    elif dataset:
        text += f", trained on {dataset}"
    text += "."
    if provenance.get("source"):
        text += f" The weights come from {provenance['source'].split(',')[0]}."
    text += f" It predicts {len(labels)} labels: {', '.join(display_name(x) for x in labels)}."
    text += (
        " Faces are found by a RetinaFace detector and aligned before classification; the heatmaps use "
        "Grad-CAM-family methods on the same network, and questions about the face are answered from 68 "
        "facial landmarks (or BLIP-VQA when its weights are installed)."
    )
    return text


def _accuracy_text(info: Mapping[str, Any] | None) -> str:
    info = info or default_model_info() or {}
    provenance = info.get("provenance") or {}
    evaluation = provenance.get("evaluation") or {}
    name = info.get("name", "the emotion model")
    if evaluation:
        text = (
            f"Measured, not promised: **{name}** read {100 * evaluation.get('accuracy_dev', 0):.0f}% of the "
            f"development faces and {100 * evaluation.get('accuracy_heldout', 0):.0f}% of the held-out faces "
            f"right on a small hand-labelled set ({evaluation.get('set', 'real photos')}). "
        )
        if evaluation.get("neutral_read_as_sad_or_angry"):
            text += f"Calm faces are its weak spot: it read {evaluation['neutral_read_as_sad_or_angry']} neutral faces as sad or angry. "
        if evaluation.get("gradcam_faithfulness_mean") is not None:
            text += f"Its heatmaps are faithful on average (mean faithfulness {evaluation['gradcam_faithfulness_mean']:.2f}). "
        text += "One face is several points on a set this small, so take the figures as a direction, not a benchmark."
    elif provenance.get("reported_accuracy"):
        text = f"**{name}**: its authors report {provenance['reported_accuracy']}; this project has not measured it further."
    else:
        text = f"**{name}** has no measured accuracy in its model card; treat its readings as a guide."
    return (
        text
        + " Limits: it reads posed, frontal, well-lit faces best; profiles, hands over the face, heavy make-up, "
        "low light and small faces make it less reliable; the percentages are the model's confidence, not a "
        "probability of being right; and it reads expressions, not what a person feels."
    )


SCOPE_TEXT = (
    "I'm built for **human faces** in photos and videos. I can't read animals (a dog's face won't be read, or "
    "not reliably), cartoons or drawings. Faces work best frontal, well lit and at least about 24 pixels wide; "
    "a turned head (profile), a hand or mask over the face, sunglasses or heavy make-up, black-and-white or dark "
    "photos make the reading less reliable (the model was made for colour, frontal faces), and the heatmap will "
    "show it. Glasses are usually fine. The model's training data and its behaviour across ages and skin tones "
    "are not documented, and this project measured it on only 39 faces, so I can't promise it is equally "
    "accurate for everyone; children's expressions can read differently too. I can't tell whether a photo "
    "is real, edited or AI-generated."
)
PRIVACY_TEXT = (
    "Your photos and videos stay on this computer: they are kept **in memory for this session only**, never "
    "written to disk, never sent to a server or a cloud, and never used to train anything (unless you configure "
    "a remote chat model and explicitly allow it to see photos). I keep no face templates and cannot recognise "
    "anyone. When the session ends (closing or reloading the app's tab ends it), the photos are gone."
)
OFFLINE_TEXT = (
    "It runs **fully offline on a laptop CPU**: no internet connection and no GPU are needed. Reading a photo "
    "takes a fraction of a second on a CPU (faces found and classified in tens of milliseconds; a heatmap a "
    "little more); a video is analysed at about 40 frames a second, so a 20-second clip takes roughly 10-15 "
    "seconds. The first answer after start-up takes a few seconds while the models load."
)
FORMATS_TEXT = (
    "**Photos**: JPEG, PNG, WebP, GIF, BMP, TIFF (and MPO) up to 25 MB and 50 megapixels. **Videos**: MP4, MOV, "
    "WebM, MKV and AVI (also MPEG-TS, Ogg, Y4M, GIF) up to 200 MB, 10 minutes and 4K, attached like photos. Add "
    "one file per message; the chat keeps up to 20 photos and 5 videos."
)
LIVE_TEXT = (
    "Yes: the app's **Live** page reads your webcam as it streams — a box, the smoothed emotion and its bars on "
    "every face, an optional heatmap overlay (about once a second), and a button that **sends the current frame "
    "to the chat**, where you can ask about it like any photo. Locally it works offline; a remote deployment "
    "needs HTTPS and STUN/TURN servers (see the README)."
)
API_TEXT = (
    "It's not UI only. Everything is a plain **Python** call (`from tools import classify, explain, ask, "
    "describe, find_faces, analyze_video`), a **command line** (`python -m tools classify face.jpg`, `... explain`, "
    "`... video clip.mp4`), a **REST API** (`python -m tools serve rest`, multipart uploads to `/v1/classify`, "
    "`/v1/explain`, `/v1/ask`, `/v1/faces`; OpenAPI docs at `/docs`) and an **MCP server** (`python -m tools serve "
    'mcp`) for agents; the README\'s "Use it from Python" and "Use it from other programs" sections have examples.'
)
LEGAL_TEXT = (
    "It depends on where and how it is used. In the EU, the **AI Act** (Regulation (EU) 2024/1689, Art. 5(1)(f)) "
    "prohibits emotion recognition in **workplaces and schools**, except for medical or safety reasons, and "
    "elsewhere requires that people be told when it is used on them (Art. 50). Faces are "
    "biometric data under the GDPR, so you need a lawful basis and consent to analyse other people's photos. "
    "This app keeps photos in memory only and judges nothing beyond expressions. (Not legal advice.)"
)
EXPRESSION_TEXT = (
    "I read **facial expressions, not feelings**. A posed (social) smile mostly lifts the mouth corners; a "
    "spontaneous (Duchenne) smile also raises the cheeks and narrows the eyes, with crow's feet at their corners. "
    "But people smile when they're not happy and hide what they feel, so no face-reading tool — this one "
    "included — can tell what someone really feels or whether an expression is genuine."
)


def _methods_text() -> str:
    from tools.explainer import METHOD_TITLES

    names = list(METHOD_TITLES.values())
    return (
        f"{len(names)} heatmap (CAM) methods: {', '.join(names)}. Grad-CAM is the default; ask for another by name "
        '("use Grad-CAM++", "with Score-CAM"). Score-CAM, Ablation-CAM and FullGrad are slower (they run the '
        "network many times)."
    )


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


TOPIC_TEXTS = {
    "scope": SCOPE_TEXT,
    "privacy": PRIVACY_TEXT,
    "offline": OFFLINE_TEXT,
    "formats": FORMATS_TEXT,
    "live": LIVE_TEXT,
    "api": API_TEXT,
    "legal": LEGAL_TEXT,
    "expression": EXPRESSION_TEXT,
}


def answer(topic: str, labels: Sequence[str], model_info: Mapping[str, Any] | None = None) -> str:
    """The reply to a knowledge question.

    Args:
        topic: what ``topic_of`` returned.
        labels: the classifier's labels.
        model_info: the classifier's model card (name, arch, provenance ...), when known.
    """
    if model_info is None and topic not in ("gradcam", "faithfulness", "methods", *TOPIC_TEXTS):
        model_info = default_model_info()  # the session's default model, loaded on first use
    labels = list((model_info or {}).get("labels") or labels)
    if topic == "model":
        return _model_text(model_info, labels)
    if topic == "accuracy":
        return _accuracy_text(model_info)
    if topic == "methods":
        return _methods_text()
    if topic in TOPIC_TEXTS:
        return TOPIC_TEXTS[topic]
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
