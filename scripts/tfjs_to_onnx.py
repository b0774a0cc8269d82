"""A TF.js graph model (``model.json`` + weights) translated op by op into an ONNX graph.

Used by ``scripts/convert_facemesh.py`` for MediaPipe's attention FaceMesh, whose graph holds, next
to the convolutions, the network's own landmark-to-crop geometry and bilinear sampling (shape
arithmetic, gathers, trigonometry). Each TF op becomes the ONNX op(s) with the same semantics:

- tensors keep TF's NHWC layout; convolutions and pooling are wrapped in transposes to ONNX's NCHW
  (ONNX Runtime's layout optimiser removes the pairs that meet), with ``SAME`` padding as
  ``auto_pad=SAME_UPPER`` (TF's rule: the odd pixel after);
- shapes are computed at run time as TF does (``Shape``, ``StridedSlice`` on it, ``Pack``, ``Fill``,
  ``Range``...), so the batch dimension stays free; TF's int32 becomes ONNX's int64 throughout;
- ``StridedSlice`` becomes ``Slice`` (+ ``Squeeze`` for shrunk axes), its leading ellipsis mapped to
  negative axes; ``BatchMatMulV2`` with adjoints becomes ``Einsum``; ``Atan2`` is written with
  ``Atan`` and the quadrant fixed by ``Where``;
- PReLU is ``(1 - a) * relu(x) + a * x``;
- float16-quantised constants stay float16, cast to float32 in the graph.

Anything else raises, naming the op.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_TF_TYPES = {"DT_FLOAT": "float", "DT_INT32": "int", "DT_BOOL": "bool", "DT_INT64": "int"}
_ONNX_TYPES = {"float": TensorProto.FLOAT, "int": TensorProto.INT64, "bool": TensorProto.BOOL}
_INT_MAX = np.iinfo(np.int64).max
_INT_MIN = np.iinfo(np.int64).min


def attr(node: dict, key: str, default: object = None) -> object:
    """A TF node attribute as a plain value (string, int, bool, type name or list)."""
    value = node.get("attr", {}).get(key)
    if value is None:
        return default
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
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return value["type"]
    if "f" in value:
        return float(value["f"])
    return default


class GraphTranslator:
    """Builds the ONNX graph of a TF.js graph model.

    Args:
        nodes: the graph's nodes (``modelTopology.node``).
        constants: each constant node's value by node name, as decoded from the weights (float16
            for quantised floats, int32 or float32 otherwise).
    """

    def __init__(self, nodes: list[dict], constants: dict[str, np.ndarray]) -> None:
        self.nodes_in = nodes
        self.constants = constants
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.names: dict[str, str] = {}  # TF tensor name -> ONNX tensor name
        self.dtypes: dict[str, str] = {}  # ONNX tensor name -> float | int | bool
        self._count = 0
        self._const_cache: dict[tuple, str] = {}

    # --- helpers ---------------------------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        # Short names: the graph has ~2000 nodes and TF's names would add ~0.4 MB to the file.
        self._count += 1
        return f"t{self._count}"

    def emit(self, op: str, inputs: list[str], hint: str, dtype: str, **attrs: object) -> str:
        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.dtypes[out] = dtype
        return out

    def literal(self, value: np.ndarray | list | float | int, dtype: str) -> str:
        """A small constant made by the translator itself (axes, shapes, scalars)."""
        array = np.asarray(value, dtype={"float": np.float32, "int": np.int64, "bool": np.bool_}[dtype])
        key = (dtype, array.shape, array.tobytes())
        if key not in self._const_cache:
            name = self.fresh("literal")
            self.initializers.append(numpy_helper.from_array(array, name))
            self.dtypes[name] = dtype
            self._const_cache[key] = name
        return self._const_cache[key]

    def constant(self, tf_name: str) -> str:
        """The ONNX tensor of a TF constant node (float16 kept as float16 + a cast)."""
        if tf_name in self.names:
            return self.names[tf_name]
        array = self.constants[tf_name]
        name = self.fresh("const")
        if array.dtype == np.float16 and array.size >= 16:
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name + "__f16"))
            self.nodes.append(helper.make_node("Cast", [name + "__f16"], [name], to=TensorProto.FLOAT))
            self.dtypes[name] = "float"
        elif array.dtype.kind == "f":
            self.initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
            self.dtypes[name] = "float"
        elif array.dtype.kind in "iu":
            self.initializers.append(numpy_helper.from_array(array.astype(np.int64), name))
            self.dtypes[name] = "int"
        elif array.dtype == np.bool_:
            self.initializers.append(numpy_helper.from_array(array, name))
            self.dtypes[name] = "bool"
        else:
            raise ValueError(f"constant {tf_name} of dtype {array.dtype} is not handled")
        self.names[tf_name] = name
        return name

    def value(self, tf_name: str) -> np.ndarray:
        """A constant input's value at conversion time (axes, permutations, slice bounds)."""
        if tf_name not in self.constants:
            raise ValueError(f"{tf_name} must be a constant here")
        return np.asarray(self.constants[tf_name])

    def to_nchw(self, x: str) -> str:
        return self.emit("Transpose", [x], "nchw", self.dtypes[x], perm=[0, 3, 1, 2])

    def to_nhwc(self, x: str) -> str:
        return self.emit("Transpose", [x], "nhwc", self.dtypes[x], perm=[0, 2, 3, 1])

    # --- ops -------------------------------------------------------------------------------------

    def conv(
        self,
        node: dict,
        x: str,
        kernel: np.ndarray,
        depthwise: bool,
        bias: np.ndarray | None = None,
        slope: np.ndarray | None = None,
    ) -> str:
        strides = attr(node, "strides")[1:3]
        if attr(node, "dilations", [1, 1, 1, 1]) != [1, 1, 1, 1]:
            raise ValueError(f"{node['name']}: dilated convolutions are not handled")
        padding = attr(node, "padding")
        pads = {"SAME": {"auto_pad": "SAME_UPPER"}, "VALID": {"auto_pad": "VALID"}}.get(padding)
        if pads is None:
            raise ValueError(f"{node['name']}: padding {padding!r} is not handled")
        if depthwise:  # [kh, kw, C, m] -> [C * m, 1, kh, kw]
            kh, kw, c, m = kernel.shape
            weight, groups = kernel.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw), c
        else:  # [kh, kw, Cin, Cout] -> [Cout, Cin, kh, kw]
            weight, groups = kernel.transpose(3, 2, 0, 1), 1
        self.constants[node["name"] + "/onnx_kernel"] = np.ascontiguousarray(weight)
        inputs = [self.to_nchw(x), self.constant(node["name"] + "/onnx_kernel")]
        if bias is not None:
            self.constants[node["name"] + "/onnx_bias"] = np.ascontiguousarray(bias)
            inputs.append(self.constant(node["name"] + "/onnx_bias"))
        out = self.emit(
            "Conv",
            inputs,
            "conv",
            "float",
            kernel_shape=list(weight.shape[2:]),
            strides=strides,
            group=groups,
            **pads,
        )
        if slope is not None:
            out = self.prelu_nchw(out, slope)
        return self.to_nhwc(out)

    def prelu_nchw(self, x: str, alpha: np.ndarray) -> str:
        """PReLU on an NCHW tensor as ``(1 - a) * relu(x) + a * x``, both scalings per-channel 1x1
        convolutions: ONNX Runtime keeps those in its blocked layout, unlike PRelu or a broadcast Mul."""
        slope = alpha.astype(np.float32).reshape(-1)  # TF [1, 1, C]
        c = slope.size
        relu = self.emit("Relu", [x], "relu", "float")
        scaled = self.emit(
            "Conv",
            [relu, self.literal((1.0 - slope).reshape(c, 1, 1, 1), "float")],
            "p",
            "float",
            group=c,
            kernel_shape=[1, 1],
        )
        linear = self.emit(
            "Conv",
            [x, self.literal(slope.reshape(c, 1, 1, 1), "float")],
            "p",
            "float",
            group=c,
            kernel_shape=[1, 1],
        )
        return self.emit("Add", [scaled, linear], "prelu", "float")

    def prelu(self, x: str, alpha: np.ndarray) -> str:
        """PReLU on an NHWC tensor (computed in NCHW; the transposes cancel against the neighbours')."""
        return self.to_nhwc(self.prelu_nchw(self.to_nchw(x), alpha))

    def strided_slice(self, node: dict, x: str) -> str:
        args = node["input"]
        begin, end, strides = (self.value(args[i]).astype(np.int64).reshape(-1) for i in (1, 2, 3))
        masks = {
            k: attr(node, f"{k}_mask", 0) for k in ("begin", "end", "ellipsis", "new_axis", "shrink_axis")
        }
        if masks["new_axis"]:
            raise ValueError(f"{node['name']}: new_axis_mask is not handled")
        spec = len(begin)
        ellipsis = [i for i in range(spec) if masks["ellipsis"] >> i & 1]
        if len(ellipsis) > 1:
            raise ValueError(f"{node['name']}: several ellipses")
        starts, ends, axes, steps, squeeze = [], [], [], [], []
        for i in range(spec):
            if ellipsis and i == ellipsis[0]:
                continue
            # Entries after an ellipsis count from the last axis, so no rank is needed.
            axis = i if not ellipsis or i < ellipsis[0] else i - spec
            step = int(strides[i])
            if masks["shrink_axis"] >> i & 1:
                start = int(begin[i])
                stop = start + 1 if start != -1 else _INT_MAX
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(1)
                squeeze.append(axis)
                continue
            start = int(begin[i]) if not masks["begin"] >> i & 1 else (0 if step > 0 else -1)
            stop = int(end[i]) if not masks["end"] >> i & 1 else (_INT_MAX if step > 0 else _INT_MIN)
            if masks["begin"] >> i & 1 and masks["end"] >> i & 1 and step == 1:
                continue  # the whole axis
            starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
        out = x
        if axes:
            out = self.emit(
                "Slice",
                [
                    x,
                    self.literal(starts, "int"),
                    self.literal(ends, "int"),
                    self.literal(axes, "int"),
                    self.literal(steps, "int"),
                ],
                "slice",
                self.dtypes[x],
            )
        if squeeze:
            out = self.emit("Squeeze", [out, self.literal(squeeze, "int")], "squeeze", self.dtypes[x])
        return out

    def atan2(self, y: str, x: str) -> str:
        """atan2(y, x) = atan(y / x), plus or minus pi where x < 0 (the sign of y), +-pi/2 at x = 0."""
        zero = self.literal(0.0, "float")
        x_zero = self.emit("Equal", [x, zero], "x_zero", "bool")
        safe_x = self.emit("Where", [x_zero, self.literal(1.0, "float"), x], "safe_x", "float")
        base = self.emit("Atan", [self.emit("Div", [y, safe_x], "ratio", "float")], "atan", "float")
        y_neg = self.emit("Less", [y, zero], "y_neg", "bool")
        pi = self.emit(
            "Where", [y_neg, self.literal(-np.pi, "float"), self.literal(np.pi, "float")], "pi", "float"
        )
        x_neg = self.emit("Less", [x, zero], "x_neg", "bool")
        shifted = self.emit(
            "Where", [x_neg, self.emit("Add", [base, pi], "shift", "float"), base], "q", "float"
        )
        half = self.emit("Mul", [pi, self.literal(0.5, "float")], "half_pi", "float")
        return self.emit("Where", [x_zero, half, shifted], "atan2", "float")

    def translate(self, node: dict) -> None:
        op, name = node["op"], node["name"]
        args = node.get("input", [])
        if op == "Const":
            return

        def t(i: int) -> str:
            arg = args[i]
            if arg in self.constants and arg not in self.names:
                return self.constant(arg)
            return self.names[arg]

        def same(onnx_op: str, count: int | None = None, **attrs: object) -> str:
            inputs = [t(i) for i in range(count if count is not None else len(args))]
            return self.emit(onnx_op, inputs, name, self.dtypes[inputs[0]], **attrs)

        simple: dict[str, Callable[[], str]] = {
            "AddV2": lambda: same("Add"),
            "Add": lambda: same("Add"),
            "Sub": lambda: same("Sub"),
            "Mul": lambda: same("Mul"),
            "RealDiv": lambda: same("Div"),
            "Minimum": lambda: same("Min"),
            "Maximum": lambda: same("Max"),
            "Neg": lambda: same("Neg"),
            "Floor": lambda: same("Floor"),
            "Cos": lambda: same("Cos"),
            "Sin": lambda: same("Sin"),
            "Sigmoid": lambda: same("Sigmoid"),
            "Relu": lambda: same("Relu"),
            "Square": lambda: self.emit("Mul", [t(0), t(0)], name, self.dtypes[t(0)]),
            "Rsqrt": lambda: self.emit(
                "Reciprocal", [self.emit("Sqrt", [t(0)], name, "float")], name, "float"
            ),
            "AddN": lambda: same("Sum"),
            "Identity": lambda: t(0),
            "LogicalAnd": lambda: self.emit("And", [t(0), t(1)], name, "bool"),
            "LessEqual": lambda: self.emit("LessOrEqual", [t(0), t(1)], name, "bool"),
            "GreaterEqual": lambda: self.emit("GreaterOrEqual", [t(0), t(1)], name, "bool"),
            "Less": lambda: self.emit("Less", [t(0), t(1)], name, "bool"),
            "Greater": lambda: self.emit("Greater", [t(0), t(1)], name, "bool"),
            "Shape": lambda: self.emit("Shape", [t(0)], name, "int"),
            "Atan2": lambda: self.atan2(t(0), t(1)),
        }
        if op == "Placeholder":
            self.names[name] = name
            self.dtypes[name] = _TF_TYPES[attr(node, "dtype")]
            return
        if op in simple:
            self.names[name] = simple[op]()
            return
        if op == "_FusedConv2D":
            fused = attr(node, "fused_ops")
            if fused not in (["BiasAdd"], ["BiasAdd", "Prelu"]):
                raise ValueError(f"{name}: fused ops {fused} are not handled")
            slope = self.value(args[3]) if fused[1:] == ["Prelu"] else None
            self.names[name] = self.conv(node, t(0), self.value(args[1]), False, self.value(args[2]), slope)
        elif op == "Conv2D":
            self.names[name] = self.conv(node, t(0), self.value(args[1]), depthwise=False)
        elif op == "DepthwiseConv2dNative":
            self.names[name] = self.conv(node, t(0), self.value(args[1]), depthwise=True)
        elif op == "Prelu":
            self.names[name] = self.prelu(t(0), self.value(args[1]))
        elif op == "MaxPool":
            pads = {"SAME": "SAME_UPPER", "VALID": "VALID"}[attr(node, "padding")]
            pooled = self.emit(
                "MaxPool",
                [self.to_nchw(t(0))],
                name,
                "float",
                kernel_shape=attr(node, "ksize")[1:3],
                strides=attr(node, "strides")[1:3],
                auto_pad=pads,
            )
            self.names[name] = self.to_nhwc(pooled)
        elif op == "Pad":
            paddings = self.value(args[1]).astype(np.int64)
            pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
            self.names[name] = self.emit("Pad", [t(0), self.literal(pads, "int")], name, self.dtypes[t(0)])
        elif op == "Reshape":
            shape = t(1)
            if args[1] in self.constants and (self.value(args[1]) == 0).any():
                raise ValueError(f"{name}: a zero in a reshape's shape is not handled")
            self.names[name] = self.emit("Reshape", [t(0), shape], name, self.dtypes[t(0)])
        elif op == "Transpose":
            perm = [int(v) for v in self.value(args[1]).reshape(-1)]
            self.names[name] = self.emit("Transpose", [t(0)], name, self.dtypes[t(0)], perm=perm)
        elif op == "ConcatV2":
            axis = int(self.value(args[-1]))
            inputs = [t(i) for i in range(len(args) - 1)]
            self.names[name] = self.emit("Concat", inputs, name, self.dtypes[inputs[0]], axis=axis)
        elif op == "Pack":
            axis = attr(node, "axis", 0)
            parts = [
                self.emit("Unsqueeze", [t(i), self.literal([axis], "int")], name, self.dtypes[t(i)])
                for i in range(len(args))
            ]
            self.names[name] = self.emit("Concat", parts, name, self.dtypes[parts[0]], axis=axis)
        elif op == "ExpandDims":
            axes = self.literal(self.value(args[1]).astype(np.int64).reshape(-1), "int")
            self.names[name] = self.emit("Unsqueeze", [t(0), axes], name, self.dtypes[t(0)])
        elif op == "StridedSlice":
            self.names[name] = self.strided_slice(node, t(0))
        elif op == "GatherV2":
            if attr(node, "batch_dims", 0):
                raise ValueError(f"{name}: batch_dims is not handled")
            axis = int(self.value(args[2]))
            self.names[name] = self.emit("Gather", [t(0), t(1)], name, self.dtypes[t(0)], axis=axis)
        elif op == "GatherNd":
            self.names[name] = self.emit("GatherND", [t(0), t(1)], name, self.dtypes[t(0)])
        elif op == "Cast":
            dtype = _TF_TYPES[attr(node, "DstT")]
            self.names[name] = self.emit("Cast", [t(0)], name, dtype, to=_ONNX_TYPES[dtype])
        elif op in ("Sum", "Max", "Min", "Prod"):
            axes = [int(v) for v in self.value(args[1]).reshape(-1)]
            keep = int(bool(attr(node, "keep_dims", False)))
            onnx_op = {"Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin", "Prod": "ReduceProd"}[op]
            if (
                onnx_op == "ReduceSum"
            ):  # axes are an input from opset 13, an attribute for the others until 18
                out = self.emit(
                    onnx_op, [t(0), self.literal(axes, "int")], name, self.dtypes[t(0)], keepdims=keep
                )
            else:
                out = self.emit(onnx_op, [t(0)], name, self.dtypes[t(0)], axes=axes, keepdims=keep)
            self.names[name] = out
        elif op == "MatMul":
            a, b = t(0), t(1)
            if attr(node, "transpose_a", False) or attr(node, "transpose_b", False):
                a = (
                    self.emit("Transpose", [a], name, "float", perm=[1, 0])
                    if attr(node, "transpose_a", False)
                    else a
                )
                b = (
                    self.emit("Transpose", [b], name, "float", perm=[1, 0])
                    if attr(node, "transpose_b", False)
                    else b
                )
            self.names[name] = self.emit("MatMul", [a, b], name, self.dtypes[a])
        elif op == "BatchMatMulV2":
            adj_x, adj_y = attr(node, "adj_x", False), attr(node, "adj_y", False)
            if not adj_x and not adj_y:
                self.names[name] = self.emit("MatMul", [t(0), t(1)], name, "float")
            else:
                left = "...ji" if adj_x else "...ij"
                right = "...kj" if adj_y else "...jk"
                self.names[name] = self.emit(
                    "Einsum", [t(0), t(1)], name, "float", equation=f"{left},{right}->...ik"
                )
        elif op == "Tile":
            self.names[name] = self.emit("Tile", [t(0), t(1)], name, self.dtypes[t(0)])
        elif op == "Fill":
            self.names[name] = self.emit("Expand", [t(1), t(0)], name, self.dtypes[t(1)])
        elif op == "ZerosLike":
            zero = (
                self.literal(0, self.dtypes[t(0)])
                if self.dtypes[t(0)] != "bool"
                else self.literal(False, "bool")
            )
            shape = self.emit("Shape", [t(0)], name, "int")
            self.names[name] = self.emit("Expand", [zero, shape], name, self.dtypes[t(0)])
        elif op == "Range":
            self.names[name] = self.emit("Range", [t(0), t(1), t(2)], name, self.dtypes[t(0)])
        else:
            raise ValueError(f"{name}: TF op {op} is not handled")

    def build(self) -> None:
        for node in self.nodes_in:
            self.translate(node)
