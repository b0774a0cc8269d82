"""Safe decoding: any supported input becomes an RGB uint8 array, or an ``InvalidImageError``.

Accepted inputs: a path (``str`` or ``Path``), raw bytes, a file-like object (an upload), a PIL image,
or a numpy array (gray HxW, HxWx1, RGB HxWx3 or RGBA HxWx4). EXIF orientation is applied, every PIL
mode is converted to RGB (transparency composited onto white), animations give their first frame,
and byte, pixel and side limits refuse decompression bombs before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tools.errors import FaceAgentError, ImageTooLargeError, InvalidImageError

__all__ = [
    "load_image",
    "read_bytes",
    "decode_bytes",
    "decode_reduced",
    "jpeg_reduction",
    "decode_checked_jpeg",
    "ImageInput",
    "MAX_BYTES",
    "MAX_PIXELS",
    "MIN_SIDE",
    "SUPPORTED_FORMATS",
]

ImageInput = Any  # str | os.PathLike | bytes | file-like | PIL.Image.Image | np.ndarray

MAX_BYTES = 25 * 1024 * 1024  # larger than any phone photo; refuses giant uploads before decoding
MAX_PIXELS = 50_000_000  # 50 MP; a bomb declares far more than this in its header
MAX_SIDE = 20_000
MIN_SIDE = 8  # below this there is no face to find
SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "PPM", "MPO")

# PIL's own bomb guard raises at 2x its limit; ours is checked first from the header alone.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"<svg", "an SVG drawing"),
    (b"<?xml", "an XML/SVG document"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x7fELF", "a program (ELF executable)"),
)


def _describe_unknown(head: bytes) -> str:
    stripped = head.lstrip()
    for magic, what in _SIGNATURES:
        if stripped.startswith(magic):
            return what
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftypheif"):
        return "a HEIC/HEIF photo"
    if head[4:12] == b"ftypavif":
        return "an AVIF image"
    if head[:4] in (b"RIFF",) and head[8:12] != b"WEBP":
        return "a RIFF media file"
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "an unrecognised file"


def _formats_hint() -> str:
    return "Please upload a JPEG, PNG, WebP, GIF, BMP or TIFF photo."


def read_input(
    source: Any,
    *,
    what: str = "photo",
    max_bytes: int = MAX_BYTES,
    error: type[FaceAgentError] = InvalidImageError,
    too_large: type[FaceAgentError] = ImageTooLargeError,
    hint: str | None = None,
) -> tuple[bytes, str]:
    """The raw bytes of a path, bytes or file-like input and a name for messages (nothing decoded).

    Shared by photos and videos (``tools.video``): ``what`` names the thing in messages, ``error``
    and ``too_large`` are the errors raised, ``hint`` says which formats to send instead of text.
    """
    default_name = "The upload" if what == "photo" else f"The {what}"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.exists():
            raise error(f"No such file: {path} (it does not exist). Check the path and try again.")
        if not path.is_file():
            raise error(f"{path} is not a file (it is a folder or a device).")
        size = path.stat().st_size
        if size > max_bytes:
            raise too_large(
                f"{path.name} is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB. "
                f"Please upload a smaller {what}."
            )
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            raise error(f"Could not read {path}: {exc.strerror or exc}.") from exc
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), default_name
    reader = getattr(source, "getvalue", None) or getattr(source, "read", None)
    if callable(reader):
        try:
            data = reader()
        except Exception as exc:
            raise error(f"Could not read the upload: {exc}.") from exc
        if isinstance(data, str):
            raise error(f"The upload is text, not a {what}. " + (hint or _formats_hint()))
        return bytes(data), str(getattr(source, "name", default_name))
    raise error(
        f"Cannot read a {what} from a {type(source).__name__}; pass a file path, bytes"
        + (", a PIL image or a numpy array." if what == "photo" else " or an upload.")
    )


def _open_bytes(data: bytes, name: str) -> Image.Image:
    if not data:
        raise InvalidImageError(f"{name} is empty (0 bytes). " + _formats_hint())
    if len(data) > MAX_BYTES:
        raise ImageTooLargeError(
            f"{name} is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB. "
            "Please upload a smaller photo."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            what = _describe_unknown(data[:64])
            raise InvalidImageError(f"{name} is {what}, not a supported image. " + _formats_hint()) from exc
        raise InvalidImageError(f"{name} declares too many pixels (a decompression bomb?).") from exc
    except Exception as exc:
        raise InvalidImageError(f"{name} could not be decoded: {exc}. " + _formats_hint()) from exc
    if image.format not in SUPPORTED_FORMATS:
        raise InvalidImageError(
            f"{name} is a {image.format} image, which this app does not accept. " + _formats_hint()
        )
    return image


def _check_size(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise InvalidImageError(
            f"{name} is {width}x{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels "
            f"and {MAX_SIDE} pixels a side. Please resize it."
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidImageError(
            f"{name} is only {width}x{height} pixels; a face needs at least {MIN_SIDE} pixels a side."
        )


def _flatten_alpha(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _flatten_rgba(rgba: np.ndarray) -> np.ndarray:
    """An RGBA uint8 array over white, as ``_flatten_alpha`` gives it (the same integer rounding as
    Pillow's ``alpha_composite``, checked for every colour and alpha), without Pillow's four copies
    of the picture; an opaque picture only drops its alpha."""
    import cv2

    alpha = rgba[..., 3:]
    if int(alpha.min()) == 255:
        return cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)  # drops the alpha (a tenth of numpy's copy)
    a = alpha.astype(np.uint32)
    return ((rgba[..., :3] * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def _to_rgb(image: Image.Image, name: str) -> np.ndarray:
    """Decodes a PIL image (first frame, EXIF-rotated) into an RGB uint8 array."""
    _check_size(*image.size, name)
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        image.load()
        # In place: without it Pillow returns a copy of the whole picture even when nothing turns.
        ImageOps.exif_transpose(image, in_place=True)
        mode = image.mode
        if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
            array = np.asarray(image, dtype=np.float64)
            if mode.startswith("I;16"):
                array = array / 257.0
            elif array.size and array.max() > 255:
                array = array * (255.0 / array.max())
            gray = np.clip(np.rint(array), 0, 255).astype(np.uint8)
            return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
        if mode == "RGBA":
            return _flatten_rgba(np.asarray(image))
        if mode in ("LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
            return np.ascontiguousarray(np.asarray(_flatten_alpha(image)))
        if mode != "RGB":
            image = image.convert("RGB")
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    except InvalidImageError:
        raise
    except Exception as exc:
        raise InvalidImageError(f"{name} is damaged or truncated and could not be decoded ({exc}).") from exc


def _from_array(array: np.ndarray) -> np.ndarray:
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise InvalidImageError(f"An image array must hold numbers, not {array.dtype}.")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidImageError(
            f"An image array must be HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA); got shape {array.shape}."
        )
    _check_size(array.shape[1], array.shape[0], "The image array")
    if array.dtype.kind == "b":
        array = array.astype(np.uint8) * 255
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InvalidImageError("The image array contains NaN or infinite values.")
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 255:
            raise InvalidImageError(
                f"Float image values must lie in [0, 1] or [0, 255]; these span [{low:g}, {high:g}]."
            )
        scale = 255.0 if high <= 1.0 else 1.0
        array = np.clip(np.rint(array * scale), 0, 255).astype(np.uint8)
    elif array.dtype != np.uint8:
        high = int(array.max()) if array.size else 0
        low = int(array.min()) if array.size else 0
        if array.dtype == np.uint16 and high > 255:
            array = (array.astype(np.float64) / 257.0).round().astype(np.uint8)
        elif low < 0 or high > 255:
            raise InvalidImageError(
                f"Integer image values must lie in [0, 255] (or be uint16); these span [{low}, {high}]."
            )
        else:
            array = array.astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    elif array.shape[2] == 4:
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = np.rint(array[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(array)


def load_image(source: ImageInput) -> np.ndarray:
    """Decodes any accepted input into an HxWx3 RGB uint8 array.

    Args:
        source: a path, bytes, a file-like object, a PIL image or a numpy array.

    Returns:
        A C-contiguous ``uint8`` array of shape (H, W, 3). Arrays given in are copied, so callers
        may change the result freely.

    Raises:
        InvalidImageError: saying what was wrong and what to upload instead.
    """
    if isinstance(source, np.ndarray):
        result = _from_array(source)
        return result.copy() if result is source else result
    if isinstance(source, Image.Image):
        return _to_rgb(source, "The image")
    return decode_bytes(*read_bytes(source))


def read_bytes(source: ImageInput) -> tuple[bytes, str]:
    """The raw bytes of a path, bytes or file-like input and a name for messages (nothing decoded).

    Raises:
        InvalidImageError: the file is missing, unreadable or over ``MAX_BYTES``.
    """
    return read_input(source)


def decode_bytes(data: bytes, name: str = "The upload") -> np.ndarray:
    """Decodes an encoded image (as ``load_image`` does for bytes); ``name`` is used in messages."""
    with _open_bytes(data, name) as image:
        return _to_rgb(image, name)


# EXIF orientations that turn the picture a quarter: width and height swap.
_QUARTER_TURNS = (5, 6, 7, 8)


def decode_reduced(
    data: bytes, name: str = "The upload", min_side: int = 0
) -> tuple[np.ndarray, tuple[int, int, int], bool]:
    """Decodes an encoded image at a reduced size when its format allows it cheaply.

    A JPEG is decoded at 1/2, 1/4 or 1/8 of its size by its own DCT (libjpeg's scaling: the whole
    stream is still read and checked, at a fraction of the cost), the smallest of these whose long
    side is still at least ``min_side``; other formats, and JPEGs too small to reduce, are decoded
    whole. Orientation, modes and limits are handled as by ``decode_bytes``.

    Returns:
        The RGB uint8 array, the (height, width, 3) of the whole image (after EXIF rotation), and
        whether it is a plain (RGB or gray) JPEG, which ``decode_checked_jpeg`` may decode again.
    """
    with _open_bytes(data, name) as image:
        width, height = image.size
        _check_size(width, height, name)
        try:
            quarter = image.getexif().get(0x0112, 1) in _QUARTER_TURNS
        except Exception:  # noqa: BLE001 - an unreadable EXIF block: _to_rgb reports a damaged file
            quarter = False
        shape = (width, height, 3) if quarter else (height, width, 3)
        plain = image.format == "JPEG" and image.mode in ("L", "RGB")
        if image.format in ("JPEG", "MPO") and jpeg_reduction(width, height, min_side) > 1:
            # draft() picks the largest DCT reduction that keeps the picture at least this size.
            factor = min_side / max(width, height)
            image.draft(image.mode if image.mode in ("L", "RGB") else None, (width * factor, height * factor))
        return _to_rgb(image, name), shape, plain


def jpeg_reduction(width: int, height: int, min_side: int) -> int:
    """The DCT reduction (1, 2, 4 or 8) that ``decode_reduced(..., min_side)`` decodes a
    ``width`` x ``height`` JPEG at: the largest whose long side is still at least ``min_side``
    (Pillow's ``draft`` rule, which the same arithmetic reproduces; either orientation)."""
    if not min_side or min_side / max(width, height) > 0.5:
        return 1
    factor = min_side / max(width, height)
    most = min(width // (width * factor), height // (height * factor))
    return next(s for s in (8, 4, 2, 1) if most >= s)


def decode_checked_jpeg(data: bytes, name: str = "The upload", reduction: int = 1) -> np.ndarray:
    """Decodes again a plain JPEG that has already decoded without error (``decode_reduced``),
    whole or at 1/``reduction`` (2, 4, 8: the DCT scaling of ``decode_reduced``).

    OpenCV decodes straight into an array, with the EXIF rotation applied: the same pixels as
    Pillow (both are libjpeg-turbo with the same settings; a test compares them, whole and reduced)
    without Pillow's copies of the picture. It does not report a truncated file as Pillow does,
    hence only for data already checked.
    """
    import cv2

    flags = {
        1: cv2.IMREAD_COLOR_RGB,
        2: cv2.IMREAD_REDUCED_COLOR_2,
        4: cv2.IMREAD_REDUCED_COLOR_4,
        8: cv2.IMREAD_REDUCED_COLOR_8,
    }
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), flags[reduction])
    if decoded is None:
        if reduction == 1:
            return decode_bytes(data, name)
        with _open_bytes(data, name) as image:
            return decode_reduced(data, name, -(-max(image.size) // reduction))[0]
    return decoded if reduction == 1 else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
