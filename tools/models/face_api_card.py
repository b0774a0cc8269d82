"""The model card of face-api.js's FaceExpressionNet, and where its weights live (no torch needed).

The network and its weight loader are ``tools.models.face_api`` (torch); the classifier reads this
card and runs the committed ONNX graph (``tools.models.graphs.FACEAPI_CLASSIFIER``) without them.
"""

from __future__ import annotations

from pathlib import Path

from tools.labels import FACEAPI7
from tools.models.spec import ModelSpec

__all__ = ["FACEAPI_PACKAGE", "MEAN_RGB", "WEIGHTS_PATH", "WEIGHTS_SHA256", "default_spec"]

FACEAPI_PACKAGE = "@vladmandic/face-api@1.7.15"
WEIGHTS_PATH = Path(__file__).parent / "weights" / "faceapi_expression.safetensors"
# sha256 of the committed converted file; the loader refuses any other bytes.
WEIGHTS_SHA256 = "c653632d11d3a89fe86383998be26e18f1fdd118b95c67b6cd9209994bf5af9f"
# face-api's mean pixel (FaceFeatureExtractor.forwardInput), in 0-255 RGB.
MEAN_RGB = (122.782, 117.001, 104.298)


def default_spec() -> ModelSpec:
    """The model card of face-api.js's FaceExpressionNet."""
    return ModelSpec(
        name="faceapi-expression",
        arch="faceapi_expression",
        labels=list(FACEAPI7),
        label_set="faceapi7",
        input_size=112,
        channels=3,
        # face-api feeds (pixel - mean_pixel) / 255 == (pixel / 255 - mean_pixel / 255) / 1.
        mean=[m / 255.0 for m in MEAN_RGB],
        std=[1.0, 1.0, 1.0],
        # face-api classifies the crop of its landmark-aligned box (``withFaceLandmarks()
        # .withFaceExpressions()``): the 68 landmarks' bounding box grown by 20% of its width and
        # height, zero-padded to a centred square: brows to chin with ~10% room, little background
        # and no forehead. In the 5-point template's frame that square needs a negative margin
        # (zoom in past the template) and the face moved up: on 17 faces (astronaut, Grace Hopper,
        # 15 LFW) with dlib's landmarks the median is margin -0.05 / shift_y -0.22; face-api's own
        # aligned boxes (run in Node) give -0.064 / -0.237 on the astronaut and -0.088 / -0.213 on
        # Grace Hopper; its SSD detection box alone is taller (-0.10 / -0.13 to -0.19). Checked with
        # RetinaFace's five points by ``python -m benchmarks.eval_models``: margins -0.07 and 0.0
        # read the same 18 of 22 dev faces; wider crops read fewer (0.1: 17, 0.2: 10, 0.3: 5).
        alignment={"method": "similarity5", "margin": -0.07, "shift_y": -0.22},
        # dense3 (256 x 7 x 7) is the last convolutional stage, the features the fc layer weighs:
        # its Grad-CAM is the most class-specific, and its 7 x 7 cells of 16 px still tell eyes
        # from mouth (like the mini-Xception's 8 x 8 block3). Measured on 12 faces (astronaut,
        # Grace Hopper, 10 LFW) at this alignment: mean faithfulness 0.41 and 1.5% of the heat
        # off the face for dense3; 0.24 and 15% for dense2 (14 x 14); 0.10 and 55% for dense1.
        target_layer="dense3",
        provenance={
            "source": f"npm {FACEAPI_PACKAGE}, model/face_expression_model.bin + weights manifest",
            "converted_by": "scripts/convert_face_api.py (uint8 weights kept, dequantised at load)",
            "file": "tools/models/weights/faceapi_expression.safetensors",
            "sha256": WEIGHTS_SHA256,
            "license": "MIT (Copyright (c) Vladimir Mandic), tools/models/weights/LICENSE.face-api",
            "dataset": "not documented by face-api.js",
            "exactness": "max |p - face-api| 3.4e-7 on 5 crops (face-api 1.7.15 in Node, TF.js 4.22 CPU)",
            # python -m benchmarks.eval_models: 39 hand-labelled real faces from packages (22 dev,
            # 17 held-out; 19 neutral, 18 happy, 2 surprise). A small set: one face is 2.5-6 points.
            "evaluation": {
                "set": "tests/data/emotion_labels.csv (39 faces: astronaut, Grace Hopper, 3 press photos, 34 LFW)",
                "accuracy_dev": 0.82,
                "accuracy_heldout": 0.71,
                "neutral_read_as_sad_or_angry": "4 of 19 (mini-Xception: 9 of 19)",
                "gradcam_faithfulness_mean": 0.46,
                "heat_on_face": 0.99,
                "compared_with": "fer-mini-xception: dev 0.68, held-out 0.59, faithfulness 0.15, heat on face 0.50",
            },
        },
    )
