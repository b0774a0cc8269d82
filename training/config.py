"""The one typed training configuration: defaults, presets, a JSON file, command-line overrides.

Precedence, lowest first: the dataclass defaults, ``--preset NAME``, ``--config file.json``, then
every ``--field value`` given on the command line. Every field has a flag (``--batch-size 32`` or
``--batch_size 32``); booleans take ``true``/``false`` or stand alone (``--compile``). The
resolved configuration is printed at the start of a run and saved as ``config.json`` in the run
folder.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tools.errors import InvalidRequestError

__all__ = ["TrainConfig", "PRESETS", "parse_config", "load_config_file", "build_parser"]


@dataclass
class TrainConfig:
    """Every knob of a training run.

    Attributes:
        name: run name; files go to ``<out_dir>/<name>/``.
        out_dir: parent folder of runs.
        dataset: layout of ``data`` (``auto``, ``rafdb-basic``, ``rafdb-compound``, ``rafce``,
            ``fer2013``, ``folder``, ``synthetic``).
        data: dataset folder (or FER-2013 CSV). For ``synthetic``, where to generate it
            (default ``<run>/data``).
        limit: at most this many images per split (0 = all), for quick trials.
        arch: ``resnet18`` (or ``mini_xception``).
        pretrained: ``auto`` (ImageNet weights when on disk, else a warning and random init),
            ``true`` (required; error when missing) or ``false`` (from scratch).
        input_size: side of the model input in pixels.
        channels: 3 (RGB) or 1 (gray).
        align: ``similarity5`` (detect landmarks and align like the classifier) or ``none``.
        align_margin: alignment margin (fraction of the template face's extent on each side).
        align_shift_y: vertical shift of the face in the crop (fraction of the side).
        epochs: total epochs.
        batch_size: images per step (per process under DDP).
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_epochs: linear warm-up length (fractions allowed); cosine decay after it.
        min_lr_ratio: final learning rate as a fraction of ``lr``.
        label_smoothing: cross-entropy label smoothing.
        balance: class imbalance handling: ``loss`` (class-weighted loss), ``sampler`` (weighted
            sampling) or ``none``.
        augment: ``none``, ``light``, ``trivial`` (TrivialAugmentWide) or ``randaugment``.
        random_erasing: probability of random erasing.
        mixup: MixUp alpha (0 = off).
        cutmix: CutMix alpha (0 = off).
        val_fraction: share of train held out (stratified) to pick the best epoch and stop early,
            when the dataset has no validation split; 0 uses the test split for that.
        patience: stop after this many epochs without a better validation macro-F1 (0 = never).
        seed: seed of every random generator.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        workers: data-loader worker processes (and face-alignment processes).
        amp: mixed precision on CUDA (ignored elsewhere).
        channels_last: channels-last memory format on CUDA (ignored elsewhere).
        compile: ``torch.compile`` the model.
        resume: continue from ``<run>/last`` (model, optimiser, scheduler, epoch, RNG, best score).
        stop_after_epoch: end the process after this epoch (0 = off); simulates an interruption.
        progress: tqdm progress bars.
        cache: keep prepared face crops in ``<run>/cache`` for later runs.
        threads: CPU threads for torch (0 = torch's default).
    """

    name: str = "run"
    out_dir: str = "runs"
    dataset: str = "auto"
    data: str = ""
    limit: int = 0
    arch: str = "resnet18"
    pretrained: str = "auto"
    input_size: int = 112
    channels: int = 3
    align: str = "similarity5"
    align_margin: float = 0.25
    align_shift_y: float = 0.0
    epochs: int = 40
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_epochs: float = 2.0
    min_lr_ratio: float = 0.01
    label_smoothing: float = 0.1
    balance: str = "loss"
    augment: str = "trivial"
    random_erasing: float = 0.25
    mixup: float = 0.0
    cutmix: float = 0.0
    val_fraction: float = 0.1
    patience: int = 8
    seed: int = 42
    device: str = "auto"
    workers: int = 4
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    resume: bool = False
    stop_after_epoch: int = 0
    progress: bool = True
    cache: bool = True
    threads: int = 0

    def __post_init__(self) -> None:
        choices = {
            "pretrained": ("auto", "true", "false"),
            "align": ("similarity5", "none"),
            "balance": ("loss", "sampler", "none"),
            "augment": ("none", "light", "trivial", "randaugment"),
            "arch": ("resnet18", "mini_xception"),
        }
        self.pretrained = str(self.pretrained).lower()
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise InvalidRequestError(
                    f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}."
                )
        if self.channels not in (1, 3):
            raise InvalidRequestError(f"channels must be 1 or 3, not {self.channels}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise InvalidRequestError("epochs and batch_size must be at least 1.")
        if not 0 <= self.val_fraction < 0.9:
            raise InvalidRequestError("val_fraction must lie in [0, 0.9).")

    @property
    def run_dir(self) -> Path:
        """``<out_dir>/<name>``."""
        return Path(self.out_dir) / self.name

    @property
    def alignment(self) -> dict[str, Any]:
        """The model card's alignment entry for this configuration."""
        if self.align == "none":
            return {"method": "none"}
        return {"method": self.align, "margin": self.align_margin, "shift_y": self.align_shift_y}

    def to_dict(self) -> dict[str, Any]:
        """Plain-type view (saved as ``config.json``)."""
        return asdict(self)

    def describe(self) -> str:
        """The configuration, one ``field = value`` a line, for the start of a run."""
        return "\n".join(f"  {k} = {v!r}" for k, v in self.to_dict().items())


PRESETS: dict[str, dict[str, Any]] = {
    # Trains end to end on CPU in seconds on the generated cartoon faces; no pretrained weights.
    "smoke": {
        "name": "smoke",
        "dataset": "synthetic",
        "pretrained": "false",
        "input_size": 48,
        "align": "none",
        "epochs": 5,
        "batch_size": 32,
        "lr": 2e-3,
        "weight_decay": 0.01,
        "warmup_epochs": 0.5,
        "label_smoothing": 0.0,
        "augment": "light",
        "random_erasing": 0.0,
        "val_fraction": 0.2,
        "patience": 0,
        "workers": 0,
        "progress": False,
        "cache": False,
    },
    # RAF-DB basic-7 with ImageNet initialisation when the weights are on disk.
    "rafdb": {"name": "rafdb_basic", "dataset": "rafdb-basic", "input_size": 112, "epochs": 40},
}


def _parse_bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Reads a JSON config file; unknown keys are an error (a typo must not pass silently)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidRequestError(f"Cannot read the config file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRequestError(f"{path} must hold a JSON object of config fields.")
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known - {"preset"})
    if unknown:
        raise InvalidRequestError(f"{path}: unknown config field(s) {', '.join(unknown)}.")
    return data


def build_parser(prog: str = "python -m training.train") -> argparse.ArgumentParser:
    """The argument parser: ``--preset``, ``--config`` and one flag per config field."""
    parser = argparse.ArgumentParser(prog=prog, description="Train a ResNet-18 emotion model.")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="start from a named preset")
    parser.add_argument("--config", help="JSON file of config fields (applied after the preset)")
    parser.add_argument("--from-scratch", action="store_true", help="same as --pretrained false")
    for f in fields(TrainConfig):
        flags = [f"--{f.name.replace('_', '-')}"]
        if "_" in f.name:
            flags.append(f"--{f.name}")
        kind = type(f.default)
        if kind is bool:
            parser.add_argument(
                *flags, dest=f.name, type=_parse_bool, nargs="?", const=True, default=None, metavar="BOOL"
            )
        else:
            parser.add_argument(*flags, dest=f.name, type=kind, default=None)
    return parser


def parse_config(argv: list[str] | None = None, prog: str = "python -m training.train") -> TrainConfig:
    """Builds the configuration from defaults, preset, config file and flags (in that order)."""
    args = build_parser(prog).parse_args(argv)
    values: dict[str, Any] = {}
    file_values = load_config_file(args.config) if args.config else {}
    preset = args.preset or file_values.pop("preset", None)
    if preset:
        if preset not in PRESETS:
            raise InvalidRequestError(f"Unknown preset {preset!r}; use one of {', '.join(PRESETS)}.")
        values.update(PRESETS[preset])
    values.update(file_values)
    for f in fields(TrainConfig):
        given = getattr(args, f.name)
        if given is not None:
            values[f.name] = given
    if args.from_scratch:
        values["pretrained"] = "false"
    if isinstance(values.get("pretrained"), bool):
        values["pretrained"] = "true" if values["pretrained"] else "false"
    return TrainConfig(**values)
