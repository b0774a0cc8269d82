"""Shared fixtures: real photos that ship inside packages (no downloads)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A smiling face (scikit-image), 512x512 RGB."""
    return skimage.data.astronaut()


@pytest.fixture(scope="session")
def grace_hopper() -> np.ndarray:
    """A neutral portrait with a closed mouth (matplotlib sample data), RGB."""
    return np.asarray(Image.open(GRACE_HOPPER).convert("RGB"))


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    """A cup of coffee: no face."""
    return skimage.data.coffee()


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
    """A cat: no human face."""
    return skimage.data.chelsea()


def png_bytes(image: np.ndarray | Image.Image, fmt: str = "PNG", **save_kwargs) -> bytes:
    """Encodes an image in memory."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    pil.save(buffer, fmt, **save_kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def astronaut_face_crop(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut's face as a tight, aligned 100x100 crop (like RAF-DB's aligned images)."""
    from tools.faces import align_face, detect_faces

    face = detect_faces(astronaut)[0]
    return align_face(astronaut, face, 100, margin=0.1).image


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for a module: on a busy 2-core machine, OpenMP teams of 2 per Python
    thread spin against each other and make every call 10-50x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
