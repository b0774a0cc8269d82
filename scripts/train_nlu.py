"""Trains the understanding model and reports on it: ``python scripts/train_nlu.py``.

    python scripts/train_nlu.py                  # train on agent/understanding/data/*.yml, write nlu_model.npz
    python scripts/train_nlu.py --report         # per-intent report on held-out folds (5-fold, originals only)
    python scripts/train_nlu.py --compare b1     # n-grams vs embeddings vs both, scored on a blind batch
                                                 # (trained without that batch's own examples)
    python scripts/train_nlu.py --check          # exit 1 when the shipped model is not from the current data

Training is deterministic (seeded augmentation, lbfgs logistic regression): the same data give the
same arrays. The model records the sha256 of its data; ``tests/test_nlu.py`` checks it is current.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from agent.understanding.nlu import ASKS, MODEL_PATH, NLUModel, normalize
from agent.understanding.training import (
    DEFAULT_CONFIG,
    augment,
    data_files,
    data_hash,
    load_examples,
    train,
)

BLIND = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "blind"
VARIANTS = {
    "n-grams": ["ngrams"],
    "embeddings": ["embedding"],
    "n-grams + embeddings": ["ngrams", "embedding"],
    "n-grams + regex": ["ngrams", "regex"],
    "embeddings + regex": ["embedding", "regex"],
    "n-grams + embeddings + regex": ["ngrams", "regex", "embedding"],
}


def _train_default(files: list[Path], embeddings: dict) -> NLUModel:
    examples = augment(load_examples(files), DEFAULT_CONFIG["augment"], DEFAULT_CONFIG["seed"])
    return train(examples, DEFAULT_CONFIG, embeddings, data_hash(files, DEFAULT_CONFIG))


def _blind_items(batch: str) -> list[dict]:
    """A blind batch's messages with their coarse gold labels (from the writer's routes)."""
    folder = BLIND / batch
    conversations = json.loads((folder / "conversations.json").read_text(encoding="utf-8"))["conversations"]
    items = []
    for c in conversations:
        for i, turn in enumerate(c["turns"]):
            routes = set(turn.get("route") or [])
            if "decline" in routes:
                kind = "boundary"
            elif routes <= {"product"}:
                kind = "product"
            elif routes <= {"chat"}:
                kind = "chat"
            else:
                kind = "analyze"
            asks = set()
            for route, ask in (
                ("emotion", "emotion"),
                ("explain", "explain"),
                ("feature", "feature"),
                ("describe", "describe"),
                ("faces", "faces"),
            ):
                if route in routes:
                    asks.add(ask)
            photo_only = not routes & {"video", "video_moment", "clarify", "compare"}
            items.append(
                {
                    "id": f"{c['id']}#{i + 1}",
                    "say": turn["say"],
                    "kind": kind,
                    "asks": asks,
                    "score_asks": kind == "analyze" and photo_only and bool(asks),
                }
            )
    bounds = json.loads((folder / "boundaries.json").read_text(encoding="utf-8"))
    for kind, gold in (("sensitive", "boundary"), ("ordinary", "ordinary")):
        for j, item in enumerate(bounds.get(kind, [])):
            items.append(
                {
                    "id": f"{kind}#{j + 1}",
                    "say": item["say"],
                    "kind": gold,
                    "asks": set(),
                    "score_asks": False,
                }
            )
    return items


def _asks_right(predicted: tuple[str, ...], gold: set[str]) -> bool:
    pred = set(predicted)
    if "describe" in gold or "describe" in pred:  # a description and a feature answer serve each other
        pred = {"feature" if a == "describe" else a for a in pred}
        gold = {"feature" if a == "describe" else a for a in gold}
    return pred == gold


def _score(model: NLUModel, items: list[dict], embeddings: dict) -> dict:
    texts = [normalize(i["say"]) for i in items]
    vectors = None
    if "embedding" in model.blocks:
        vectors = np.stack([embeddings[t] for t in texts])
    readings = model.interpret_many([i["say"] for i in items], embeddings=vectors)
    turns = [
        (i, r)
        for i, r in zip(items, readings)
        if "#" in i["id"] and not i["id"].startswith(("sensitive", "ordinary"))
    ]
    act_right = sum(r.kind == i["kind"] for i, r in turns)
    asks_items = [(i, r) for i, r in turns if i["score_asks"]]
    asks_right = sum(r.kind == "analyze" and _asks_right(r.asks, i["asks"]) for i, r in asks_items)
    sensitive = [(i, r) for i, r in zip(items, readings) if i["id"].startswith("sensitive")]
    ordinary = [(i, r) for i, r in zip(items, readings) if i["id"].startswith("ordinary")]
    return {
        "acts": (act_right, len(turns)),
        "asks": (asks_right, len(asks_items)),
        "sensitive": (sum(r.kind == "boundary" for _, r in sensitive), len(sensitive)),
        "ordinary_declined": (sum(r.kind == "boundary" for _, r in ordinary), len(ordinary)),
        "misses": [
            (i["id"], i["say"], i["kind"], r.act, sorted(i["asks"]), list(r.asks))
            for i, r in turns
            if r.kind != i["kind"] or (i["score_asks"] and not _asks_right(r.asks, i["asks"]))
        ],
    }


def compare(batch: str) -> None:
    """Trains each feature variant without the batch's own examples and scores it on the batch."""
    files = data_files(exclude=[f"blind_{batch}.yml"])
    examples = augment(load_examples(files), DEFAULT_CONFIG["augment"], DEFAULT_CONFIG["seed"])
    items = _blind_items(batch)
    embeddings: dict = {}
    from agent.understanding.encoder import default_encoder

    texts = sorted({normalize(e.text) for e in examples} | {normalize(i["say"]) for i in items})
    for text, vector in zip(texts, default_encoder().encode(texts)):
        embeddings[text] = vector
    print(
        f"training examples (with generated variation): {len(examples)}; blind batch {batch}: {len(items)} messages"
    )
    print(
        f"{'features':32s} {'act (turns)':>14s} {'asks (photo turns)':>19s} {'sensitive declined':>19s} {'ordinary declined':>18s}"
    )
    for name, blocks in VARIANTS.items():
        model = train(examples, {**DEFAULT_CONFIG, "blocks": blocks}, embeddings)
        s = _score(model, items, embeddings)

        def pct(pair: tuple[int, int]) -> str:
            return f"{pair[0]}/{pair[1]} {100 * pair[0] / max(pair[1], 1):.0f}%"

        print(
            f"{name:32s} {pct(s['acts']):>14s} {pct(s['asks']):>19s} {pct(s['sensitive']):>19s} {pct(s['ordinary_declined']):>18s}"
        )
        if name == "n-grams + embeddings + regex":
            for miss in s["misses"]:
                print("   miss:", miss)


