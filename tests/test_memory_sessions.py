"""8 concurrent chat sessions adding 16 MP photos: memory stays bounded and every answer is right.

The full figure (8 sessions x 20 photos, peak RSS under 2.5 GB) is printed by
``python -m benchmarks.bench_sessions``; CI runs the same code with 3 photos per session and the
pixel budget lowered to 64 MB, so the budget is exceeded and photos are evicted and decoded again
just as in the full run, in about a sixth of the time. Before the budget, each 16 MP photo kept
48 MB decoded for as long as its session lasted: these 24 photos alone would hold ~1.15 GB.
"""

from __future__ import annotations

import pytest

from benchmarks.bench_sessions import TARGET_MB, measure


@pytest.mark.slow
def test_eight_sessions_of_16mp_photos_stay_small_and_right():
    result = measure(sessions=8, photos=3, budget_mb=64)
    assert not result["errors"], result["errors"]
    assert not result["wrong"], result["wrong"]
    assert result["sessions"] == 8 and result["held_photos"] == 24 and result["answers"] == 32
    budget = result["budget"]
    assert budget["decoded_mb"] <= budget["decoded_limit_mb"] == 64
    assert budget["evictions"] > 0 and budget["decodes"] >= 24
    assert result["peak_rss_mb"] < TARGET_MB
    held = result["held_rss_mb"] - result["baseline_rss_mb"]
    assert held < 500, (
        f"the sessions hold {held:.0f} MB more than after warm-up (24 photos decoded: ~1150 MB)"
    )
