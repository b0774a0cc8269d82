"""Helpers for the server tests: start a real ``python -m tools serve ...`` process on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(
    args: list[str], ready: Callable[[], bool], timeout: float = 90.0
) -> Iterator[subprocess.Popen]:
    """Runs ``python -m tools <args>`` until ``ready()`` is true; stops it (and waits) afterwards."""
    env = {**os.environ, "FACE_AGENT_TORCH_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}: {proc.stderr.read()[-3000:]}")
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
