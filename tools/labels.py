"""Label sets, in one place, in their official orders.

Training, the classifier head, the explainer, the agent and the UI all read labels from here.

- ``BASIC7``: the seven basic expressions in RAF-DB's order (1 Surprise ... 7 Neutral).
- ``FER2013``: the same seven in FER-2013's order (0 Angry ... 6 Neutral), as the fer model outputs.
- ``FACEAPI7``: the same seven in face-api.js's FaceExpressionNet output order (neutral, happy, sad,
  angry, fearful, disgusted, surprised), under the project's names.
- ``RAFDB_COMPOUND11``: RAF-DB's eleven compound expressions, official order (1 ... 11).
- ``RAFCE_COMPOUND14``: RAF-CE's fourteen (the eleven plus fearfully disgusted, happily fearful and
  happily sad), in RAF-CE's own order.

A basic-emotion model can still give a compound reading: ``derive_compound`` combines the two
strongest non-neutral emotions. That reading is always marked ``derived=True`` so nobody mistakes
it for the output of a model trained on compound labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tools.errors import InvalidRequestError

__all__ = [
    "BASIC7",
    "FER2013",
    "FACEAPI7",
    "RAFDB_COMPOUND11",
    "RAFCE_COMPOUND14",
    "LABEL_SETS",
    "COMPOUND_PARTS",
    "CompoundReading",
    "derive_compound",
    "COMPOUND_MIN_SECONDARY",
    "COMPOUND_MIN_SHARE",
    "COMPOUND_MIN_PAIR",
    "native_compound",
    "normalize_label",
    "display_name",
]

BASIC7: tuple[str, ...] = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")
FER2013: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# face-api.js FACE_EXPRESSION_LABELS: neutral, happy, sad, angry, fearful, disgusted, surprised.
FACEAPI7: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")
RAFDB_COMPOUND11: tuple[str, ...] = (
    "happily_surprised",
    "happily_disgusted",
    "sadly_fearful",
    "sadly_angry",
    "sadly_surprised",
    "sadly_disgusted",
    "fearfully_angry",
    "fearfully_surprised",
    "angrily_surprised",
    "angrily_disgusted",
    "disgustedly_surprised",
)
# RAF-CE's own class order (as numbered 0-13 in its RAFCE_emolabel.txt): the eleven RAF-DB pairs
# with fearfully disgusted inserted after fearfully surprised, then happily fearful and happily sad.
RAFCE_COMPOUND14: tuple[str, ...] = (
    *RAFDB_COMPOUND11[:8],
    "fearfully_disgusted",
    *RAFDB_COMPOUND11[8:],
    "happily_fearful",
    "happily_sad",
)

LABEL_SETS: dict[str, tuple[str, ...]] = {
    "basic7": BASIC7,
    "fer2013": FER2013,
    "faceapi7": FACEAPI7,
    "rafdb-compound11": RAFDB_COMPOUND11,
    "rafce-compound14": RAFCE_COMPOUND14,
}

_ADVERB = {
    "happy": "happily",
    "sad": "sadly",
    "fear": "fearfully",
    "angry": "angrily",
    "disgust": "disgustedly",
    "surprise": "surprisedly",
}
_ADJECTIVE = {
    "happy": "happy",
    "sad": "sad",
    "fear": "fearful",
    "angry": "angry",
    "disgust": "disgusted",
    "surprise": "surprised",
}
_FROM_ADVERB = {v: k for k, v in _ADVERB.items()}
_FROM_ADJECTIVE = {v: k for k, v in _ADJECTIVE.items()}

# Each compound label as its two basic components (the adverb's emotion first).
COMPOUND_PARTS: dict[str, tuple[str, str]] = {
    name: (_FROM_ADVERB[name.split("_")[0]], _FROM_ADJECTIVE[name.split("_")[1]]) for name in RAFCE_COMPOUND14
}

_ALIASES = {
    "surprised": "surprise",
    "surprise": "surprise",
    "astonished": "surprise",
    "shocked": "surprise",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "frightened": "fear",
    "disgust": "disgust",
    "disgusted": "disgust",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "joyful": "happy",
    "smiling": "happy",
    "sad": "sad",
    "sadness": "sad",
    "unhappy": "sad",
    "angry": "angry",
    "anger": "angry",
    "mad": "angry",
    "furious": "angry",
    "neutral": "neutral",
    "calm": "neutral",
    "contempt": "contempt",
}


def normalize_label(name: str, labels: tuple[str, ...] | list[str] | None = None) -> str:
    """Turns what a person wrote ("Sadness", "happily surprised") into a label of ``labels``.

    Args:
        name: the label as written; case, spaces, hyphens and common synonyms are accepted.
        labels: the label set to resolve into; ``BASIC7`` when omitted.

    Returns:
        The label exactly as it appears in ``labels``.

    Raises:
        InvalidRequestError: when the name matches no label of the set; the message lists them.
    """
    labels = tuple(labels) if labels is not None else BASIC7
    key = " ".join(str(name).strip().lower().replace("-", " ").replace("_", " ").split())
    candidates = [key.replace(" ", "_"), _ALIASES.get(key, key)]
    words = key.split()
    if len(words) == 2:
        first = _FROM_ADVERB.get(words[0]) or _ALIASES.get(words[0])
        second = _ALIASES.get(words[1]) or _FROM_ADJECTIVE.get(words[1])
        if first in _ADVERB and second in _ADJECTIVE:
            candidates.append(f"{_ADVERB[first]}_{_ADJECTIVE[second]}")
    for candidate in candidates:
        if candidate in labels:
            return candidate
    known = ", ".join(display_name(label) for label in labels)
    raise InvalidRequestError(f"Unknown emotion label {name!r}; this model knows: {known}.")


def display_name(label: str) -> str:
    """The label as a person reads it: ``happily_surprised`` -> ``happily surprised``."""
    return label.replace("_", " ")


@dataclass(frozen=True)
class CompoundReading:
    """A compound-emotion reading of a face.

    Attributes:
        label: a compound label such as ``happily_surprised``, or ``None`` when one emotion clearly
            dominates and no compound applies.
        components: the basic emotions it is made of, strongest first.
        derived: True when it was combined from a basic-emotion model's scores rather than
            predicted by a model trained on compound labels.
        in_label_set: whether the label is one of RAF-CE's fourteen compound classes.
        score: for derived readings, the secondary emotion's share of the two (0-0.5];
            for native ones, the model's probability.
    """

    label: str | None
    components: tuple[str, ...]
    derived: bool
    in_label_set: bool
    score: float

    def describe(self) -> str:
        """One short phrase for people, e.g. ``happily surprised (derived from basic scores)``."""
        if self.label is None:
            return "no compound emotion (one emotion dominates)"
        text = display_name(self.label)
        return f"{text} (derived from basic-emotion scores)" if self.derived else text

    def to_dict(self) -> dict:
        """Plain-type view for JSON."""
        return asdict(self)


def native_compound(label: str, probability: float) -> CompoundReading:
    """The reading for a model trained on compound labels: its own prediction, not derived."""
    parts = COMPOUND_PARTS.get(label, ())
    return CompoundReading(label, parts, False, label in COMPOUND_PARTS, float(probability))


# The two-part rule of derived compound readings: a basic-emotion model's scores name a compound
# only when both parts carry real weight. The second emotion needs at least
# ``COMPOUND_MIN_SECONDARY`` of the probability and ``COMPOUND_MIN_SHARE`` of the top pair, and the
# pair together ``COMPOUND_MIN_PAIR``; a mostly neutral face has none. So happy 0.50 + sad 0.16 is
# "happy" (sad too weak), happy 0.55 + surprise 0.35 is "happily surprised".
COMPOUND_MIN_SECONDARY = 0.25
COMPOUND_MIN_SHARE = 0.3
COMPOUND_MIN_PAIR = 0.6


def derive_compound(
    probs: dict[str, float],
    min_share: float = COMPOUND_MIN_SHARE,
    min_secondary: float = COMPOUND_MIN_SECONDARY,
    min_pair: float = COMPOUND_MIN_PAIR,
) -> CompoundReading:
    """Combines the two strongest non-neutral basic emotions into a compound reading (two-part rule).

    Both parts must carry real weight: the secondary emotion holds at least ``min_secondary`` of the
    probability and ``min_share`` of the pair's combined probability, and the pair together at
    least ``min_pair``; otherwise the face shows one emotion and ``label`` is None. The pair is named
    the RAF-DB way, dominant emotion as the adverb: happy 0.6 + surprise 0.3 -> ``happily_surprised``.
    Where RAF-CE names the same pair in the other order (it has ``sadly_fearful`` but not
    ``fearfully_sad``), that official name is used.

    Args:
        probs: basic-emotion probabilities keyed by the labels of ``BASIC7``.
        min_share: the secondary emotion's minimum share of the top pair.
        min_secondary: the secondary emotion's minimum probability.
        min_pair: the minimum probability of the two together.

    Returns:
        A ``CompoundReading`` with ``derived=True``.
    """
    ranked = sorted(((p, label) for label, p in probs.items() if label in _ADVERB), reverse=True)
    if ranked and probs.get("neutral", 0.0) >= ranked[0][0]:
        # A mostly neutral face has no compound emotion, however the small remainder splits.
        return CompoundReading(None, ("neutral",), True, False, 0.0)
    if len(ranked) < 2:
        return CompoundReading(None, tuple(lbl for _, lbl in ranked), True, False, 0.0)
    (p1, first), (p2, second) = ranked[0], ranked[1]
    share = p2 / (p1 + p2) if p1 + p2 > 0 else 0.0
    if share < min_share or p2 < min_secondary or p1 + p2 < min_pair:
        return CompoundReading(None, (first,), True, False, round(share, 4))
    name = f"{_ADVERB[first]}_{_ADJECTIVE[second]}"
    swapped = f"{_ADVERB[second]}_{_ADJECTIVE[first]}"
    if name not in COMPOUND_PARTS and swapped in COMPOUND_PARTS:
        name = swapped
    return CompoundReading(name, (first, second), True, name in COMPOUND_PARTS, round(share, 4))
