"""Where a batch's rows go: a Parquet dataset folder written in chunks, or one ``.parquet`` file."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from tools.batch.inputs import filesystem, is_uri
from tools.batch.rows import SCHEMA
from tools.errors import InvalidRequestError

__all__ = ["Output", "read_rows"]


def _same_schema(schema: pa.Schema) -> bool:
    if schema.names != SCHEMA.names:
        return False
    return all(a.type.equals(b.type) for a, b in zip(schema, SCHEMA))


def _columns_of(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name} ({f.type})" for f in schema)


class Output:
    """Where the rows go: a dataset folder of Parquet files, or one ``.parquet`` file.

    A file output is built in ``OUT.parts/`` (chunk files, like a folder output) and merged into
    ``OUT`` at the end, so an interrupted run keeps its chunks there for ``--resume``.

    Args:
        output: a local path or a URI (``file://``, ``s3://`` ...).
    """

    def __init__(self, output: str | os.PathLike) -> None:
        import pyarrow.fs as pafs

        text = str(output)
        self.text = text
        if is_uri(text):
            self.fs, base = filesystem(text)
            self.scheme = text.split("://", 1)[0]
        else:
            self.fs, base, self.scheme = pafs.LocalFileSystem(), str(Path(text).expanduser().resolve()), ""
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        info = self.fs.get_file_info(base)
        self.single = base.endswith(".parquet") and info.type != pafs.FileType.Directory
        self.base = base
        self.parts = base + ".parts" if self.single else base
        self.run = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"  # names this run's chunks
        self._known: set[str] = set()  # the files there when the run began

    def uri(self, path: str) -> str:
        """``path`` on this output's filesystem as a string Ray and pyarrow accept."""
        return f"{self.scheme}://{path}" if self.scheme and self.scheme != "file" else path

    # -- reading what is there --------------------------------------------------------------

    def _parquet_files(self, folder: str) -> list[str]:
        import pyarrow.fs as pafs

        info = self.fs.get_file_info(folder)
        if info.type == pafs.FileType.NotFound:
            return []
        if info.type != pafs.FileType.Directory:
            raise InvalidRequestError(
                f"{self.text} is a file, not a folder: give a folder for a dataset output, or a name "
                "ending in .parquet for one file."
            )
        infos = self.fs.get_file_info(pafs.FileSelector(folder, recursive=True))
        return sorted(
            i.path
            for i in infos
            if i.type == pafs.FileType.File
            and i.path.endswith(".parquet")
            and not i.base_name.startswith((".", "_"))
        )

    def files(self) -> list[str]:
        """Every Parquet file of the output (the merged file and any chunks)."""
        import pyarrow.fs as pafs

        files = self._parquet_files(self.parts)
        if self.single and self.fs.get_file_info(self.base).type == pafs.FileType.File:
            files.insert(0, self.base)
        return files

    def prepare(self, resume: bool) -> tuple[set[str], list[str]]:
        """Checks the output before any work: writable, and either new or a ``tools batch`` output
        to resume. Returns the paths already done and the unreadable chunk files removed (the
        remains of a write that was killed; they hold no readable row).

        Raises:
            InvalidRequestError: the output exists without ``resume``, holds another table, or
                cannot be written.
        """
        import pyarrow.parquet as pq

        files = self.files()
        if files and not resume:
            raise InvalidRequestError(
                f"{self.text} already holds results ({len(files)} Parquet file{'s' if len(files) != 1 else ''}). "
                "Pass --resume (resume=True) to continue it, or choose a new output."
            )
        done: set[str] = set()
        removed: list[str] = []
        for path in files:
            try:
                schema = pq.read_schema(path, filesystem=self.fs)
            except (OSError, pa.ArrowInvalid) as exc:
                if path == self.base:
                    raise InvalidRequestError(f"{self.text} is not a readable Parquet file ({exc}).") from exc
                self.fs.delete_file(path)
                removed.append(self.uri(path))
                continue
            if not _same_schema(schema):
                raise InvalidRequestError(
                    f"{self.uri(path)} holds a table of other columns ({_columns_of(schema)}), not the rows "
                    f"of `tools batch` ({', '.join(SCHEMA.names)}): --resume continues only an output "
                    "of this command. Choose a new output."
                )
            table = pq.read_table(path, columns=["path"], filesystem=self.fs)
            done.update(table.column("path").to_pylist())
            self._known.add(path)
        self._check_writable()
        return done, removed

    def drop_late(self, paths: Iterable[str]) -> list[str]:
        """Removes the rows of ``paths`` (what this run analysed) from chunk files that appeared
        after ``prepare`` and are not this run's, and returns those files.

        They are the last writes of an earlier run that was killed: a Ray driver that dies takes its
        actors with it only a moment later, and an actor that finishes its group meanwhile writes
        it. Resumed at once, this run found those files not yet there and analysed the same inputs
        again; without this their rows would be there twice.
        """
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        ours = f"part-{self.run}-"
        late = [
            f
            for f in self.files()
            if f not in self._known and f != self.base and not f.rsplit("/", 1)[-1].startswith(ours)
        ]
        if not late:  # the usual case: nothing to read, ``paths`` not even listed
            return []
        wanted = pa.array(list(paths), pa.string())
        for path in late:
            table = pq.read_table(path, filesystem=self.fs)
            kept = table.filter(pc.invert(pc.is_in(table.column("path"), value_set=wanted)))
            if kept.num_rows:
                self.write(kept.cast(SCHEMA), name=path.rsplit("/", 1)[-1])
            else:
                self.fs.delete_file(path)
        return [self.uri(f) for f in late]

    def _check_writable(self) -> None:
        probe = f"{self.parts}/.write-check-{uuid.uuid4().hex[:8]}"
        try:
            if self.single:
                parent = self.base.rsplit("/", 1)[0] or "/"
                if self.local and not Path(parent).is_dir():
                    raise OSError(f"the folder {parent} does not exist")
            self.fs.create_dir(self.parts, recursive=True)
            with self.fs.open_output_stream(probe) as stream:
                stream.write(b"")
            self.fs.delete_file(probe)
        except OSError as exc:
            raise InvalidRequestError(
                f"Cannot write the results to {self.text}: {exc}. Choose an output you can write to."
            ) from exc

    # -- writing -------------------------------------------------------------------------------

    def write(self, table: pa.Table, name: str | None = None) -> str:
        """Writes one chunk file (a new name, or ``name``, replacing a file of that name); on a local
        disk under a hidden name first, so a file that is there is whole. Returns its path."""
        import pyarrow.parquet as pq

        name = name or f"part-{self.run}-{uuid.uuid4().hex[:12]}.parquet"
        final = f"{self.parts}/{name}"
        if self.local:
            temporary = f"{self.parts}/.{name}.{uuid.uuid4().hex[:8]}.tmp"
            pq.write_table(table, temporary, filesystem=self.fs)
            os.replace(temporary, final)
        else:  # object stores make an object visible only once it is complete
            pq.write_table(table, final, filesystem=self.fs)
        return final

    def finish(self) -> None:
        """Merges a file output's chunks into the file (nothing to do for a folder)."""
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq

        if not self.single:
            return
        chunks = self._parquet_files(self.parts)
        if chunks:
            files = self.files()
            temporary = self.base + (".merging" if not self.local else f".{uuid.uuid4().hex[:8]}.tmp")
            with pq.ParquetWriter(temporary, SCHEMA, filesystem=self.fs) as writer:
                for path in files:
                    for batch in pq.ParquetFile(path, filesystem=self.fs).iter_batches():
                        writer.write_table(pa.Table.from_batches([batch]).cast(SCHEMA))
            self.fs.move(temporary, self.base)
        if self.fs.get_file_info(self.parts).type == pafs.FileType.Directory:
            self.fs.delete_dir(self.parts)

    def read(self, columns: list[str] | None = None) -> pa.Table:
        """Every row written so far (all chunks)."""
        import pyarrow.parquet as pq

        files = self.files()
        if not files:
            return SCHEMA.empty_table() if columns is None else SCHEMA.empty_table().select(columns)
        return pa.concat_tables(
            [pq.read_table(f, columns=columns, filesystem=self.fs).cast(_select(columns)) for f in files]
        )


def _select(columns: list[str] | None) -> pa.Schema:
    return SCHEMA if columns is None else pa.schema([SCHEMA.field(c) for c in columns])


def read_rows(output: str | os.PathLike) -> pa.Table:
    """The rows of a ``tools batch`` output (a dataset folder or a ``.parquet`` file)."""
    return Output(output).read()
