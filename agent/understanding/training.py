"""Training the understanding model from examples (``python scripts/train_nlu.py``).

Training data are examples, not rules: ``data/*.yml`` in Rasa's NLU format,

    nlu:
    - intent: analyze/emotion+explain      # the act, and for analyze the asks joined by "+"
      examples: |
        - what is she feeling and why?

with ``analyze/follow_up`` for messages that continue the last request ("and this one?"); files named
``variation_*.yml`` teach the act only (boundary or analysis), not the asks. The
examples are grown with generated variation (``augment``: chat shorthand, typos, lower case without
punctuation, politeness, several asks in one message), deterministically. Everything here needs
scikit-learn; the runtime (``nlu``) needs only numpy and the shipped arrays.
"""

from __future__ import annotations

import hashlib
import random
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.understanding.nlu import (
    ACTS_ANALYZE,
    ASKS,
    DATA,
    FEATURES_VERSION,
    NGramFeaturizer,
    NLUModel,
    normalize,
    regex_patterns,
)

__all__ = [
    "Example",
    "DEFAULT_CONFIG",
    "augment",
    "data_files",
    "data_hash",
    "load_examples",
    "train",
]

# Data files named so teach the act (boundary or analysis) only; their asks labels are not used.
ACT_ONLY_PREFIX = "variation_"
# Bump when the generated variation changes (it is part of the training data).
AUGMENT_VERSION = "2"
DEFAULT_CONFIG: dict[str, Any] = {
    "blocks": ["ngrams", "regex", "embedding"],
    "weights": {"ngrams": 1.0, "regex": 0.6, "embedding": 1.5},
    "C_act": 8.0,
    "C_ask": 8.0,
    "threshold": 0.4,
    "augment": 2,
    "seed": 7,
}


@dataclass(frozen=True)
class Example:
    """One training message.

    Attributes:
        text: the message.
        act: ``analyze``, ``product/<topic>``, ``boundary/<category>``, ``refuse`` or ``chat/<kind>``.
        asks: for ``analyze``, what it asks for (empty: a follow-up).
        source: the file it came from (and ``+aug`` for generated variants).
    """

    text: str
    act: str
    asks: frozenset[str] = field(default_factory=frozenset)
    source: str = ""

    @property
    def label(self) -> str:
        """The intent name as written in the data files."""
        if self.act != ACTS_ANALYZE:
            return self.act
        return f"{ACTS_ANALYZE}/{'+'.join(a for a in ASKS if a in self.asks) or 'follow_up'}"


def _parse_intent(name: str) -> tuple[str, frozenset[str]]:
    name = name.strip()
    if not name.startswith(ACTS_ANALYZE + "/"):
        return name, frozenset()
    asks = name.split("/", 1)[1]
    if asks == "follow_up":
        return ACTS_ANALYZE, frozenset()
    found = frozenset(asks.split("+"))
    unknown = found - set(ASKS)
    if unknown:
        raise ValueError(f"unknown asks {sorted(unknown)} in intent {name!r}")
    return ACTS_ANALYZE, found


def data_files(exclude: Iterable[str] = ()) -> list[Path]:
    """The training files, in a fixed order (``exclude``: file names left out)."""
    skip = set(exclude)
    return [p for p in sorted(DATA.glob("*.yml")) if p.name not in skip]


def load_examples(paths: Sequence[Path] | None = None) -> list[Example]:
    """The examples of the given data files (every file of ``data/`` when None)."""
    import yaml

    examples: list[Example] = []
    for path in paths if paths is not None else data_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in doc.get("nlu", []):
            act, asks = _parse_intent(str(block["intent"]))
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = line[2:].strip()
                    if text:
                        examples.append(Example(text, act, asks, path.name))
    return examples


def data_hash(paths: Sequence[Path] | None = None, config: dict | None = None) -> str:
    """sha256 of the training files, the configuration and the regex feature names."""
    h = hashlib.sha256()
    for path in paths if paths is not None else data_files():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(repr(sorted((config or DEFAULT_CONFIG).items())).encode())
    h.update(repr([(name, p.pattern, p.flags) for name, p in regex_patterns()]).encode())
    h.update(f"{AUGMENT_VERSION}/{FEATURES_VERSION}".encode())  # the augmentation is part of the data
    return h.hexdigest()


# --- generated variation -----------------------------------------------------------------------

_SHORTHAND = (
    (r"\byou\b", "u"),
    (r"\byour\b", "ur"),
    (r"\bare\b", "r"),
    (r"\bplease\b", "pls"),
    (r"\bpeople\b", "ppl"),
    (r"\bwhat's\b", "whats"),
    (r"\bwhat is\b", "whats"),
    (r"\bthat's\b", "thats"),
    (r"\bit's\b", "its"),
    (r"\bdoesn't\b", "doesnt"),
    (r"\bdon't\b", "dont"),
    (r"\bwith\b", "w"),
    (r"\bpicture\b", "pic"),
    (r"\bphoto\b", "pic"),
    (r"\bbecause\b", "cuz"),
    (r"\bokay\b", "ok"),
    (r"\bthanks\b", "thx"),
    (r"\bthe\b ", ""),
    (r"\bis\b ", ""),
    (r"\bcan you\b", "can u"),
    (r"\bi am\b", "im"),
)
_POLITE_BEFORE = (
    "please ",
    "hey, ",
    "hi! ",
    "ok, ",
    "quick question: ",
    "could you tell me ",
    "can you tell me ",
    "i'd like to know ",
    "so ",
    "hmm ",
    "sorry, ",
)
_POLITE_AFTER = (" please", " pls", " thanks", " thank you!", " lol", " ?", " :)", " if you can", " for me")
_JOIN = (" and ", ", and ", " - also ", ". also ", "? and ", " + ", ", then ")


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 5 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _variant(text: str, rng: random.Random) -> str:
    out = text
    kind = rng.randrange(6)
    if kind == 0:
        out = re.sub(r"[^\w\s']", "", out).lower()
    elif kind == 1:
        for pattern, repl in rng.sample(_SHORTHAND, k=len(_SHORTHAND)):
            if rng.random() < 0.6:
                out = re.sub(pattern, repl, out, flags=re.I)
        out = out.lower()
    elif kind == 2:
        words = out.split()
        candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        for i in rng.sample(candidates, k=min(len(candidates), 1 + rng.randrange(2))):
            words[i] = _typo(words[i], rng)
        out = " ".join(words)
    elif kind == 3:
        out = rng.choice(_POLITE_BEFORE) + out[:1].lower() + out[1:]
    elif kind == 4:
        out = out.rstrip("?.! ") + rng.choice(_POLITE_AFTER)
    else:
        out = out.upper() if len(out) < 25 and rng.random() < 0.3 else out.rstrip("?.!").lower()
    return " ".join(out.split()) or text


