"""The conversation corpus: the offline planner on >= 300 user turns about one or several photos and faces.

Real sessions, real agent loop, real tools on real photos (see tests/corpus/README.md). One
classifier and one decoded record per photo serve every conversation, so the whole corpus costs a
few seconds once the models are loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.corpus.runner import SPLITS, TOOLS, CorpusRunner, load

THRESHOLDS = {"heldout": 0.95, "dev": 0.98}


@pytest.fixture(scope="module")
def runner(one_torch_thread: None) -> Iterator[CorpusRunner]:
    yield CorpusRunner()


def test_corpus_is_large_split_and_well_formed() -> None:
    turns = {split: [t for c in load(split) for t in c["turns"]] for split in SPLITS}
    assert sum(len(t) for t in turns.values()) >= 300 and len(turns["heldout"]) >= 100
    ids = [c["id"] for split in SPLITS for c in load(split)]
    assert len(ids) == len(set(ids))
    multi = [c for split in SPLITS for c in load(split) if len(c["turns"]) > 1]
    several = [
        c
        for split in SPLITS
        for c in load(split)
        if len(c["photos"]) > 1 or c["photos"][:1] in (["pair"], ["trio"])
    ]
    assert len(multi) >= 40 and len(several) >= 60
    for split in SPLITS:
        for turn in turns[split]:
            assert set(turn) <= {"say", "tools", "check", "attach"}, turn
            assert all(spec.split()[0] in TOOLS for spec in turn["tools"]), turn
        json.loads(SPLITS[split].read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("split", ["heldout", "dev"])
def test_corpus_score(runner: CorpusRunner, split: str) -> None:
    outcomes = runner.run(split)
    right = sum(o.ok for o in outcomes)
    failures = "\n".join(
        f"{o.conversation}#{o.index + 1} {o.say!r}: {'; '.join(o.problems)}" for o in outcomes if not o.ok
    )
    assert right / len(outcomes) >= THRESHOLDS[split], f"{split}: {right}/{len(outcomes)}\n{failures}"
