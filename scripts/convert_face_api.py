"""Converts face-api.js's FaceExpressionNet weights to ``tools/models/weights/faceapi_expression.safetensors``.

Usage::

    python scripts/convert_face_api.py                      # runs `npm pack @vladmandic/face-api@1.7.15`
    python scripts/convert_face_api.py vladmandic-face-api-1.7.15.tgz
    python scripts/convert_face_api.py path/to/package      # an unpacked tarball (its ``package`` folder)

The uint8-quantised TF.js tensors are kept as they are (transposed to torch layout) with their
scale and min, so the file stays as small as the original and loading dequantises exactly as TF.js
does. Biases are float32 in the original and stay so. The output is deterministic: running the
script again writes the same bytes. It prints the sha256 of the original files and of the result,
and copies the package's LICENSE next to the weights (``LICENSE.face-api``); update ``WEIGHTS_SHA256`` in
``tools/models/face_api.py`` and ``tools/models/weights/SOURCE.md`` when the result changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.models.face_api import FACEAPI_PACKAGE, WEIGHTS_PATH, tfjs_to_torch  # noqa: E402

BIN = "model/face_expression_model.bin"
MANIFEST = "model/face_expression_model-weights_manifest.json"
LICENSE = "LICENSE"
_DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "float32": np.float32}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_package(source: Path | None) -> dict[str, bytes]:
    """The bin, manifest and licence from a tarball, an unpacked package, or a fresh `npm pack`."""
    if source is None:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                ["npm", "pack", FACEAPI_PACKAGE, "--silent"],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            )
            return read_package(Path(tmp) / out.stdout.strip().splitlines()[-1])
    if source.is_dir():
        folder = source / "package" if (source / "package").is_dir() else source
        return {name: (folder / name).read_bytes() for name in (BIN, MANIFEST, LICENSE)}
    with tarfile.open(source, "r:gz") as tar:
        return {name: tar.extractfile(f"package/{name}").read() for name in (BIN, MANIFEST, LICENSE)}


def decode(
    bin_data: bytes, manifest: list[dict], bin_name: str = Path(BIN).name
) -> dict[str, tuple[np.ndarray, dict | None]]:
    """The manifest's tensors in TF layout, still quantised: name -> (array, quantization or None).

    Follows TF.js's ``io.decodeWeights``: tensors lie back to back in manifest order, each taking
    ``prod(shape)`` elements of its quantised dtype (or of its dtype when not quantised).
    """
    if len(manifest) != 1 or manifest[0]["paths"] != [bin_name]:
        raise ValueError(f"unexpected manifest layout: {[g.get('paths') for g in manifest]}")
    out: dict[str, tuple[np.ndarray, dict | None]] = {}
    offset = 0
    for entry in manifest[0]["weights"]:
        quant = entry.get("quantization")
        dtype = np.dtype(_DTYPES[quant["dtype"] if quant else entry["dtype"]])
        count = int(np.prod(entry["shape"], dtype=np.int64))
        array = np.frombuffer(bin_data, dtype=dtype, count=count, offset=offset).reshape(entry["shape"])
        offset += count * dtype.itemsize
        if quant is not None and quant["dtype"] != "uint8":
            raise ValueError(f"{entry['name']}: only uint8 quantisation is handled, not {quant['dtype']}")
        out[entry["name"]] = (array.copy(), quant)
    if offset != len(bin_data):
        raise ValueError(f"the manifest covers {offset} bytes of a {len(bin_data)}-byte bin")
    return out


def convert(files: dict[str, bytes]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors for the safetensors file (torch names and layouts) and its metadata."""
    manifest = json.loads(files[MANIFEST])
    tensors: dict[str, np.ndarray] = {}
    for name, (array, quant) in decode(files[BIN], manifest).items():
        key, torch_array = tfjs_to_torch(name, array)
        torch_array = np.ascontiguousarray(torch_array)
        if quant is None:
            tensors[key] = torch_array.astype(np.float32)
        else:
            tensors[f"{key}.q"] = torch_array
            tensors[f"{key}.scale"] = np.array(quant["scale"], dtype=np.float64)
            tensors[f"{key}.min"] = np.array(quant["min"], dtype=np.float64)
    metadata = {
        "format": "faceapi-expression-uint8",
        "source": f"npm {FACEAPI_PACKAGE}",
        "bin": BIN,
        "bin_sha256": _sha256(files[BIN]),
        "manifest": MANIFEST,
        "manifest_sha256": _sha256(files[MANIFEST]),
        "dequantize": "float32(q * scale + min), computed in float64, as TF.js io.decodeWeights",
        "license": "MIT",
    }
    return tensors, metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "source", nargs="?", type=Path, help="the npm tarball or unpacked package (default: npm pack)"
    )
    parser.add_argument(
        "--out", type=Path, default=WEIGHTS_PATH, help=f"output file (default {WEIGHTS_PATH})"
    )
    args = parser.parse_args(argv)

    from safetensors.numpy import save_file

    files = read_package(args.source)
    tensors, metadata = convert(files)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # safetensors writes its metadata map in hash order, which varies between runs: one key holding
    # sorted JSON keeps the file byte-for-byte reproducible.
    save_file(tensors, str(args.out), metadata={"source": json.dumps(metadata, sort_keys=True)})
    (args.out.parent / "LICENSE.face-api").write_bytes(files[LICENSE])
    print(f"{BIN}: {len(files[BIN])} bytes, sha256 {metadata['bin_sha256']}")
    print(f"{MANIFEST}: {len(files[MANIFEST])} bytes, sha256 {metadata['manifest_sha256']}")
    print(f"{args.out}: {args.out.stat().st_size} bytes, sha256 {_sha256(args.out.read_bytes())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