def augment(examples: Sequence[Example], per_example: int = 2, seed: int = 7) -> list[Example]:
    """The examples plus generated variants (deterministic: each example seeds its own generator).

    Each example gets ``per_example`` variants (typos, shorthand, case and punctuation, politeness);
    single-ask ``analyze`` examples are also joined in pairs into messages with two asks.
    """
    out = list(examples)
    seen = {(e.text.lower(), e.act, e.asks) for e in examples}
    for e in examples:
        rng = random.Random(zlib.crc32(f"{seed}:{e.text}".encode()))
        for _ in range(per_example):
            text = _variant(e.text, rng)
            key = (text.lower(), e.act, e.asks)
            if key not in seen:
                seen.add(key)
                out.append(Example(text, e.act, e.asks, e.source + "+aug"))
    singles = [e for e in examples if e.act == ACTS_ANALYZE and len(e.asks) == 1 and len(e.text) < 70]
    rng = random.Random(seed)
    for _ in range(min(len(singles), 400)):
        a, b = rng.sample(singles, 2)
        if a.asks == b.asks:
            continue
        text = a.text.rstrip("?.! ") + rng.choice(_JOIN) + b.text[:1].lower() + b.text[1:]
        out.append(Example(text, ACTS_ANALYZE, a.asks | b.asks, "pairs+aug"))
    return out


# --- training ----------------------------------------------------------------------------------


def _fit_lr(x: Any, y: Sequence[Any], c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=4000, class_weight="balanced")
    model.fit(x, y)
    return model


def train(
    examples: Sequence[Example],
    config: dict[str, Any] | None = None,
    embeddings: dict[str, np.ndarray] | None = None,
    data_sha256: str = "",
) -> NLUModel:
    """Trains the act and asks classifiers on examples (already augmented, if wanted).

    Args:
        examples: the training messages.
        config: blocks, weights, regularisation and threshold (``DEFAULT_CONFIG`` when None).
        embeddings: normalised text -> its embedding, to reuse (filled in place when given).
        data_sha256: recorded in the model, so a test can tell whether it is current.
    """
    config = {**DEFAULT_CONFIG, **(config or {})}
    texts = [normalize(e.text) for e in examples]
    ngrams = NGramFeaturizer().fit(texts) if "ngrams" in config["blocks"] else None
    stored = dict(
        config, regex_names=[n for n, _ in regex_patterns()], data_sha256=data_sha256, examples=len(examples)
    )
    probe = NLUModel(
        stored, ngrams, ["x"], np.zeros((1, 1)), np.zeros(1), np.zeros((1, len(ASKS))), np.zeros(len(ASKS))
    )
    vectors = None
    if "embedding" in config["blocks"]:
        cache = embeddings if embeddings is not None else {}
        missing = sorted({t for t in texts if t not in cache})
        if missing:
            from agent.understanding.encoder import encoder_for

            for text, vector in zip(missing, encoder_for(len(missing)).encode(missing)):
                cache[text] = vector
        vectors = np.stack([cache[t] for t in texts])
    x = probe.features(texts, vectors)
    acts = [e.act for e in examples]
    act_model = _fit_lr(x, acts, float(config["C_act"]))
    # the asks are learned from the conversations' examples; variation files teach the act only
    analyze = np.array([e.act == ACTS_ANALYZE and not e.source.startswith(ACT_ONLY_PREFIX) for e in examples])
    xa = x[np.flatnonzero(analyze)]
    ask_coef = np.zeros((x.shape[1], len(ASKS)), np.float32)
    ask_intercept = np.zeros(len(ASKS), np.float32)
    for k, ask in enumerate(ASKS):
        y = [ask in e.asks for e, keep in zip(examples, analyze) if keep]
        if any(y) and not all(y):
            lr = _fit_lr(xa, y, float(config["C_ask"]))
            ask_coef[:, k] = lr.coef_[0]
            ask_intercept[k] = lr.intercept_[0]
        else:
            ask_intercept[k] = 10.0 if all(y) else -10.0
    classes = [str(c) for c in act_model.classes_]
    coef = act_model.coef_.T if len(classes) > 2 else np.hstack([-act_model.coef_.T, act_model.coef_.T]) / 2
    intercept = act_model.intercept_ if len(classes) > 2 else np.array([-1, 1]) * act_model.intercept_[0] / 2
    return NLUModel(stored, ngrams, classes, coef, intercept, ask_coef, ask_intercept)
