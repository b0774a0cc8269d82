"""The project's exception classes.

Every failure a person can cause (a bad file, a photo without a face, a missing model) is one of
these, with a message that says what was wrong and what to do about it. Callers catch
``FaceAgentError`` to handle all of them at once.
"""

from __future__ import annotations

__all__ = [
    "FaceAgentError",
    "InvalidImageError",
    "ImageTooLargeError",
    "NoFaceError",
    "ModelUnavailableError",
    "InvalidRequestError",
    "CapacityError",
    "InvalidVideoError",
    "VideoTooLargeError",
]


class FaceAgentError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidImageError(FaceAgentError, ValueError):
    """The input could not be read as an image (wrong type, corrupt, too large, unsupported)."""


class ImageTooLargeError(InvalidImageError):
    """The file is larger than the size limit (its bytes, before anything is decoded)."""


class NoFaceError(FaceAgentError):
    """The image was read, but no face was found in it."""


class ModelUnavailableError(FaceAgentError):
    """A model or its weights could not be loaded (missing, corrupt or mismatched file)."""


class InvalidRequestError(FaceAgentError, ValueError):
    """A request named something that does not exist (an unknown label, method or face index)."""


class CapacityError(FaceAgentError):
    """A memory or work limit of this process was reached (too many photos held, a full queue).

    Nothing is wrong with the request itself: it can be tried again later, or after closing
    other conversations.
    """


class InvalidVideoError(FaceAgentError, ValueError):
    """The input could not be read as a video (not a video, broken, no video track, over a limit)."""


class VideoTooLargeError(InvalidVideoError):
    """The video file is larger than the size limit (its bytes, before anything is decoded)."""
