"""Why the classifier said what it said: CAM heatmaps, the facial regions they cover, and a trust figure.

``explain(image)`` explains the prediction for one face on the aligned crop the classifier saw, from
the layer its model card names (``spec.target_layer``):

- Methods come from pytorch-grad-cam and are looked up by name in ``METHODS`` (one table, one
  pipeline). The library is imported on the first use of a method other than ``gradcam``: it pulls
  torchvision, torch._dynamo, scikit-learn and matplotlib (seconds and ~300 MB), so the default
  Grad-CAM is computed here (``gradcam_from_gradients``, the library's formula; a test pins the two
  together) and a default chat turn never loads it. Methods that only weight the explained layer's
  activations (Grad-CAM and its relatives, Eigen-CAM ...) reuse the activation the classification
  pass cached: the explanation back-propagates from the logits through the stages *after* that
  layer only, so "why?" costs a fraction of a forward pass. Methods that need extra forward passes (Score-CAM, Ablation-CAM, FullGrad) run
  pytorch-grad-cam's own classes on a private copy of the network, one at a time per model: their
  hooks (and Ablation-CAM's layer swap) never touch the network other threads classify with.
- Region attribution: the share of heat on each region of ``tools.faces.REGIONS``.
- Faithfulness: how much the target's probability drops when what the explained layer sees in the
  hottest 20% of the face is removed, minus the mean drop for random 20% regions (fixed seed,
  deterministic; one small batched pass through the layers after the explained one).
- Without torch: when the layers after the explained one are affine (the default model's average
  pooling and linear layer, shipped as an ONNX head graph), Grad-CAM's gradient is a constant that
  the classifier reads off that graph (``EmotionClassifier.cam_weights``), and the faithfulness
  batch runs through the same graph: the default explanation imports no torch. Other methods and
  other networks load torch on first use.

Compute (``cam_heatmap``, ``region_shares``, ``faithfulness``) is kept apart from presentation
(``overlay``, ``full_overlay``, ``png_bytes``); an ``Explanation`` renders its PNGs on first use.
"""

from __future__ import annotations

import copy
import io
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache, partial
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image

from tools.analysis import ImageRecord
from tools.classifier import EmotionClassifier, FaceForward, Prediction, default_classifier, softmax
from tools.device import import_torch
from tools.errors import InvalidRequestError, ModelUnavailableError
from tools.faces import REGIONS, index_of_number, region_masks
from tools.images import ImageInput
from tools.labels import display_name, normalize_label

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "METHODS",
    "METHOD_ALIASES",
    "METHOD_TITLES",
    "Explanation",
    "Explainer",
    "explain",
    "resolve_method",
    "cam_heatmap",
    "gradcam_from_gradients",
    "gradcam_from_weights",
    "region_shares",
    "top_regions",
    "faithfulness",
    "Faithfulness",
    "overlay",
    "full_overlay",
    "png_bytes",
    "VIEW_SIZE",
    "HOT_FLOOR",
    "HOT_FRACTION",
]

# Canonical method name -> pytorch-grad-cam class name. Adding a method is one line here.
_CLASS_NAMES: dict[str, str] = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
    "eigencam": "EigenCAM",
    "eigengradcam": "EigenGradCAM",
    "gradcamelementwise": "GradCAMElementWise",
    "kpcacam": "KPCA_CAM",
    "fem": "FEM",
    "shapleycam": "ShapleyCAM",
    "scorecam": "ScoreCAM",
    "ablationcam": "AblationCAM",
    "fullgrad": "FullGrad",
}


class _MethodTable(Mapping[str, type]):
    """Method name -> pytorch-grad-cam class, importing the library only when a class is looked up.

    Names, membership and iteration need no import, so listing or validating methods stays cheap.
    """

    def __init__(self, class_names: dict[str, str]) -> None:
        self._names = class_names

    def __getitem__(self, name: str) -> type:
        class_name = self._names[name]  # KeyError for unknown names, as a dict
        import pytorch_grad_cam

        return getattr(pytorch_grad_cam, class_name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __repr__(self) -> str:
        return f"METHODS({', '.join(self._names)})"


# Canonical method name -> pytorch-grad-cam class (a read-only mapping, resolved on lookup).
METHODS: Mapping[str, type] = _MethodTable(_CLASS_NAMES)

# Other spellings people use (after lower-casing and dropping spaces, hyphens and underscores).
METHOD_ALIASES: dict[str, str] = {
    "gradcampp": "gradcam++",
    "gradcamplusplus": "gradcam++",
    "hires": "hirescam",
    "xgrad": "xgradcam",
    "layer": "layercam",
    "eigen": "eigencam",
    "eigengrad": "eigengradcam",
    "elementwise": "gradcamelementwise",
    "kpca": "kpcacam",
    "shapley": "shapleycam",
    "score": "scorecam",
    "ablation": "ablationcam",
    "fullgradcam": "fullgrad",
}

# These need forward passes of the network beyond the explained layer's activation.
_RUN_ON_MODEL: frozenset[str] = frozenset({"scorecam", "ablationcam", "fullgrad"})
# Computed here without pytorch-grad-cam (same formula, same numbers).
_NATIVE: frozenset[str] = frozenset({"gradcam"})

METHOD_TITLES: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "hirescam": "HiResCAM",
    "xgradcam": "XGrad-CAM",
    "layercam": "LayerCAM",
    "eigencam": "Eigen-CAM",
    "eigengradcam": "Eigen-Grad-CAM",
    "gradcamelementwise": "element-wise Grad-CAM",
    "kpcacam": "KPCA-CAM",
    "fem": "FEM",
    "shapleycam": "Shapley-CAM",
    "scorecam": "Score-CAM",
    "ablationcam": "Ablation-CAM",
    "fullgrad": "FullGrad",
}

