"""Writes ``tests/data/face_states_eyes.csv``: the eyes of the labelled faces, by three labellers.

    python scripts/import_eye_labels.py FOLDER     # holds key.json, labels_A.csv and labels_B.csv

The eyes of ``tests/data/face_states.csv`` were labelled again, independently, by two more people who
had seen neither the code nor the first labels: each face shown once under a neutral name (``key.json``
maps it to the face's id; the order shuffled), the face cropped with a margin above a band of the eyes
enlarged, with the four words of the first labelling defined in one line each. The label scored is the
one at least two of the three gave ("unsure" is no vote); with no such label the face's eyes are not
scored. The rule was fixed before either new labelling was read.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATES = ROOT / "tests" / "data" / "face_states.csv"
OUT = ROOT / "tests" / "data" / "face_states_eyes.csv"
HEADER = """\
# The eyes of the 165 faces of face_states.csv, labelled three times, each labeller alone and blind to
# the code: `first` (the labelling of face_states.csv), `a` and `b` (two later labellers who saw each
# face once under a neutral name, in a shuffled order, cropped with a margin above an enlarged band of
# the eyes, and these words: open - open as at rest; wide - opened wider than at rest; narrowed - open
# but visibly narrowed (squinting, squeezed by a smile, glaring); closed - shut; unsure - would not
# defend any of the four). `eyes` is the label scored: the one at least two of the three gave
# ("unsure" is no vote), else unsure (not scored). The rule was fixed before a or b was read.
# Agreement between two labellers, on the faces both scored: first/a {fa}, first/b {fb}, a/b {ab}.
# Made by scripts/import_eye_labels.py.
"""
LABELS = ("open", "wide", "narrowed", "closed", "unsure")


def majority(*votes: str) -> str:
    """The label given at least twice among ``votes`` ("unsure" is no vote), else ``unsure``."""
    counts = Counter(v for v in votes if v != "unsure")
    chosen = [label for label, n in counts.items() if n >= 2]
    return chosen[0] if chosen else "unsure"


def _agreement(rows: list[dict[str, str]], x: str, y: str) -> str:
    pairs = [(r[x], r[y]) for r in rows if "unsure" not in (r[x], r[y])]
    same = sum(p == q for p, q in pairs)
    return f"{same}/{len(pairs)} ({100 * same / len(pairs):.0f}%)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder
    key = json.loads((folder / "key.json").read_text())
    with STATES.open(newline="") as handle:
        faces = {r["id"]: r for r in csv.DictReader(line for line in handle if not line.startswith("#"))}
    later = {}
    for letter in ("a", "b"):
        with (folder / f"labels_{letter.upper()}.csv").open(newline="") as handle:
            for r in csv.DictReader(handle):
                label = r["eyes"].strip().lower()
                if label not in LABELS:
                    raise SystemExit(f"{r['name']}: unknown eye label {label!r}")
                later.setdefault(key[r["name"]], {})[letter] = (label, r.get("note", "").strip())
    rows = []
    for face_id, face in faces.items():
        (a, note_a), (b, note_b) = later[face_id]["a"], later[face_id]["b"]
        first = face["eyes"]
        rows.append({"id": face_id, "split": face["split"], "eyes": majority(first, a, b), "first": first,
                     "a": a, "b": b, "note_a": note_a, "note_b": note_b})  # fmt: skip
    text = io.StringIO()
    text.write(HEADER.format(fa=_agreement(rows, "first", "a"), fb=_agreement(rows, "first", "b"),
                             ab=_agreement(rows, "a", "b")))  # fmt: skip
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    OUT.write_text(text.getvalue())
    print(f"wrote {OUT} ({len(rows)} faces)")


if __name__ == "__main__":
    main()
