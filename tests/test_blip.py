"""The BLIP backend with a tiny randomly initialised model saved in a temporary folder.

Nothing here downloads: the model, tokenizer and image processor are built in the test, saved with
``save_pretrained`` and loaded back through the production loader (``FaceQA(backend="blip", ...)``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tools.analysis import AnalysisCache
from tools.blip import BlipVQA, blip_weights_present, face_crop, normalize_answer
from tools.errors import ModelUnavailableError
from tools.vqa import DESCRIBE_QUESTIONS, FaceQA

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
WORDS += "yes no open closed two is the mouth are eyes she smiling what color hair ? person wearing glasses".split()


def build_tiny_blip(folder: Path) -> Path:
    """Writes a tiny random BLIP-VQA model and its processor to ``folder``."""
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForQuestionAnswering,
        BlipImageProcessor,
        BlipProcessor,
    )

    vocab_file = folder.parent / f"{folder.name}-vocab.txt"
    vocab_file.write_text("\n".join(WORDS) + "\n")
    # transformers 5 tokenizers take the vocabulary as ``vocab=`` (``vocab_file=`` is silently ignored).
    tokenizer = BertTokenizer(vocab=str(vocab_file), bos_token="[DEC]")
    assert len(tokenizer) == len(WORDS)
    ids = {word: i for i, word in enumerate(WORDS)}
    config = BlipConfig(
        text_config={
            "vocab_size": len(WORDS),
            "hidden_size": 32,
            "encoder_hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 64,
            "bos_token_id": ids["[DEC]"],
            "sep_token_id": ids["[SEP]"],
            "eos_token_id": ids["[SEP]"],
            "pad_token_id": ids["[PAD]"],
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
    )
    torch.manual_seed(0)
    model = BlipForQuestionAnswering(config).eval()
    processor = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("blip") / "tiny-blip")


@pytest.fixture()
def qa(tiny_blip: Path) -> FaceQA:
    answerer = FaceQA(backend="blip", blip_model=str(tiny_blip), device="cpu", cache=AnalysisCache(maxsize=4))
    assert answerer.blip is not None
    answerer.blip.max_new_tokens = 3  # random weights rarely stop on their own; keep the tests quick
    return answerer


def count_vision_calls(qa: FaceQA) -> list[int]:
    calls: list[int] = []
    assert qa.blip is not None
    qa.blip.model.vision_model.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_tiny_model_loads_through_the_production_loader_and_answers(
    qa: FaceQA, astronaut: np.ndarray
) -> None:
    assert qa.backend_name == "blip"
    answer = qa.ask(astronaut, "is the mouth open?")
    assert answer.backend == "blip" and answer.in_scope
    assert isinstance(answer.text, str) and answer.text
    assert answer.evidence["view"] == "face"
    assert answer.evidence["raw"] is not None
    # The landmarks' reading rides along as a check on BLIP.
    assert answer.evidence["geometry"].startswith("Yes, slightly open")


def test_follow_up_question_reuses_the_image_embedding(
    qa: FaceQA, astronaut: np.ndarray, grace_hopper: np.ndarray
) -> None:
    calls = count_vision_calls(qa)
    qa.ask(astronaut, "is the mouth open?")
    assert len(calls) == 1
    qa.ask(astronaut, "what color is the hair?")
    qa.ask(astronaut, "is she wearing glasses?")
    assert len(calls) == 1  # follow-ups run only the text encoder and decoder
    qa.ask(grace_hopper, "is the mouth open?")
    assert len(calls) == 2  # a new image needs its own embedding


def test_cached_generation_matches_blip_generate(qa: FaceQA, astronaut: np.ndarray) -> None:
    blip = qa.blip
    assert blip is not None
    record = qa.cache.get(astronaut)
    pixels, _ = blip.view(record, 0)
    for question in ("is the mouth open?", "what color is the hair?", "are the eyes open?"):
        inputs = blip.processor(images=Image.fromarray(pixels), text=question, return_tensors="pt")
        reference = blip.model.generate(**inputs, max_new_tokens=blip.max_new_tokens, do_sample=False)
        expected = blip.processor.tokenizer.decode(reference[0], skip_special_tokens=True)
        assert (
            blip.generate(blip.embedding(record, 0), question) == expected
        )  # with cached cross-attention K/V
        assert blip.generate(blip.image_embeds(record, 0), question) == expected  # from the bare embedding


def test_follow_up_does_not_project_the_image_tokens_again(qa: FaceQA, astronaut: np.ndarray) -> None:
    assert qa.blip is not None
    qa.ask(astronaut, "is the mouth open?")
    projections: list[int] = []
    for layer in qa.blip.model.text_encoder.encoder.layer:
        layer.crossattention.self.key.register_forward_hook(lambda *_: projections.append(1))
    qa.ask(astronaut, "what color is the hair?")
    assert projections == []


def test_out_of_scope_and_describe_use_blip(qa: FaceQA, astronaut: np.ndarray) -> None:
    hair = qa.ask(astronaut, "What colour is her hair?")
    assert hair.backend == "blip" and hair.in_scope
    calls = count_vision_calls(qa)
    description = qa.describe(astronaut)
    assert description.backend == "blip"
    assert len(calls) == 0  # the embedding from the question above is reused
    assert set(description.evidence["answers"]) == {topic for topic, _ in DESCRIBE_QUESTIONS}
    # Emotion questions still go to the classifier.
    assert qa.ask(astronaut, "What is she feeling?").backend == "classifier"


def test_concurrent_questions_share_one_embedding(qa: FaceQA, grace_hopper: np.ndarray) -> None:
    calls = count_vision_calls(qa)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(qa.ask(grace_hopper, "is the mouth open?").text)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1 and len(results) == 4
    assert len(calls) == 1


def test_auto_uses_blip_only_when_weights_are_present(tiny_blip: Path, tmp_path: Path) -> None:
    assert FaceQA(backend="auto", blip_model=str(tiny_blip)).backend_name == "blip"
    assert FaceQA(backend="auto", blip_model=str(tmp_path / "empty")).backend_name == "geometry"
    assert FaceQA(backend="auto", blip_model="nobody/no-such-blip").backend_name == "geometry"


def test_missing_weights_give_an_actionable_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACE_AGENT_BLIP_DOWNLOAD", raising=False)
    with pytest.raises(ModelUnavailableError) as info:
        FaceQA(backend="blip", blip_model="nobody/no-such-blip")
    message = str(info.value)
    assert (
        "1.5 GB" in message and "allow_download=True" in message and "FACE_AGENT_BLIP_DOWNLOAD=1" in message
    )
    with pytest.raises(ModelUnavailableError, match="folder"):
        FaceQA(backend="blip", blip_model=str(tmp_path / "missing"))


def test_hub_cache_is_detected_without_the_network(
    tiny_blip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    # The layout huggingface_hub writes: models--owner--name/{refs/main, snapshots/<sha>/...}.
    repo = tmp_path / "models--tiny-org--tiny-blip"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    for file in tiny_blip.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert blip_weights_present("tiny-org/tiny-blip")
    assert not blip_weights_present("tiny-org/other-blip")


def test_download_opt_in_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACE_AGENT_BLIP_DOWNLOAD", "1")
    qa = FaceQA(backend="auto", blip_model="nobody/no-such-blip")
    # The opt-in selects BLIP without loading anything yet: no surprise fetch at construction.
    assert qa.backend_name == "blip" and qa.blip is not None and qa.blip._model is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Yes ", "yes"),
        ("Yeah.", "yes"),
        ("nope", "no"),
        ("two", "2"),
        ("Open!", "open"),
        ("don ' t know", "don't know"),
    ],
)
def test_short_answers_are_normalised(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


def test_blip_sees_the_enlarged_face_or_the_whole_small_photo() -> None:
    photo = np.zeros((400, 400, 3), np.uint8)
    crop, view = face_crop(photo, (150, 150, 210, 210))
    assert view == "face" and crop.shape[0] == crop.shape[1] == round(1.7 * 60)
    whole, view = face_crop(photo, (20, 20, 380, 380))
    assert view == "whole" and whole.shape == photo.shape


def test_blip_vqa_loads_lazily(tiny_blip: Path) -> None:
    blip = BlipVQA(str(tiny_blip), device="cpu")
    assert blip._model is None
    blip.load()
    assert blip._model is not None


def test_cli_asks_blip_from_a_local_folder(tiny_blip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tests.conftest import GRACE_HOPPER
    from tools.cli import main

    argv = ["ask", str(GRACE_HOPPER), "what color is the hair?", "--blip-model", str(tiny_blip), "--json"]
    assert main([*argv, "--backend", "blip", "--device", "cpu"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["backend"] == "blip" and payload["evidence"]["model"] == str(tiny_blip)


def test_embeddings_of_all_images_share_one_memory_budget(
    qa: FaceQA, astronaut: np.ndarray, grace_hopper: np.ndarray, monkeypatch
) -> None:
    from tools import blip as blip_module

    budget = blip_module._EmbeddingBudget(max_bytes=1)  # holds only the newest embedding
    monkeypatch.setattr(blip_module, "_EMBEDDINGS", budget)
    calls = count_vision_calls(qa)
    first = qa.ask(astronaut, "is the mouth open?")
    qa.ask(astronaut, "what color is the hair?")
    assert len(calls) == 1 and budget.used > 0
    qa.ask(grace_hopper, "is the mouth open?")  # evicts the astronaut's embedding
    assert len(calls) == 2
    again = qa.ask(astronaut, "is the mouth open?")
    assert len(calls) == 3 and again.text == first.text  # encoded again, the same answer
    used = budget.used
    qa.cache.clear()
    import gc

    gc.collect()
    assert budget.used < used  # an image that is gone releases its share