_REGION_WORDS = {
    "brows": "the brows",
    "eyes": "the eyes",
    "nose": "the nose",
    "mouth": "the mouth",
    "cheeks_jaw": "the cheeks and jaw",
    "forehead": "the forehead",
    "other": "outside the face (hair, background)",
}

VIEW_SIZE = 224  # side of the face overlay PNG: the 64-112 px crop enlarged for viewing
FULL_MAX_SIDE = 1280  # the whole-photo overlay is shrunk to at most this side
HOT_FLOOR = 0.5  # region shares count the heat above half the map's peak
HOT_FRACTION = 0.2  # share of the crop removed by the faithfulness test
RANDOM_DRAWS = 4  # random regions the hottest one is compared with
COARSE_GRID = 6  # a map with fewer cells a side cannot separate the eyes from the mouth well
MIN_SHARE = 0.005  # regions with less heat are left out of ``top_regions``
FULL_GRAD_LAYER = "all"  # FullGrad uses every biased layer, not the card's one


def resolve_method(name: str) -> str:
    """The canonical name of a CAM method ("Grad-CAM++" -> "gradcam++").

    Raises:
        InvalidRequestError: for a method this explainer does not have; the message lists them.
    """
    key = "".join(str(name).lower().split()).replace("-", "").replace("_", "")
    key = METHOD_ALIASES.get(key, key)
    if key not in METHODS:
        raise InvalidRequestError(
            f"Unknown explanation method {name!r}; choose one of: {', '.join(METHODS)}."
        )
    return key


# --- targets -----------------------------------------------------------------------------------


class _Target:
    """A pytorch-grad-cam target: the target logit, or target minus versus for a contrastive view."""

    def __init__(self, index: int, versus: int | None = None) -> None:
        self.index, self.versus = index, versus

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        score = output[..., self.index]
        return score if self.versus is None else score - output[..., self.versus]


@contextmanager
def _gradients() -> Iterator[None]:
    # CAM needs autograd even when a caller sits inside no_grad or inference_mode.
    torch = import_torch()
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _tensor(array: Any) -> torch.Tensor:
    """A torch tensor of a cached array (the classifier keeps numpy; torch only where a method needs it)."""
    torch = import_torch()
    return array if isinstance(array, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(array))


# --- compute: heatmaps ----------------------------------------------------------------------------


@cache
def _formula(cls: type) -> Any:
    """One CAM object per method, used only for ``get_cam_image`` (stateless, so shared by threads).

    pytorch-grad-cam registers hooks on the network it is given; the cached-activation path needs
    none, so its CAM objects hook a stand-in network and the shared classifier stays untouched.
    """
    torch = import_torch()
    probe = torch.nn.Module()
    probe.layer = torch.nn.Identity()
    probe.anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)
    return cls(probe, [probe.layer])


