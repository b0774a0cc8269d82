"""Dataset adapters: each official layout becomes labelled splits of image sources.

Supported layouts (``kind``):

- ``rafdb-basic``: RAF-DB basic. ``basic/EmoLabel/list_patition_label.txt`` (lines
  ``train_00001.jpg 5``; labels 1-7 = Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral,
  the order of ``tools.labels.BASIC7``) and ``basic/Image/aligned/train_00001_aligned.jpg``. The
  split comes from the ``train_``/``test_`` file-name prefix. The root may be the RAF-DB folder
  (holding ``basic/``) or ``basic/`` itself.
- ``rafdb-compound``: RAF-DB compound, the same layout under ``compound/`` with labels 1-11
  (``tools.labels.RAFDB_COMPOUND11``).
- ``rafce``: RAF-CE, 14 compound classes, in either of two layouts:
  (a) the RAF-CE release: ``RAFCE_emolabel.txt`` (``0001.jpg 3``, labels 0-13 in RAF-CE's own
  order, ``RAFCE_FILE_ORDER``), ``RAFCE_partition.txt`` (``0001.jpg 0``; 0 train, 1 test,
  2 validation) and the images in ``aligned/`` (``0001_aligned.jpg``) or next to the lists
  (``0001.jpg``), also looked for under ``Image/``; labels 1-14 are accepted when the file has a 14
  and no 0;
  (b) the RAF-DB compound layout (``EmoLabel/list_patition_label.txt`` with ``train_``/``test_``
  names and labels 1-14 in the order of ``tools.labels.RAFCE_COMPOUND14``, plus
  ``Image/aligned/``).
  Either way the model's outputs follow ``tools.labels.RAFCE_COMPOUND14``.
- ``fer2013``: ``fer2013.csv`` with columns ``emotion,pixels,Usage`` (Training / PublicTest /
  PrivateTest), 48x48 gray pixels, labels 0-6 (``tools.labels.FER2013``). PublicTest becomes the
  validation split, PrivateTest the test split.
- ``folder``: ``root/train/<label>/*.jpg`` and ``root/test/<label>/*.jpg`` (optionally
  ``root/val/<label>/``). Folder names that all match one known label set are normalised into it
  ("Happiness" -> ``happy``) and ordered like it; otherwise the names are used as they are, sorted.
- ``synthetic``: the generated cartoon faces of ``training.synthetic`` (a ``folder`` tree).

Images are not decoded here: a split holds paths (or, for FER-2013, 48x48 arrays) and label indices.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tools.errors import FaceAgentError, InvalidRequestError
from tools.labels import BASIC7, FER2013, LABEL_SETS, RAFCE_COMPOUND14, RAFDB_COMPOUND11, normalize_label

__all__ = [
    "DATASET_KINDS",
    "IMAGE_EXTENSIONS",
    "RAFCE_FILE_ORDER",
    "DatasetError",
    "Split",
    "LabelledDataset",
    "detect_kind",
    "load_dataset",
]

DATASET_KINDS = ("auto", "rafdb-basic", "rafdb-compound", "rafce", "fer2013", "folder", "synthetic")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_LIST_NAMES = ("list_patition_label.txt", "list_partition_label.txt")  # RAF-DB's spelling first

# RAF-CE numbers its classes in this order in RAFCE_emolabel.txt (0-based).
RAFCE_FILE_ORDER: tuple[str, ...] = RAFCE_COMPOUND14  # the model's outputs follow the file's order


class DatasetError(FaceAgentError, ValueError):
    """A dataset folder is not in the expected layout (wrong root, missing files, bad labels)."""


@dataclass
class Split:
    """One split: image sources (paths or uint8 arrays) and their label indices."""

    sources: list[Path | np.ndarray] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, indices: list[int] | np.ndarray) -> Split:
        """The split restricted to ``indices``."""
        return Split([self.sources[i] for i in indices], [self.targets[i] for i in indices])


@dataclass
class LabelledDataset:
    """A dataset read from disk: its labels and its splits.

    Attributes:
        kind: the adapter that read it.
        root: the folder (or CSV) it was read from.
        labels: class names, in the order of the model's outputs.
        label_set: ``basic7``, ``fer2013``, ``rafdb-compound11``, ``rafce-compound14`` or ``custom``.
        splits: ``train`` and ``test``, plus ``val`` when the dataset defines one.
    """

    kind: str
    root: Path
    labels: list[str]
    label_set: str
    splits: dict[str, Split]

    def counts(self, split: str) -> list[int]:
        """Images per class in ``split``, in label order."""
        counter = Counter(self.splits[split].targets)
        return [counter.get(i, 0) for i in range(len(self.labels))]

    def summary(self) -> str:
        """One line per split with its size, for the start-of-run printout."""
        lines = [f"{self.kind} at {self.root}: {len(self.labels)} classes ({self.label_set})"]
        for name, split in self.splits.items():
            counts = ", ".join(f"{label} {n}" for label, n in zip(self.labels, self.counts(name)))
            lines.append(f"  {name}: {len(split)} images ({counts})")
        return "\n".join(lines)


def detect_kind(root: str | Path) -> str:
    """Guesses the layout of ``root`` from the files it holds.

    Raises:
        DatasetError: when no known layout matches.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"The dataset path {root} does not exist. Pass --data with the dataset's folder.")
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "fer2013"
        raise DatasetError(f"{root} is a file; give the dataset folder (or fer2013.csv).")
    if (root / "RAFCE_partition.txt").is_file() or (root / "RAFCE_emolabel.txt").is_file():
        return "rafce"
    if _find_list(root / "basic") or (root.name == "basic" and _find_list(root)):
        return "rafdb-basic"
    if _find_list(root / "compound") or (root.name == "compound" and _find_list(root)):
        return "rafdb-compound"
    if (root / "fer2013.csv").is_file() or (root / "fer2013" / "fer2013.csv").is_file():
        return "fer2013"
    if (root / "train").is_dir():
        return "folder"
    raise DatasetError(
        f"Cannot tell which dataset {root} holds: expected RAF-DB (basic/EmoLabel/"
        "list_patition_label.txt), RAF-DB compound (compound/...), RAF-CE (RAFCE_partition.txt), "
        "FER-2013 (fer2013.csv) or an image folder (train/<label>/, test/<label>/). "
        "Name the layout with --dataset."
    )


