"""Pictures made for display: the photo's display copy, face crops, a video's poster frame.

Everything here works on bytes in memory and returns bytes; nothing is written to disk.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from tools.errors import FaceAgentError
from tools.images import load_image

__all__ = ["CROP_SIDE", "DISPLAY_SIDE", "Poster", "display_copy", "face_crop", "poster", "PLAYABLE_CODECS"]

LOG = logging.getLogger("face_agent.ui")
DISPLAY_SIDE = 1024  # photos kept for display are shrunk to this; the agent gets the original
CROP_SIDE = 160  # face crops in the per-face view
# What every current browser plays in <video> (Chromium has no HEVC without the platform's decoder).
PLAYABLE_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
PLAYABLE_CONTAINERS = frozenset({"MP4/MOV", "MKV/WebM"})  # as ``tools.video.probe_video`` names them


def _jpeg(pil: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    pil.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def display_copy(data: bytes) -> tuple[bytes, float]:
    """A JPEG of the photo at most ``DISPLAY_SIDE`` px, and the scale from the original to it.

    Raises:
        InvalidImageError: the bytes are not a readable photo.
    """
    pil = Image.fromarray(load_image(data))
    scale = min(1.0, DISPLAY_SIDE / max(pil.size))
    if scale < 1.0:
        pil = pil.resize((round(pil.width * scale), round(pil.height * scale)), Image.Resampling.LANCZOS)
    return _jpeg(pil), scale


def face_crop(display: bytes, scale: float, box: Sequence[float], side: int = CROP_SIDE) -> bytes | None:
    """A PNG of one face cut from a display copy (``box`` in the original's pixels), with a margin."""
    if not box or len(box) != 4:
        return None
    pil = Image.open(io.BytesIO(display))
    x0, y0, x1, y1 = (float(v) * scale for v in box)
    # A square around the face, so the crops of a group line up in one row.
    half = 0.5 * max(x1 - x0, y1 - y0) * 1.4
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    crop = pil.crop(
        (
            max(0, int(cx - half)),
            max(0, int(cy - half)),
            min(pil.width, int(cx + half)),
            min(pil.height, int(cy + half)),
        )
    )
    if crop.width < 2 or crop.height < 2:
        return None
    crop.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    crop.convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Poster:
    """How a video can be shown in the browser.

    Attributes:
        playable: the browser can play it (``st.video``).
        codec: the video codec's name (``h264``, ``hevc`` ...), or "" when it could not be read.
        jpeg: the first frame as a JPEG when it cannot be played, else None.
    """

    playable: bool
    codec: str = ""
    jpeg: bytes | None = None


def poster(data: bytes) -> Poster:
    """Whether the browser can play a video (from its codec, read by PyAV) and, if not, its first frame.

    A video that cannot even be probed is reported playable with no codec: the agent then refuses
    it with its own message, and the page adds nothing of its own.
    """
    try:
        from tools.video import extract_frame, probe_video

        info = probe_video(data)
    except FaceAgentError:
        return Poster(True)
    if info.codec.lower() in PLAYABLE_CODECS and info.container in PLAYABLE_CONTAINERS:
        return Poster(True, info.codec)
    try:
        _, rgb = extract_frame(data, 0.0)
    except FaceAgentError:
        LOG.info("no poster frame for a %s video", info.codec)
        return Poster(False, info.codec)
    pil = Image.fromarray(rgb)
    pil.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    return Poster(False, info.codec, _jpeg(pil, 85))
