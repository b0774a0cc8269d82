"""What understanding one message costs: ``python -m benchmarks.bench_nlu``.

Prints, per message (median over varied chat messages, each understood once, so no cache helps):
the rules alone (``rules.parse``), the sentence embedding (MiniLM int8 in ONNX Runtime, one thread),
the learned classifiers on top (featurizers + two linear models), and the whole ``understand``;
the load of the model once per process; and the ratios. The target is <= 50 ms a message on this
machine; the script says whether it is met (it is a measurement, not a test).
"""

from __future__ import annotations

import os
import time

from agent.understanding import understand
from agent.understanding.encoder import default_encoder
from agent.understanding.nlu import default_model, normalize
from agent.understanding.rules import parse

MESSAGES = [
    "what is she feeling?",
    "yo how many ppl in this pic",
    "why did you predict that, and is the mouth open?",
    "could you redo the heatmap for fear instead of surprise, using grad-cam++?",
    "how good-looking is he",
    "is she depressed?",
    "does it work offline and is my photo stored anywhere?",
    "and the curly haired guy in the middle at the back?",
    "Between the two photos, who has the wider-open eyes?",
    "what's going on at 0:05 in the clip",
    "thanks, that's all",
    "Hi! I'm preparing a seminar talk on Ekman's basic emotions. What emotion does this face show, and how "
    "confident is the model about it?",
]
TARGET_MS = 50.0


def _median_ms(fn, texts: list[str], rounds: int) -> float:
    times = []
    for r in range(rounds):
        for i, text in enumerate(texts):
            unique = f"{text} {'!' * (r * len(texts) + i)}"  # never the same text twice
            start = time.perf_counter()
            fn(unique)
            times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2]


def main(rounds: int = 5) -> int:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# understanding one message ({os.cpu_count()} cores, load average {load})")
    start = time.perf_counter()
    model, encoder = default_model(), default_encoder()
    loaded = time.perf_counter() - start
    understand("warm up")
    rules = _median_ms(parse, MESSAGES, rounds)
    embed = _median_ms(lambda t: encoder.encode([normalize(t)]), MESSAGES, rounds)
    learned = _median_ms(lambda t: model.interpret(t), MESSAGES, rounds)
    whole = _median_ms(understand, MESSAGES, rounds)
    print(f"load once per process (model arrays + ONNX session): {1000 * loaded:.0f} ms")
    print(f"rules alone (slots and a first guess):            {rules:6.2f} ms")
    print(f"sentence embedding (MiniLM int8, one thread):      {embed:6.2f} ms")
    print(f"learned reading (embedding + n-grams + regex + LR): {learned:6.2f} ms")
    print(f"understand() in all:                               {whole:6.2f} ms")
    print(f"ratios: understand / rules {whole / rules:.1f}x, embedding share {100 * embed / whole:.0f}%")
    met = whole <= TARGET_MS
    print(f"target <= {TARGET_MS:.0f} ms a message: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
