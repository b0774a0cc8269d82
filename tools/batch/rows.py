"""The rows of a batch: their schema, and ``BatchRows``, which turns paths into rows.

One row per face per photo and per face per analysed video frame; one row with ``face`` null for a
photo or frame without a face; one row with ``error`` set for a file that could not be analysed.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from tools.batch.inputs import BatchInput, filesystem, is_uri, kind_of
from tools.errors import InvalidRequestError, NoFaceError

__all__ = ["SCHEMA", "ERROR_TYPE", "BatchRows", "rows_table", "check_fps"]

ERROR_TYPE = pa.struct([("type", pa.string()), ("message", pa.string())])
SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("kind", pa.string()),  # "photo" | "video"
        ("frame_t", pa.float64()),  # seconds into the video; null for photos
        ("face", pa.int32()),  # reading-order number in the photo or frame, from 1; null: no face
        ("track", pa.int32()),  # the face's track id across a video's frames; null for photos
        ("label", pa.string()),
        ("confidence", pa.float32()),
        ("probs", pa.map_(pa.string(), pa.float32())),
        ("box", pa.list_(pa.int32())),  # x0, y0, x1, y1 in the photo or frame
        ("model", pa.string()),
        ("error", ERROR_TYPE),  # the failure of a file that could not be analysed; null otherwise
    ]
)


def _error_row(path: str, kind: str, exc: BaseException, model: str) -> dict[str, Any]:
    return {
        "path": path,
        "kind": kind,
        "model": model,
        "error": {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__},
    }


def _photo_rows(path: str, predictions: Sequence[Any], model: str) -> list[dict[str, Any]]:
    if not predictions:
        return [{"path": path, "kind": "photo", "model": model}]
    return [
        {
            "path": path,
            "kind": "photo",
            "face": p.number,
            "label": p.label,
            "confidence": p.confidence,
            "probs": p.probs,
            "box": list(p.box),
            "model": model,
        }
        for p in sorted(predictions, key=lambda p: p.number)
    ]


def _video_rows(path: str, analysis: Any) -> list[dict[str, Any]]:
    from tools.faces import reading_order

    rows: list[dict[str, Any]] = []
    for frame in analysis.frames:
        if not frame.faces:
            rows.append({"path": path, "kind": "video", "frame_t": frame.t, "model": analysis.model})
            continue
        numbers = reading_order([f.box for f in frame.faces])
        for number, f in sorted(zip(numbers, frame.faces), key=lambda nf: nf[0]):
            rows.append(
                {
                    "path": path,
                    "kind": "video",
                    "frame_t": frame.t,
                    "face": number,
                    "track": f.track,
                    "label": f.label,
                    "confidence": f.confidence,
                    "probs": dict(zip(analysis.labels, f.probs)),
                    "box": list(f.box),
                    "model": analysis.model,
                }
            )
    return rows


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A ``SCHEMA`` table of row dicts (missing columns are null)."""
    return pa.Table.from_pylist(rows, schema=SCHEMA)


