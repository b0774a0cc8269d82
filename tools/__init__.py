"""Facial emotion tools: classify, explain, ask about and locate faces. Pure Python; no LangChain needed.

    from tools import classify, explain, ask
    preds = classify("face.jpg")            # list[Prediction], most prominent face first
    e = explain("face.jpg")                 # Grad-CAM heatmap, overlay PNG and region shares
    a = ask("face.jpg", "Is the mouth open?")
    faces = find_faces("group.jpg")         # count, boxes, position words (left, middle, right ...)
    v = analyze_video("clip.mp4", fps=10)   # faces tracked over time, timeline, summary, CSV

Heavy modules load on first use, so ``import tools`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from tools.errors import (
    CapacityError,
    FaceAgentError,
    ImageTooLargeError,
    InvalidImageError,
    InvalidRequestError,
    InvalidVideoError,
    ModelUnavailableError,
    NoFaceError,
)

_LAZY = {
    "classify": "tools.classifier",
    "EmotionClassifier": "tools.classifier",
    "Prediction": "tools.classifier",
    "explain": "tools.explainer",
    "Explainer": "tools.explainer",
    "Explanation": "tools.explainer",
    "ask": "tools.vqa",
    "describe": "tools.vqa",
    "FaceQA": "tools.vqa",
    "Answer": "tools.vqa",
    "load_image": "tools.images",
    "find_faces": "tools.locate",
    "FaceMap": "tools.locate",
    "annotate": "tools.locate",
    "analyze_video": "tools.video",
    "VideoAnalysis": "tools.video",
}

__all__ = [
    "Answer",
    "CapacityError",
    "EmotionClassifier",
    "Explainer",
    "Explanation",
    "FaceAgentError",
    "FaceMap",
    "FaceQA",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidRequestError",
    "InvalidVideoError",
    "ModelUnavailableError",
    "NoFaceError",
    "Prediction",
    "VideoAnalysis",
    "analyze_video",
    "annotate",
    "ask",
    "classify",
    "describe",
    "explain",
    "find_faces",
    "load_image",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tools' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
