"""The ONNX graphs of the shipped networks, run by ONNX Runtime: numpy in, numpy out, no torch.

The detector (RetinaFace-MobileNet0.25) and the default classifier (face-api.js FaceExpressionNet,
its classification pass and the affine head after its explained layer) are committed as graphs
under ``tools/models/weights/``, made by ``python scripts/export_onnx.py`` from the torch networks
(see ``tools/models/weights/SOURCE.md``; ``tests/test_graphs.py`` checks each against torch). So
inference neither imports torch (~680 MB resident, 1.6 s) nor exports anything at start-up. Each
file is checked against its sha256 before it is used, like the face-api weights.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.errors import ModelUnavailableError

__all__ = [
    "Graph",
    "RETINAFACE",
    "RETINAFACE_INT8",
    "FACEAPI_CLASSIFIER",
    "FACEAPI_HEAD",
    "WEIGHTS_DIR",
    "session",
    "metadata",
]

WEIGHTS_DIR = Path(__file__).parent / "weights"
_REGENERATE = "regenerate it with `python scripts/export_onnx.py` (see tools/models/weights/SOURCE.md)"


@dataclass(frozen=True)
class Graph:
    """A committed graph: its file under ``tools/models/weights/`` and the sha256 it must have."""

    file: str
    sha256: str

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.file

    def read(self) -> bytes:
        """The graph's bytes, checked against its sha256.

        Raises:
            ModelUnavailableError: the file is missing or differs from the committed one.
        """
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ModelUnavailableError(
                f"The network graph {self.path} is missing ({exc}); {_REGENERATE}."
            ) from exc
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise ModelUnavailableError(
                f"The network graph {self.path} differs from the committed file (sha256 mismatch); {_REGENERATE}."
            )
        return data


RETINAFACE = Graph(
    "retinaface_mobilenet0.25.onnx", "b0d75369c55f26b8f3afdb80ec825f607e66a679eed78317c758b81ccee9c5e2"
)
# The same network with 8-bit convolutions (``scripts/quantize_retinaface.py``), on request.
RETINAFACE_INT8 = Graph(
    "retinaface_mobilenet0.25_int8.onnx", "0918859cff7ee9b3d801f114172fcdf4a6fac9848d751b6311e5559134a87899"
)
FACEAPI_CLASSIFIER = Graph(
    "faceapi_expression.onnx", "dfb94b04995a52228d09241fbce3b08238045d42ab525bc3ed3b41093ba0170a"
)
FACEAPI_HEAD = Graph(
    "faceapi_expression_head.onnx", "b8ef53ad3ae75d9b83cf6df2e7ecee7daef3edb0b4a9e2cf3cb2dda606eb2beb"
)


def session(graph: bytes | str | Path, threads: int = 1) -> Any:
    """An ONNX Runtime session on the CPU: ``threads`` intra-op threads, no spin-waiting.

    Spinning threads would take the cores from the next step of a request and from concurrent
    requests (measured: a whole classify 25% slower).

    Raises:
        ModelUnavailableError: onnxruntime is not installed, or the graph does not load.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelUnavailableError("ONNX Runtime is missing: `pip install onnxruntime`.") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = str(graph) if isinstance(graph, (str, os.PathLike)) else graph
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime raises its own exception types for unreadable graphs
        raise ModelUnavailableError(f"ONNX Runtime could not load a network graph: {exc}") from exc


def metadata(runtime: Any) -> dict[str, str]:
    """The ``metadata_props`` of a session's graph (written by ``tools.models.onnx_export``)."""
    return dict(runtime.get_modelmeta().custom_metadata_map)
