"""Pixels on demand: photos are kept compressed and decoded under one process-wide memory budget.

A decoded 16 MP photo takes 48 MB; its JPEG about 1 MB. Keeping every upload decoded for as long
as its conversation lasts made one session with 20 such photos hold ~1 GB. Instead each image keeps
what it came as (the file's bytes) and decodes on demand; decoded arrays live in one LRU shared by
the whole process, bounded in bytes (``FACE_AGENT_PIXEL_BUDGET_MB``, 256 MB by default), so the
photo being worked on stays decoded and older ones are dropped and decoded again only if a tool
needs their pixels later (the faces and each tool's results stay cached on the record). Decoding
the same bytes gives the same pixels, so answers do not change.

A large JPEG is first decoded at a reduced size only (``REDUCED_SIDE``; libjpeg's DCT scaling at
1/2, 1/4 or 1/8 reads and checks the whole file at a fraction of the cost): face detection works on
that, and so does the classifier's alignment where the reduced picture still has the crop's
resolution (``StoredPixels.reduced``). The full decode happens only when something needs it (a small
face, the 68 landmarks, a whole-photo overlay). Reduced pixels live in the same budget.

Images given as arrays (or PIL images) have no compressed form: they stay as given until the
budget evicts them, and are then stored as a lossless PNG.

Compressed bytes held by all images together are bounded too (``FACE_AGENT_STORED_BUDGET_MB``,
1024 MB by default): past it a new image is refused with a ``CapacityError`` that says so, rather
than the process running out of memory. Images that are no longer referenced release their share.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import sys
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from tools.errors import CapacityError
from tools.images import (
    ImageInput,
    decode_bytes,
    decode_checked_jpeg,
    decode_reduced,
    jpeg_reduction,
    load_image,
    read_bytes,
)

__all__ = [
    "PixelBudget",
    "StoredPixels",
    "BudgetStats",
    "default_budget",
    "return_freed_memory",
    "DEFAULT_PIXEL_BUDGET_MB",
    "DEFAULT_STORED_BUDGET_MB",
    "REDUCED_SIDE",
]

log = logging.getLogger(__name__)

DEFAULT_PIXEL_BUDGET_MB = 256  # five decoded 16 MP photos, or ~170 of 1 MP
DEFAULT_STORED_BUDGET_MB = 1024  # compressed uploads of every conversation together
SPILL_PNG_LEVEL = 1  # lossless and fast: arrays evicted from the budget are kept as this PNG
REDUCED_SIDE = 640  # a large JPEG is first decoded to at least this long side (face detection's first pass)

_TOKENS = itertools.count(1)
MMAP_THRESHOLD = 1 << 20  # see return_freed_memory()


def _env_mb(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return max(1, int(float(value))) if value else default
    except ValueError:
        log.warning("ignoring %s=%r (not a number of megabytes)", name, value)
        return default


@dataclass(frozen=True)
class BudgetStats:
    """A snapshot of the budget, for health pages and benchmarks (bytes and counts)."""

    decoded_bytes: int
    decoded_limit: int
    decoded_images: int
    stored_bytes: int
    stored_limit: int
    decodes: int
    hits: int
    evictions: int
    spills: int

    def to_dict(self) -> dict[str, Any]:
        mb = 2**20
        return {
            "decoded_mb": round(self.decoded_bytes / mb, 1),
            "decoded_limit_mb": round(self.decoded_limit / mb, 1),
            "decoded_images": self.decoded_images,
            "stored_mb": round(self.stored_bytes / mb, 1),
            "stored_limit_mb": round(self.stored_limit / mb, 1),
            "decodes": self.decodes,
            "hits": self.hits,
            "evictions": self.evictions,
            "spills": self.spills,
        }


class PixelBudget:
    """A process-wide LRU of decoded arrays bounded in bytes, and a cap on stored compressed bytes.

    Args:
        decoded_bytes: the most bytes of decoded pixels kept at once (the newest array is always
            kept, even when it alone is larger).
        stored_bytes: the most bytes of compressed images held at once; past it new images are refused.
        parallel_decodes: how many photos may be decoded at the same time (each decode of a large
            photo briefly needs about twice its decoded size).
    """

    def __init__(
        self,
        decoded_bytes: int | None = None,
        stored_bytes: int | None = None,
        parallel_decodes: int | None = None,
    ) -> None:
        self.decoded_limit = (
            decoded_bytes
            if decoded_bytes is not None
            else _env_mb("FACE_AGENT_PIXEL_BUDGET_MB", DEFAULT_PIXEL_BUDGET_MB) * 2**20
        )
        self.stored_limit = (
            stored_bytes
            if stored_bytes is not None
            else _env_mb("FACE_AGENT_STORED_BUDGET_MB", DEFAULT_STORED_BUDGET_MB) * 2**20
        )
        self.decode_slots = threading.BoundedSemaphore(parallel_decodes or max(2, os.cpu_count() or 2))
        self._lru: OrderedDict[int, tuple[weakref.ref, np.ndarray]] = OrderedDict()
        self._decoded = 0
        self._stored: dict[int, int] = {}
        self._stored_total = 0
        self._lock = threading.Lock()
        self._counts = {"decodes": 0, "hits": 0, "evictions": 0, "spills": 0}

    # --- decoded arrays (evicted when over budget) ---------------------------------------------------

    def lookup(self, token: int) -> np.ndarray | None:
        """The decoded array of an image if it is held (and marks it most recently used)."""
        with self._lock:
            entry = self._lru.get(token)
            if entry is None:
                return None
            self._lru.move_to_end(token)
            self._counts["hits"] += 1
            return entry[1]

    def admit(self, owner: StoredPixels, array: np.ndarray, token: int | None = None) -> None:
        """Holds a freshly decoded array (under ``owner.token``, or ``token``), evicting the least
        recently used ones past the budget."""
        key = owner.token if token is None else token
        victims: list[tuple[StoredPixels | None, np.ndarray]] = []
        with self._lock:
            old = self._lru.pop(key, None)
            if old is not None:
                self._decoded -= old[1].nbytes
            self._lru[key] = (weakref.ref(owner), array)
            self._decoded += array.nbytes
            while self._decoded > self.decoded_limit and len(self._lru) > 1:
                _, (ref, evicted) = self._lru.popitem(last=False)
                self._decoded -= evicted.nbytes
                self._counts["evictions"] += 1
                victims.append((ref(), evicted))
        for victim, evicted in victims:
            if victim is not None:
                victim._evicted(evicted)

    def count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    # --- compressed bytes (refused when over budget) -------------------------------------------------

    def reserve(self, token: int, nbytes: int, what: str = "This photo") -> None:
        """Accounts ``nbytes`` of compressed data held by one image.

        Raises:
            CapacityError: the process already holds its limit of compressed photos.
        """
        with self._lock:
            before = self._stored.get(token, 0)
            total = self._stored_total - before + nbytes
            if nbytes > before and total > self.stored_limit:
                raise CapacityError(
                    f"{what} cannot be kept: this process already holds "
                    f"{self._stored_total / 2**20:.0f} MB of photos, its limit is "
                    f"{self.stored_limit / 2**20:.0f} MB (FACE_AGENT_STORED_BUDGET_MB). "
                    "Close some conversations or try again later."
                )
            self._stored[token] = nbytes
            self._stored_total = total

    def release(self, token: int) -> None:
        """Forgets everything held for one image (called when the image is garbage collected)."""
        with self._lock:
            entry = self._lru.pop(token, None)
            if entry is not None:
                self._decoded -= entry[1].nbytes
            self._stored_total -= self._stored.pop(token, 0)

    def stats(self) -> BudgetStats:
        """Current figures."""
        with self._lock:
            return BudgetStats(
                decoded_bytes=self._decoded,
                decoded_limit=self.decoded_limit,
                decoded_images=len(self._lru),
                stored_bytes=self._stored_total,
                stored_limit=self.stored_limit,
                **self._counts,
            )

    def clear(self) -> None:
        """Drops every decoded array (their images decode again on next use)."""
        with self._lock:
            entries = list(self._lru.values())
            self._lru.clear()
            self._decoded = 0
        for ref, array in entries:
            owner = ref()
            if owner is not None:
                owner._evicted(array)


_DEFAULT: PixelBudget | None = None
_DEFAULT_LOCK = threading.Lock()


def return_freed_memory() -> bool:
    """Makes glibc give large freed buffers back to the system at once (Linux; once per process).

    glibc serves allocations above a threshold with their own memory mappings, returned when freed,
    but it raises that threshold to the size of each such buffer freed (up to 32 MB). After the first
    photo, Pillow's 16 MB decode blocks and OpenCV's resized copies then come from per-thread heaps
    that keep their freed pages: with 8 sessions decoding 16 MP photos in parallel the process grew
    by ~800 MB more than the pixel budget. A fixed 1 MB threshold stops that (and was faster).
    Skipped when ``MALLOC_MMAP_THRESHOLD_`` is set in the environment or the C library is not glibc.

    Returns:
        True when the setting was applied.
    """
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is not None or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, MMAP_THRESHOLD))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def default_budget() -> PixelBudget:
    """The process-wide budget (limits read from the environment on first use)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            return_freed_memory()
            _DEFAULT = PixelBudget()
        return _DEFAULT


