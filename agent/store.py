"""The session's image store: uploads kept in memory (compressed), addressed by short ids.

Tools receive ``img1``, ``img2`` ... from the model and read the pixels from here, so a model never
handles pixels or paths. Each image is an ``ImageRecord`` (tools.analysis), which also caches the
faces and the classifier's forward pass, so classify, explain and ask on one photo detect once.
A record keeps the upload's bytes and decodes them on demand under the process-wide pixel budget
(``tools.pixels``), so a session holds about the size of its files, not of its decoded photos.
A session holds at most ``MAX_IMAGES`` photos and ``MAX_SESSION_MB`` of files. Nothing is written
to disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.analysis import ImageRecord, image_key
from tools.errors import InvalidImageError, InvalidRequestError

__all__ = ["StoredImage", "ImageStore", "MAX_IMAGES", "MAX_SESSION_MB"]

MAX_IMAGES = 20  # per session
MAX_SESSION_MB = 200  # compressed bytes of a session's photos together (20 phone photos of ~10 MB)


@dataclass(frozen=True)
class StoredImage:
    """One image of a session.

    Attributes:
        id: the id tools and models use (``img1`` ...).
        name: a display name (the file name, or ``photo N``).
        record: the decoded pixels and cached analysis.
    """

    id: str
    name: str
    record: ImageRecord = None  # type: ignore[assignment]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        h, w = self.record.shape[:2]
        return w, h


def _name_of(source: Any, index: int) -> str:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    name = getattr(source, "name", None) or getattr(source, "filename", None)
    if isinstance(name, str) and name:
        return Path(name).name
    return f"photo {index}"


class ImageStore:
    """The images of one chat session, in upload order."""

    def __init__(self, max_images: int = MAX_IMAGES, max_bytes: int = MAX_SESSION_MB * 2**20) -> None:
        self.max_images = max_images
        self.max_bytes = max_bytes
        self._images: dict[str, StoredImage] = {}
        self._counter = 0

    def add(self, source: Any, name: str | None = None) -> StoredImage:
        """Decodes and stores an image; the same picture uploaded twice keeps its first id.

        Args:
            source: bytes, a path, a file-like upload, a PIL image or an ndarray.
            name: a display name; taken from the file name when None.

        Raises:
            InvalidImageError: the input is not a readable image, or the session is full.
            CapacityError: the process holds its limit of photos (all sessions together).
        """
        if isinstance(source, ImageRecord):
            record, key = source, source.key
        else:
            key = image_key(source)
            record = None
        if key is not None:
            for stored in self._images.values():
                if stored.record.key == key:
                    return stored
        if len(self._images) >= self.max_images:
            raise InvalidImageError(
                f"This conversation already holds {self.max_images} photos; start a new one to add more."
            )
        if record is None:
            record = ImageRecord.from_source(source, key)
        held = self.stored_bytes
        if held + record.pixels.stored_bytes > self.max_bytes:
            raise InvalidImageError(
                f"This conversation already holds {held / 2**20:.0f} MB of photos and this one is "
                f"{record.pixels.stored_bytes / 2**20:.1f} MB; the limit is {self.max_bytes / 2**20:.0f} MB. "
                "Start a new conversation to add more."
            )
        self._counter += 1
        image_id = f"img{self._counter}"
        stored = StoredImage(image_id, name or _name_of(source, self._counter), record)
        self._images[image_id] = stored
        return stored

    def get(self, image_id: str) -> StoredImage:
        """The stored image of ``image_id``.

        Raises:
            InvalidRequestError: no such id; the message lists the valid ones.
        """
        try:
            return self._images[image_id]
        except KeyError:
            valid = ", ".join(self._images) or "none"
            raise InvalidRequestError(f"No image {image_id!r} in this session; valid ids: {valid}.") from None

    @property
    def stored_bytes(self) -> int:
        """Compressed bytes held by this session's photos."""
        return sum(s.record.pixels.stored_bytes for s in self._images.values())

    def records(self) -> dict[str, ImageRecord]:
        """Image id -> record, for the tools' runtime context."""
        return {i: s.record for i, s in self._images.items()}

    def names(self) -> dict[str, str]:
        """Image id -> display name."""
        return {i: s.name for i, s in self._images.items()}

    def ids(self) -> list[str]:
        """Image ids in upload order."""
        return list(self._images)

    def __iter__(self):
        return iter(list(self._images.values()))

    def __len__(self) -> int:
        return len(self._images)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._images