class _Named(io.BytesIO):
    """Bytes read from a URI, with the file's name for messages."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


def _read_uri(uri: str, kind: str) -> _Named:
    """The bytes of a URI input, refused before reading when over the photo or video size limit."""
    import pyarrow.fs as pafs

    from tools.errors import ImageTooLargeError, InvalidImageError, InvalidVideoError
    from tools.images import MAX_BYTES

    error = InvalidVideoError if kind == "video" else InvalidImageError
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    if kind == "video":
        from tools.video import VideoLimits

        limit = VideoLimits().max_bytes
    else:
        limit = MAX_BYTES
    fs, path = filesystem(uri)
    try:
        info = fs.get_file_info(path)
        if info.type != pafs.FileType.File:
            raise error(f"No such file: {uri} (it does not exist). Check the path and try again.")
        if info.size is not None and info.size > limit:
            raise (InvalidVideoError if kind == "video" else ImageTooLargeError)(
                f"{name} is {info.size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB. "
                f"Please use a smaller {kind}."
            )
        with fs.open_input_stream(path) as stream:
            return _Named(stream.read(), name)
    except OSError as exc:
        raise error(f"Could not read {uri}: {exc}.") from exc


def _flatten(values: Any) -> list[str]:
    values = values.to_pylist() if hasattr(values, "to_pylist") else list(values)
    out: list[str] = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out.extend(str(x) for x in v)
        elif hasattr(v, "tolist"):  # a numpy array of paths (Ray's numpy batches)
            value = v.tolist()
            out.extend(map(str, value) if isinstance(value, list) else [str(value)])
        else:
            out.append(str(v))
    return out


class BatchRows:
    """Rows for a batch of inputs: the Ray engine's callable class and the local engine's worker.

    The models load once, in the constructor (so once per Ray actor); each call maps a batch of
    paths to a ``SCHEMA`` table. A file that fails gives an error row instead of an exception, so
    one bad file never stops a batch. Works the same without Ray::

        rows = BatchRows(fps=2)
        table = rows({"path": ["a.jpg", "clip.mp4"], "kind": ["photo", "video"]})

    Args:
        model: the classifier (``EmotionClassifier.load``'s argument; None for the default).
        fps: video frames analysed per second (None: every frame, up to 30 a second).
        workers: threads for photos (``predict_many``) and for videos side by side; Ray actors use 1.
        batch_size: faces per forward pass.
        torch_threads: torch's intra-op threads for this process (Ray actors: 1, as an actor shares
            its node's cores with its neighbours); None leaves the setting alone.
    """

    def __init__(
        self,
        model: str | None = None,
        fps: float | None = None,
        workers: int = 1,
        batch_size: int = 32,
        torch_threads: int | None = None,
    ) -> None:
        from tools.classifier import default_classifier

        self.classifier = default_classifier(model)  # once per process (per Ray actor)
        self.model = self.classifier.name
        self.fps = check_fps(fps)
        self.workers = max(1, int(workers))
        self.batch_size = batch_size
        if torch_threads and "torch" in sys.modules:  # torch only where the classifier loaded it
            sys.modules["torch"].set_num_threads(int(torch_threads))

    def __call__(self, batch: Any) -> pa.Table:
        """``{"path": [...], "kind": [...]}`` (a dict or a pyarrow table; ``kind`` optional, and each
        value may be a list of paths: a group) -> the rows of every input, in input order."""
        paths = _flatten(batch["path"])
        kinds = _flatten(batch["kind"]) if "kind" in _keys(batch) else [kind_of(p) for p in paths]
        return rows_table(self.rows([BatchInput(p, k) for p, k in zip(paths, kinds)]))

    def rows(self, inputs: Sequence[BatchInput]) -> list[dict[str, Any]]:
        """The row dicts of ``inputs``, in input order."""
        by_path: dict[int, list[dict[str, Any]]] = {}
        photos = [(i, x) for i, x in enumerate(inputs) if x.kind == "photo"]
        videos = [(i, x) for i, x in enumerate(inputs) if x.kind == "video"]
        for (i, _), rows in zip(photos, self._photos([x for _, x in photos])):
            by_path[i] = rows
        if self.workers > 1 and len(videos) > 1:
            with ThreadPoolExecutor(min(self.workers, len(videos)), thread_name_prefix="batch-video") as pool:
                done = list(pool.map(self.video_rows, [x for _, x in videos]))
        else:
            done = [self.video_rows(x) for _, x in videos]
        for (i, _), rows in zip(videos, done):
            by_path[i] = rows
        return [row for i in range(len(inputs)) for row in by_path[i]]

    def _source(self, item: BatchInput) -> Any:
        return _read_uri(item.path, item.kind) if is_uri(item.path) else Path(item.path)

    def _photos(self, inputs: Sequence[BatchInput]) -> list[list[dict[str, Any]]]:
        if not inputs:
            return []
        sources: list[Any] = [None] * len(inputs)
        failed: dict[int, list[dict[str, Any]]] = {}
        uris = [i for i, x in enumerate(inputs) if is_uri(x.path)]
        for i, x in enumerate(inputs):
            if not is_uri(x.path):
                sources[i] = Path(x.path)
        if uris:  # object storage: read several at once, they wait on the network
            with ThreadPoolExecutor(min(8, len(uris)), thread_name_prefix="batch-read") as pool:
                for i, got in zip(uris, pool.map(lambda i: _try(self._source, inputs[i]), uris)):
                    if isinstance(got, BaseException):
                        failed[i] = [_error_row(inputs[i].path, "photo", got, self.model)]
                    else:
                        sources[i] = got
        todo = [i for i in range(len(inputs)) if i not in failed]
        try:
            items = self.classifier.predict_many(
                [sources[i] for i in todo], batch_size=self.batch_size, workers=self.workers
            )
        except Exception:  # noqa: BLE001 - a fault outside the project's errors: find the photo alone
            items = [self._one_photo(sources[i]) for i in todo]
        out = dict(failed)
        for i, item in zip(todo, items):
            path = inputs[i].path
            if isinstance(item, BaseException):
                out[i] = [_error_row(path, "photo", item, self.model)]
            elif item.error is None or isinstance(item.error, NoFaceError):
                out[i] = _photo_rows(path, item.predictions, self.model)
            else:
                out[i] = [_error_row(path, "photo", item.error, self.model)]
        return [out[i] for i in range(len(inputs))]

    def _one_photo(self, source: Any) -> Any:
        try:
            return self.classifier.predict_many([source], batch_size=self.batch_size, workers=1)[0]
        except Exception as exc:  # noqa: BLE001 - per-row errors are data
            return exc

    def video_rows(self, item: BatchInput) -> list[dict[str, Any]]:
        """The rows of one video (one thread; several may run side by side on one ``BatchRows``)."""
        from tools.video import analyze_video

        try:
            source = self._source(item)
            analysis = analyze_video(
                source, fps=self.fps, classifier=self.classifier, threads=None, name=Path(item.path).name
            )
        except Exception as exc:  # noqa: BLE001 - per-row errors are data; FaceAgentError is the usual one
            return [_error_row(item.path, "video", exc, self.model)]
        return _video_rows(item.path, analysis)


def _keys(batch: Any) -> list[str]:
    return list(batch.column_names) if isinstance(batch, pa.Table) else list(batch.keys())


def _try(fn: Callable[[Any], Any], arg: Any) -> Any:
    try:
        return fn(arg)
    except Exception as exc:  # noqa: BLE001 - returned to become an error row
        return exc


def check_fps(fps: float | None) -> float | None:
    if fps is None:
        return None
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise InvalidRequestError(f"fps must be a positive number of frames a second; got {fps!r}.")
    return float(fps)
