"""The local engine: ``BatchRows`` on worker threads of this machine, rows written in chunks."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tools.batch.inputs import BatchInput, groups
from tools.batch.output import Output
from tools.batch.rows import BatchRows, rows_table

__all__ = ["run_local", "PHOTOS_PER_GROUP"]

# Photos per ``predict_many`` call, per worker thread: the pool drains at the end of each call, so
# a call should hold many photos per thread; a chunk is written only between calls.
PHOTOS_PER_GROUP = 16


def run_local(
    todo: list[BatchInput],
    out: Output,
    model: str | None,
    fps: float | None,
    workers: int | None,
    chunk_files: int,
    chunk_seconds: float,
    show: bool,
) -> tuple[int, int]:
    """The local engine: groups through one ``BatchRows`` on worker threads, written in chunks."""
    threads = workers or max(1, min(4, os.cpu_count() or 1))
    worker = BatchRows(model=model, fps=fps, workers=threads)
    pending: list[dict[str, Any]] = []
    pending_files = 0
    last_write = time.monotonic()
    rows = failed = 0
    lock = threading.Lock()
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="files", unit="file", file=sys.stderr)

    def flush() -> None:
        nonlocal pending, pending_files, last_write
        if pending:
            out.write(rows_table(pending))
        pending, pending_files, last_write = [], 0, time.monotonic()

    def collect(group_rows: list[dict[str, Any]], files: int) -> None:
        nonlocal pending_files, rows, failed
        with lock:
            pending.extend(group_rows)
            pending_files += files
            rows += len(group_rows)
            failed += len({r["path"] for r in group_rows if r.get("error")})
            if bar is not None:
                bar.update(files)
            if pending_files >= chunk_files or time.monotonic() - last_write >= chunk_seconds:
                flush()

    # Photos through predict_many's worker threads, a group at a time (a chunk can be written
    # between groups); then videos side by side, one thread each, at most ``threads`` in flight.
    try:
        with _one_torch_thread():
            for group in groups([x for x in todo if x.kind == "photo"], PHOTOS_PER_GROUP * threads):
                collect(worker.rows(group), len(group))
            videos = [x for x in todo if x.kind == "video"]
            pool = ThreadPoolExecutor(threads, thread_name_prefix="batch-video")
            try:
                window: deque[Future] = deque()
                for item in videos:
                    window.append(pool.submit(worker.video_rows, item))
                    if len(window) >= threads:
                        collect(window.popleft().result(), 1)
                while window:
                    collect(window.popleft().result(), 1)
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        with lock:
            flush()
    except BaseException:
        with lock:
            flush()  # keep what is finished: --resume continues from there
        raise
    finally:
        if bar is not None:
            bar.close()
    return rows, failed


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """One torch intra-op thread while the workers run (restored afterwards): the parallelism
    comes from the worker threads, and OpenMP teams on top of them fight for the same cores. Only
    where the classifier has loaded torch; this never imports it."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