def _scale_cam(cams: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Min-max scales each map of a (N, h, w) stack to [0, 1], then resizes it to ``size`` (w, h).

    The same arithmetic as pytorch-grad-cam's ``scale_cam_image`` for 2-D maps, without importing it.
    """
    result = []
    for cam in cams:
        cam = cam - np.min(cam)
        cam = cam / (1e-7 + np.max(cam))
        if size is not None:
            cam = cv2.resize(np.float32(cam), size)
        result.append(cam)
    return np.float32(result)


def _finish_cam(cam: np.ndarray, inputs: Any) -> np.ndarray:
    # BaseCAM.compute_cam_per_layer + aggregate_multi_layers, for one layer and one image.
    cam = np.maximum(cam, 0)
    scaled = _scale_cam(cam, (inputs.shape[-1], inputs.shape[-2]))
    layers = np.maximum(scaled[:, None, :], 0)
    return _scale_cam(np.mean(layers, axis=1))[0]


def gradcam_from_gradients(activations: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Grad-CAM on one layer: channel weights = mean gradient over space; the weighted sum of channels.

    Args:
        activations: (N, C, h, w) float32 activations of the explained layer.
        grads: the target's gradients with respect to them, same shape.

    Returns:
        (N, h, w) raw maps (before ReLU and scaling), exactly as pytorch-grad-cam's ``GradCAM``
        computes them (numpy float32, same reductions).
    """
    return gradcam_from_weights(activations, np.mean(grads, axis=(2, 3)))


def gradcam_from_weights(activations: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted sum of the channels of (N, C, h, w) activations with (N, C) channel weights."""
    return (weights[:, :, None, None] * activations).sum(axis=1)


def _layer_gradients(
    activation: torch.Tensor,
    head: Callable[[torch.Tensor], torch.Tensor],
    target: _Target,
    create_graph: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The target's gradient with respect to a cached activation: a backward through ``head`` only."""
    # The cached tensor is shared: a detached alias becomes this call's own leaf.
    # contiguous(): a channels-last activation sends CPU convolutions down slow paths.
    torch = import_torch()
    activations = _tensor(activation).detach().contiguous().requires_grad_()
    score = target(head(activations))[0]
    (grads,) = torch.autograd.grad(score, activations, create_graph=create_graph)
    return activations, grads


def _native_gradcam(
    activation: torch.Tensor | np.ndarray,
    head: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor | np.ndarray,
    target: _Target,
) -> np.ndarray:
    """Grad-CAM from a cached activation, without pytorch-grad-cam (same numbers as its GradCAM)."""
    with _gradients():
        activations, grads = _layer_gradients(activation, head, target, create_graph=False)
    cam = gradcam_from_gradients(activations.detach().cpu().numpy(), grads.cpu().numpy())
    return _finish_cam(cam, inputs)


def _cam_from_activation(
    cls: type,
    activation: torch.Tensor | np.ndarray,
    head: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor | np.ndarray,
    target: _Target,
) -> np.ndarray:
    """pytorch-grad-cam's per-layer pipeline on a cached activation (no hooks, no forward up to it)."""
    cam_object = _formula(cls)
    inputs = _tensor(inputs)
    with _gradients():
        activations: Any = _tensor(activation).detach().contiguous()
        grads: Any = None
        if cam_object.uses_gradients:
            create_graph = not cam_object.detach  # Shapley-CAM differentiates the gradient again
            activations, grads = _layer_gradients(activation, head, target, create_graph)
            if cam_object.detach:
                activations, grads = activations.detach().cpu().numpy(), grads.cpu().numpy()
        else:
            activations = activations.cpu().numpy()
        cam = cam_object.get_cam_image(inputs, None, [target], activations, grads, False)
    return _finish_cam(cam, inputs)


class _ModelCopy:
    """A private copy of a classifier's network for pytorch-grad-cam's hooked classes, with its lock."""

    def __init__(self, model: nn.Module) -> None:
        self.model = copy.deepcopy(model).eval()
        self.lock = threading.Lock()


_COPIES: weakref.WeakKeyDictionary[nn.Module, _ModelCopy] = weakref.WeakKeyDictionary()
_COPIES_LOCK = threading.Lock()


def _model_copy(model: nn.Module) -> _ModelCopy:
    with _COPIES_LOCK:
        entry = _COPIES.get(model)
        if entry is None:
            entry = _COPIES[model] = _ModelCopy(model)
        return entry


@lru_cache(maxsize=1)
def _quiet_progress_bars() -> None:
    # Score-CAM and Ablation-CAM draw tqdm bars on stderr for every call; silence them once.
    import tqdm as tqdm_module
    from pytorch_grad_cam import ablation_cam, score_cam

    class _Quiet:
        tqdm = partial(tqdm_module.tqdm, disable=True)

    score_cam.tqdm = ablation_cam.tqdm = _Quiet  # type: ignore[attr-defined]


def _cam_on_model(
    cls: type, model: nn.Module, layer: str, inputs: torch.Tensor | np.ndarray, target: _Target
) -> np.ndarray:
    """Runs a pytorch-grad-cam class itself, on a private copy of the network, one call at a time."""
    _quiet_progress_bars()
    entry = _model_copy(model)
    result: np.ndarray | None = None
    with entry.lock, _gradients():
        layers = [] if cls.__name__ == "FullGrad" else [entry.model.stages[layer]]
        with cls(entry.model, layers) as cam:
            result = cam(input_tensor=_tensor(inputs).detach().clone().contiguous(), targets=[target])
    if result is None:  # its ``with`` block swallows IndexError; targets are validated before
        raise InvalidRequestError(
            f"{cls.__name__} failed on this model's output (target index out of range)."
        )
    return result[0]


def cam_heatmap(
    classifier: EmotionClassifier,
    forward: FaceForward,
    method: str,
    target: int,
    versus: int | None = None,
) -> np.ndarray:
    """The CAM heatmap of one face, the size of the model's input, values in [0, 1].

    Args:
        classifier: the classifier whose forward pass produced ``forward``.
        forward: one face's cached forward pass (``EmotionClassifier.forward_faces``).
        method: a name of ``METHODS`` (or an alias).
        target: index of the class explained.
        versus: index of a class to contrast with (explains target minus versus), or None.

    Raises:
        InvalidRequestError: for an unknown method or a class index the model does not have.
    """
    name = resolve_method(method)
    num_classes = int(np.shape(forward.logits)[-1])
    for index in (target, versus):
        if index is not None and not 0 <= index < num_classes:
            raise InvalidRequestError(f"Class index {index} is out of range for a {num_classes}-class model.")
    goal = _Target(target, versus)
    layer = classifier.spec.target_layer
    weights = (
        classifier.cam_weights(np.shape(forward.activation))
        if name in _NATIVE and np.ndim(forward.activation) == 4
        else None
    )
    if weights is not None:  # an affine head: the gradient is a constant, no autograd (no torch)
        channels = weights[target] - (weights[versus] if versus is not None else 0.0)
        heat = _finish_cam(gradcam_from_weights(forward.activation, channels[None]), forward.inputs)
    elif name in _NATIVE:
        heat = _native_gradcam(forward.activation, _torch_head(classifier), forward.inputs, goal)
    elif name in _RUN_ON_MODEL:
        heat = _cam_on_model(METHODS[name], classifier.model, layer, forward.inputs, goal)
    else:
        heat = _cam_from_activation(
            METHODS[name], forward.activation, _torch_head(classifier), forward.inputs, goal
        )
    return np.clip(np.nan_to_num(heat.astype(np.float32)), 0.0, 1.0)


def _torch_head(classifier: EmotionClassifier) -> Callable[[torch.Tensor], torch.Tensor]:
    """The torch stages after the explained layer (activation -> logits), for autograd."""
    return partial(classifier.model.forward_from, name=classifier.spec.target_layer)


# --- compute: regions and faithfulness ----------------------------------------------------------


def region_shares(heatmap: np.ndarray, landmarks: np.ndarray, floor: float = HOT_FLOOR) -> dict[str, float]:
    """Share of the heat on each facial region (``tools.faces.REGIONS``); shares sum to 1.

    Only the heat above ``floor`` x its peak counts: a CAM map upsampled from a few cells spreads a
    faint haze over the whole crop, and summed over the large background that haze would outweigh
    the hot spot a person sees (on the astronaut: mouth 15% of all heat, 77% of the heat above half
    the peak).

    Args:
        heatmap: HxW non-negative heat on the aligned crop (H == W).
        landmarks: the 68 landmarks in crop coordinates.
        floor: the fraction of the peak below which heat is ignored (0 counts all of it).

    An all-zero map carries no evidence; its shares are then the regions' areas.
    """
    heat = np.clip(np.asarray(heatmap, dtype=np.float64), 0.0, None)
    heat = np.clip(heat - floor * heat.max(initial=0.0), 0.0, None)
    if not heat.sum() > 0:
        heat = np.ones_like(heat)
    masks = region_masks(landmarks, heat.shape[0])
    total = heat.sum()
    shares = {name: float(heat[masks[name]].sum() / total) for name in REGIONS}
    norm = sum(shares.values())
    return {name: value / norm for name, value in shares.items()}


def top_regions(shares: dict[str, float], min_share: float = MIN_SHARE) -> list[tuple[str, float]]:
    """Regions by share, largest first, leaving out those under ``min_share``."""
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], REGIONS.index(kv[0]) if kv[0] in REGIONS else 0))
    return [(name, share) for name, share in ranked if share >= min_share]