class StoredPixels:
    """One image's pixels: its compressed bytes (or the array it came as), decoded on demand.

    Use ``from_source`` (decodes once to check the input) or ``from_array``; ``array()`` returns
    the read-only RGB uint8 array, decoding again when the budget has dropped it.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, int, int],
        data: bytes | None = None,
        name: str = "The image",
        array: np.ndarray | None = None,
        budget: PixelBudget | None = None,
    ) -> None:
        if data is None and array is None:
            raise ValueError("StoredPixels needs the compressed bytes or the array")
        self.token = next(_TOKENS)
        self.reduced_token = next(_TOKENS)  # the reduced decode's slot in the budget
        self.reduced_factor: float | None = None  # its size / the full size, once known
        self.checked_jpeg = False  # a plain JPEG that decoded without error: OpenCV may decode it again
        self.shape = shape
        self.name = name
        self.budget = budget or default_budget()
        self._data = data
        self._raw = array  # only for images that came as arrays, until they are spilled to PNG
        self._lock = threading.Lock()
        if data is not None:
            self.budget.reserve(self.token, len(data), name)
        weakref.finalize(self, self.budget.release, self.token)
        weakref.finalize(self, self.budget.release, self.reduced_token)
        if array is not None:
            self.budget.admit(self, array)

    @classmethod
    def from_source(cls, source: ImageInput, budget: PixelBudget | None = None) -> StoredPixels:
        """Reads and checks an input; a file's bytes are kept, arrays and PIL images as arrays.

        Raises:
            InvalidImageError: the input is not a readable image.
            CapacityError: the process holds its limit of photos.
        """
        budget = budget or default_budget()
        if isinstance(source, (np.ndarray, Image.Image)):
            with budget.decode_slots:
                array = load_image(source)
            return cls.from_array(array, budget)
        data, name = read_bytes(source)
        with budget.decode_slots:
            array, shape, plain = decode_reduced(data, name, REDUCED_SIDE)  # checks the whole file
        array.setflags(write=False)
        pixels = cls(shape=shape, data=data, name=name, budget=budget)
        pixels.checked_jpeg = plain
        budget.count("decodes")
        if array.shape == shape:
            budget.admit(pixels, array)  # the first tool will want it right away
        else:
            pixels.reduced_factor = array.shape[1] / shape[1]
            budget.admit(pixels, array, pixels.reduced_token)
        return pixels

    @classmethod
    def from_array(cls, rgb: np.ndarray, budget: PixelBudget | None = None) -> StoredPixels:
        """Wraps an already decoded RGB uint8 array (made read-only: tools share it between threads)."""
        rgb.setflags(write=False)
        return cls(shape=rgb.shape, array=rgb, budget=budget)

    @property
    def stored_bytes(self) -> int:
        """Bytes of compressed data held (0 while the image is only an array)."""
        data = self._data
        return len(data) if data is not None else 0

    @property
    def nbytes(self) -> int:
        """Bytes of the decoded array."""
        h, w, c = self.shape
        return h * w * c

    def array(self) -> np.ndarray:
        """The read-only HxWx3 RGB uint8 pixels (decoded now if the budget had dropped them)."""
        raw = self._raw
        if raw is not None:
            self.budget.lookup(self.token)  # keeps it recently used
            return raw
        found = self.budget.lookup(self.token)
        if found is not None:
            return found
        with self._lock:  # one decode per image at a time; others wait for it
            found = self.budget.lookup(self.token)
            if found is not None:
                return found
            raw = self._raw
            if raw is not None:
                return raw
            data = self._data
            assert data is not None
            with self.budget.decode_slots:
                array = (
                    decode_checked_jpeg(data, self.name)
                    if self.checked_jpeg
                    else decode_bytes(data, self.name)
                )
            array.setflags(write=False)
            self.budget.count("decodes")
            self.budget.admit(self, array)
            return array

    def reduced(self, scale: float) -> tuple[np.ndarray, float]:
        """The pixels at the smallest size that keeps at least ``scale`` pixels per pixel of the full
        image, and that size's factor (1.0: the full array).

        A large JPEG is decoded at 1/2, 1/4 or 1/8 by its DCT (see ``REDUCED_SIDE``); one reduced
        decode is kept in the budget at a time (decoded again if dropped). Anything else, or a
        ``scale`` above 1/2, gets the full array.
        """
        factor = self.reduced_factor
        if factor is None or self._data is None or scale > 0.5:
            return self.array(), 1.0
        if scale <= factor:
            found = self.budget.lookup(self.reduced_token)
            if found is not None:
                return found, factor
        h, w = self.shape[:2]
        with self._lock:
            if scale <= (self.reduced_factor or 0.0):
                found = self.budget.lookup(self.reduced_token)
                if found is not None:
                    return found, self.reduced_factor  # type: ignore[return-value]
            side = max(REDUCED_SIDE, int(np.ceil(scale * max(h, w))))
            with self.budget.decode_slots:
                if self.checked_jpeg:
                    array = decode_checked_jpeg(self._data, self.name, jpeg_reduction(w, h, side))
                else:
                    array, _, _ = decode_reduced(self._data, self.name, side)
            array.setflags(write=False)
            self.budget.count("decodes")
            if array.shape == self.shape:  # no smaller decode has this scale
                self.budget.admit(self, array)
                return array, 1.0
            self.reduced_factor = array.shape[1] / w
            self.budget.admit(self, array, self.reduced_token)
            return array, self.reduced_factor

    def _evicted(self, array: np.ndarray) -> None:
        """Called by the budget after dropping this image's array: arrays without bytes are spilled."""
        if self._raw is None:
            return
        with self._lock:
            raw = self._raw
            if raw is None:
                return
            buffer = io.BytesIO()
            Image.fromarray(raw).save(buffer, format="PNG", compress_level=SPILL_PNG_LEVEL)
            data = buffer.getvalue()
            try:
                self.budget.reserve(self.token, len(data), self.name)
            except CapacityError:
                log.warning("no room to spill a %dx%d image; keeping it decoded", *self.shape[1::-1])
                return
            self._data, self.name = data, "The image"
            self._raw = None
            self.budget.count("spills")
