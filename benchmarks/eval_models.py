"""Which emotion model, crop and test-time averaging read real faces best: one table, same faces.

    python -m benchmarks.eval_models [--split dev|heldout|all] [--no-explain]

Every configuration reads the hand-labelled faces of ``tests/data/emotion_labels.csv`` (real photos
from installed packages, each labelled by looking at it) through the production path: the default
face detector, the model's own 5-point alignment with the crop margin given, its preprocessing and
forward pass. Configurations: each model at several crop margins, with and without averaging the
probabilities of the face and its mirror image ("flip"), and the average of two models'
probabilities ("ensemble"). Settings are chosen on the ``dev`` split; ``heldout`` is reported, never
tuned against. For single models the explanations are scored too: the mean faithfulness of the
Grad-CAM map (drop of the predicted class when its hottest 20% is removed, minus a random 20%) and
the mean share of the map's heat that lies on the face rather than hair and background.

The set is small (see the counts printed): a difference of one or two faces is noise.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.photos import LabelledFace, labelled_faces
from tools.analysis import AnalysisCache
from tools.classifier import EmotionClassifier
from tools.labels import normalize_label

BASIC = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@dataclass(frozen=True)
class Config:
    """One way of reading faces: a model with a crop margin / shift, optionally flip-averaged."""

    name: str
    model: str
    margin: float | None = None  # None: the model card's own
    shift_y: float | None = None
    flip: bool = False


@dataclass
class Result:
    """Scores of one configuration."""

    name: str
    correct: dict[str, int]
    total: dict[str, int]
    faithfulness: float | None = None
    in_face: float | None = None
    predictions: dict[str, str] | None = None

    def accuracy(self, split: str) -> float:
        return self.correct.get(split, 0) / max(1, self.total.get(split, 0))


def _classifier(
    model: str,
    margin: float | None,
    shift_y: float | None,
    _cache: dict = {},  # noqa: B006 - a memo shared by every call, on purpose
) -> EmotionClassifier:
    key = (model, margin, shift_y)
    if key not in _cache:
        base = _cache.setdefault((model, None, None), EmotionClassifier.load(model, device="cpu"))
        if margin is None and shift_y is None:
            return base
        spec = copy.deepcopy(base.spec)
        if margin is not None:
            spec.alignment["margin"] = margin
        if shift_y is not None:
            spec.alignment["shift_y"] = shift_y
        _cache[key] = EmotionClassifier(base.model, spec, device="cpu", cache=AnalysisCache(maxsize=64))
    return _cache[key]


def basic_probs(classifier: EmotionClassifier, rgb: np.ndarray, flip: bool = False) -> dict[str, float]:
    """The largest face's probabilities under basic-7 names (mirror-averaged when ``flip``)."""
    probs = _named(classifier, classifier.predict(rgb)[0].probs)
    if flip:
        mirrored = _named(classifier, classifier.predict(np.ascontiguousarray(rgb[:, ::-1]))[0].probs)
        probs = {k: (probs[k] + mirrored[k]) / 2 for k in probs}
    return probs


def _named(classifier: EmotionClassifier, probs: dict[str, float]) -> dict[str, float]:
    out = dict.fromkeys(BASIC, 0.0)
    for label, p in probs.items():
        out[normalize_label(label, BASIC)] += p
    return out


def evaluate(
    faces: Sequence[LabelledFace],
    name: str,
    read: Callable[[np.ndarray], dict[str, float]],
    explain_with: EmotionClassifier | None = None,
) -> Result:
    """Scores one way of reading faces on labelled faces (and its explanations, when given)."""
    correct: dict[str, int] = {}
    total: dict[str, int] = {}
    predictions = {}
    faith, in_face = [], []
    for face in faces:
        probs = read(face.rgb)
        label = max(probs, key=probs.__getitem__)
        predictions[face.id] = label
        for split in (face.split, "all"):
            total[split] = total.get(split, 0) + 1
            correct[split] = correct.get(split, 0) + int(label == face.label)
        if explain_with is not None:
            from tools.explainer import Explainer

            e = Explainer(explain_with, cache_results=False).explain(face.rgb)
            faith.append(e.faithfulness)
            in_face.append(1.0 - e.regions.get("other", 0.0))
    result = Result(name, correct, total, predictions=predictions)
    if faith:
        result.faithfulness, result.in_face = float(np.mean(faith)), float(np.mean(in_face))
    return result