@dataclass(frozen=True)
class Faithfulness:
    """The deletion test behind an explanation's trust figure.

    Attributes:
        base: the target's score on the intact face (its probability; minus the versus class's
            probability for a contrastive explanation).
        hot: the score with the hottest ``fraction`` of the face removed.
        random: the mean score with random regions of the same size removed.
        fraction: the share of the face removed.
    """

    base: float
    hot: float
    random: float
    fraction: float
    scale: str = "probability"

    @property
    def score(self) -> float:
        """Drop when the hottest region is removed minus the mean drop for random ones.

        On the ``log-odds`` scale (used when the probability is saturated) the drops are divided by
        the intact face's log-odds: the share of the evidence that removing the region takes away.
        """
        drop = (self.base - self.hot) - (self.base - self.random)
        if self.scale == "log-odds":  # a share, like a probability difference within [-1, 1]
            return float(np.clip(drop / max(abs(self.base), 1e-6), -1.0, 1.0))
        return drop


# A probability this close to 1 hides what removal does: at p = 0.9999 a face can lose half its
# evidence and still read 1.00. Then the test is read in log-odds (``SATURATED_MOVE`` bounds how
# far the probabilities must stay put for that).
SATURATED_P, SATURATED_MOVE = 0.97, 0.03


def _top_mask(values: np.ndarray, fraction: float) -> np.ndarray:
    flat = values.ravel()
    count = max(1, round(fraction * flat.size))
    order = np.argsort(-flat, kind="stable")
    mask = np.zeros(flat.size, bool)
    mask[order[:count]] = True
    return mask.reshape(values.shape)


