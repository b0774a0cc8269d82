"""Dataset adapters on small trees generated in the exact official layouts, including bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.labels import BASIC7, FER2013, RAFCE_COMPOUND14, RAFDB_COMPOUND11
from training.datasets import RAFCE_FILE_ORDER, DatasetError, Split, detect_kind, load_dataset
from training.preprocess import prepare_image, prepare_split


def _jpg(path: Path, size: int = 100, value: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((size, size, 3), value, np.uint8))


def _rafdb(root: Path, subset: str, rows: list[tuple[str, int]], skip_images: tuple[str, ...] = ()) -> Path:
    folder = root / subset
    (folder / "EmoLabel").mkdir(parents=True)
    (folder / "EmoLabel" / "list_patition_label.txt").write_text("".join(f"{n} {lbl}\n" for n, lbl in rows))
    for name, _ in rows:
        if name not in skip_images:
            _jpg(folder / "Image" / "aligned" / f"{Path(name).stem}_aligned.jpg")
    return root


BASIC_ROWS = [
    ("train_00001.jpg", 5),
    ("train_00002.jpg", 1),
    ("train_00003.jpg", 4),
    ("test_0001.jpg", 1),
    ("test_0002.jpg", 7),
]


# --- RAF-DB basic ---------------------------------------------------------------------------------


def test_rafdb_basic_official_layout(tmp_path):
    root = _rafdb(tmp_path / "RAF-DB", "basic", BASIC_ROWS)
    for given in (root, root / "basic"):
        data = load_dataset("rafdb-basic", given)
        assert data.labels == list(BASIC7) and data.label_set == "basic7"
        assert len(data.splits["train"]) == 3 and len(data.splits["test"]) == 2
        # 1-based official labels: 5 = Sadness, 1 = Surprise, 4 = Happiness, 7 = Neutral.
        assert [BASIC7[t] for t in data.splits["train"].targets] == ["sad", "surprise", "happy"]
        assert [BASIC7[t] for t in data.splits["test"].targets] == ["surprise", "neutral"]
        assert data.splits["train"].sources[0].name == "train_00001_aligned.jpg"
    assert detect_kind(root) == "rafdb-basic"
    assert load_dataset("auto", root).kind == "rafdb-basic"
    assert "train: 3 images" in load_dataset("auto", root).summary()


def test_rafdb_basic_wrong_root(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("rafdb-basic", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="list_patition_label"):
        load_dataset("rafdb-basic", tmp_path / "empty")
    with pytest.raises(DatasetError, match="Cannot tell"):
        load_dataset("auto", tmp_path / "empty")


def test_rafdb_basic_missing_image(tmp_path):
    root = _rafdb(tmp_path, "basic", BASIC_ROWS, skip_images=("test_0002.jpg",))
    with pytest.raises(DatasetError, match=r"1 image\(s\) listed .* missing .*test_0002"):
        load_dataset("rafdb-basic", root)


def test_rafdb_basic_missing_image_folder(tmp_path):
    root = tmp_path
    (root / "basic" / "EmoLabel").mkdir(parents=True)
    (root / "basic" / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 1\n")
    with pytest.raises(DatasetError, match="Image/aligned"):
        load_dataset("rafdb-basic", root)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("train_00009.jpg 8", "unknown label 8"),
        ("train_00009.jpg 0", "unknown label 0"),
        ("train_00009.jpg happy", "not a number"),
        ("train_00009.jpg", "expected 'name label'"),
        ("val_0001.jpg 3", "train_ or test_"),
    ],
)
def test_rafdb_basic_bad_lines(tmp_path, line, message):
    root = _rafdb(tmp_path, "basic", BASIC_ROWS)
    listing = root / "basic" / "EmoLabel" / "list_patition_label.txt"
    listing.write_text(listing.read_text() + line + "\n")
    _jpg(root / "basic" / "Image" / "aligned" / f"{Path(line.split()[0]).stem}_aligned.jpg")
    with pytest.raises(DatasetError, match=message):
        load_dataset("rafdb-basic", root)


# --- RAF-DB compound and RAF-CE -------------------------------------------------------------------


def test_rafdb_compound_layout_and_unknown_label(tmp_path):
    rows = [("train_0001.jpg", 1), ("train_0002.jpg", 11), ("test_0001.jpg", 6)]
    root = _rafdb(tmp_path / "ok", "compound", rows)
    data = load_dataset("auto", root)
    assert data.kind == "rafdb-compound" and data.labels == list(RAFDB_COMPOUND11)
    assert [data.labels[t] for t in data.splits["train"].targets] == [
        "happily_surprised",
        "disgustedly_surprised",
    ]
    bad = _rafdb(tmp_path / "bad", "compound", [*rows, ("train_0003.jpg", 12)])
    with pytest.raises(DatasetError, match="unknown label 12"):
        load_dataset("rafdb-compound", bad)


def _rafce_release(root: Path, rows: list[tuple[str, int, int]], one_based: bool = False) -> Path:
    root.mkdir(parents=True)
    (root / "RAFCE_emolabel.txt").write_text("".join(f"{n} {lbl + one_based}\n" for n, lbl, _ in rows))
    (root / "RAFCE_partition.txt").write_text("".join(f"{n} {p}\n" for n, _, p in rows))
    for name, _, _ in rows:
        _jpg(root / "aligned" / f"{Path(name).stem}_aligned.jpg")
    return root


def test_rafce_release_layout(tmp_path):
    # 0-based labels in RAF-CE's own order; partition 0 train, 1 test, 2 validation.
    rows = [
        ("0001.jpg", 0, 0),
        ("0002.jpg", 8, 0),
        ("0003.jpg", 13, 1),
        ("0004.jpg", 12, 2),
        ("0005.jpg", 11, 1),
    ]
    data = load_dataset("auto", _rafce_release(tmp_path / "rafce", rows))
    assert (
        data.kind == "rafce"
        and data.labels == list(RAFCE_COMPOUND14)
        and data.label_set == "rafce-compound14"
    )
    names = {split: [data.labels[t] for t in s.targets] for split, s in data.splits.items()}
    assert names["train"] == ["happily_surprised", "fearfully_disgusted"]
    assert names["test"] == ["happily_sad", "disgustedly_surprised"]
    assert names["val"] == ["happily_fearful"]
    assert RAFCE_FILE_ORDER[8] == "fearfully_disgusted" == data.labels[8]  # the file's order is the model's
    # The same file with 1-based labels (a 14 and no 0) reads the same.
    one = load_dataset(
        "rafce", _rafce_release(tmp_path / "one", [*rows, ("0006.jpg", 13, 0)], one_based=True)
    )
    assert [one.labels[t] for t in one.splits["train"].targets][:2] == names["train"]


def test_rafce_errors(tmp_path):
    root = _rafce_release(tmp_path / "r", [("0001.jpg", 0, 0), ("0002.jpg", 1, 1)])
    (root / "RAFCE_partition.txt").unlink()
    with pytest.raises(DatasetError, match="RAFCE_partition.txt is missing"):
        load_dataset("rafce", root)
    bad = _rafce_release(tmp_path / "bad", [("0001.jpg", 0, 0), ("0002.jpg", 1, 1)])
    (bad / "RAFCE_emolabel.txt").write_text("0001.jpg 0\n0002.jpg 15\n")
    with pytest.raises(DatasetError, match="unknown label 15"):
        load_dataset("rafce", bad)


def test_rafce_compound_style_layout(tmp_path):
    rows = [("train_0001.jpg", 14), ("train_0002.jpg", 9), ("test_0001.jpg", 1)]
    data = load_dataset("rafce", _rafdb(tmp_path, "compound", rows))
    assert [data.labels[t] for t in data.splits["train"].targets] == ["happily_sad", "fearfully_disgusted"]


# --- FER-2013 -------------------------------------------------------------------------------------


def _fer_csv(path: Path, rows: list[tuple[object, object, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        writer.writerows(rows)
    return path


def _pixels(value: int = 100, count: int = 48 * 48) -> str:
    return " ".join([str(value)] * count)


def test_fer2013_csv(tmp_path):
    rows = [
        (3, _pixels(10), "Training"),
        (0, _pixels(20), "Training"),
        (6, _pixels(30), "PublicTest"),
        (5, _pixels(40), "PrivateTest"),
    ]
    path = _fer_csv(tmp_path / "fer" / "fer2013.csv", rows)
    for given in (path, path.parent):
        data = load_dataset("auto", given)
        assert data.kind == "fer2013" and data.labels == list(FER2013)
        assert [data.labels[t] for t in data.splits["train"].targets] == ["happy", "angry"]
        assert set(data.splits) == {"train", "val", "test"}
        first = data.splits["train"].sources[0]
        assert (
            isinstance(first, np.ndarray)
            and first.shape == (48, 48)
            and first.dtype == np.uint8
            and first[0, 0] == 10
        )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(7, _pixels(), "Training")], "unknown emotion 7"),
        ([(1, _pixels(count=100), "Training")], "2304 pixel"),
        ([(1, _pixels(), "Holdout")], "unknown Usage"),
        ([(1, _pixels(300), "Training")], "0..255"),
    ],
)
def test_fer2013_bad_rows(tmp_path, rows, message):
    path = _fer_csv(tmp_path / "fer2013.csv", rows)
    with pytest.raises(DatasetError, match=message):
        load_dataset("fer2013", path)


def test_fer2013_missing_file_and_columns(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="No fer2013.csv"):
        load_dataset("fer2013", tmp_path / "empty")
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels\n1,2 3\n")
    with pytest.raises(DatasetError, match="usage"):
        load_dataset("fer2013", path)


# --- image folders --------------------------------------------------------------------------------


def test_folder_known_labels_are_normalised_and_ordered(tmp_path):
    for split, names in (
        ("train", ["Happiness", "Sadness", "surprised"]),
        ("test", ["Happiness", "Sadness"]),
    ):
        for name in names:
            _jpg(tmp_path / split / name / "a.jpg", 32)
            _jpg(tmp_path / split / name / "b.png", 32)
    (tmp_path / "train" / "Sadness" / "notes.txt").write_text("not an image")
    data = load_dataset("auto", tmp_path)
    assert data.kind == "folder"
    assert data.labels == ["surprise", "happy", "sad"]  # BASIC7 order
    assert data.label_set == "custom"  # only three of the seven
    assert len(data.splits["train"]) == 6 and data.counts("test") == [0, 2, 2]


def test_folder_custom_labels_sorted(tmp_path):
    for split in ("train", "test"):
        for name in ("zebra", "apple"):
            _jpg(tmp_path / split / name / "x.jpg", 32)
    data = load_dataset("folder", tmp_path)
    assert data.labels == ["apple", "zebra"] and data.label_set == "custom"


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="no train/"):
        load_dataset("folder", tmp_path)
    _jpg(tmp_path / "train" / "happy" / "a.jpg", 32)
    with pytest.raises(DatasetError, match="no test/"):
        load_dataset("folder", tmp_path)
    _jpg(tmp_path / "test" / "joyful_but_unknown" / "a.jpg", 32)
    with pytest.raises(DatasetError, match="unknown label"):
        load_dataset("folder", tmp_path)
    with pytest.raises(DatasetError, match="Unknown dataset kind"):
        load_dataset("imagenet", tmp_path)


def test_limit_keeps_every_class(tmp_path):
    for name in ("a", "b", "c"):
        for i in range(5):
            _jpg(tmp_path / "train" / name / f"{i}.jpg", 16)
        _jpg(tmp_path / "test" / name / "0.jpg", 16)
    data = load_dataset("folder", tmp_path, limit=6)
    assert data.counts("train") == [2, 2, 2]


# --- preparation (alignment, fallback, cache) -----------------------------------------------------


def test_prepare_resize_without_alignment_and_cache(tmp_path):
    split = Split([np.full((48, 48), 200, np.uint8), np.zeros((48, 48), np.uint8)], [1, 0])
    prepared = prepare_split(split, 32, {"method": "none"}, channels=3, cache_dir=tmp_path, name="train")
    assert prepared.images.shape == (2, 32, 32, 3) and prepared.images.dtype == np.uint8
    assert prepared.targets.tolist() == [1, 0] and prepared.fallbacks == 0
    assert len(list(tmp_path.glob("train-*.npz"))) == 1
    again = prepare_split(split, 32, {"method": "none"}, channels=3, cache_dir=tmp_path, name="train")
    np.testing.assert_array_equal(again.images, prepared.images)
    gray = prepare_split(split, 32, {"method": "none"}, channels=1)
    assert gray.images.shape == (2, 32, 32, 1)


def test_prepare_aligns_real_faces_and_counts_fallbacks():
    skimage_data = pytest.importorskip("skimage.data")
    face = np.ascontiguousarray(skimage_data.astronaut()[20:220, 140:320])
    alignment = {"method": "similarity5", "margin": 0.25, "shift_y": 0.0}
    crop, fallback = prepare_image(face, 64, alignment)
    assert crop.shape == (64, 64, 3) and not fallback
    coffee = skimage_data.coffee()  # no face: a plain resize, counted
    resized, fallback = prepare_image(coffee, 64, alignment)
    assert resized.shape == (64, 64, 3) and fallback
    prepared = prepare_split(Split([face, coffee], [0, 1]), 64, alignment)
    assert prepared.fallbacks == 1