def load_dataset(kind: str, root: str | Path, limit: int = 0) -> LabelledDataset:
    """Reads a dataset in one of the supported layouts.

    Args:
        kind: one of ``DATASET_KINDS`` (``auto`` guesses from the files).
        root: the dataset folder (or the FER-2013 CSV).
        limit: keep at most this many images per split (0 = all), for quick trials; the first ones
            of each class in turn, so every class stays represented.

    Raises:
        DatasetError: wrong root, missing files, malformed lines or unknown labels.
    """
    root = Path(root).expanduser()
    if kind not in DATASET_KINDS:
        raise DatasetError(f"Unknown dataset kind {kind!r}; use one of {', '.join(DATASET_KINDS)}.")
    if not root.exists():
        raise DatasetError(f"The dataset path {root} does not exist. Pass --data with the dataset's folder.")
    if kind == "auto":
        kind = detect_kind(root)
    readers = {
        "rafdb-basic": lambda: _read_rafdb(root, "basic", BASIC7, "basic7"),
        "rafdb-compound": lambda: _read_rafdb(root, "compound", RAFDB_COMPOUND11, "rafdb-compound11"),
        "rafce": lambda: _read_rafce(root),
        "fer2013": lambda: _read_fer2013(root),
        "folder": lambda: _read_folder(root, "folder"),
        "synthetic": lambda: _read_folder(root, "synthetic"),
    }
    dataset = readers[kind]()
    if limit > 0:
        dataset.splits = {name: _limit(split, limit) for name, split in dataset.splits.items()}
    for name in ("train", "test"):
        if name not in dataset.splits or len(dataset.splits[name]) == 0:
            raise DatasetError(
                f"{dataset.root} has no {name} images; both a train and a test split are needed."
            )
    return dataset


def _limit(split: Split, limit: int) -> Split:
    # Round-robin over classes so a small limit still sees every class.
    by_class: dict[int, list[int]] = {}
    for i, target in enumerate(split.targets):
        by_class.setdefault(target, []).append(i)
    order: list[int] = []
    queues = [list(v) for _, v in sorted(by_class.items())]
    while len(order) < min(limit, len(split)):
        for queue in queues:
            if queue and len(order) < limit:
                order.append(queue.pop(0))
    return split.subset(sorted(order))


# --- RAF-DB ------------------------------------------------------------------------------------


def _find_list(folder: Path) -> Path | None:
    for name in _LIST_NAMES:
        path = folder / "EmoLabel" / name
        if path.is_file():
            return path
    return None


def _subset_root(root: Path, subset: str) -> Path:
    if root.name == subset and _find_list(root):
        return root
    if _find_list(root / subset):
        return root / subset
    if _find_list(root):
        return root
    raise DatasetError(
        f"{root} is not a RAF-DB {subset} folder: expected {subset}/EmoLabel/list_patition_label.txt "
        f"below it (or give the {subset}/ folder itself)."
    )


def _aligned_path(folder: Path, name: str) -> Path | None:
    """``Image/aligned/train_00001_aligned.jpg`` for ``train_00001.jpg`` (or the name itself)."""
    stem = Path(name).stem
    for candidate in (f"{stem}_aligned.jpg", f"{stem}_aligned.png", name):
        path = folder / candidate
        if path.is_file():
            return path
    return None


