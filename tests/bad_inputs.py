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
