"""The Ray engine of ``tools.batch``: paths in, Parquet out, on an actor pool across a cluster.

    the paths, in groups -> map_batches(GroupWriter, actor pool) -> one chunk file per group

The driver lists the inputs (so ``path`` is written exactly as the local engine writes it, and
``--resume`` compares like with like) and hands Ray groups of paths: each video alone, photos a
few at a time. Each actor loads the models once, reads its files itself (from the local disk or
object storage: file bytes never travel through the object store), and writes each group's rows
as a chunk file of the output before it takes the next group; the driver only counts. Actors get a
fractional CPU (``cpus_per_actor``) and there is one per CPU of the cluster: a pool of whole-CPU
actors on a small node would take every CPU and starve Ray Data's other tasks.

Why the actors write rather than ``Dataset.write_parquet``: its write tasks need worker processes of
their own, which Ray starts only once rows arrive. On the two-node test cluster (1 CPU each) every
file appeared only after the map was over, so an interrupted run had written nothing; on 2 busy
cores the write tasks waited ~9 s to be scheduled, a third of a 32-photo run.

Ray is optional (``requirements-ray.txt``); nothing here imports it unless the Ray engine runs.
Fault tolerance is Ray Data's: an actor that dies is restarted and its task retried
(``max_restarts`` and ``max_task_retries`` default to unlimited for actor pools). A retried group
writes the file of the same name again, replacing whatever the first attempt wrote, so every row is
written once. A driver that dies takes its actors with it a moment later; what they write meanwhile
a resumed run takes out again (``Output.drop_late``).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import tools
from tools.errors import InvalidRequestError

__all__ = ["require_ray", "connect", "run_ray", "RAY_REQUIREMENT"]

RAY_REQUIREMENT = "ray[data]==2.60.0"
_INSTALL = f"pip install -r requirements-ray.txt (or: pip install '{RAY_REQUIREMENT}')"
_PROBE_TIMEOUT_S = 5.0
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def require_ray() -> Any:
    """The ``ray`` module with Ray Data.

    Raises:
        InvalidRequestError: Ray is not installed; the message says how to install it.
    """
    try:
        import ray
        import ray.data  # the engine needs Ray Data, not only Ray core
    except ImportError as exc:
        raise InvalidRequestError(
            f"The Ray engine needs Ray Data, which is not installed here ({exc}). Install it with "
            f"{_INSTALL}, or use --engine local."
        ) from None
    return ray


def _probe(address: str) -> None:
    """Fails fast, with a message, when nothing Ray-like answers at ``address``.

    ``ray.init`` waits minutes for an address that does not answer, or that answers but is no Ray
    cluster; a TCP connection and an HTTP/2 greeting (the GCS and the Ray Client speak gRPC) take
    at most a few seconds.
    """
    target = address.removeprefix("ray://")
    host, sep, port_text = target.rpartition(":")
    if not sep:
        host, port_text = target, "10001" if address.startswith("ray://") else "6379"
    host = host.strip("[]")
    try:
        port = int(port_text)
    except ValueError:
        raise InvalidRequestError(
            f"{address!r} is not a Ray address: write host:port (the head's GCS port, 6379 by default), "
            "ray://host:10001 (Ray Client) or auto."
        ) from None
    hint = (
        "Check that the cluster is up (`ray status` on the head node; `ray start --head` starts one), "
        "the host and port (host:6379 by default), and that no firewall is in between."
    )
    try:
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S) as conn:
            if os.environ.get("RAY_USE_TLS", "0") in ("1", "true", "True"):
                return  # a TLS handshake comes first; ray.init checks the rest
            conn.settimeout(_PROBE_TIMEOUT_S)
            conn.sendall(_HTTP2_PREFACE)
            reply = conn.recv(9)
    except OSError as exc:
        raise InvalidRequestError(f"Cannot reach a Ray cluster at {address}: {exc}. {hint}") from None
    if len(reply) < 4 or reply[3] != 0x04:  # an HTTP/2 server's first frame is SETTINGS
        raise InvalidRequestError(
            f"Something answers at {address}, but it is not a Ray cluster (no gRPC). {hint}"
        )


def connect(address: str | None) -> bool:
    """Connects the driver to a Ray cluster; returns True when this call connected it (the caller
    calls ``ray.shutdown()`` when done: that disconnects from a cluster it joined and stops one it
    started), False when Ray was already connected.

    Args:
        address: ``host:port``, ``ray://host:port``, ``auto``, or None to start a cluster on
            this machine (no dashboard, quiet logs).

    Raises:
        InvalidRequestError: Ray is missing, or the address cannot be reached.
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    runtime_env = None
    if address not in (None, "auto", "local"):
        _probe(address)
    if address is not None:
        # The cluster runs this driver's copy of the package (its nodes need only the
        # requirements installed): a node's own copy could be older, or missing.
        runtime_env = {"py_modules": [str(Path(tools.__file__).resolve().parent)]}
    try:
        ray.init(
            # "local" starts a new cluster even where ray.init() would join one it finds on this
            # machine (RAY_ADDRESS, or a cluster file a killed cluster can leave behind).
            address=address or "local",
            include_dashboard=False if address is None else None,
            logging_level=logging.WARNING,
            configure_logging=True,
            runtime_env=runtime_env,
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = f"the Ray cluster at {address}" if address else "a Ray cluster on this machine"
        raise InvalidRequestError(f"Could not connect to {where}: {exc}") from None
    return True


class GroupWriter:
    """The Ray engine's callable class: the rows of each group of inputs (``BatchRows``), written
    by the actor itself as one chunk file of the output.

    The file is named after the run and the group, so a task Ray retries (its actor died) replaces
    the file its first attempt may have written instead of adding the rows twice. Each call returns
    one summary row per group (``group``, ``files``, ``rows``, ``failed``) for the driver's count and
    progress bar. Works without Ray like ``BatchRows``.

    Args:
        output: the output (a local path or URI: ``tools.batch.Output``).
        run: a name for this run, unique among the runs that write to the output.
        model, fps: as for ``BatchRows``.
        torch_threads: torch's intra-op threads in this process (an actor: 1).
    """

    def __init__(
        self,
        output: str,
        run: str,
        model: str | None = None,
        fps: float | None = None,
        torch_threads: int | None = 1,
    ) -> None:
        from tools.batch.output import Output
        from tools.batch.rows import BatchRows

        self.rows = BatchRows(model=model, fps=fps, workers=1, torch_threads=torch_threads)
        self.output = Output(output)
        self.run = run

    def __call__(self, batch: Any) -> Any:
        """``{"group": [...], "path": [[...], ...], "kind": [[...], ...]}`` -> one summary row per group."""
        import pyarrow as pa
        import pyarrow.compute as pc

        columns = batch.to_pydict() if hasattr(batch, "to_pydict") else {k: list(v) for k, v in batch.items()}
        summary: dict[str, list[int]] = {"group": [], "files": [], "rows": [], "failed": []}
        for group, paths, kinds in zip(columns["group"], columns["path"], columns["kind"]):
            table = self.rows({"path": list(paths), "kind": list(kinds)})
            self.output.write(table, name=f"part-{self.run}-{int(group):06d}.parquet")
            errors = table.filter(pc.is_valid(table.column("error"))).column("path")
            summary["group"].append(int(group))
            summary["files"].append(len(paths))
            summary["rows"].append(table.num_rows)
            summary["failed"].append(len(set(errors.to_pylist())))
        return pa.table(summary)


def run_ray(
    groups: list[list[Any]],
    output: Any,
    *,
    address: str | None,
    model: str | None,
    fps: float | None,
    actors: int | None,
    cpus_per_actor: float,
    progress: bool,
) -> tuple[int, int]:
    """Runs the groups of inputs through ``GroupWriter`` actors, which write the rows into
    ``output``'s chunk folder. Returns the rows written and the files that failed."""
    ray = require_ray()
    connected = connect(address)
    bar = None
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours counts files, as the local engine's does
        context.print_on_execution_start = False
        context.enable_auto_log_stats = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        size = actors or max(1, min(int(cpus), len(groups)))  # no more actors than tasks
        if size * cpus_per_actor > cpus:
            raise InvalidRequestError(
                f"{size} actors of {cpus_per_actor} CPU need {size * cpus_per_actor:g} CPUs; the cluster has "
                f"{cpus:g}. Use fewer actors (--actors) or a smaller share each."
            )
        items = [
            {"group": i, "path": [x.path for x in g], "kind": [x.kind for x in g]}
            for i, g in enumerate(groups)
        ]
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 10_000))
        summaries = dataset.map_batches(
            GroupWriter,
            fn_constructor_kwargs={
                "output": output.uri(output.base),
                "run": output.run,
                "model": model,
                "fps": fps,
            },
            batch_size=1,  # one group per call: each group is a unit of work already
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=cpus_per_actor,
        )
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=sum(len(g) for g in groups), desc="files", unit="file")
        rows = failed = 0
        for batch in summaries.iter_batches(batch_size=None, batch_format="pyarrow"):
            rows += sum(batch.column("rows").to_pylist())
            failed += sum(batch.column("failed").to_pylist())
            if bar is not None:
                bar.update(sum(batch.column("files").to_pylist()))
        return rows, failed
    finally:
        if bar is not None:
            bar.close()
        if connected:
            # Also after joining a cluster: disconnecting here takes a fraction of what the same
            # disconnect takes at interpreter exit (measured: 0.03 s against ~0.5 s).
            ray.shutdown()
