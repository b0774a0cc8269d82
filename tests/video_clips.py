"""Test videos made in memory from real photos (nothing downloaded, nothing kept on disk).

- the astronaut (scikit-image) smiles: the classifier reads her happy;
- Grace Hopper (matplotlib's sample photo) has a closed mouth: the default model reads her neutral.
Tests never assume those readings: they classify the stills first and compare the video with them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import skimage.data
from PIL import Image

__all__ = [
    "astronaut",
    "grace_hopper",
    "framed",
    "encode",
    "two_halves",
    "crossing",
    "write_y4m",
]

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
# Where the default detector finds each face in its photo (x0, y0, x1, y1): framing only.
ASTRONAUT_FACE = (179, 83, 266, 170)
HOPPER_FACE = (161, 137, 376, 352)


def astronaut() -> np.ndarray:
    """512x512 RGB, smiling."""
    return skimage.data.astronaut()


def grace_hopper() -> np.ndarray:
    """512x600 RGB, closed mouth."""
    return np.asarray(Image.open(GRACE_HOPPER).convert("RGB"))


def framed(
    photo: np.ndarray,
    face: tuple[int, int, int, int],
    size: tuple[int, int] = (640, 480),
    face_height: float = 0.4,
    centre: tuple[float, float] = (0.5, 0.45),
) -> np.ndarray:
    """A ``size`` (w, h) frame of a photo scaled so its face is ``face_height`` of the frame's height
    and sits at ``centre`` (fractions of the frame); the rest is filled by replicating the border."""
    w, h = size
    scale = face_height * h / (face[3] - face[1])
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    matrix = np.array([[scale, 0, centre[0] * w - scale * cx], [0, scale, centre[1] * h - scale * cy]])
    return cv2.warpAffine(photo, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def encode(
    frames: Iterable[np.ndarray],
    fps: float = 10,
    container: str = "mp4",
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> bytes:
    """Encodes RGB frames into a video file in memory."""
    import av

    buffer = io.BytesIO()
    out = av.open(buffer, "w", format=container)
    stream = None
    for rgb in frames:
        if stream is None:
            stream = out.add_stream(codec, rate=int(fps) if float(fps).is_integer() else fps)
            stream.width, stream.height = rgb.shape[1], rgb.shape[0]
            stream.pix_fmt = pix_fmt
            if options:
                stream.options = options
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in stream.encode(frame):
            out.mux(packet)
    if stream is not None:
        for packet in stream.encode():
            out.mux(packet)
    out.close()
    return buffer.getvalue()


def two_halves(seconds: float = 12, fps: float = 10, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """The astronaut for the first half, Grace Hopper for the second, with a slight drift."""
    n = int(round(seconds * fps))
    frames = []
    for i in range(n):
        drift = 0.03 * np.sin(2 * np.pi * i / max(1, n / 2))
        if i < n // 2:
            frames.append(framed(astronaut(), ASTRONAUT_FACE, size, centre=(0.5 + drift, 0.45)))
        else:
            frames.append(framed(grace_hopper(), HOPPER_FACE, size, centre=(0.5 + drift, 0.45)))
    return frames


def crossing(n: int = 30, size: tuple[int, int] = (640, 480)) -> tuple[list[np.ndarray], list[float]]:
    """Two faces passing each other: the astronaut moves right along the top, Grace Hopper left along
    the bottom; their boxes overlap in x half-way. Returns the frames and the astronaut's x centres."""
    w, h = size
    a = cv2.resize(framed(astronaut(), ASTRONAUT_FACE, (200, 200), 0.6, (0.5, 0.5)), (200, 200))
    g = cv2.resize(framed(grace_hopper(), HOPPER_FACE, (200, 200), 0.6, (0.5, 0.5)), (200, 200))
    frames, xs = [], []
    for i in range(n):
        f = i / (n - 1)
        canvas = np.full((h, w, 3), 200, np.uint8)
        ax = int(20 + f * (w - 240))
        gx = int(w - 220 - f * (w - 240))
        canvas[20:220, ax : ax + 200] = a
        canvas[h - 220 : h - 20, gx : gx + 200] = g
        frames.append(canvas)
        xs.append(ax + 100)
    return frames, xs


def write_y4m(path: Path, frames: Iterable[np.ndarray], fps: int = 30) -> Path:
    """Writes RGB frames as a YUV4MPEG2 (4:2:0) file, the format Chromium's fake camera plays."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path
