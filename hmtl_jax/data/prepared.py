"""Read a prepared data set (ArrayRecord files written by `python -m data_pipelines.prepare`) as a Grain source.

Only TFDS's file reader is used: no TensorFlow, and not the builder code, so any TFDS data set in ArrayRecord format
with an `image` and a `label` feature can be read the same way.
"""

from __future__ import annotations

import io
import logging
import os

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.read_only_builder import builder_from_files

from hmtl_jax.data.augment import batchable_label
from hmtl_jax.errors import ConfigError, MissingFileError
from hmtl_jax.runtime import storage

log = logging.getLogger(__name__)

LABEL_FILE = "labels_{split}.npy"  # every record's label in record order, written at preparation
_LABEL_READ_CHUNK = 1024


def open_prepared(data_dir: str, name: str) -> tfds.core.DatasetBuilder:
    """The prepared data set `name` ('affectnet/8class', 'rafdb_basic', ...) under `data_dir`, a local folder or a
    gs:// one (ArrayRecord reads records from a bucket itself: each process fetches only the records it reads)."""
    root = os.fspath(storage.location(data_dir)) if data_dir else ""
    try:
        if not root:
            raise FileNotFoundError
        return builder_from_files(name, data_dir=root)
    except (FileNotFoundError, tfds.core.registered.DatasetNotFoundError, ValueError):
        dataset = name.split("/")[0]
        where = root or "~/tensorflow_datasets"
        raise MissingFileError(
            f"no prepared data set {name!r} under config.data.data_dir={root or '(not set)'}: prepare it once with "
            f"`python -m data_pipelines.prepare {dataset} --manual_dir /path/to/the/release --data_dir {where}` "
            f"and pass --config.data.data_dir={where} (the data cannot be shipped with hmtl_jax)"
        ) from None


class PreparedSource:
    """Random-access source over one split: `[i] -> {'image': uint8 HxWx3, 'label': int32}` (head pose: float32 (3,)
    degrees), `labels()`. `class_names` are the label's classes (empty for head pose)."""

    def __init__(self, builder: tfds.core.DatasetBuilder, split: str):
        splits = sorted(builder.info.splits)
        if split not in splits:
            raise ConfigError(
                f"{builder.info.full_name} has splits {splits}, not {split!r}: "
                "set config.data.train_split / config.data.eval_split"
            )
        label = builder.info.features["label"]
        self.class_names = tuple(getattr(label, "names", ()))
        self.name = f"{builder.info.full_name}[{split}]"
        self._records = builder.as_data_source(split)
        self._version_dir = storage.location(builder.data_path)
        self._split = split

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> dict:
        record = self._records[index]
        return {"image": record["image"], "label": batchable_label(record["label"])}

    def __repr__(self) -> str:
        return f"PreparedSource({self.name}, {len(self)} records)"

    def labels(self) -> np.ndarray:
        path = self._version_dir / LABEL_FILE.format(split=self._split)
        if path.exists():
            labels = np.load(io.BytesIO(path.read_bytes()))
            if len(labels) == len(self):
                return labels
        log.info("%s: reading every record's label (no %s)", self.name, path.name)
        return read_labels(self._version_dir, self._split)


def read_labels(version_dir: str | os.PathLike, split: str) -> np.ndarray:
    """Every record's label in record order, reading the records without decoding their images."""
    builder = tfds.builder_from_directory(version_dir)
    records = builder.as_data_source(split, decoders={"image": tfds.decode.SkipDecoding()})
    labels = []
    for start in range(0, len(records), _LABEL_READ_CHUNK):
        chunk = range(start, min(start + _LABEL_READ_CHUNK, len(records)))
        labels += [batchable_label(r["label"]) for r in records.__getitems__(chunk)]
    return np.stack(labels) if labels else np.zeros(0, np.int32)


def write_label_files(version_dir: str) -> None:
    """labels_<split>.npy for every split, so training finds class counts without reading every record."""
    for split in tfds.builder_from_directory(version_dir).info.splits:
        np.save(os.path.join(version_dir, LABEL_FILE.format(split=split)), read_labels(version_dir, split))
