"""BLIP-VQA: open questions about a face, with the image embedding computed once per image.

``BlipForQuestionAnswering.generate`` runs the vision encoder on every call. Here the encoder runs
once per image and face: its output (``image_embeds``) is stored on the image's ``ImageRecord`` under
``("blip", model_id, face)``, together with the keys and values that each text-encoder layer's
cross-attention projects from it (they do not depend on the question). Each question then runs only
the text encoder over its own few tokens and the answer decoder: the same computation as
``generate``, token for token (a test compares them), at a fraction of the cost
(``python -m benchmarks.bench_vqa`` prints the ratio). For blip-vqa-base the cached state is about
44 MB per image and face (fp32): the states of all images together are bounded by one process-wide
LRU (``FACE_AGENT_BLIP_CACHE_MB``, 512 MB by default, about 11 faces); an image whose state was
dropped runs the vision encoder again on its next question.

What BLIP sees: the face box enlarged 1.7x (centre raised a little, so hair, glasses and ears are
in view), squared and clipped to the photo; or the whole photo when that crop would cover most of it
anyway. The crop is made in memory; nothing is written to disk.

Weights are never fetched by surprise: the model loads from a local folder or from the Hugging Face
cache with ``local_files_only=True``; a download (about 1.5 GB for blip-vqa-base) happens only with
``allow_download=True``.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from tools.analysis import ImageRecord
from tools.device import import_torch, resolve_device
from tools.errors import ModelUnavailableError

if TYPE_CHECKING:
    import torch

__all__ = [
    "BlipVQA",
    "ImageEmbedding",
    "DEFAULT_BLIP_MODEL",
    "BLIP_DOWNLOAD_SIZE",
    "blip_weights_present",
    "normalize_answer",
    "face_crop",
    "is_local_source",
    "missing_message",
]

DEFAULT_BLIP_MODEL = "Salesforce/blip-vqa-base"
BLIP_DOWNLOAD_SIZE = "about 1.5 GB"
CROP_SCALE = 1.7  # face box -> BLIP's view; dlib boxes span brows to chin, so this adds hair and ears
CROP_RAISE = 0.1  # move the crop's centre up by this fraction of the box height (hair over neck)
WHOLE_PHOTO_SHARE = 0.6  # crops covering more of the photo than this use the whole photo
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")

_NUMBERS = {
    word: str(i)
    for i, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_SYNONYMS = {
    "yeah": "yes",
    "yep": "yes",
    "yup": "yes",
    "true": "yes",
    "nope": "no",
    "false": "no",
    "nah": "no",
}


def normalize_answer(raw: str) -> str:
    """A short model answer in canonical form: lower case, no stray spaces or punctuation,
    yes/no synonyms folded, number words as digits.

    >>> normalize_answer(" Yeah. ")
    'yes'
    >>> normalize_answer("two")
    '2'
    """
    text = re.sub(r"\s+", " ", str(raw)).strip().lower()
    text = re.sub(r"\s*'\s*", "'", text)  # wordpiece decoding spaces apostrophes: "don ' t"
    text = text.strip(" .,!?;:\"'")
    text = _SYNONYMS.get(text, text)
    return " ".join(_NUMBERS.get(word, word) for word in text.split())


def is_local_source(model: str) -> bool:
    """Whether ``model`` names a folder (existing, or path-like) rather than a hub id."""
    path = Path(model).expanduser()
    if path.exists():
        return True
    # A hub id is "name" or "owner/name"; anything else is meant as a folder.
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def _hub_cache_dirs() -> list[Path]:
    """Every folder huggingface_hub may use as its cache, from the same variables it reads."""
    env = os.environ
    home = Path(env.get("HF_HOME") or Path(env.get("XDG_CACHE_HOME") or "~/.cache") / "huggingface")
    dirs = [env.get("HF_HUB_CACHE"), env.get("HUGGINGFACE_HUB_CACHE"), home / "hub"]
    constants = sys.modules.get("huggingface_hub.constants")  # already imported: it has the last word
    if constants is not None:
        dirs.append(getattr(constants, "HF_HUB_CACHE", None))
    return [Path(d).expanduser() for d in dirs if d]


def _maybe_in_hub_cache(model: str) -> bool:
    """False only when no hub cache holds a folder for ``model`` (then it is surely not cached)."""
    folder = "models--" + model.replace("/", "--")
    return any((cache / folder).is_dir() for cache in _hub_cache_dirs())


def blip_weights_present(model: str = DEFAULT_BLIP_MODEL) -> bool:
    """Whether a BLIP model can be loaded without the network.

    Args:
        model: a local folder (written by ``save_pretrained``) or a hub id.

    Returns:
        True when the folder, or the local Hugging Face cache, holds its config and weights.
        Never touches the network.
    """
    if is_local_source(model):
        folder = Path(model).expanduser()
        return (folder / "config.json").is_file() and any((folder / f).is_file() for f in _WEIGHT_FILES)
    if not _maybe_in_hub_cache(model):
        return False  # answered without importing huggingface_hub (~0.1 s of every cold start)
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        return isinstance(try_to_load_from_cache(model, filename), str)

    return cached("config.json") and any(cached(f) for f in _WEIGHT_FILES)


def missing_message(model: str) -> str:
    """What to do when the weights of ``model`` are not on this machine."""
    if is_local_source(model):
        return (
            f"No BLIP model in the folder {model!r}: it needs config.json and model.safetensors as written by "
            "BlipForQuestionAnswering.save_pretrained (plus the BlipProcessor files). Point "
            "FACE_AGENT_BLIP_MODEL at such a folder, or use the geometry backend (backend='geometry')."
        )
    return (
        f"The BLIP-VQA weights {model!r} are not on this machine ({BLIP_DOWNLOAD_SIZE} to download). "
        "Opt in to the download with FaceQA(backend='blip', allow_download=True) (CLI: --allow-download), the environment "
        "variable FACE_AGENT_BLIP_DOWNLOAD=1 or the app's 'Download BLIP' button; or set "
        "FACE_AGENT_BLIP_MODEL to a local folder holding the model. Without BLIP the geometry backend "
        "(backend='auto' or 'geometry') still answers about the mouth, eyes, brows and head pose."
    )


def face_crop(rgb: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, str]:
    """The region BLIP looks at: the enlarged face box, or the whole photo.

    Returns:
        (RGB array, ``"face"`` or ``"whole"``).
    """
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    side = CROP_SCALE * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - CROP_RAISE * (y1 - y0)
    left, top = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
    right, bottom = min(w, round(cx + side / 2)), min(h, round(cy + side / 2))
    if (right - left) * (bottom - top) >= WHOLE_PHOTO_SHARE * w * h or right <= left or bottom <= top:
        return rgb, "whole"
    return rgb[top:bottom, left:right], "face"


@dataclass(frozen=True)
class ImageEmbedding:
    """What BLIP keeps per image and face: the vision encoder's output and, per text-encoder layer,
    the cross-attention keys and values projected from it (None when the model's layout is not the
    expected one; the text encoder then projects them itself)."""

    embeds: torch.Tensor
    cross_kv: tuple[tuple[torch.Tensor, torch.Tensor], ...] | None


def _nbytes(embedding: ImageEmbedding) -> int:
    tensors = [embedding.embeds, *(t for pair in embedding.cross_kv or () for t in pair)]
    return sum(t.numel() * t.element_size() for t in tensors)


_SLOT_TOKENS = itertools.count(1)


class _Slot:
    """One image and face's place for its embedding (kept on the record; the LRU may empty it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value: ImageEmbedding | None = None
        self.token = next(_SLOT_TOKENS)