def faithfulness(
    head: Callable[[np.ndarray], np.ndarray],
    activation: np.ndarray,
    heatmap: np.ndarray,
    target: int,
    versus: int | None = None,
    base_probs: np.ndarray | None = None,
    base_logits: np.ndarray | None = None,
    fraction: float = HOT_FRACTION,
    draws: int = RANDOM_DRAWS,
    seed: int = 0,
) -> Faithfulness:
    """Removes the hottest ``fraction`` of the face, and random regions as large, from the explained layer.

    Removal happens in the explained layer's activation: the grid cells under the hottest part of
    the heatmap (or under random cells, ``draws`` times, fixed seed) are set to each channel's mean
    over the face, and the rest of the network (``head``) runs on the batch, without gradients.
    That is what the heatmap claims to describe (which positions of that layer the prediction
    rests on), and it costs a fraction of a forward pass, where blurring pixels would cost
    ``1 + draws`` full ones.

    Args:
        head: the network after the explained layer, activations -> logits as arrays
            (``EmotionClassifier.head_logits``).
        activation: the (1, C, h, w) activation of the explained layer for the face.
        heatmap: the heatmap on the face crop (any size; averaged down to the h x w grid).
        target: index of the class explained.
        versus: index of the contrast class, or None.
        base_probs: the intact face's probabilities when already known (else computed too).
        base_logits: the intact face's logits, with ``base_probs``.
        fraction: share of the face (of the grid cells) to remove.
        draws: number of random regions.
        seed: random seed (the figure is deterministic).
    """
    act = np.asarray(activation, np.float32)
    if act.ndim != 4:
        raise InvalidRequestError("The faithfulness test needs a convolutional layer (N, C, H, W).")
    grid_h, grid_w = int(act.shape[-2]), int(act.shape[-1])
    cells = cv2.resize(np.asarray(heatmap, np.float32), (grid_w, grid_h), interpolation=cv2.INTER_AREA)
    masks = [_top_mask(cells, fraction)]
    rng = np.random.default_rng(seed)
    count = int(masks[0].sum())
    for _ in range(draws):
        mask = np.zeros(grid_h * grid_w, bool)
        mask[rng.choice(grid_h * grid_w, size=count, replace=False)] = True
        masks.append(mask.reshape(grid_h, grid_w))
    fill = act.mean(axis=(2, 3), keepdims=True)
    batch = np.where(np.stack(masks)[:, None], fill, act)
    if base_probs is None or base_logits is None:
        batch = np.concatenate([act, batch])
    logits = np.asarray(head(batch), np.float32)
    probs = softmax(logits)
    logits_np = logits.astype(np.float64)
    if base_probs is None or base_logits is None:
        base_probs, probs = probs[0], probs[1:]
        base_logits, logits_np = logits_np[0], logits_np[1:]

    def score(p: np.ndarray) -> float:
        return float(p[target] - (p[versus] if versus is not None else 0.0))

    result = Faithfulness(
        base=score(base_probs),
        hot=score(probs[0]),
        random=float(np.mean([score(p) for p in probs[1:]])),
        fraction=fraction,
    )
    moves = max(abs(result.hot - result.base), abs(result.random - result.base))
    if versus is None and result.base >= SATURATED_P and moves < SATURATED_MOVE:

        def log_odds(z: np.ndarray) -> float:
            others = np.delete(np.asarray(z, np.float64), target)
            top = others.max()
            return float(z[target] - (top + np.log(np.exp(others - top).sum())))

        result = Faithfulness(
            base=log_odds(base_logits),
            hot=log_odds(logits_np[0]),
            random=float(np.mean([log_odds(z) for z in logits_np[1:]])),
            fraction=fraction,
            scale="log-odds",
        )
    return result


def _faithfulness_words(f: Faithfulness, target: str, versus: str | None) -> str:
    what = f"p({target})" if versus is None else f"p({target}) - p({versus})"
    pct = f"{round(100 * f.fraction)}%"
    if f.scale == "log-odds":
        share = lambda v: 100 * (f.base - v) / max(abs(f.base), 1e-6)  # noqa: E731
        facts = (
            f"{what} is saturated near 1, so the test reads its log-odds ({f.base:.1f}): removing what "
            f"the network sees in the hottest {pct} of the face lowers them by {share(f.hot):.0f}%; "
            f"removing a random {pct}, by {share(f.random):.0f}% on average"
        )
    else:
        facts = (
            f"removing what the network sees in the hottest {pct} of the face changes {what} by "
            f"{f.hot - f.base:+.2f} ({f.base:.2f} -> {f.hot:.2f}); removing a random {pct} changes it by "
            f"{f.random - f.base:+.2f} on average"
        )
    if versus is None and f.scale == "probability" and f.base < 0.05:
        return (
            f"inconclusive: {what} is only {f.base:.2f}, so removing evidence cannot lower it much ({facts})."
        )
    if f.score >= 0.1:
        verdict = "faithful"
    elif f.score >= 0.02:
        verdict = "partly faithful"
    elif f.score > -0.02:
        verdict = "not shown to be faithful"
    else:
        verdict = "unfaithful"
    return f"{verdict} (score {f.score:+.2f}): {facts}."


