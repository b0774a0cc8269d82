"""Photos kept compressed and decoded on demand under the process-wide pixel budget (tools.pixels)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from tests.conftest import png_bytes
from tools import pixels
from tools.analysis import AnalysisCache, ImageRecord
from tools.errors import CapacityError, InvalidImageError
from tools.images import load_image
from tools.pixels import PixelBudget, StoredPixels


@pytest.fixture
def small_budget(monkeypatch) -> PixelBudget:
    """A process budget that holds about two 512x512 photos decoded and 2 MB of files."""
    budget = PixelBudget(decoded_bytes=2 * 512 * 512 * 3 + 10, stored_bytes=2 * 2**20)
    monkeypatch.setattr(pixels, "_DEFAULT", budget)
    return budget


def _variants(astronaut: np.ndarray, n: int) -> list[bytes]:
    return [png_bytes(np.clip(astronaut.astype(np.int16) + i, 0, 255).astype(np.uint8)) for i in range(n)]


def test_bytes_are_kept_and_decoded_again_identically_after_eviction(astronaut, small_budget):
    files = _variants(astronaut, 4)
    stored = [StoredPixels.from_source(data) for data in files]
    stats = small_budget.stats()
    assert stats.decoded_images == 2 and stats.decoded_bytes <= small_budget.decoded_limit
    assert stats.evictions == 2 and stats.stored_bytes == sum(len(d) for d in files)
    for data, item in zip(files, stored):
        again = item.array()
        assert np.array_equal(again, load_image(data))
        assert not again.flags.writeable
    assert small_budget.stats().decodes > 4  # the evicted ones were decoded again, on demand


def test_arrays_are_spilled_losslessly_when_evicted(astronaut, small_budget):
    arrays = [np.ascontiguousarray(np.roll(astronaut, i, axis=1)) for i in range(3)]
    stored = [StoredPixels.from_array(a.copy()) for a in arrays]
    assert small_budget.stats().spills == 1 and stored[0].stored_bytes > 0
    for original, item in zip(arrays, stored):
        assert np.array_equal(item.array(), original)


def test_record_rgb_decodes_on_demand_and_keeps_its_shape(astronaut, small_budget):
    record = ImageRecord.from_source(png_bytes(astronaut))
    assert record.shape == astronaut.shape
    small_budget.clear()
    assert small_budget.stats().decoded_images == 0
    assert np.array_equal(record.rgb, astronaut)
    assert record.faces  # detection reads the pixels through the property


def test_process_limit_on_stored_photos_is_said_clearly(astronaut, small_budget):
    big = png_bytes(np.random.default_rng(0).integers(0, 255, (700, 700, 3), dtype=np.uint8))
    assert 2**20 < len(big) < 2 * 2**20  # one fits in the 2 MB limit, two do not
    kept = StoredPixels.from_source(big)
    with pytest.raises(CapacityError, match=r"limit is 2 MB .*FACE_AGENT_STORED_BUDGET_MB"):
        StoredPixels.from_source(big)
    del kept
    gc.collect()
    assert small_budget.stats().stored_bytes == 0  # released when the image is gone
    StoredPixels.from_source(big)


def test_analysis_cache_is_bounded_in_stored_bytes(astronaut):
    cache = AnalysisCache(maxsize=16, max_bytes=600_000)
    files = _variants(astronaut, 4)
    for data in files:
        cache.get(data)
    assert len(cache) < 4 and sum(len(d) for d in files[-len(cache) :]) <= 600_000 + len(files[-1])


def test_explanation_does_not_pin_the_photo(astronaut, small_budget):
    from tools.classifier import default_classifier
    from tools.explainer import Explainer

    record = ImageRecord.from_source(png_bytes(astronaut))
    explanation = Explainer(default_classifier(None)).explain(record)
    assert callable(explanation.photo)
    small_budget.clear()
    assert explanation.full_overlay_png().startswith(b"\x89PNG")


def test_chat_session_limits_are_replies_not_crashes(astronaut, small_budget):
    from agent import ChatSession
    from agent.store import ImageStore

    files = _variants(astronaut, 2)
    store = ImageStore(max_bytes=len(files[0]) + len(files[1]) // 2)
    store.add(files[0])
    with pytest.raises(InvalidImageError, match=r"this one is .* MB; the limit is"):
        store.add(files[1])
    big = png_bytes(np.random.default_rng(1).integers(0, 255, (1000, 1000, 3), dtype=np.uint8))
    reply = ChatSession("offline").send("What is she feeling?", image=big)
    assert reply.error and "FACE_AGENT_STORED_BUDGET_MB" in reply.text and not reply.tool_calls
