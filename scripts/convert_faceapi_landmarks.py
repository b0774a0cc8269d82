"""Converts face-api.js's 68-point landmark nets to ONNX graphs in ``tools/models/weights/``.

Usage::

    python scripts/convert_faceapi_landmarks.py                 # the package fetch_test_assets.py unpacked
    python scripts/convert_faceapi_landmarks.py vladmandic-face-api-1.7.15.tgz
    python scripts/convert_faceapi_landmarks.py path/to/package # an unpacked tarball

For each of ``face_landmark_68_model`` and ``face_landmark_68_tiny_model`` it decodes the uint8 TF.js
tensors exactly as TF.js does (``scripts/convert_face_api.py``), loads them into the PyTorch port
(``tools/models/faceapi_landmarks.py``), wraps it with face-api's preprocessing (uint8 RGB in,
points as fractions of the crop out) and exports it with the TorchScript exporter (opset 17), TF's
'same' padding folded into the convolutions (``tools.models.onnx_export.fold_pads``). The graph is
then run in ONNX Runtime on seeded noise and compared with torch (it must agree within 1e-5). Weights are stored as float32 (dequantised in double precision, as TF.js does), so ONNX
Runtime sees the same numbers as face-api. The output is deterministic; the script prints each
file's sha256: update ``tools/landmarks.py`` (``ONNX_FILES``) and ``tools/models/weights/SOURCE.md``
when it changes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from convert_face_api import decode  # noqa: E402
from fetch_test_assets import package_dir  # noqa: E402

from tools.models.faceapi_landmarks import FACEAPI_PACKAGE, LANDMARK_NETS  # noqa: E402

WEIGHTS = ROOT / "tools" / "models" / "weights"
OUTPUTS = {"faceapi": "faceapi_landmark68.onnx", "faceapi-tiny": "faceapi_landmark68_tiny.onnx"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_files(source: Path | None, names: list[str]) -> dict[str, bytes]:
    """``model/<file>`` members (and LICENSE) from a tarball, an unpacked package or the assets folder."""
    if source is None:
        source = package_dir("@vladmandic/face-api")
    if source.is_dir():
        folder = source / "package" if (source / "package").is_dir() else source
        return {name: (folder / name).read_bytes() for name in names}
    with tarfile.open(source, "r:gz") as tar:
        return {name: tar.extractfile(f"package/{name}").read() for name in names}


def export(name: str, files: dict[str, bytes]) -> tuple[bytes, dict[str, str]]:
    """The ONNX graph of one landmark net and what it was made from."""
    import onnx
    import onnxruntime as ort
    import torch

    from tools.models.faceapi_landmarks import LandmarkGraph, build_landmark_net, load_tfjs_weights
    from tools.models.onnx_export import fold_pads

    stem = LANDMARK_NETS[name]
    bin_name, manifest_name = f"model/{stem}.bin", f"model/{stem}-weights_manifest.json"
    manifest = json.loads(files[manifest_name])
    net = build_landmark_net(name)
    load_tfjs_weights(net, decode(files[bin_name], manifest, bin_name=Path(bin_name).name))
    graph = LandmarkGraph(net).eval()
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its retirement
        torch.onnx.export(
            graph,
            (torch.zeros(1, 112, 112, 3, dtype=torch.uint8),),
            buffer,
            dynamo=False,
            input_names=["crop"],
            output_names=["points"],
            dynamic_axes={"crop": {0: "batch"}, "points": {0: "batch"}},
            opset_version=17,
        )
    # TF's 'same' padding as the convolutions' own pads (no Pad and shape arithmetic at run time).
    model = onnx.load_from_string(fold_pads(buffer.getvalue()))
    provenance = {
        "source": f"npm {FACEAPI_PACKAGE}",
        "bin": bin_name,
        "bin_sha256": _sha256(files[bin_name]),
        "manifest": manifest_name,
        "manifest_sha256": _sha256(files[manifest_name]),
        "license": "MIT (Copyright (c) Vladimir Mandic)",
        "made_by": "scripts/convert_faceapi_landmarks.py",
        "input": "crop: (N, 112, 112, 3) uint8 RGB, the face box padded to a square",
        "output": "points: (N, 68, 2) float32, iBUG-68 (x, y) as fractions of the crop side",
    }
    del model.metadata_props[:]
    for key, value in sorted(provenance.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    data = model.SerializeToString(deterministic=True)
    # The graph must compute what torch computes.
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    crops = np.random.default_rng(0).integers(0, 256, size=(3, 112, 112, 3), dtype=np.uint8)
    with torch.no_grad():
        expected = graph(torch.from_numpy(crops)).numpy()
    got = session.run(None, {"crop": crops})[0]
    error = float(np.abs(got - expected).max())
    if error > 1e-5:
        raise SystemExit(f"{name}: ONNX Runtime differs from torch by {error:.2e}")
    provenance["onnx_vs_torch"] = f"{error:.1e}"
    return data, provenance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "source", nargs="?", type=Path, help="npm tarball or unpacked package (default: the assets folder)"
    )
    parser.add_argument("--out", type=Path, default=WEIGHTS, help=f"output folder (default {WEIGHTS})")
    args = parser.parse_args(argv)

    names = ["LICENSE"]
    for stem in LANDMARK_NETS.values():
        names += [f"model/{stem}.bin", f"model/{stem}-weights_manifest.json"]
    files = read_files(args.source, names)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, file_name in OUTPUTS.items():
        data, provenance = export(name, files)
        path = args.out / file_name
        path.write_bytes(data)
        print(
            f"{provenance['bin']}: {len(files[provenance['bin']])} bytes, sha256 {provenance['bin_sha256']}"
        )
        print(f"{provenance['manifest']}: sha256 {provenance['manifest_sha256']}")
        print(
            f"{path}: {len(data)} bytes, sha256 {_sha256(data)} (ONNX vs torch {provenance['onnx_vs_torch']})"
        )
    license_path = args.out / "LICENSE.face-api"
    if license_path.exists() and license_path.read_bytes() != files["LICENSE"]:
        raise SystemExit(f"{license_path} differs from the package's LICENSE")
    license_path.write_bytes(files["LICENSE"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
