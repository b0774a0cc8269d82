"""Training end to end on the smoke preset: train, evaluate, export, load in the classifier, resume."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import training.evaluate as evaluate_mod
import training.train as train_mod
from tools.errors import InvalidRequestError, ModelUnavailableError
from tools.models.checkpoint import load_checkpoint, read_card
from training.config import PRESETS, TrainConfig, parse_config
from training.report import compute_metrics, markdown_report
from training.synthetic import SYNTHETIC_LABELS, make_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def _few_threads():
    # One thread: on a shared 2-core machine, more OpenMP threads spin against other processes.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory) -> Path:
    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), seed=0)


def _smoke(out: Path, data: Path, **overrides) -> TrainConfig:
    return parse_config(
        ["--preset", "smoke", "--out-dir", str(out), "--data", str(data)]
        + [f"--{key.replace('_', '-')}={value}" for key, value in overrides.items()]
    )


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, smoke_data):
    out = tmp_path_factory.mktemp("runs")
    return train_mod.train(_smoke(out, smoke_data)), smoke_data


# --- configuration ------------------------------------------------------------------------------


def test_config_precedence_defaults_preset_file_cli(tmp_path):
    assert TrainConfig().input_size == 112 and TrainConfig().pretrained == "auto"
    config_file = tmp_path / "c.json"
    config_file.write_text(json.dumps({"preset": "smoke", "epochs": 7, "lr": 0.01}))
    config = parse_config(
        ["--config", str(config_file), "--lr", "0.02", "--compile", "--amp", "false", "--batch_size", "8"]
    )
    assert config.name == "smoke" and config.input_size == PRESETS["smoke"]["input_size"]
    assert (config.epochs, config.lr, config.batch_size) == (7, 0.02, 8)
    assert config.compile is True and config.amp is False
    assert parse_config(["--from-scratch"]).pretrained == "false"
    assert config.alignment == {"method": "none"}
    assert TrainConfig(align_margin=0.3).alignment == {"method": "similarity5", "margin": 0.3, "shift_y": 0.0}


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"epochz": 3}))
    with pytest.raises(InvalidRequestError, match="epochz"):
        parse_config(["--config", str(bad)])
    with pytest.raises(InvalidRequestError, match="balance"):
        TrainConfig(balance="magic")
    with pytest.raises(SystemExit):
        parse_config(["--epochs", "many"])


def test_shipped_config_files_parse():
    smoke = parse_config(["--config", str(REPO / "configs" / "smoke.json")])
    assert smoke.dataset == "synthetic" and smoke.align == "none" and smoke.pretrained == "false"
    rafdb = parse_config(["--config", str(REPO / "configs" / "rafdb_basic.json")])
    assert rafdb.dataset == "rafdb-basic" and rafdb.align == "similarity5"


def test_warmup_then_cosine_schedule():
    factor = train_mod._lr_lambda(total_steps=100, warmup_steps=10, min_ratio=0.01)
    values = [factor(s) for s in range(100)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(values[9:]))
    assert values[-1] == pytest.approx(0.01, abs=0.01)


def test_metrics_and_report():
    labels = ["a", "b", "c"]
    metrics = compute_metrics(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), labels)
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["per_class"]["b"] == {
        "precision": pytest.approx(2 / 3, abs=1e-4),
        "recall": 1.0,
        "f1": 0.8,
        "support": 2,
    }
    assert metrics["per_class"]["c"]["f1"] == 0.0
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3, abs=1e-4)
    assert metrics["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    text = markdown_report(
        "m", labels, {"test": metrics, "train": compute_metrics(np.arange(3), np.arange(3), labels)}
    )
    assert "Train/test gap: 40.0 points" in text and "| b |" in text


# --- the smoke run ------------------------------------------------------------------------------


@pytest.mark.slow
def test_smoke_trains_evaluates_and_exports(smoke_run):
    result, _ = smoke_run
    run = result.run_dir
    assert not result.interrupted and result.epochs_done == PRESETS["smoke"]["epochs"]
    assert json.loads((run / "config.json").read_text())["name"] == "smoke"
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == list(range(1, result.epochs_done + 1))
    assert list((run / "tb").glob("events.out.tfevents.*"))
    for name in ("metrics.json", "confusion_matrix.png", "confusion_matrix.csv", "report.md"):
        assert (run / "eval" / name).is_file()
    card = read_card(result.best_dir)
    assert sorted(card.labels) == sorted(SYNTHETIC_LABELS)
    assert card.alignment == {"method": "none"} and card.input_size == 48
    provenance = card.provenance
    assert provenance["dataset"] == "synthetic" and provenance["epoch"] == result.best_epoch
    assert provenance["config"]["name"] == "smoke" and provenance["best_score"] == result.best_score
    test = provenance["metrics"]["test"]
    chance = 1 / len(card.labels)
    assert test["accuracy"] >= 3 * chance  # held-out split, never seen in training or selection
    assert set(test["per_class_recall"]) == set(card.labels)
    assert "train" in provenance["metrics"]
    assert (run / "eval" / "report.md").read_text().count("Train/test gap") == 1


@pytest.mark.slow
def test_exported_checkpoint_predicts_with_trained_labels(smoke_run):
    from tools.classifier import EmotionClassifier

    result, data = smoke_run
    classifier = EmotionClassifier.load(result.best_dir, device="cpu")
    assert sorted(classifier.labels) == sorted(SYNTHETIC_LABELS)
    hits = 0
    for label in SYNTHETIC_LABELS:
        path = sorted((data / "test" / label).glob("*.png"))[0]
        predictions = classifier.predict(path)
        assert len(predictions) == 1 and predictions[0].label in SYNTHETIC_LABELS
        assert set(predictions[0].probs) == set(SYNTHETIC_LABELS)
        assert sum(predictions[0].probs.values()) == pytest.approx(1.0, abs=1e-4)
        hits += predictions[0].label == label
    assert hits >= 3


_LEAN_CLASSIFY = """
import json, sys
from tools.classifier import EmotionClassifier