def report(folds: int = 5) -> None:
    """Per-intent precision/recall on held-out folds: train on the other folds (augmented), test on
    the fold's original examples."""
    from sklearn.metrics import classification_report
    from sklearn.model_selection import StratifiedKFold

    examples = load_examples()
    labels = [e.act for e in examples]
    counts = Counter(labels)
    strat = [label if counts[label] >= folds else "rare" for label in labels]
    embeddings: dict = {}
    gold, pred = [], []
    ask_total = ask_right = 0
    per_ask = defaultdict(lambda: [0, 0, 0])  # true positives, predicted, actual
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    for train_idx, test_idx in splitter.split(np.zeros(len(examples)), strat):
        train_set = augment(
            [examples[i] for i in train_idx], DEFAULT_CONFIG["augment"], DEFAULT_CONFIG["seed"]
        )
        model = train(train_set, DEFAULT_CONFIG, embeddings)
        test = [examples[i] for i in test_idx]
        for e, r in zip(test, model.interpret_many([e.text for e in test])):
            gold.append(e.act)
            pred.append(r.act)
            if e.act == "analyze":
                ask_total += 1
                ask_right += set(r.asks) == set(e.asks) and r.act == "analyze"
                for a in ASKS:
                    per_ask[a][0] += a in r.asks and a in e.asks
                    per_ask[a][1] += a in r.asks
                    per_ask[a][2] += a in e.asks
    print(classification_report(gold, pred, zero_division=0, digits=3))
    print(
        f"asks exactly right on analyze messages: {ask_right}/{ask_total} = {100 * ask_right / ask_total:.1f}%"
    )
    for a, (tp, p, t) in per_ask.items():
        print(f"  {a:9s} precision {tp / max(p, 1):.3f} recall {tp / max(t, 1):.3f} (n={t})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="per-intent report on held-out folds")
    parser.add_argument("--compare", metavar="BATCH", help="compare feature sets on a blind batch")
    parser.add_argument("--check", action="store_true", help="is the shipped model current?")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--cache", type=Path, help="keep sentence embeddings here between runs (a .npz file)")
    args = parser.parse_args(argv)
    if args.check:
        current = data_hash(data_files(), DEFAULT_CONFIG)
        shipped = NLUModel.load(MODEL_PATH).config.get("data_sha256")
        print("current" if shipped == current else "stale: run python scripts/train_nlu.py")
        return 0 if shipped == current else 1
    if args.compare:
        compare(args.compare)
        return 0
    if args.report:
        report()
        return 0
    start = time.perf_counter()
    files = data_files()
    cache: dict = {}
    if args.cache and args.cache.exists():
        with np.load(args.cache, allow_pickle=False) as saved:
            cache = dict(zip(saved["texts"].tolist(), saved["vectors"]))
    model = _train_default(files, cache)
    if args.cache:
        np.savez(args.cache, texts=np.array(list(cache), dtype=str), vectors=np.stack(list(cache.values())))
    model.save(args.out)
    n = Counter(e.act for e in load_examples(files))
    print(
        f"trained on {model.config['examples']} examples ({sum(n.values())} written, {len(n)} acts) "
        f"in {time.perf_counter() - start:.1f} s -> {args.out} ({args.out.stat().st_size / 1024:.0f} KB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
