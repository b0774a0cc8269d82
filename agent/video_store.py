"""The session's videos: uploads kept as bytes in memory, addressed by ids ``vid1``, ``vid2`` ...

Beside the photo store (``agent.store``), not inside it: a video is not decoded on upload (only its
header is read and checked), its analysis is computed on the first question and cached per model,
and a frame asked about becomes a photo of the photo store. ``VideoSessionMixin`` gives
``ChatSession`` its video methods. Nothing is written to disk.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from tools.errors import InvalidRequestError, InvalidVideoError

__all__ = ["StoredVideo", "VideoStore", "VideoSessionMixin", "MAX_VIDEOS", "MAX_TOTAL_BYTES"]

MAX_VIDEOS = 5  # per session
MAX_TOTAL_BYTES = 400 * 2**20  # all videos of a session together, in memory


@dataclass
class StoredVideo:
    """One video of a session.

    Attributes:
        id: the id tools and models use (``vid1`` ...).
        name: a display name (the file name, or ``video N``).
        data: the file's bytes (in memory only).
        info: the header facts (``tools.video.VideoInfo``).
    """

    id: str
    name: str
    data: bytes = field(repr=False)
    info: Any = None
    key: str = ""
    _analyses: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    def analysis(self, classifier: Any, fps: float | None = None, progress: Any = None) -> Any:
        """The ``VideoAnalysis`` with this classifier, computed on first use and kept (two at most).

        ``progress(frames_done, frames_expected_or_None)`` is called while it is computed.
        """
        from tools.video import analyze_video

        key = (getattr(classifier, "cache_token", id(classifier)), fps)
        with self._lock:
            if key not in self._analyses:
                self._analyses[key] = analyze_video(
                    self.data, fps=fps, classifier=classifier, name=self.name, progress=progress
                )
                while len(self._analyses) > 2:
                    self._analyses.popitem(last=False)
            return self._analyses[key]

    def cached_analysis(self, classifier: Any, fps: float | None = None) -> Any:
        """The ``VideoAnalysis`` with this classifier if it was already computed, else None."""
        with self._lock:
            return self._analyses.get((getattr(classifier, "cache_token", id(classifier)), fps))

    def frame(self, t: float) -> tuple[float, Any]:
        """(time, RGB array) of the frame shown at ``t`` seconds."""
        from tools.video import extract_frame

        return extract_frame(self.data, t)


class VideoStore:
    """The videos of one chat session, in upload order."""

    def __init__(self, max_videos: int = MAX_VIDEOS, max_total_bytes: int = MAX_TOTAL_BYTES) -> None:
        self.max_videos = max_videos
        self.max_total_bytes = max_total_bytes
        self._videos: dict[str, StoredVideo] = {}
        self._counter = 0

    def add(self, source: Any, name: str | None = None) -> StoredVideo:
        """Checks a video's header and keeps its bytes; the same file uploaded twice keeps its first id.

        Raises:
            InvalidVideoError: not a readable video, over a limit, or the session is full.
        """
        from tools.video import _read_bytes, probe_video

        data, found_name = _read_bytes(source, _limits())
        key = hashlib.blake2b(data, digest_size=16).hexdigest()
        for stored in self._videos.values():
            if stored.key == key:
                return stored
        if len(self._videos) >= self.max_videos:
            raise InvalidVideoError(
                f"This conversation already holds {self.max_videos} videos; start a new one to add more."
            )
        if sum(len(v.data) for v in self._videos.values()) + len(data) > self.max_total_bytes:
            raise InvalidVideoError(
                f"The videos of this conversation would take more than {self.max_total_bytes // 2**20} MB; "
                "start a new conversation or upload a shorter clip."
            )
        info = probe_video(data)
        self._counter += 1
        video_id = f"vid{self._counter}"
        display = name or (found_name if found_name != "The video" else f"video {self._counter}")
        stored = StoredVideo(video_id, display.rsplit("/", 1)[-1], data, info, key)
        self._videos[video_id] = stored
        return stored

    def get(self, video_id: str) -> StoredVideo:
        """The stored video; ``InvalidRequestError`` listing the valid ids otherwise."""
        try:
            return self._videos[video_id]
        except KeyError:
            valid = ", ".join(self._videos) or "none"
            raise InvalidRequestError(f"No video {video_id!r} in this session; valid ids: {valid}.") from None

    def records(self) -> dict[str, StoredVideo]:
        """Video id -> stored video, for the tools' runtime context."""
        return dict(self._videos)

    def names(self) -> dict[str, str]:
        """Video id -> display name."""
        return {i: v.name for i, v in self._videos.items()}

    def __iter__(self):
        return iter(list(self._videos.values()))

    def __len__(self) -> int:
        return len(self._videos)

    def __contains__(self, video_id: object) -> bool:
        return video_id in self._videos


def _limits() -> Any:
    from tools.video import VideoLimits

    return VideoLimits()


class VideoSessionMixin:
    """``ChatSession``'s video side: ``add_video``, the frame-to-photo hook and the attachment notes.

    Expects ``self.store`` (the photo store) and ``self._context`` (a ``VideoToolContext``).
    """

    videos: VideoStore
    _unannounced_videos: list[StoredVideo]

    def add_video(self, source: Any, name: str | None = None) -> str:
        """Adds a video to the session and returns its id (``vid1`` ...); the next message mentions it.

        Args:
            source: bytes, a path or a file-like upload (kept in memory).
            name: a display name; taken from the file name when None.

        Raises:
            InvalidVideoError: not a readable video, or over a limit.
        """
        if not hasattr(self, "videos"):
            self.videos = VideoStore()
        known = len(self.videos)
        stored = self.videos.add(source, name)
        if len(self.videos) > known:
            self._unannounced_videos = [*getattr(self, "_unannounced_videos", []), stored]
        return stored.id

    def _video_notes(self) -> list[str]:
        """Attachment lines for videos added since the last message."""
        from agent.prompts import video_note

        return [video_note(v.id, v.name) for v in getattr(self, "_unannounced_videos", [])]

    def _videos_announced(self) -> None:
        self._unannounced_videos = []

    def _add_frame(self, rgb: Any, name: str) -> str:
        """Adds a video frame as a photo of the session; visible to the tools of the running turn."""
        stored = self.store.add(rgb, name)  # type: ignore[attr-defined]
        context = self._context  # type: ignore[attr-defined]
        images, names = dict(context.images), dict(context.names)
        images[stored.id], names[stored.id] = stored.record, stored.name
        context.images, context.names = images, names
        return stored.id

    def _video_context(self, context: Any) -> Any:
        """Fills the video fields of the tools' runtime context."""
        videos = getattr(self, "videos", None) or VideoStore()
        if hasattr(context, "videos"):
            context.videos, context.video_names = videos.records(), videos.names()
            context.add_frame = self._add_frame
        return context