def _read_label_list(path: Path, num_classes: int, base: int | None = 1) -> list[tuple[str, int, int]]:
    """(name, 0-based label, line number) for each line ``name label`` of a label list."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise DatasetError(f"{path}:{number}: expected 'name label', got {line.strip()!r}.")
        try:
            value = int(parts[1])
        except ValueError as exc:
            raise DatasetError(f"{path}:{number}: the label {parts[1]!r} is not a number.") from exc
        rows.append((parts[0], value, number))
    if not rows:
        raise DatasetError(f"{path} lists no images.")
    if base is None:  # decide 0- or 1-based from the values present
        values = {v for _, v, _ in rows}
        base = 1 if num_classes in values and 0 not in values else 0
    out = []
    for name, value, number in rows:
        index = value - base
        if not 0 <= index < num_classes:
            raise DatasetError(
                f"{path}:{number}: unknown label {value} for {name}; this list uses labels "
                f"{base}..{base + num_classes - 1}."
            )
        out.append((name, index, number))
    return out


def _collect(rows: list[tuple[str, int, str]], image_dir: Path, list_path: Path) -> dict[str, Split]:
    splits: dict[str, Split] = {}
    missing: list[str] = []
    for name, target, split in rows:
        path = _aligned_path(image_dir, name)
        if path is None:
            missing.append(name)
            continue
        entry = splits.setdefault(split, Split())
        entry.sources.append(path)
        entry.targets.append(target)
    if missing:
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise DatasetError(
            f"{len(missing)} image(s) listed in {list_path} are missing from {image_dir} ({shown}); "
            "expected e.g. train_00001_aligned.jpg for train_00001.jpg. Re-extract the archive."
        )
    return splits


def _split_from_prefix(name: str, path: Path, number: int) -> str:
    prefix = name.split("_", 1)[0].lower()
    if prefix not in ("train", "test"):
        raise DatasetError(
            f"{path}:{number}: cannot tell the split of {name!r} (expected a train_ or test_ prefix)."
        )
    return prefix


def _read_rafdb(root: Path, subset: str, labels: tuple[str, ...], label_set: str) -> LabelledDataset:
    folder = _subset_root(root, subset)
    list_path = _find_list(folder)
    assert list_path is not None
    image_dir = folder / "Image" / "aligned"
    if not image_dir.is_dir():
        raise DatasetError(f"{folder} has no Image/aligned/ folder; extract aligned.zip there.")
    rows = [
        (name, target, _split_from_prefix(name, list_path, number))
        for name, target, number in _read_label_list(list_path, len(labels))
    ]
    splits = _collect(rows, image_dir, list_path)
    kind = "rafdb-basic" if subset == "basic" else "rafdb-compound"
    return LabelledDataset(kind, folder, list(labels), label_set, splits)


# --- RAF-CE ------------------------------------------------------------------------------------


def _read_rafce(root: Path) -> LabelledDataset:
    labels = list(RAFCE_COMPOUND14)
    emolabel, partition = root / "RAFCE_emolabel.txt", root / "RAFCE_partition.txt"
    if emolabel.is_file() or partition.is_file():
        for path in (emolabel, partition):
            if not path.is_file():
                raise DatasetError(
                    f"RAF-CE needs both RAFCE_emolabel.txt and RAFCE_partition.txt in {root}; {path.name} is missing."
                )
        remap = [RAFCE_COMPOUND14.index(name) for name in RAFCE_FILE_ORDER]
        targets = {name: remap[i] for name, i, _ in _read_label_list(emolabel, 14, base=None)}
        split_names = {0: "train", 1: "test", 2: "val"}
        rows = []
        for name, part, number in _read_label_list(partition, 3, base=0):
            if name not in targets:
                raise DatasetError(f"{partition}:{number}: {name} has no label in {emolabel.name}.")
            rows.append((name, targets[name], split_names[part]))
        image_dir = next(
            (
                d
                for d in (root / "aligned", root / "Image" / "aligned", root / "Image", root / "images", root)
                if d.is_dir() and any(_aligned_path(d, n) for n, _, _ in rows[:5])
            ),
            None,
        )
        if image_dir is None:
            raise DatasetError(
                f"No RAF-CE images found under {root} (looked in aligned/, Image/aligned/, Image/, images/)."
            )
        return LabelledDataset(
            "rafce", root, labels, "rafce-compound14", _collect(rows, image_dir, partition)
        )
    folder = _subset_root(root, "compound")
    list_path = _find_list(folder)
    assert list_path is not None
    image_dir = folder / "Image" / "aligned"
    if not image_dir.is_dir():
        raise DatasetError(f"{folder} has no Image/aligned/ folder.")
    rows = [
        (name, target, _split_from_prefix(name, list_path, number))
        for name, target, number in _read_label_list(list_path, 14)
    ]
    return LabelledDataset("rafce", folder, labels, "rafce-compound14", _collect(rows, image_dir, list_path))


# --- FER-2013 ----------------------------------------------------------------------------------


def _read_fer2013(root: Path) -> LabelledDataset:
    path = root
    if root.is_dir():
        path = next(
            (p for p in (root / "fer2013.csv", root / "fer2013" / "fer2013.csv") if p.is_file()),
            root / "fer2013.csv",
        )
    if not path.is_file():
        raise DatasetError(
            f"No fer2013.csv in {root}. Give the folder holding fer2013.csv or the CSV itself."
        )
    usage_to_split = {"training": "train", "publictest": "val", "privatetest": "test"}
    splits: dict[str, Split] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        need = [c for c in ("emotion", "pixels", "usage") if c not in columns]
        if need:
            raise DatasetError(
                f"{path} lacks the column(s) {', '.join(need)}; expected emotion,pixels,Usage."
            )
        for number, row in enumerate(reader, start=2):
            usage = row[columns["usage"]].strip().lower()
            if usage not in usage_to_split:
                raise DatasetError(
                    f"{path}:{number}: unknown Usage {row[columns['usage']]!r} (Training/PublicTest/PrivateTest)."
                )
            try:
                label = int(row[columns["emotion"]])
                pixels = np.array(row[columns["pixels"]].split(), dtype=np.int64)
            except ValueError as exc:
                raise DatasetError(f"{path}:{number}: emotion and pixels must be numbers ({exc}).") from exc
            if not 0 <= label < len(FER2013):
                raise DatasetError(f"{path}:{number}: unknown emotion {label}; FER-2013 uses 0..6.")
            if pixels.size != 48 * 48 or pixels.min() < 0 or pixels.max() > 255:
                raise DatasetError(
                    f"{path}:{number}: expected 2304 pixel values in 0..255, got {pixels.size}."
                )
            split = splits.setdefault(usage_to_split[usage], Split())
            split.sources.append(pixels.astype(np.uint8).reshape(48, 48))
            split.targets.append(label)
    return LabelledDataset("fer2013", path, list(FER2013), "fer2013", splits)


# --- image folders -----------------------------------------------------------------------------


def _folder_labels(names: list[str]) -> tuple[list[str], str, dict[str, str]]:
    """(labels in output order, label set, folder name -> label)."""
    for set_name in ("basic7", "rafdb-compound11", "rafce-compound14"):
        known = LABEL_SETS[set_name]
        try:
            mapping = {name: normalize_label(name, known) for name in names}
        except InvalidRequestError:
            continue
        if len(set(mapping.values())) != len(names):
            continue  # two folders would merge into one class: keep the names as they are
        present = [label for label in known if label in mapping.values()]
        return present, set_name if len(present) == len(known) else "custom", mapping
    return sorted(names), "custom", {name: name for name in names}


def _read_folder(root: Path, kind: str) -> LabelledDataset:
    train = root / "train"
    if not train.is_dir():
        raise DatasetError(
            f"{root} has no train/ folder; an image folder dataset is train/<label>/*.jpg and test/<label>/*.jpg."
        )
    test = next((root / n for n in ("test", "val", "validation") if (root / n).is_dir()), None)
    if test is None:
        raise DatasetError(f"{root} has no test/ folder next to train/.")
    class_names = sorted(p.name for p in train.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_names:
        raise DatasetError(f"{train} holds no class folders (train/<label>/).")
    labels, label_set, mapping = _folder_labels(class_names)
    splits: dict[str, Split] = {}
    folders = {"train": train, "test": test}
    if test.name == "test" and (root / "val").is_dir():
        folders["val"] = root / "val"
    for split_name, folder in folders.items():
        split = Split()
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if class_dir.name not in mapping:
                raise DatasetError(
                    f"{class_dir} is an unknown label: {split_name}/ has a class that train/ lacks "
                    f"(train has {', '.join(class_names)})."
                )
            target = labels.index(mapping[class_dir.name])
            for path in sorted(class_dir.iterdir()):
                if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
                    split.sources.append(path)
                    split.targets.append(target)
        splits[split_name] = split
    empty = [
        labels[i]
        for i, n in enumerate(Counter(splits["train"].targets).get(i, 0) for i in range(len(labels)))
        if n == 0
    ]
    if empty:
        raise DatasetError(
            f"{train} has no images for {', '.join(empty)} (supported: {', '.join(IMAGE_EXTENSIONS)})."
        )
    return LabelledDataset(kind, root, labels, label_set, splits)