classifier = EmotionClassifier.load(sys.argv[1])
predictions = classifier.predict(sys.argv[2])
print(json.dumps({"backend": classifier.backend, "label": predictions[0].label, "probs": predictions[0].probs,
                  "torch": "torch" in sys.modules}))
"""


@pytest.mark.slow
def test_exported_checkpoint_serves_from_its_onnx_graph_without_torch(smoke_run):
    from tools.classifier import EmotionClassifier

    result, data = smoke_run
    assert (result.best_dir / "model.onnx").is_file()
    assert not (result.run_dir / "last" / "model.onnx").exists()  # the resume state has no graph
    photo = sorted((data / "test" / SYNTHETIC_LABELS[0]).glob("*.png"))[0]
    out = subprocess.run(
        [sys.executable, "-c", _LEAN_CLASSIFY, str(result.best_dir), str(photo)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lean = json.loads(out.stdout.strip().splitlines()[-1])
    assert lean["backend"] == "onnx" and lean["torch"] is False
    # The same reading as the torch network of the same checkpoint.
    reference = EmotionClassifier(*load_checkpoint(result.best_dir), device="cpu")
    assert reference.backend == "onnx"  # its own in-memory export; compare with torch itself:
    reference._onnx = False
    want = reference.predict(photo)[0]
    assert lean["label"] == want.label
    assert lean["probs"] == pytest.approx(want.probs, abs=1e-4)


@pytest.mark.slow
def test_stale_graph_is_not_used(smoke_run, tmp_path):
    import shutil

    from tools.classifier import EmotionClassifier
    from tools.models.checkpoint import checkpoint_graph, save_checkpoint

    result, _ = smoke_run
    folder = tmp_path / "copy"
    shutil.copytree(result.best_dir, folder)
    assert checkpoint_graph(folder) is not None
    model, spec = load_checkpoint(folder)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # other weights, the old graph left beside them
    graph = (folder / "model.onnx").read_bytes()
    save_checkpoint(folder, model, spec)
    assert not (folder / "model.onnx").exists()  # saving new weights removes the old graph
    (folder / "model.onnx").write_bytes(graph)
    assert checkpoint_graph(folder) is None
    classifier = EmotionClassifier.load(folder)
    assert classifier._model is not None  # the torch network of the new weights, not the old graph


@pytest.mark.slow
def test_evaluate_cli_writes_reports_and_card_metrics(smoke_run, tmp_path, capsys):
    result, data = smoke_run
    out = tmp_path / "eval"
    code = evaluate_mod.main(
        [
            "--checkpoint",
            str(result.best_dir),
            "--data",
            str(data),
            "--dataset",
            "folder",
            "--out",
            str(out),
            "--update-card",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert "test: accuracy" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"test", "train", "labels"}
    assert metrics["test"]["count"] == 80 and metrics["train"]["count"] == 200
    header = (out / "confusion_matrix.csv").read_text().splitlines()[0]
    assert header.split(",")[1:] == metrics["labels"]
    assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Train/test gap" in (out / "report.md").read_text()
    assert read_card(result.best_dir).provenance["metrics"]["train"]["count"] == 200
    assert evaluate_mod.main(["--checkpoint", str(result.best_dir), "--data", str(tmp_path / "none")]) == 2


@pytest.mark.slow
def test_resume_continues_from_last_epoch_exactly(smoke_run, tmp_path):
    straight, data = smoke_run
    epochs = PRESETS["smoke"]["epochs"]
    first = train_mod.train(_smoke(tmp_path, data, stop_after_epoch=3))
    assert first.interrupted and first.epochs_done == 3 and not first.metrics
    assert torch.load(first.last_dir / train_mod.STATE_FILE, weights_only=True)["epoch"] == 3
    resumed = train_mod.train(_smoke(tmp_path, data, resume=True))
    assert not resumed.interrupted and resumed.epochs_done == epochs
    history = [
        json.loads(line)["epoch"] for line in (resumed.run_dir / "history.jsonl").read_text().splitlines()
    ]
    assert history == list(range(1, epochs + 1))
    # Model, optimiser, schedule, sampler and RNG were restored: the same weights as one straight run.
    a = load_file(str(straight.last_dir / "model.safetensors"))
    b = load_file(str(resumed.last_dir / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_resume_without_a_run_is_an_error(tmp_path, smoke_data):
    with pytest.raises(InvalidRequestError, match="Nothing to resume"):
        train_mod.train(_smoke(tmp_path, smoke_data, resume=True, limit=8))


def test_pretrained_required_but_missing(tmp_path, smoke_data, monkeypatch):
    monkeypatch.setattr(train_mod, "imagenet_weights_path", lambda: None)
    with pytest.raises(ModelUnavailableError, match="--pretrained false"):
        train_mod.train(_smoke(tmp_path, smoke_data, pretrained="true", limit=8))


def test_auto_pretrained_falls_back_with_warning(tmp_path, smoke_data, monkeypatch, capsys):
    monkeypatch.setattr(train_mod, "imagenet_weights_path", lambda: None)
    config = _smoke(tmp_path, smoke_data, pretrained="auto", limit=16, epochs=1, batch_size=8)
    assert train_mod._imagenet_init(config, train_mod._Dist()) is False
    assert "WARNING: ImageNet ResNet-18 weights not found" in capsys.readouterr().out


def test_gray_sampler_mix_and_heavy_augmentation(tmp_path, smoke_data):
    config = _smoke(
        tmp_path,
        smoke_data,
        channels=1,
        balance="sampler",
        mixup=0.2,
        cutmix=1.0,
        augment="randaugment",
        random_erasing=0.5,
        epochs=1,
        limit=24,
        batch_size=8,
        input_size=32,
        cache=True,
    )
    result = train_mod.train(config)
    model, spec = load_checkpoint(result.best_dir)
    assert spec.channels == 1 and spec.mean == [0.5] and spec.input_size == 32
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, len(SYNTHETIC_LABELS))
    assert list((result.run_dir / "cache").glob("train-*.npz"))


def test_replace_keeps_config_valid():
    with pytest.raises(InvalidRequestError):
        replace(TrainConfig(), channels=2)


# --- DDP ----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_torchrun_two_processes_write_one_checkpoint(tmp_path, smoke_data):
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "training.train",
        "--preset",
        "smoke",
        "--out-dir",
        str(tmp_path),
        "--data",
        str(smoke_data),
        "--epochs",
        "2",
        "--threads",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = tmp_path / "smoke"
    assert sorted(p.parent.name for p in run.rglob("model_card.json")) == ["best", "last"]
    assert len(list((run / "tb").glob("events.out.tfevents.*"))) == 1
    assert [json.loads(line)["epoch"] for line in (run / "history.jsonl").read_text().splitlines()] == [1, 2]
    card = read_card(run / "best")
    assert card.provenance["world_size"] == 2 and "test" in card.provenance["metrics"]
    assert done.stdout.count("exported") == 1


def test_aligned_training_on_real_faces_loads_in_classifier(tmp_path):
    """The default alignment path: landmarks on each photo, aligned crops, then the classifier."""
    skimage_data = pytest.importorskip("skimage.data")
    import cv2
    from matplotlib import cbook

    from tools.classifier import EmotionClassifier

    astronaut = skimage_data.astronaut()[10:230, 130:330]
    hopper = cv2.cvtColor(
        cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))), cv2.COLOR_BGR2RGB
    )
    for split in ("train", "test"):
        for label, face in (("happy", astronaut), ("neutral", hopper)):
            for i, image in enumerate((face, face[:, ::-1])):
                path = tmp_path / "data" / split / label / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    config = TrainConfig(
        name="aligned",
        out_dir=str(tmp_path / "runs"),
        dataset="folder",
        data=str(tmp_path / "data"),
        pretrained="false",
        input_size=64,
        epochs=1,
        batch_size=4,
        val_fraction=0.0,
        workers=0,
        progress=False,
        cache=True,
    )
    result = train_mod.train(config)
    card = read_card(result.best_dir)
    assert card.alignment["method"] == "similarity5" and card.labels == ["happy", "neutral"]
    assert card.provenance["alignment_fallbacks"] == {"train": 0, "val": 0, "test": 0}
    predictions = EmotionClassifier.load(result.best_dir, device="cpu").predict(astronaut)
    assert predictions[0].label in ("happy", "neutral") and set(predictions[0].probs) == {"happy", "neutral"}


def test_public_names_are_pinned():
    import training

    assert training.__all__ == sorted(
        [
            "DatasetError",
            "LabelledDataset",
            "PRESETS",
            "TrainConfig",
            "TrainResult",
            "evaluate_checkpoint",
            "load_dataset",
            "make_synthetic_dataset",
            "parse_config",
        ]
    )
    assert all(getattr(training, name) is not None for name in training.__all__)
