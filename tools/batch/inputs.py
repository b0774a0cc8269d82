"""What a batch reads: files, folders, globs, lists of paths and URIs, expanded to ``BatchInput``s."""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from tools.errors import InvalidRequestError

__all__ = [
    "BatchInput",
    "PHOTO_SUFFIXES",
    "VIDEO_SUFFIXES",
    "LIST_SUFFIXES",
    "expand_inputs",
    "groups",
    "kind_of",
    "is_uri",
    "filesystem",
]

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".mpo")
# A GIF is read as a photo (its first frame), as ``python -m tools classify`` does.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".ts", ".ogv", ".y4m")
LIST_SUFFIXES = (".txt", ".lst")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class BatchInput:
    """One file to analyse.

    Attributes:
        path: as written in the ``path`` column: an absolute local path or a URI.
        kind: ``photo`` or ``video`` (from the file's suffix).
    """

    path: str
    kind: str


def kind_of(path: str) -> str:
    """``video`` for the video suffixes, ``photo`` for anything else (a broken file gets its row)."""
    return "video" if _suffix(path) in VIDEO_SUFFIXES else "photo"


def _suffix(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""


def is_uri(text: str) -> bool:
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isalnum() and len(scheme) > 1


def _media(path: str) -> bool:
    return _suffix(path) in PHOTO_SUFFIXES or _suffix(path) in VIDEO_SUFFIXES


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[BatchInput]:
    """The files named by ``inputs``, in order, each once.

    A folder gives its photos and videos (recursively, sorted); a glob its matches (``**`` crosses
    folders); a ``.txt``/``.lst`` file the inputs it lists (one a line, ``#`` comments, relative to
    its folder); a URI the same through its pyarrow filesystem; any other file is taken as given,
    whatever its suffix (a broken or unsupported file gets an error row).

    Raises:
        InvalidRequestError: an input that does not exist, or no photo or video found at all.
    """
    found: dict[str, None] = {}
    for item in inputs:
        for path in _expand_one(str(item), base=None, depth=0):
            found.setdefault(path, None)
    if not found:
        raise InvalidRequestError(
            "No photos or videos found in "
            + ", ".join(str(i) for i in inputs)
            + f" (looked for {', '.join(PHOTO_SUFFIXES + VIDEO_SUFFIXES)})."
        )
    return [BatchInput(path, kind_of(path)) for path in found]


def _expand_one(text: str, base: Path | None, depth: int) -> Iterator[str]:
    text = text.strip()
    if not text:
        return
    if is_uri(text):
        yield from _expand_uri(text)
        return
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if path.is_dir():
        yield from sorted(str(p.resolve()) for p in path.rglob("*") if p.is_file() and _media(p.name))
    elif path.is_file():
        if _suffix(path.name) in LIST_SUFFIXES:
            if depth > 4:
                raise InvalidRequestError(f"{path} lists lists of paths too deeply (more than 4 levels).")
            yield from _expand_list(path, depth)
        else:
            yield str(path.resolve())
    elif _GLOB_CHARS & set(str(path)):
        yield from sorted(
            str(Path(p).resolve())
            for p in glob.glob(str(path), recursive=True)
            if Path(p).is_file() and (_media(p) or not Path(p).is_dir())
        )
    else:
        raise InvalidRequestError(f"No such file or folder: {path}. Check the path and try again.")


def _expand_list(path: Path, depth: int) -> Iterator[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"Could not read the list of paths {path}: {exc}.") from exc
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            yield from _expand_one(line, base=path.parent, depth=depth + 1)


def filesystem(uri: str) -> tuple[Any, str]:
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as exc:
        raise InvalidRequestError(
            f"Cannot open {uri}: {exc}. Use a local path or a URI pyarrow reads (file://, s3://, gs://, hdfs://)."
        ) from exc


def _expand_uri(uri: str) -> Iterator[str]:
    import pyarrow.fs as pafs

    scheme = uri.split("://", 1)[0]
    fs, root = filesystem(uri)

    def name(p: str) -> str:
        return f"{scheme}://{p}" if scheme != "file" else f"file://{p}"

    try:
        if _GLOB_CHARS & set(root):
            parts = root.split("/")
            cut = next(i for i, part in enumerate(parts) if _GLOB_CHARS & set(part))
            folder = "/".join(parts[:cut]) or "/"
            selector = pafs.FileSelector(folder, recursive=True, allow_not_found=True)
            infos = fs.get_file_info(selector)
            yield from sorted(
                name(i.path) for i in infos if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, root)
            )
            return
        info = fs.get_file_info(root)
        if info.type == pafs.FileType.Directory:
            infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
            yield from sorted(name(i.path) for i in infos if i.type == pafs.FileType.File and _media(i.path))
        elif info.type == pafs.FileType.File:
            yield name(root)
        else:
            raise InvalidRequestError(f"No such file or folder: {uri}. Check the URI and try again.")
    except OSError as exc:
        raise InvalidRequestError(f"Cannot list {uri}: {exc}.") from exc


def groups(inputs: Sequence[BatchInput], photos_per_group: int) -> list[list[BatchInput]]:
    """Units of work: each video alone (a video is as much work as hundreds of photos), photos in
    groups of ``photos_per_group``; videos first, so the long tasks do not end up last."""
    videos = [[x] for x in inputs if x.kind == "video"]
    photos = [x for x in inputs if x.kind == "photo"]
    size = max(1, int(photos_per_group))
    return videos + [photos[i : i + size] for i in range(0, len(photos), size)]
