"""Blind batches, development data since they were scored: the figures reached stay reached, and no
reply shows an internal id or a tool name (tests/corpus/blind/README.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.corpus.blind_runner import BlindRunner, declined, internal_words, load_batch, plan_message, score

# What the agent reaches on each batch after the work it prompted (the before-fix figures are in
# the README): turns routed right, sensitive messages declined, ordinary ones declined by mistake.
REACHED = {
    "b1": {"routed": 97, "sensitive": 63, "ordinary": 0},
    "b2": {"routed": 125, "sensitive": 73, "ordinary": 0},
    "b3": {"routed": 132, "sensitive": 63, "ordinary": 0},
    "b4": {"routed": 100, "sensitive": 63, "ordinary": 0},
    "b5": {"routed": 117, "sensitive": 67, "ordinary": 0},
    "b6": {"routed": 109, "sensitive": 61, "ordinary": 0},
    "b7": {"routed": 122, "sensitive": 62, "ordinary": 0},
    "b8": {"routed": 113, "sensitive": 58, "ordinary": 0},
}


@pytest.fixture(scope="module", params=sorted(REACHED))
def played(request: pytest.FixtureRequest, one_torch_thread: None) -> Iterator[dict]:
    batch = load_batch(request.param)
    runner = BlindRunner()
    yield {
        "name": request.param,
        "batch": batch,
        "turns": [r for c in batch["conversations"] for r in runner.play(c)],
        # single messages are planned, not run: a decline is decided before any tool
        # (scripts/score_blind.py --boundaries plays them whole)
        "sensitive": [plan_message(m) for m in batch["boundaries"]["sensitive"]],
        "ordinary": [plan_message(m) for m in batch["boundaries"]["ordinary"]],
    }


@pytest.mark.parametrize("name", sorted(REACHED))
def test_batch_is_complete(name: str) -> None:
    batch = load_batch(name)
    turns = [t for c in batch["conversations"] for t in c["turns"]]
    assert len(turns) >= 60 and len(batch["boundaries"]["sensitive"]) >= 40
    assert len(batch["boundaries"]["ordinary"]) >= 60 and batch["key"] and batch["judgement"]


@pytest.mark.slow
def test_routed_right_stays(played: dict) -> None:
    result = score(played["turns"], played["batch"]["key"], {})
    failures = [f"{r['id']}: {r['problems']}" for r in result["rows"] if not r["routed"]]
    assert result["routed_right"] >= REACHED[played["name"]]["routed"], failures


@pytest.mark.slow
def test_boundaries_stay(played: dict) -> None:
    sensitive = [r.say for r in played["sensitive"] if not declined(r)]
    ordinary = [r.say for r in played["ordinary"] if declined(r)]
    reached = REACHED[played["name"]]
    assert len(played["sensitive"]) - len(sensitive) >= reached["sensitive"], sensitive
    assert len(ordinary) <= reached["ordinary"], ordinary


@pytest.mark.slow
def test_no_reply_shows_internal_ids_or_tool_names(played: dict) -> None:
    records = played["turns"] + played["sensitive"] + played["ordinary"]
    leaks = [(r.say, internal_words(r.text)) for r in records if internal_words(r.text)]
    assert not leaks
