"""Where a run's files live: a local folder or a cloud bucket (gs://, s3://), both through one path type,
`etils.epath.Path` (Orbax, Grain and ArrayRecord take it too).

Local paths are made absolute, with `~` expanded; bucket paths are kept as given (gs:// needs `pip install -e
'.[cloud]'`, which adds gcsfs and google-cloud-storage). The two differ in what a write can rely on: a local file
can be appended to and renamed into place, while a bucket object is written whole, in one upload, and is never seen
half written, and has no rename. `write_whole`, `move` and `AppendedText` give each its safe way.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
from etils import epath
from PIL import Image


def location(path: str | os.PathLike) -> epath.Path:
    """The path a user gave (`--workdir`, `config.data.data_dir`, ...) as the path every part of the run uses."""
    text = os.fspath(path)
    if is_bucket(text):
        return epath.Path(text)
    return epath.Path(os.path.abspath(os.path.expanduser(text)))


def is_bucket(path: str | os.PathLike) -> bool:
    return "://" in os.fspath(path)


def write_whole(path: epath.Path, data: str | bytes) -> None:
    """Written whole or not at all: a local file goes through a temporary file renamed into place; a bucket object
    is one upload, which a reader sees whole or not at all."""
    target = path if is_bucket(path) else path.with_name(f"{path.name}.tmp")
    (target.write_text if isinstance(data, str) else target.write_bytes)(data)
    if target != path:
        target.replace(path)


def move(source: epath.Path, target: epath.Path) -> None:
    """Move a file or a folder (a superseded record, an unreadable checkpoint). Locally a rename. A bucket has no
    rename and no folders: each object is copied under the new name, then the old ones are deleted (epath's rename
    would ask for the target's folder to exist first, which in a bucket it never does)."""
    if not is_bucket(source):
        source.rename(target)
        return
    if source.is_file():
        source.copy(target)
        source.unlink()
        return
    for name in _files_below(source):
        (source / name).copy(target / name)
    source.rmtree()


def _files_below(folder: epath.Path) -> list[str]:
    """Every file under `folder`, relative to it (`state/manifest.ocdbt`). By iterdir: epath refuses rglob's `**` in
    a bucket, and its walk names bucket folders without their gs://."""
    files = []
    for child in folder.iterdir():
        files += [f"{child.name}/{name}" for name in _files_below(child)] if child.is_dir() else [child.name]
    return files


def write_png(path: epath.Path, image: np.ndarray) -> None:
    """An HxWx3 uint8 picture (the confusion matrix, the pretext views), written whole."""
    encoded = io.BytesIO()
    Image.fromarray(image).save(encoded, format="PNG")
    write_whole(path, encoded.getvalue())


class AppendedText:
    """A text file that grows by lines (metrics.jsonl). Locally, appended line by line; in a bucket, where objects
    cannot be appended to, the whole text is uploaded again at each `flush` and at least every `upload_seconds`
    while lines come (a crash loses only the lines since, as a local file's unflushed buffer would)."""

    def __init__(self, path: epath.Path, upload_seconds: float = 60.0):
        self.path, self.upload_seconds = path, upload_seconds
        if is_bucket(path):
            self._file = None
            self._text = path.read_text() if path.exists() else ""
            self._uploaded = time.monotonic()
        else:
            self._file = open(path, "a", buffering=1)  # noqa: SIM115 - held open for the run, closed by close()

    def write(self, text: str) -> None:
        if self._file is not None:
            self._file.write(text)
            return
        self._text += text
        if time.monotonic() - self._uploaded > self.upload_seconds:
            self.flush()

    def flush(self) -> None:
        if self._file is None:
            self.path.write_text(self._text)
            self._uploaded = time.monotonic()
        else:
            self._file.flush()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
