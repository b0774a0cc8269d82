"""The bad-and-odd input matrix, generated in memory: each case says what must happen.

Used by the API, CLI and chat tests. An expectation is either ``("ok", label)`` (works, and the
largest face reads ``label``; None for any label), ``("faces", n)`` (works with at least n faces)
or an exception class that must be raised (the project's own, with a clear message).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import skimage.data
from PIL import Image

from tools.errors import InvalidImageError, NoFaceError


@dataclass(frozen=True)
class Case:
    name: str
    make: Any  # () -> input (bytes / ndarray)
    expect: Any  # ("ok", label|None) | ("faces", n) | exception class
    suffix: str = ".png"  # file name used for the CLI / chat upload


def _encode(image: np.ndarray | Image.Image, fmt: str = "PNG", **kwargs: Any) -> bytes:
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    pil.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _astronaut() -> np.ndarray:
    return skimage.data.astronaut()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bomb() -> bytes:
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"")
        + _png_chunk(b"IEND", b"")
    )


def _exif_rotated() -> bytes:
    # Stored sideways with an EXIF tag saying "rotate 90 clockwise to display": upright once applied.
    sideways = np.ascontiguousarray(np.rot90(_astronaut(), k=1))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(sideways, "JPEG", exif=exif.tobytes(), quality=95)


def _animated() -> bytes:
    first = Image.fromarray(_astronaut()).convert("P", palette=Image.Palette.ADAPTIVE)
    second = Image.new("P", first.size)
    buffer = io.BytesIO()
    first.save(buffer, "GIF", save_all=True, append_images=[second], duration=100)
    return buffer.getvalue()


def _crowd() -> np.ndarray:
    faces = (skimage.data.lfw_subset()[:20] * 255).astype(np.uint8)
    tile = np.vstack([np.hstack(list(faces[r * 5 : (r + 1) * 5])) for r in range(4)])
    return cv2.resize(tile, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)


def _profile_like() -> np.ndarray:
    return np.ascontiguousarray(np.rot90(_astronaut()))  # a face lying on its side


CASES: list[Case] = [
    Case("empty file", lambda: b"", InvalidImageError),
    Case("truncated PNG", lambda: _encode(_astronaut())[:2000], InvalidImageError),
    Case("truncated JPEG", lambda: _encode(_astronaut(), "JPEG")[:1500], InvalidImageError, ".jpg"),
    Case("random bytes", lambda: np.random.default_rng(1).bytes(4096), InvalidImageError, ".jpg"),
    Case("text named .jpg", lambda: b"hello, this is not a photo", InvalidImageError, ".jpg"),
    Case("PDF", lambda: b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF", InvalidImageError, ".pdf"),
    Case(
        "SVG",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        InvalidImageError,
        ".svg",
    ),
    Case(
        "HEIC",
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
        InvalidImageError,
        ".heic",
    ),
    Case(
        "ICO (unsupported format)",
        lambda: _encode(Image.new("RGB", (32, 32)), "ICO"),
        InvalidImageError,
        ".ico",
    ),
    Case("decompression bomb", _bomb, InvalidImageError),
    Case("huge dimensions", lambda: _encode(Image.new("L", (30_000, 10))), InvalidImageError),
    Case("tiny dimensions", lambda: _encode(np.zeros((5, 5, 3), np.uint8)), InvalidImageError),
    Case(
        "16-bit PNG",
        lambda: _encode(
            Image.fromarray(cv2.cvtColor(_astronaut(), cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
        ),
        ("ok", "happy"),
    ),
    Case(
        "CMYK JPEG",
        lambda: _encode(Image.fromarray(_astronaut()).convert("CMYK"), "JPEG", quality=95),
        ("ok", "happy"),
        ".jpg",
    ),
    Case(
        "palette PNG",
        lambda: _encode(Image.fromarray(_astronaut()).convert("P", palette=Image.Palette.ADAPTIVE)),
        ("ok", "happy"),
    ),
    Case("alpha PNG", lambda: _encode(Image.fromarray(_astronaut()).convert("RGBA")), ("ok", "happy")),
    Case(
        "grayscale JPEG",
        lambda: _encode(Image.fromarray(_astronaut()).convert("L"), "JPEG"),
        ("ok", "happy"),
        ".jpg",
    ),
    Case("animated GIF", _animated, ("ok", "happy"), ".gif"),
    Case("EXIF-rotated JPEG", _exif_rotated, ("ok", "happy"), ".jpg"),
    Case("WebP", lambda: _encode(_astronaut(), "WEBP", quality=90), ("ok", "happy"), ".webp"),
    Case("BMP", lambda: _encode(_astronaut(), "BMP"), ("ok", "happy"), ".bmp"),
    Case("NaN array", lambda: np.full((64, 64, 3), np.nan, np.float32), InvalidImageError, ".npy"),
    Case("inf array", lambda: np.full((64, 64), np.inf), InvalidImageError, ".npy"),
    Case("complex dtype array", lambda: np.zeros((64, 64), np.complex64), InvalidImageError, ".npy"),
    Case("1-D array", lambda: np.zeros(4096, np.uint8), InvalidImageError, ".npy"),
    Case("two-channel array", lambda: np.zeros((64, 64, 2), np.uint8), InvalidImageError, ".npy"),
    Case("float array 0-1", lambda: _astronaut().astype(np.float32) / 255.0, ("ok", "happy"), ".npy"),
    Case("photo without a face", skimage.data.coffee, NoFaceError),
    Case("a cat", skimage.data.chelsea, NoFaceError),
    Case("black image", lambda: np.zeros((300, 300, 3), np.uint8), NoFaceError),
    Case("crowd of faces", _crowd, ("faces", 10)),
    # RetinaFace finds faces at any roll and the 5-point alignment turns them upright.
    Case("face on its side (extreme pose)", _profile_like, ("ok", "happy")),
    Case("upside-down face", lambda: np.ascontiguousarray(_astronaut()[::-1]), ("ok", "happy")),
    Case(
        "tilted face (45 degrees)",
        lambda: cv2.warpAffine(_astronaut(), cv2.getRotationMatrix2D((256, 256), 45, 1), (512, 512)),
        ("ok", "happy"),
    ),
]


def as_file_bytes(value: Any) -> bytes:
    """What a person would upload for a case: the bytes, or the array saved as .npy."""
    if isinstance(value, bytes):
        return value
    buffer = io.BytesIO()
    np.save(buffer, value)
    return buffer.getvalue()


# --- videos (issue 14) -----------------------------------------------------------------------------
# An expectation is an exception class, ("ok", label) (the main face reads ``label``), ("no_face", None)
# (analysed, no face anywhere, reported not raised) or ("any", None) (a result or a project error).


def _small_clip(count: int = 10) -> list[np.ndarray]:
    from tests.video_clips import ASTRONAUT_FACE, astronaut, framed

    return [
        framed(astronaut(), ASTRONAUT_FACE, (320, 240), 0.5, (0.5 + 0.01 * i, 0.45)) for i in range(count)
    ]


def _clip(container: str = "mp4", codec: str = "libx264", pix_fmt: str = "yuv420p") -> bytes:
    from tests.video_clips import encode

    return encode(_small_clip(), fps=5, container=container, codec=codec, pix_fmt=pix_fmt)


def _gif_clip() -> bytes:
    frames = [Image.fromarray(f) for f in _small_clip()]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    return buffer.getvalue()


def _no_face_clip() -> bytes:
    from tests.video_clips import encode

    coffee = cv2.resize(skimage.data.coffee(), (320, 240))
    return encode([np.roll(coffee, 4 * i, axis=1) for i in range(10)], fps=5)


def _damaged(data: bytes, marker: bytes) -> bytes:
    out = bytearray(data)
    i = out.find(marker)
    out[i : i + len(marker)] = b"x" * len(marker)
    return bytes(out)


def _garbage_middle() -> bytes:
    out = bytearray(_clip())
    third = len(out) // 3
    out[third : third + 2000] = np.random.default_rng(0).bytes(2000)
    return bytes(out)


def _audio_only() -> bytes:
    import av

    buffer = io.BytesIO()
    out = av.open(buffer, "w", format="webm")
    stream = out.add_stream("libopus", rate=48000)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)).astype(np.float32)
    for start in range(0, 48000, 960):
        frame = av.AudioFrame.from_ndarray(tone[None, start : start + 960], format="flt", layout="mono")
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buffer.getvalue()


def _no_tracks_mp4() -> bytes:
    import av

    buffer = io.BytesIO()
    out = av.open(buffer, "w", format="mp4")
    stream = out.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    out.start_encoding()
    out.close()
    return buffer.getvalue()


def _huge_resolution() -> bytes:
    import av

    buffer = io.BytesIO()
    out = av.open(buffer, "w", format="matroska")
    stream = out.add_stream("mpeg4", rate=1)
    stream.width, stream.height, stream.pix_fmt = 6000, 4000, "yuv420p"
    for packet in stream.encode(av.VideoFrame(6000, 4000, "yuv420p")):
        out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buffer.getvalue()


def _two_hours() -> bytes:
    """Two tiny frames two hours apart: a 2-hour video in a few kilobytes."""
    from fractions import Fraction

    import av

    buffer = io.BytesIO()
    out = av.open(buffer, "w", format="matroska")
    stream = out.add_stream("mpeg4", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    for pts in (0, 72_000):
        frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        frame.pts, frame.time_base = pts, Fraction(1, 10)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buffer.getvalue()


def _still_jpeg() -> bytes:
    return _encode(_astronaut(), "JPEG")


def _video_error() -> type:
    from tools.errors import InvalidVideoError

    return InvalidVideoError


_VIDEO_ERROR = _video_error()

VIDEO_CASES: list[Case] = [
    Case("MP4 (H.264)", _clip, ("ok", "happy"), ".mp4"),
    Case("WebM (VP8)", lambda: _clip("webm", "libvpx"), ("ok", "happy"), ".webm"),
    Case("MKV (H.264)", lambda: _clip("matroska"), ("ok", "happy"), ".mkv"),
    Case("MOV (MPEG-4)", lambda: _clip("mov", "mpeg4"), ("ok", "happy"), ".mov"),
    Case("AVI (MJPEG)", lambda: _clip("avi", "mjpeg", "yuvj420p"), ("ok", "happy"), ".avi"),
    Case("animated GIF video", _gif_clip, ("ok", "happy"), ".gif"),
    Case("video without faces", _no_face_clip, ("no_face", None), ".mp4"),
    Case("MP4 with garbage in the middle", _garbage_middle, ("any", None), ".mp4"),
    Case("empty video file", lambda: b"", _VIDEO_ERROR, ".mp4"),
    Case("random bytes named .mp4", lambda: np.random.default_rng(2).bytes(8192), _VIDEO_ERROR, ".mp4"),
    Case("text named .mp4", lambda: b"this is not a video at all, just words", _VIDEO_ERROR, ".mp4"),
    Case("PDF named .mp4", lambda: b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF", _VIDEO_ERROR, ".mp4"),
    Case("photo named .mp4 (not a video)", _still_jpeg, _VIDEO_ERROR, ".mp4"),
    Case("subtitles (.srt)", lambda: b"1\n00:00:01,000 --> 00:00:02,000\nHello\n", _VIDEO_ERROR, ".srt"),
    Case("truncated MP4", lambda: _clip()[: len(_clip()) // 2], _VIDEO_ERROR, ".mp4"),
    Case("MP4 with a broken index (moov)", lambda: _damaged(_clip(), b"moov"), _VIDEO_ERROR, ".mp4"),
    Case("truncated WebM", lambda: _clip("webm", "libvpx")[:400], _VIDEO_ERROR, ".webm"),
    Case("audio only (WebM/Opus)", _audio_only, _VIDEO_ERROR, ".webm"),
    Case("MP4 with no tracks", _no_tracks_mp4, _VIDEO_ERROR, ".mp4"),
    Case("zero-frame Y4M", lambda: b"YUV4MPEG2 W64 H64 F10:1 Ip A1:1 C420jpeg\n", _VIDEO_ERROR, ".y4m"),
    Case("huge resolution (6000x4000)", _huge_resolution, _VIDEO_ERROR, ".mkv"),
    Case(
        "huge resolution header (Y4M 8000x8000)",
        lambda: b"YUV4MPEG2 W8000 H8000 F30:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000),
        _VIDEO_ERROR,
        ".y4m",
    ),
    Case("too long (2 hours)", _two_hours, _VIDEO_ERROR, ".mkv"),
]