class _EmbeddingBudget:
    """The process-wide LRU that bounds the bytes of every record's BLIP embeddings together.

    The LRU holds weak references to the slots, so an image that is gone takes its embedding with
    it; eviction empties a slot (its next question encodes again). The LRU's lock is never held
    while a slot's lock is taken.
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        if max_bytes is None:
            value = os.environ.get("FACE_AGENT_BLIP_CACHE_MB", "").strip()
            max_bytes = int(float(value) * 2**20) if value.replace(".", "", 1).isdigit() else 512 * 2**20
        self.max_bytes = max_bytes
        self._lru: OrderedDict[int, tuple[Any, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def touch(self, slot: _Slot) -> None:
        with self._lock:
            if slot.token in self._lru:
                self._lru.move_to_end(slot.token)

    def admit(self, slot: _Slot, nbytes: int) -> None:
        with self._lock:
            old = self._lru.pop(slot.token, None)
            self._used -= old[1] if old else 0
            self._lru[slot.token] = (weakref.ref(slot, self._forget(slot.token)), nbytes)
            self._used += nbytes
            while self._used > self.max_bytes and len(self._lru) > 1:
                _, (ref, size) = self._lru.popitem(last=False)
                self._used -= size
                victim = ref()
                if victim is not None:
                    victim.value = None

    def _forget(self, key: int) -> Any:
        def forget(_: Any) -> None:
            with self._lock:
                entry = self._lru.pop(key, None)
                self._used -= entry[1] if entry else 0

        return forget

    @property
    def used(self) -> int:
        """Bytes of embeddings held now."""
        return self._used


_EMBEDDINGS = _EmbeddingBudget()


class BlipVQA:
    """BLIP visual question answering with a per-image embedding cache.

    Args:
        model: a hub id (default ``Salesforce/blip-vqa-base``) or a local folder.
        allow_download: fetch the weights from the hub when they are not cached.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        max_new_tokens: answer length limit (VQA answers are one to three words).

    Raises:
        ModelUnavailableError: the weights are not here and ``allow_download`` is False.
    """

    def __init__(
        self,
        model: str = DEFAULT_BLIP_MODEL,
        allow_download: bool = False,
        device: str = "auto",
        max_new_tokens: int = 10,
    ) -> None:
        self.model_id = str(model)
        self.allow_download = allow_download
        self.device = resolve_device(device)
        self.max_new_tokens = max_new_tokens
        if not blip_weights_present(self.model_id) and not (
            allow_download and not is_local_source(self.model_id)
        ):
            raise ModelUnavailableError(missing_message(self.model_id))
        self._model: Any = None
        self._processor: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # one generate at a time: the model is not re-entrant

    @classmethod
    def from_model(
        cls,
        model: Any,
        processor: Any,
        model_id: str = "in-memory",
        device: str = "auto",
        max_new_tokens: int = 10,
    ) -> BlipVQA:
        """Wraps an already built ``BlipForQuestionAnswering`` and ``BlipProcessor`` (benchmarks, tests)."""
        self = cls.__new__(cls)
        self.model_id, self.allow_download = model_id, False
        self.device = resolve_device(device)
        self.max_new_tokens = max_new_tokens
        self._model, self._processor = model.to(self.device).eval(), processor
        self._load_lock, self._run_lock = threading.Lock(), threading.Lock()
        return self

    # --- loading -------------------------------------------------------------------------------

    def load(self) -> None:
        """Loads model and processor once (thread-safe); later calls return at once."""
        if self._model is not None:
            return
        with self._load_lock:
            if self._model is not None:
                return
            from transformers import BlipForQuestionAnswering, BlipProcessor

            torch = import_torch()
            local_only = not self.allow_download
            dtype = torch.float16 if self.device.type == "cuda" else torch.float32
            source = (
                str(Path(self.model_id).expanduser()) if is_local_source(self.model_id) else self.model_id
            )
            try:
                processor = BlipProcessor.from_pretrained(source, local_files_only=local_only)
                model = BlipForQuestionAnswering.from_pretrained(
                    source, dtype=dtype, local_files_only=local_only
                )
            except (OSError, ValueError, RuntimeError, KeyError, ImportError) as exc:
                raise ModelUnavailableError(
                    f"{missing_message(self.model_id)} (Loading failed: {exc})"
                ) from exc
            self._processor = processor
            self._model = model.to(self.device).eval()

    @property
    def model(self) -> Any:
        """The loaded ``BlipForQuestionAnswering`` (loads it on first use)."""
        self.load()
        return self._model

    @property
    def processor(self) -> Any:
        """The loaded ``BlipProcessor`` (loads it on first use)."""
        self.load()
        return self._processor

    # --- inference -----------------------------------------------------------------------------

    def embedding(self, record: ImageRecord, face: int = 0) -> ImageEmbedding:
        """The image embedding of one face, computed once per record while the process-wide budget
        keeps it (thread-safe)."""
        slot = record.cached(("blip", self.model_id, face), _Slot)
        with slot.lock:
            value = slot.value
            if value is not None:
                _EMBEDDINGS.touch(slot)
                return value
            value = self._encode(record, face)
            slot.value = value
            _EMBEDDINGS.admit(slot, _nbytes(value))
            return value

    def image_embeds(self, record: ImageRecord, face: int = 0) -> torch.Tensor:
        """The vision encoder's output for one face of an image, computed once per record."""
        return self.embedding(record, face).embeds

    def view(self, record: ImageRecord, face: int = 0) -> tuple[np.ndarray, str]:
        """The pixels BLIP sees for a face and whether they are the face region or the whole photo."""
        return face_crop(record.rgb, record.face(face).box)

    def _encode(self, record: ImageRecord, face: int) -> ImageEmbedding:
        torch = import_torch()
        pixels, _ = self.view(record, face)
        processor, model = self.processor, self.model
        inputs = processor.image_processor(
            images=Image.fromarray(np.ascontiguousarray(pixels)), return_tensors="pt"
        )
        pixel_values = inputs["pixel_values"].to(self.device, dtype=model.dtype)
        with self._run_lock, torch.inference_mode():
            embeds = model.vision_model(pixel_values=pixel_values)[0]
            return ImageEmbedding(embeds, _cross_keys_values(model, embeds))

    def generate(
        self, image: ImageEmbedding | torch.Tensor, question: str, max_new_tokens: int | None = None
    ) -> str:
        """Answers one question from a precomputed image embedding; returns the decoded raw answer.

        This is ``BlipForQuestionAnswering.generate`` without its vision-encoder call (and, with an
        ``ImageEmbedding``, without re-projecting the image tokens in the text encoder).
        """
        torch = import_torch()
        embedding = image if isinstance(image, ImageEmbedding) else ImageEmbedding(image, None)
        image_embeds = embedding.embeds
        processor, model = self.processor, self.model
        encoded = processor.tokenizer(question, return_tensors="pt")
        input_ids = encoded["input_ids"].to(self.device)
        attention_mask = encoded["attention_mask"].to(self.device)
        text_config = model.config.text_config
        with self._run_lock, torch.inference_mode():
            image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
            question_embeds = model.text_encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                encoder_hidden_states=image_embeds,
                encoder_attention_mask=image_mask,
                return_dict=False,
                **_cross_cache(embedding.cross_kv),
            )[0]
            question_mask = torch.ones(
                question_embeds.shape[:-1], dtype=torch.long, device=question_embeds.device
            )
            bos = torch.full(
                (question_embeds.shape[0], 1), model.decoder_start_token_id, device=question_embeds.device
            )
            output = model.text_decoder.generate(
                input_ids=bos,
                eos_token_id=text_config.sep_token_id,
                pad_token_id=text_config.pad_token_id,
                encoder_hidden_states=question_embeds,
                encoder_attention_mask=question_mask,
                max_new_tokens=max_new_tokens or self.max_new_tokens,
                do_sample=False,
            )
        return processor.tokenizer.decode(output[0], skip_special_tokens=True)

    def answer(self, record: ImageRecord, question: str, face: int = 0) -> tuple[str, str, str]:
        """Answers a question about one face.

        Returns:
            (normalised answer, raw decoded answer, ``"face"`` or ``"whole"`` for what BLIP saw).
        """
        raw = self.generate(self.embedding(record, face), question)
        return normalize_answer(raw), raw, self.view(record, face)[1]


