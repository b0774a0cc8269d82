"""``tools batch --engine ray`` on a real two-node Ray cluster started on this machine.

Two ``ray start --block`` processes (a head and a second node, one CPU each) make the cluster; the
batch runs in its own process, as a person would run it, and joins with ``--address``. Checked:
the same rows as the local engine on real photos, videos and broken files; a worker process killed
mid-run (SIGKILL) still gives every row exactly once; a run without ``--address`` starts its own
cluster. Token authentication is off for these throwaway clusters only (``RAY_AUTH_MODE=disabled``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from benchmarks.photos import media_path  # noqa: E402
from tests.test_batch import FPS, make_media, same_rows  # noqa: E402
from tools.batch import read_rows, run  # noqa: E402

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.enable_socket,
    pytest.mark.usefixtures("one_torch_thread"),
]

ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).with_name("ray"))
ENV = {
    **os.environ,
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "PYTHONUNBUFFERED": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """One ``ray start --block`` process and everything it started."""

    def __init__(self, *args: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [RAY, "start", "--block", "--num-cpus=1", "--disable-usage-stats", *args],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_started(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any("Ray runtime started" in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ray start failed:\n" + "".join(self.lines[-30:]))
            time.sleep(0.2)

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        """Ends the node's processes (a throwaway cluster: no 30 s drain as ``ray stop`` would)."""
        started = self.descendants()
        for child in started:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.terminate()
        _, alive = psutil.wait_procs(started, timeout=10)
        for child in alive + self.descendants():
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        self.proc.kill()
        self.proc.wait()


class Cluster:
    def __init__(self) -> None:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        common = [f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}"]
        self.head = Node(
            "--head",
            f"--port={port}",
            "--include-dashboard=false",
            f"--ray-client-server-port={free_port()}",
            *common,
        )
        self.nodes = [self.head]
        self.head.wait_started()
        self.worker = Node(f"--address={self.address}", *common)
        self.nodes.append(self.worker)
        self.worker.wait_started()

    def map_workers(self) -> dict[int, tuple[int, bool]]:
        """pid -> (index of the node whose process tree runs it, busy) for Ray Data's map actors:
        worker processes titled ``ray::MapWorker(...)`` while they hold one, ``...).submit`` while
        one runs a task."""
        found = {}
        for index, node in enumerate(self.nodes):
            for proc in node.descendants():
                try:
                    title = proc.cmdline()[:1]
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                if title and title[0].startswith("ray::MapWorker"):
                    found[proc.pid] = (index, title[0].rstrip().endswith(".submit"))
        return found

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        # `ray stop` would also forget the cluster; a later ray.init() must not try to join it.
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        with contextlib.suppress(OSError):
            if current.read_text().strip().endswith(":" + self.address.rsplit(":", 1)[1]):
                current.unlink()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    started = Cluster()
    try:
        yield started
    finally:
        started.stop()


def batch(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools", "batch", *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_two_nodes_give_the_local_engine_rows_also_after_the_driver_is_killed(
    cluster: Cluster, tmp_path: Path
):
    """The driver is killed (SIGKILL) once the first chunk is written; the same command with
    --resume, run at once, finishes, and the rows are the local engine's, each once. The killed
    run's actors outlive its driver for a moment and may write a group after the kill: the resumed
    run skips what it found and takes out of the late chunks what it wrote again."""
    media = make_media(tmp_path / "media")
    for i in range(24):  # two more groups of photos: work left when the first chunk lands
        shutil.copy(media_path(["grace", "posed_happy", "obama"][i % 3]), media / f"copy{i:02d}.jpg")
    out = tmp_path / "ray"
    command = [sys.executable, "-m", "tools", "batch", str(media), "-o", str(out), "--engine", "ray"]
    command += ["--address", cluster.address, "--fps", str(FPS), "--resume"]
    proc = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while not list(out.glob("*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before its driver could be killed"
        proc.kill()
    finally:
        proc.wait()
    written = set(read_rows(out).column("path").to_pylist())
    assert 0 < len(written) < 32
    done = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    skipped = re.search(r"(\d+) already there, skipped", done.stdout)
    assert skipped and len(written) <= int(skipped.group(1)) < 32, done.stdout
    run([media], tmp_path / "local", fps=FPS, progress=False)
    distributed, local = read_rows(out), read_rows(tmp_path / "local")
    assert same_rows(distributed, local)
    errors = {r["path"].rsplit("/", 1)[-1]: r["error"]["type"] for r in distributed.to_pylist() if r["error"]}
    assert errors == {"broken.jpg": "InvalidImageError", "broken.mp4": "InvalidVideoError"}


def test_a_killed_worker_still_gives_every_row_once(cluster: Cluster, tmp_path: Path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(60):
        shutil.copy(
            media_path(["grace", "posed_happy", "obama", "multi_face"][i % 4]), folder / f"{i:02d}.jpg"
        )
    out = tmp_path / "ray"
    earlier = set(cluster.map_workers())  # actors of an earlier run, still on their way out
    code = (
        "from tools.batch import run; "
        f"r = run([{str(folder)!r}], {str(out)!r}, engine='ray', address={cluster.address!r}, "
        "photos_per_task=2, progress=False); print(r.describe())"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    nodes: set[int] = set()
    killed = None
    busy_since = None
    try:
        deadline = time.monotonic() + 180
        while proc.poll() is None and time.monotonic() < deadline:
            now = {pid: seen for pid, seen in cluster.map_workers().items() if pid not in earlier}
            nodes.update(node for node, _ in now.values())
            busy = [pid for pid, (_, working) in now.items() if working]
            if len(now) >= 2 and busy:
                busy_since = busy_since or time.monotonic()
                if time.monotonic() - busy_since > 0.5:  # tasks under way, one in flight: kill its worker
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(busy[0], signal.SIGKILL)
                        killed = busy[0]
                        break
            time.sleep(0.05)
        assert killed is not None and proc.poll() is None, "the run ended before a worker could be killed"
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    assert "for 60 files written" in stdout
    assert nodes == {0, 1}, "the actors ran on both nodes"
    run([folder], tmp_path / "local", progress=False)
    assert same_rows(read_rows(out), read_rows(tmp_path / "local"))  # every row, none twice


def test_without_an_address_a_cluster_is_started_here(tmp_path: Path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(media_path("grace"), folder / "grace.jpg")
    shutil.copy(media_path("mountain"), folder / "mountain.jpg")
    done = batch(str(folder), "-o", str(tmp_path / "rows.parquet"), "--engine", "ray", "--actors", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 rows for 2 files written" in done.stdout and "ray engine" in done.stdout
    rows = read_rows(tmp_path / "rows.parquet").to_pylist()
    assert {Path(r["path"]).name: r["face"] for r in rows} == {"grace.jpg": 1, "mountain.jpg": None}