# --- presentation --------------------------------------------------------------------------------


def _colour(heatmap: np.ndarray) -> np.ndarray:
    heat = np.uint8(np.round(255 * np.clip(heatmap, 0, 1)))
    return cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def overlay(
    face_rgb: np.ndarray, heatmap: np.ndarray, size: int = VIEW_SIZE, alpha: float = 0.5
) -> np.ndarray:
    """The face crop with its heat in colour (jet), enlarged to ``size`` for viewing.

    Args:
        face_rgb: the aligned RGB crop (uint8).
        heatmap: the heatmap on that crop, values in [0, 1].
        size: side of the result.
        alpha: weight of the colour.

    Returns:
        (size, size, 3) uint8 RGB.
    """
    face = cv2.resize(face_rgb, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    heat = cv2.resize(np.asarray(heatmap, np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    blended = (1 - alpha) * face + alpha * _colour(heat).astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def full_overlay(
    rgb: np.ndarray,
    heatmap: np.ndarray,
    matrix: np.ndarray,
    max_side: int = FULL_MAX_SIDE,
    alpha: float = 0.6,
) -> np.ndarray:
    """The heat mapped back onto the whole photo (through the inverse of the alignment).

    The colour's weight follows the heat, so the crop's edges leave no square on the photo.

    Args:
        rgb: the original RGB image.
        heatmap: the heatmap on the aligned crop.
        matrix: the 2x3 affine taking original (x, y) to crop coordinates (``AlignedFace.matrix``).
        max_side: the result is shrunk to at most this side.
        alpha: weight of the colour where the heat is 1.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    out_w, out_h = max(1, round(w * scale)), max(1, round(h * scale))
    photo = cv2.resize(rgb, (out_w, out_h), interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    # Output pixel (x, y) is original (x, y) / scale; WARP_INVERSE_MAP wants output -> crop.
    to_crop = np.asarray(matrix, np.float64) @ np.diag([1 / scale, 1 / scale, 1.0])
    heat = cv2.warpAffine(
        np.asarray(heatmap, np.float32),
        to_crop[:2],
        (out_w, out_h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    weight = (alpha * np.clip(heat, 0, 1))[..., None]
    blended = (1 - weight) * photo.astype(np.float32) + weight * _colour(heat).astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


PNG_LEVEL = 1  # zlib level: the 224 px overlay in ~2 ms (level 3 took twice that for 5% fewer bytes)


def png_bytes(rgb: np.ndarray) -> bytes:
    """An RGB (or RGBA, or gray) uint8 array as PNG bytes, in memory."""
    array = np.ascontiguousarray(rgb)
    if array.dtype == np.uint8 and (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        # OpenCV's encoder is the faster one here; it wants BGR(A) channel order.
        if array.ndim == 3:
            array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR if array.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
        ok, encoded = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])
        if ok:
            return encoded.tobytes()
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG", compress_level=PNG_LEVEL)
    return buffer.getvalue()


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why the model gave a face its reading.

    Attributes:
        target: the label explained.
        versus: the contrast label ("why happy rather than surprise"), or None.
        method: canonical method name, e.g. ``gradcam``.
        layer: the network stage explained (``all`` for FullGrad).
        face_index: the face's place in the classifier's list (0 = most prominent); people call
            it by ``number``.
        heatmap: float32 HxW in [0, 1], the size of the model's aligned face crop.
        overlay_png: PNG of the heat over the aligned face, enlarged for viewing (a property,
            rendered on first use: presentation is not paid for until something shows it).
        regions: share of heat per region of ``tools.faces.REGIONS``; sums to 1.
        top_regions: regions by share, largest first (shares under 0.5% left out).
        target_probability: the model's probability of ``target`` for this face.
        faithfulness: drop of the target's probability when what the explained layer sees in the
            hottest 20% of the face is removed, minus the mean drop for random 20% regions (for
            contrastive explanations, of p(target) - p(versus)). Clearly positive means the heat
            marks what the model uses; about 0 or negative means the map should not be trusted.
        faithfulness_text: that figure in words.
        prediction: the classification of the face.
        face_image: the aligned RGB crop the heatmap lies on.
        photo: the original RGB image, or a function that returns it (the record's pixels, decoded
            on demand so a cached explanation does not pin the whole photo), for ``full_overlay_png``.
        matrix: the 2x3 affine from photo to crop coordinates.
        grid: (rows, columns) of the explained layer's map, before it is enlarged to the crop.
    """

    target: str
    versus: str | None
    method: str
    layer: str
    face_index: int
    heatmap: np.ndarray = field(repr=False)
    regions: dict[str, float]
    top_regions: list[tuple[str, float]]
    target_probability: float
    faithfulness: float
    faithfulness_text: str
    prediction: Prediction = field(repr=False)
    grid: tuple[int, int] | None = None
    face_image: np.ndarray | None = field(default=None, repr=False)
    photo: np.ndarray | Callable[[], np.ndarray] | None = field(default=None, repr=False)
    matrix: np.ndarray | None = field(default=None, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, init=False)

    @property
    def overlay_png(self) -> bytes:
        """PNG of the heat over the aligned face, enlarged to 224 px (rendered on first use)."""
        if "face" not in self._memo:
            if self.face_image is None:
                raise InvalidRequestError(
                    "This explanation does not carry its face crop, so it has no overlay."
                )
            ahead = self._memo.pop("face_ahead", None)  # rendered in the background (render_ahead)
            self._memo["face"] = (
                ahead.result() if ahead is not None else _face_png(self.face_image, self.heatmap)
            )
        return self._memo["face"]

    def full_overlay_png(self) -> bytes:
        """PNG of the heat mapped back over the whole original photo (rendered on first use)."""
        if "full" not in self._memo:
            if self.photo is None or self.matrix is None:
                raise InvalidRequestError(
                    "This explanation does not carry its photo; only the face overlay exists."
                )
            photo = self.photo() if callable(self.photo) else self.photo
            self._memo["full"] = png_bytes(full_overlay(photo, self.heatmap, self.matrix))
        return self._memo["full"]

    @property
    def number(self) -> int:
        """The face's number as people see it (reading order, from 1)."""
        return self.prediction.number

    @property
    def class_agnostic(self) -> bool:
        """True for methods whose map does not depend on the target (Eigen-CAM, KPCA-CAM, FEM)."""
        if self.method in _NATIVE or self.method in _RUN_ON_MODEL:
            return False
        return not _formula(METHODS[self.method]).uses_gradients

    def summary(self) -> str:
        """One short paragraph in words: what was explained, where the heat is, how far to trust it."""
        p = self.prediction
        title = METHOD_TITLES.get(self.method, self.method)
        what = f"'{display_name(self.target)}' (p={self.target_probability:.2f})"
        if self.versus is not None:
            what += f" rather than '{display_name(self.versus)}' (p={p.probs.get(self.versus, 0.0):.2f})"
        where = ", ".join(
            f"{round(100 * share)}% on {_REGION_WORDS.get(name, name)}"
            for name, share in self.top_regions[:3]
        )
        parts = [
            f"Face {self.number}: the model reads {display_name(p.label)} ({p.confidence:.2f}).",
            f"{title} for {what} on layer {self.layer}: {where or 'no clear focus'}.",
        ]
        if self.grid is not None and min(self.grid) < COARSE_GRID:
            parts.append(
                f"(This layer's map is only {self.grid[0]}x{self.grid[1]} cells, so the regions are approximate.)"
            )
        if self.class_agnostic:
            parts.append(f"({title} shows what the layer responds to, whatever the class.)")
        parts.append(self.faithfulness_text[:1].upper() + self.faithfulness_text[1:])
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain-type view for JSON (no PNG bytes, no heatmap array: see ``heatmap_size``)."""
        return {
            "face": self.number,
            "target": self.target,
            "versus": self.versus,
            "method": self.method,
            "layer": self.layer,
            "heatmap_size": list(self.heatmap.shape),
            "grid": list(self.grid) if self.grid is not None else None,
            "regions": {k: round(v, 4) for k, v in self.regions.items()},
            "top_regions": [[k, round(v, 4)] for k, v in self.top_regions],
            "target_probability": round(self.target_probability, 4),
            "faithfulness": round(self.faithfulness, 4),
            "faithfulness_text": self.faithfulness_text,
            "summary": self.summary(),
            "prediction": self.prediction.to_dict(),
        }


def _face_png(face_rgb: np.ndarray, heatmap: np.ndarray) -> bytes:
    return png_bytes(overlay(face_rgb, heatmap))


_RENDERER: ThreadPoolExecutor | None = None
_RENDERER_LOCK = threading.Lock()


def _render_in_background(face_rgb: np.ndarray, heatmap: np.ndarray) -> Future[bytes]:
    global _RENDERER
    with _RENDERER_LOCK:
        if _RENDERER is None:
            _RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="overlay-png")
    return _RENDERER.submit(_face_png, face_rgb, heatmap)


class Explainer:
    """Explains a classifier's predictions.

    Args:
        classifier: the classifier to explain; the cached default model when None.
        cache_results: keep each explanation on the image's record, keyed by (model, target,
            versus, method, face), so asking again is free.
        render_ahead: start rendering the face overlay PNG in a background thread as soon as the
            heatmap exists, so it is ready when the regions and the faithfulness figure are (OpenCV
            releases the GIL: on two cores this takes ~3 ms off an explanation). For callers that
            always show the overlay, such as the chat tool; off by default, so an explanation never
            shown is never rendered.
    """

    def __init__(
        self,
        classifier: EmotionClassifier | None = None,
        *,
        cache_results: bool = True,
        render_ahead: bool = False,
    ) -> None:
        self.classifier = classifier if classifier is not None else default_classifier(None)
        self.cache_results = cache_results
        self.render_ahead = render_ahead

    def explain(
        self,
        image: ImageInput | ImageRecord,
        target: str | None = None,
        method: str = "gradcam",
        face: int | None = None,
        versus: str | None = None,
    ) -> Explanation:
        """Explains the model's reading of one face.

        Decoding, detection, alignment and the forward pass are taken from the image's record when
        the face was classified before; gradient methods then cost one partial backward pass.

        Args:
            image: a path, bytes, PIL image, RGB/gray array or ``ImageRecord``.
            target: the label to explain ("sadness", "sad" ...); the predicted label when None.
            method: a name of ``METHODS`` (case, hyphens and common aliases accepted).
            face: the face's number (reading order: left to right, then top to bottom, from 1);
                None for the most prominent face.
            versus: a label to contrast with ("why happy rather than surprise"), or None.

        Raises:
            InvalidImageError: the input is not a readable image.
            NoFaceError: no face was found.
            InvalidRequestError: unknown method or label, a face number out of range, or
                ``versus`` equal to ``target``.
        """
        method_name = resolve_method(method)
        labels = self.classifier.labels
        target_label = normalize_label(target, labels) if target is not None else None
        versus_label = normalize_label(versus, labels) if versus is not None else None
        record = self.classifier.record(image)
        forwards = self.classifier.forward_faces(record)
        face = index_of_number([f.face for f in forwards], face)
        if target_label is None:
            target_label = labels[int(np.argmax(forwards[face].probs))]
        if versus_label == target_label:
            raise InvalidRequestError(
                f"Cannot contrast '{display_name(target_label)}' with itself; pick another label for versus."
            )
        key = ("explain", self.classifier.cache_token, target_label, versus_label, method_name, face)

        def compute() -> Explanation:
            return self._compute(record, forwards[face], face, target_label, versus_label, method_name)

        return record.cached(key, compute) if self.cache_results else compute()

    def _compute(
        self,
        record: ImageRecord,
        forward: FaceForward,
        face: int,
        target: str,
        versus: str | None,
        method: str,
    ) -> Explanation:
        labels = self.classifier.labels
        t = labels.index(target)
        v = labels.index(versus) if versus is not None else None
        heat = cam_heatmap(self.classifier, forward, method, t, v)
        ahead = _render_in_background(forward.aligned.image, heat) if self.render_ahead else None
        shares = region_shares(heat, _region_landmarks(record, forward, face))
        trust = faithfulness(
            self.classifier.head_logits,
            forward.activation,
            heat,
            t,
            v,
            base_probs=forward.probs,
            base_logits=np.asarray(forward.logits, np.float32),
        )
        prediction = self.classifier.predict(record)[face]
        layer = FULL_GRAD_LAYER if method == "fullgrad" else self.classifier.spec.target_layer
        explanation = Explanation(
            target=target,
            versus=versus,
            method=method,
            layer=layer,
            face_index=face,
            heatmap=heat,
            regions=shares,
            top_regions=top_regions(shares),
            target_probability=float(forward.probs[t]),
            faithfulness=trust.score,
            faithfulness_text=_faithfulness_words(
                trust, display_name(target), versus and display_name(versus)
            ),
            prediction=prediction,
            grid=tuple(int(n) for n in forward.activation.shape[-2:])
            if np.ndim(forward.activation) == 4
            else None,
            face_image=forward.aligned.image,
            photo=record.pixels.array,
            matrix=forward.aligned.matrix,
        )
        if ahead is not None:
            explanation._memo["face_ahead"] = ahead
        return explanation


def _region_landmarks(record: ImageRecord, forward: FaceForward, face: int) -> np.ndarray:
    """The 68 points that split the face crop into regions: the fit the voice reads the face from
    (``tools.landmarks``' default model, fitted once per photo and face for both), mapped into the
    crop; dlib's when that model cannot load."""
    from tools.landmarks import face_landmarks

    try:
        return forward.aligned.to_crop(face_landmarks(record, face).points)
    except ModelUnavailableError:
        return forward.aligned.landmarks


@lru_cache(maxsize=4)
def _default_explainer(model: str | None) -> Explainer:
    return Explainer(default_classifier(model))


def explain(
    image: ImageInput | ImageRecord,
    target: str | None = None,
    method: str = "gradcam",
    face: int | None = None,
    versus: str | None = None,
    model: str | None = None,
) -> Explanation:
    """Explains the emotion read on a face, with a cached model (see ``Explainer.explain``).

    Args:
        image: a path, bytes, PIL image, RGB/gray array or ``ImageRecord``.
        target: the label to explain; the predicted one when None.
        method: a CAM method name (``gradcam`` by default; see ``METHODS``).
        face: the face's number (reading order, from 1); None for the most prominent face.
        versus: a label to contrast with, or None.
        model: None for the offline default model, or a checkpoint folder.

    Raises:
        InvalidImageError, NoFaceError, InvalidRequestError, ModelUnavailableError.
    """
    return _default_explainer(model).explain(image, target=target, method=method, face=face, versus=versus)
