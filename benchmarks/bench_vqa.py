"""BLIP follow-up questions: time of a question on a new image vs a follow-up on the same image.

``python -m benchmarks.bench_vqa``. A BLIP-VQA-base-sized model with random weights (the real
weights cannot be downloaded here; timing does not depend on them) answers through the production
path (``FaceQA.ask``). The first question on an image runs the vision encoder, the text encoder and
the decoder; a follow-up reuses the image embedding cached on the image's record, so it should
cost at most 0.35 of the first (measured components on 2 CPU cores: vision 0.53 s, text 0.10 s,
whole generate 0.74 s). Both are limited to ``MAX_NEW_TOKENS`` answer tokens.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

MAX_NEW_TOKENS = 5
REPEATS = 5
TARGET_RATIO = 0.35
QUESTIONS = ("is the mouth open?", "what color is the hair?", "is the person smiling?")
_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
_VOCAB += sorted({w for q in QUESTIONS for w in q.replace("?", " ?").split()} | {"yes", "no"})


def build_base_blip() -> tuple[Any, Any]:
    """A BLIP-VQA-base-sized model (``BlipConfig()`` defaults) with random weights and a tiny vocab.

    Returns:
        (``BlipForQuestionAnswering``, ``BlipProcessor``).
    """
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForQuestionAnswering,
        BlipImageProcessor,
        BlipProcessor,
    )

    with tempfile.TemporaryDirectory() as folder:
        vocab = Path(folder) / "vocab.txt"
        vocab.write_text("\n".join(_VOCAB) + "\n")
        tokenizer = BertTokenizer(vocab=str(vocab), bos_token="[DEC]")
    torch.manual_seed(0)
    model = BlipForQuestionAnswering(BlipConfig()).eval()
    return model, BlipProcessor(image_processor=BlipImageProcessor(), tokenizer=tokenizer)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; exit code 1 when the ratio misses the target."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_vqa", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads; 0 (default) = torch's choice on an idle machine, 1 on a busy one "
        "(1-minute load >= cores): oversubscribed OpenMP threads make the decoder's small per-token "
        "matmuls up to 10x slower and the timings meaningless.",
    )
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"timed repeats (default {REPEATS})")
    args = parser.parse_args(argv)
    busy = os.getloadavg()[0] >= (os.cpu_count() or 1)
    threads = args.threads or (1 if busy else 0)
    if threads:
        torch.set_num_threads(threads)
    import skimage.data

    from tools.analysis import AnalysisCache
    from tools.blip import BlipVQA
    from tools.vqa import FaceQA

    start = time.perf_counter()
    model, processor = build_base_blip()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(
        f"model: BLIP-VQA base size, random weights, {params:.0f} M parameters (built in {time.perf_counter() - start:.1f} s)"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"torch threads: {torch.get_num_threads()} of {os.cpu_count()} cores (load average {load}), ", end=""
    )
    print(f"max_new_tokens: {MAX_NEW_TOKENS}, repeats: {args.repeats}")
    if busy and not args.threads:
        print("the machine is busy: timing with 1 thread (pass --threads N to override)")
    blip = BlipVQA.from_model(
        model, processor, model_id="bench-blip-base", device="cpu", max_new_tokens=MAX_NEW_TOKENS
    )
    qa = FaceQA(blip=blip, cache=AnalysisCache(maxsize=2))
    record = qa.cache.get(skimage.data.astronaut())
    _ = record.faces  # detection is shared by every tool and not part of this comparison
    key = ("blip", blip.model_id, 0)

    qa.ask(record, QUESTIONS[0])  # warm-up: first-call allocations, lazy imports
    first, follow = [], []
    for i in range(args.repeats):
        question = QUESTIONS[i % len(QUESTIONS)]
        record.forget(key)  # a new image: the embedding must be computed
        t0 = time.perf_counter()
        qa.ask(record, question)
        first.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        qa.ask(record, question)  # a follow-up on the same image
        follow.append(time.perf_counter() - t0)
    first_s, follow_s = statistics.median(first), statistics.median(follow)
    ratio = follow_s / first_s
    print(
        f"first question on an image (vision + text): median {first_s:.3f} s  ({', '.join(f'{t:.2f}' for t in first)})"
    )
    print(
        f"follow-up on the same image (text only):    median {follow_s:.3f} s  ({', '.join(f'{t:.2f}' for t in follow)})"
    )
    verdict = "OK" if ratio <= TARGET_RATIO else "MISSED"
    print(f"follow-up / first = {ratio:.2f} (target <= {TARGET_RATIO}) {verdict}")
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
