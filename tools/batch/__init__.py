"""Many photos and videos to Parquet rows, on this machine's worker pool or on a Ray cluster.

    from tools.batch import run
    result = run(["photos/", "clips/*.mp4", "s3://bucket/faces/"], "emotions/", fps=2)
    result.rows, result.failed                       # this run's rows and failed files

    import pyarrow.dataset as ds
    table = ds.dataset("emotions/").to_table()       # one row per face per photo / analysed frame

Inputs are files, folders (searched recursively for photos and videos), globs, text files listing
paths (``.txt``/``.lst``, one a line, relative to the list's folder), or URIs any pyarrow filesystem
reads (``file://``, ``s3://``, ``gs://``, ``hdfs://``). Every input gives at least one row (``SCHEMA``):
a face per photo, a face per analysed video frame, one row with ``face`` null for a photo or frame
without a face, and one row with ``error`` set for a file that could not be analysed; the run goes on.

Two engines produce the same rows:

- ``local``: ``EmotionClassifier.predict_many`` (worker threads, one per core) for photos, videos
  analysed side by side in the same number of threads.
- ``ray``: Ray Data (``tools.batch.ray_engine``): the paths, in groups, go through ``map_batches`` on an
  actor pool (models loaded once per actor), each actor writing its groups' rows as chunk files;
  ``address`` joins a running cluster, none starts one on this machine.

Results are written in chunks (several Parquet files in a dataset folder; for a ``.parquet`` file
output, in ``OUT.parts/`` and merged at the end), so an interrupted run loses at most the chunk in
flight and ``resume=True`` continues with the inputs not yet in the output.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from tools.batch.inputs import PHOTO_SUFFIXES, VIDEO_SUFFIXES, BatchInput, expand_inputs, groups
from tools.batch.local import run_local
from tools.batch.output import Output, read_rows
from tools.batch.rows import SCHEMA, BatchRows, check_fps
from tools.errors import InvalidRequestError

__all__ = [
    "SCHEMA",
    "PHOTO_SUFFIXES",
    "VIDEO_SUFFIXES",
    "ENGINES",
    "BatchInput",
    "BatchRows",
    "BatchResult",
    "Output",
    "expand_inputs",
    "groups",
    "read_rows",
    "run",
]

ENGINES = ("local", "ray")


@dataclass
class BatchResult:
    """What a run did.

    Attributes:
        output: where the rows are.
        engine: ``local`` or ``ray``.
        inputs: files named by the inputs.
        skipped: of those, already in the output (``resume``).
        processed: files analysed by this run.
        rows: rows this run wrote.
        failed: files of this run that gave an error row.
        seconds: the run's wall time (cluster start and model loading included).
        removed: unreadable chunk files removed before resuming (the remains of a killed write).
        late: chunk files an earlier, killed run wrote after this one began, with the rows this run
            wrote again taken out (``Output.drop_late``).
    """

    output: str
    engine: str
    inputs: int
    skipped: int
    processed: int
    rows: int
    failed: int
    seconds: float
    removed: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        """Files analysed per second of wall time."""
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        """One line for people."""
        text = (
            f"{self.rows} rows for {self.processed} file{'s' if self.processed != 1 else ''} written to "
            f"{self.output} ({self.engine} engine, {self.seconds:.1f} s, {self.per_second:.1f} files/s)"
        )
        if self.failed:
            text += f"; {self.failed} could not be analysed (see the error column)"
        if self.skipped:
            text += f"; {self.skipped} already there, skipped"
        return text + "."


def run(
    inputs: Iterable[str | os.PathLike],
    output: str | os.PathLike,
    engine: str = "local",
    address: str | None = None,
    fps: float | None = None,
    resume: bool = False,
    *,
    model: str | None = None,
    workers: int | None = None,
    actors: int | None = None,
    cpus_per_actor: float = 0.5,
    photos_per_task: int = 16,
    chunk_files: int = 256,
    chunk_seconds: float = 60.0,
    progress: bool | None = None,
) -> BatchResult:
    """Analyses every photo and video named by ``inputs`` and writes the rows to ``output``.

    Args:
        inputs: files, folders, globs, text files of paths, or URIs (see ``expand_inputs``).
        output: a dataset folder (chunk files) or a ``.parquet`` file; local or a URI.
        engine: ``local`` (worker threads on this machine) or ``ray`` (Ray Data).
        address: the Ray cluster to join (``host:port``, ``auto``, ``ray://host:10001``); None
            starts one on this machine. Only with ``engine="ray"``.
        fps: video frames analysed per second (None: every frame, up to 30 a second).
        resume: continue an output: inputs already in it are skipped.
        model: the classifier (a built-in name or a checkpoint folder); the default model when None.
        workers: the local engine's threads (None: one per core, at most 4).
        actors: the Ray engine's actor pool size (None: one per CPU of the cluster).
        cpus_per_actor: CPUs Ray reserves per actor; fractional so Ray Data's own tasks keep a
            share (on 2 CPUs, two 1-CPU actors have starved a pipeline's other tasks: it hung).
        photos_per_task: photos per Ray task (a video is always a task of its own).
        chunk_files: the local engine writes a chunk after this many files ...
        chunk_seconds: ... or this many seconds, whichever comes first.
        progress: a progress bar on stderr; None: when stderr is a terminal.

    Raises:
        InvalidRequestError: no input files, an unknown engine, a bad fps, an output that exists
            (without ``resume``), holds another table or cannot be written, Ray missing or a
            cluster that cannot be reached.
        ModelUnavailableError: the model could not be loaded.
        KeyboardInterrupt: after writing what was finished; ``resume`` continues from there.
    """
    start = time.perf_counter()
    if engine not in ENGINES:
        raise InvalidRequestError(f"Unknown engine {engine!r}; choose {' or '.join(ENGINES)}.")
    if address is not None and engine != "ray":
        raise InvalidRequestError("--address names a Ray cluster: use it with --engine ray.")
    fps = check_fps(fps)
    if engine == "ray":
        from tools.batch.ray_engine import require_ray

        require_ray()  # before any listing, so a missing Ray says so at once
    items = expand_inputs(list(inputs))
    out = Output(output)
    done, removed = out.prepare(resume)
    todo = [x for x in items if x.path not in done]
    progress = sys.stderr.isatty() if progress is None else progress
    rows = failed = 0
    if todo:
        if engine == "local":
            rows, failed = run_local(todo, out, model, fps, workers, chunk_files, chunk_seconds, progress)
        else:
            from tools.batch.ray_engine import run_ray

            rows, failed = run_ray(
                groups(todo, photos_per_task),
                out,
                address=address,
                model=model,
                fps=fps,
                actors=actors,
                cpus_per_actor=cpus_per_actor,
                progress=progress,
            )
    late = out.drop_late(x.path for x in todo) if todo else []
    out.finish()
    return BatchResult(
        output=out.text,
        engine=engine,
        inputs=len(items),
        skipped=len(items) - len(todo),
        processed=len(todo),
        rows=rows,
        failed=failed,
        seconds=time.perf_counter() - start,
        removed=removed,
        late=late,
    )
