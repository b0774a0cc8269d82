"""Helpers for the server tests: start a real ``python -m tools serve ...`` process on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess(subprocess.Popen):
    """A server process whose stderr (the access log, errors) goes to a file, read with ``log()``.

    A file rather than a pipe: a server logging a line per request would block on a full pipe.
    """

    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def server_process(
    args: list[str],
    ready: Callable[[], bool],
    timeout: float = 90.0,
    env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """Runs ``python -m tools <args>`` until ``ready()`` is true; stops it (and waits) afterwards.

    Args:
        args: the command line after ``python -m tools``.
        ready: polled until it returns True.
        timeout: seconds to wait for ``ready``.
        env: variables added to this process's environment.
    """
    env = {**os.environ, "FACE_AGENT_TORCH_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    with tempfile.TemporaryDirectory(prefix="face-serve-") as folder:
        log_path = Path(folder) / "stderr.log"
        with log_path.open("w") as log:
            proc = ServerProcess(
                [sys.executable, "-m", "tools", *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                text=True,
            )
        proc.log_path = log_path
        try:
            deadline = time.monotonic() + timeout
            while not ready():
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {proc.returncode}: {proc.log()[-3000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the server was not ready within {timeout:.0f} s")
                time.sleep(0.25)
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)


def answers(url: str) -> Callable[[], bool]:
    """A ``ready`` check: ``url`` answers 200."""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return check


@contextmanager
def rest_server(*options: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, ServerProcess]]:
    """``python -m tools serve rest --port PORT *options``; yields its base URL and process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server_process(
        ["serve", "rest", "--port", str(port), *options], answers(f"{url}/health"), env=env
    ) as proc:
        yield url, proc
