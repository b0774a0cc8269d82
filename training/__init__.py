"""Training, evaluation and export of emotion models that ``tools`` loads.

    python -m training.train --preset smoke                 # seconds on CPU, generated data
    python -m training.train --config configs/rafdb_basic.json --data /data/RAF-DB
    python -m training.evaluate --checkpoint runs/rafdb_basic/best --data /data/RAF-DB

From Python::

    from training import TrainConfig
    from training.train import train
    result = train(TrainConfig(name="smoke", dataset="synthetic", input_size=48, align="none",
                               epochs=5, pretrained="false"))
    result.best_dir          # a checkpoint folder for tools.classifier.EmotionClassifier.load

(``train`` is deliberately not re-exported here: the name belongs to the ``training.train``
module.) Heavy modules load on first use, so ``import training`` stays cheap (and ``python -m
training.train`` does not import itself twice).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "TrainConfig": "training.config",
    "PRESETS": "training.config",
    "parse_config": "training.config",
    "TrainResult": "training.train",
    "evaluate_checkpoint": "training.evaluate",
    "load_dataset": "training.datasets",
    "LabelledDataset": "training.datasets",
    "DatasetError": "training.datasets",
    "make_synthetic_dataset": "training.synthetic",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