def configs(models: Sequence[str]) -> list[Config]:
    """Every model at its card's crop and at margins 0.0-0.4, each with and without flip averaging."""
    out = []
    for model in models:
        for margin in (None, 0.0, 0.1, 0.2, 0.3, 0.4):
            for flip in (False, True):
                tag = "card" if margin is None else f"m{margin:.1f}"
                out.append(Config(f"{model} {tag}{' +flip' if flip else ''}", model, margin, None, flip))
    return out


def available_models() -> list[str]:
    """The offline emotion models that load here."""
    names = []
    for name in ("fer-mini-xception", "faceapi-expression"):
        try:
            EmotionClassifier.load(name, device="cpu")
        except Exception:  # noqa: BLE001 - a model that does not load is simply not compared
            continue
        names.append(name)
    return names


def run(split: str = "all", explain: bool = True) -> list[Result]:
    """Evaluates every configuration; returns results sorted by dev accuracy, then held-out."""
    faces = labelled_faces(None if split == "all" else split)
    results: list[Result] = []
    best_single: dict[str, tuple[float, Config]] = {}
    for cfg in configs(available_models()):
        clf = _classifier(cfg.model, cfg.margin, cfg.shift_y)
        result = evaluate(
            faces,
            cfg.name,
            lambda rgb, clf=clf, flip=cfg.flip: basic_probs(clf, rgb, flip),
            explain_with=clf if explain and not cfg.flip else None,
        )
        results.append(result)
        score = result.accuracy("dev")
        if score > best_single.get(cfg.model, (-1.0, cfg))[0]:
            best_single[cfg.model] = (score, cfg)
    if len(best_single) >= 2:
        # The probability average of each model's best dev configuration, with and without flip.
        (_, a), (_, b) = sorted(best_single.values(), key=lambda t: t[1].model)[:2]
        ca, cb = _classifier(a.model, a.margin, a.shift_y), _classifier(b.model, b.margin, b.shift_y)
        for flip in (False, True):

            def read(rgb: np.ndarray, flip: bool = flip) -> dict[str, float]:
                pa, pb = basic_probs(ca, rgb, flip), basic_probs(cb, rgb, flip)
                return {k: (pa[k] + pb[k]) / 2 for k in pa}

            results.append(
                evaluate(faces, f"ensemble [{a.name}] + [{b.name}]{' +flip' if flip else ''}", read)
            )
    results.sort(key=lambda r: (r.accuracy("dev"), r.accuracy("heldout")), reverse=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="all")
    parser.add_argument("--no-explain", action="store_true", help="skip the explanation scores")
    args = parser.parse_args(argv)
    results = run(args.split, explain=not args.no_explain)
    counts = results[0].total
    print(f"faces: dev {counts.get('dev', 0)}, held-out {counts.get('heldout', 0)} (hand-labelled)")
    print(f"{'configuration':<64} {'dev':>6} {'held':>6} {'all':>6} {'faith':>6} {'in-face':>7}")
    for r in results:
        faith = f"{r.faithfulness:6.3f}" if r.faithfulness is not None else "     -"
        inface = f"{r.in_face:7.2f}" if r.in_face is not None else "      -"
        print(
            f"{r.name:<64} {r.accuracy('dev'):6.2f} {r.accuracy('heldout'):6.2f} {r.accuracy('all'):6.2f} "
            f"{faith} {inface}"
        )


if __name__ == "__main__":
    main()