def _cross_keys_values(
    model: Any, embeds: torch.Tensor
) -> tuple[tuple[torch.Tensor, torch.Tensor], ...] | None:
    """Each text-encoder layer's cross-attention keys and values of the image tokens.

    They depend on the image only, so a follow-up question need not project the 577 image tokens
    again in every layer. Returns None if the model is not laid out as transformers' BLIP is.
    """
    try:
        pairs = []
        for layer in model.text_encoder.encoder.layer:
            attention = layer.crossattention.self
            shape = (*embeds.shape[:-1], -1, attention.attention_head_size)
            keys = attention.key(embeds).view(shape).transpose(1, 2)
            values = attention.value(embeds).view(shape).transpose(1, 2)
            pairs.append((keys, values))
    except AttributeError:
        return None
    return tuple(pairs)


def _cross_cache(cross_kv: tuple[tuple[torch.Tensor, torch.Tensor], ...] | None) -> dict[str, Any]:
    """The ``cache=`` argument that hands precomputed cross-attention keys/values to the text encoder.

    A fresh cache per question: its self-attention part fills with this question's tokens, while the
    cross-attention part, marked as already computed, is read as is.
    """
    if cross_kv is None:
        return {}
    from transformers import DynamicCache, EncoderDecoderCache

    cross = DynamicCache()
    for index, (keys, values) in enumerate(cross_kv):
        cross.update(keys, values, index)
    return {"cache": EncoderDecoderCache(DynamicCache(), cross)}
