"""One per-image cache shared by every tool.

Decoding and face detection are the expensive, model-independent part of a turn. An
``ImageRecord`` holds the pixels and the detected faces of one image, plus a small dict where each
tool keeps what it computed (the classifier's forward pass, BLIP's image embedding), so "classify,
explain, then ask" detects once. The pixels are kept compressed (``tools.pixels``): ``record.rgb``
decodes on demand under one process-wide memory budget. Records live in memory only, in an LRU
bounded in count and in stored bytes: nothing is written to disk.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tools.errors import InvalidRequestError, NoFaceError
from tools.faces import Face, detect_faces
from tools.images import ImageInput
from tools.pixels import StoredPixels

__all__ = ["ImageRecord", "AnalysisCache", "image_key", "default_cache"]


def image_key(source: ImageInput) -> str | None:
    """A content hash of an input, or None when it cannot be hashed without decoding."""
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(source, np.ndarray):
        digest.update(f"nd:{source.dtype}:{source.shape}".encode())
        digest.update(np.ascontiguousarray(source).tobytes())
    elif isinstance(source, Image.Image):
        digest.update(f"pil:{source.mode}:{source.size}".encode())
        digest.update(source.tobytes())
    elif isinstance(source, (bytes, bytearray, memoryview)):
        digest.update(b"bytes:")
        digest.update(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            stat = path.stat()
        except OSError:
            return None
        digest.update(f"path:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    else:
        return None
    return digest.hexdigest()


class ImageRecord:
    """The pixels of one image, its faces (found on first use) and per-tool results.

    Args:
        rgb: the decoded RGB uint8 array (made read-only), or ``StoredPixels`` (see ``from_source``).
        key: the content hash, for caches.
        faces: faces already found in it, most prominent first (a video frame keeps the faces the
            video analysis found, so both read it alike); None to detect them on first use.
    """

    def __init__(
        self, rgb: np.ndarray | StoredPixels, key: str | None = None, faces: list[Face] | None = None
    ):
        self.pixels = rgb if isinstance(rgb, StoredPixels) else StoredPixels.from_array(rgb)
        self.key = key
        self._no_face: NoFaceError | None = None
        self._faces: list[Face] | None = list(faces) if faces else None
        self._lock = threading.RLock()
        # Faces have their own lock: a tool that needs only the landmarks (the geometry answerer)
        # goes on as soon as detection is done, while another still holds ``_lock`` computing the
        # classifier's forward pass. Detection never takes ``_lock``, so the two cannot deadlock.
        self._faces_lock = threading.Lock()
        self._results: dict[Any, Any] = {}

    @classmethod
    def from_source(cls, source: ImageInput, key: str | None = None) -> ImageRecord:
        """Reads an input (a file's bytes are kept compressed); ``InvalidImageError`` if unreadable."""
        return cls(StoredPixels.from_source(source), key)

    @property
    def rgb(self) -> np.ndarray:
        """The read-only HxWx3 RGB uint8 pixels, decoded on demand (shared: never change them)."""
        return self.pixels.array()

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, 3), known without decoding."""
        return self.pixels.shape

    @property
    def faces(self) -> list[Face]:
        """The faces, most prominent first; raises ``NoFaceError`` when there are none."""
        with self._faces_lock:
            if self._faces is None:
                try:
                    # The stored pixels, not the array: detection reads a reduced decode where it can.
                    self._faces = detect_faces(self.pixels)
                except NoFaceError as exc:
                    self._no_face, self._faces = exc, []
            if not self._faces:
                raise NoFaceError(str(self._no_face))
            return self._faces

    def face(self, index: int) -> Face:
        """The ``index``-th face (0 = most prominent), with a clear error when out of range."""
        faces = self.faces
        if not 0 <= index < len(faces):
            raise InvalidRequestError(
                f"Face {index + 1} was asked for, but this photo has {len(faces)} face"
                f"{'s' if len(faces) != 1 else ''}."
            )
        return faces[index]

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Returns the result stored under ``key``, computing it once (thread-safe)."""
        with self._lock:
            if key not in self._results:
                self._results[key] = compute()
            return self._results[key]

    def forget(self, key: Any) -> None:
        """Drops one stored result."""
        with self._lock:
            self._results.pop(key, None)


class AnalysisCache:
    """An in-memory LRU of ``ImageRecord`` keyed by content hash, bounded in count and stored bytes.

    Args:
        maxsize: the most records kept.
        max_bytes: the most compressed bytes their pixels may hold together (the newest record is
            always kept).
    """

    def __init__(self, maxsize: int = 16, max_bytes: int = 128 * 2**20) -> None:
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self._records: OrderedDict[str, ImageRecord] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, source: ImageInput | ImageRecord) -> ImageRecord:
        """The record of ``source``, decoding it only when it is not cached."""
        if isinstance(source, ImageRecord):
            return source
        key = image_key(source)
        if key is not None:
            with self._lock:
                record = self._records.get(key)
                if record is not None:
                    self._records.move_to_end(key)
                    return record
        record = ImageRecord.from_source(source, key)
        if key is not None:
            with self._lock:
                record = self._records.setdefault(key, record)
                self._records.move_to_end(key)
                held = sum(r.pixels.stored_bytes for r in self._records.values())
                while len(self._records) > 1 and (len(self._records) > self.maxsize or held > self.max_bytes):
                    _, dropped = self._records.popitem(last=False)
                    held -= dropped.pixels.stored_bytes
        return record

    def clear(self) -> None:
        """Forgets every image."""
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        return len(self._records)


_DEFAULT = AnalysisCache()


def default_cache() -> AnalysisCache:
    """The process-wide cache used by the functional API."""
    return _DEFAULT
