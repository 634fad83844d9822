"""FER2013 (`fer2013.csv`: 48 x 48 grey faces as pixel strings) and FERPlus (`fer2013new.csv`: ten annotators'
votes for the same rows). Stored as lossless PNG: the faces are tiny, and JPEG would blur what little there is.

FERPlus labels follow its authors' "majority" rule: a single vote for an emotion is treated as noise and removed;
the record's label is the emotion with more than half of the remaining votes; if most votes say `unknown` or `NF`
(not a face), or no emotion has a majority, the record is skipped with that reason. The raw ten vote counts are kept
as `votes`, in the canonical class order followed by unknown and NF.
"""

from __future__ import annotations

import abc
import csv
import functools
import os

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from data_pipelines import image_files
from data_pipelines.label_maps import (
    FER2013_CODES,
    FERPLUS_EMOTION_COLUMNS,
    FERPLUS_OTHER_COLUMNS,
    SEVEN_CLASSES,
    canonical_index,
    class_names_for,
)
from data_pipelines.manual_builder import (
    Candidate,
    LayoutError,
    ManualBuilder,
    open_text,
    require_columns,
    require_paths,
)
from data_pipelines.report import SkipRecord

FER_FILE, FERPLUS_FILE = "fer2013.csv", "fer2013new.csv"
FER_COLUMNS = ["emotion", "pixels", "Usage"]
FERPLUS_COLUMNS = ["Usage", "Image name", *FERPLUS_EMOTION_COLUMNS, *FERPLUS_OTHER_COLUMNS]
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "public_test", "PrivateTest": "private_test"}
SIDE = 48
FER_LAYOUT = f"  <manual_dir>/{FER_FILE}  (columns {', '.join(FER_COLUMNS)}; 48 x 48 = 2304 pixel values per row)"
FERPLUS_LAYOUT = FER_LAYOUT + f"\n  <manual_dir>/{FERPLUS_FILE}  (columns {', '.join(FERPLUS_COLUMNS)}; same row order)"


def _header(path: str) -> list[str]:
    with open_text(path) as f:
        return [c.strip() for c in next(csv.reader(f), [])]


def _rows(path: str):
    with open_text(path) as f:
        rows = csv.reader(f)
        header = [c.strip() for c in next(rows)]
        for values in rows:
            yield dict(zip(header, values, strict=False))


def _face_png(pixels: str) -> bytes:
    try:
        values = np.asarray(pixels.split(), np.int64)
    except (ValueError, OverflowError):
        raise SkipRecord("pixels are not integers from 0 to 255") from None
    if values.size != SIDE * SIDE:
        raise SkipRecord(f"{values.size} pixel values, expected {SIDE * SIDE}")
    if values.min(initial=0) < 0 or values.max(initial=0) > 255:
        raise SkipRecord("pixel values outside 0-255")
    grey = Image.fromarray(values.reshape(SIDE, SIDE).astype(np.uint8))
    return image_files.encode_png(grey.convert("RGB"))


def _split_of(usage: str) -> str:
    if usage not in USAGE_TO_SPLIT:
        raise SkipRecord(f"Usage {usage!r} is not one of {sorted(USAGE_TO_SPLIT)}")
    return USAGE_TO_SPLIT[usage]


class _FerRows(ManualBuilder, skip_registration=True):
    """Both data sets are one CSV walked once per split; a row belongs to the split its Usage names."""

    IMAGE_FORMAT = "png"

    def _candidates(self, manual_dir: str) -> dict:
        return {split: self._split_rows(manual_dir, split) for split in USAGE_TO_SPLIT.values()}

    @abc.abstractmethod
    def _split_rows(self, manual_dir: str, split: str):
        """The candidates of one split."""


class Fer2013(_FerRows):
    """FER2013: 35,887 grey 48 x 48 faces, 7 classes (no contempt), splits by the Usage column."""

    name = "fer2013"
    EXPECTED_LAYOUT = FER_LAYOUT
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Get fer2013.csv (Kaggle: Challenges in Representation Learning):\n" + FER_LAYOUT

    @property
    def class_names(self) -> tuple[str, ...]:
        return SEVEN_CLASSES

    @classmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        require_paths(manual_dir, [FER_FILE], FER_LAYOUT)
        path = os.path.join(manual_dir, FER_FILE)
        require_columns(path, _header(path), FER_COLUMNS, FER_LAYOUT)

    def _split_rows(self, manual_dir: str, split: str):
        for number, row in enumerate(_rows(os.path.join(manual_dir, FER_FILE))):
            if USAGE_TO_SPLIT.get(row.get("Usage", "")) == split or (
                split == "train" and row.get("Usage") not in USAGE_TO_SPLIT
            ):
                yield Candidate(f"row_{number:05d}", functools.partial(self._read, row))

    def _read(self, row: dict) -> dict:
        _split_of(row.get("Usage", ""))
        code = row.get("emotion", "").strip()
        if not code.isdigit() or int(code) not in FER2013_CODES:
            raise SkipRecord(f"emotion {code!r} is not a FER2013 code 0-6")
        return {"image": _face_png(row.get("pixels", "")), "label": canonical_index(FER2013_CODES[int(code)])}


def ferplus_majority(votes: np.ndarray) -> int:
    """Index into FERPLUS_COLUMNS' vote columns (0-7 emotions in that file's order) by the majority rule above."""
    kept = np.where(votes > 1, votes, 0)
    if kept.sum() == 0:
        raise SkipRecord("no emotion has more than one vote")
    top = int(np.argmax(kept))
    if top >= len(FERPLUS_EMOTION_COLUMNS):
        raise SkipRecord(f"most votes say {FERPLUS_OTHER_COLUMNS[top - len(FERPLUS_EMOTION_COLUMNS)]}")
    if kept[top] <= kept.sum() / 2:
        raise SkipRecord("no emotion has a majority of the votes")
    return top


class Ferplus(_FerRows):
    """FERPlus: the FER2013 faces relabelled by ten annotators; 8 classes by majority vote, plus the raw votes."""

    name = "ferplus"
    EXPECTED_LAYOUT = FERPLUS_LAYOUT
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Download fer2013.csv and fer2013new.csv (github.com/microsoft/FERPlus) into one folder:\n" + FERPLUS_LAYOUT
    )

    @property
    def class_names(self) -> tuple[str, ...]:
        return class_names_for(8)

    def extra_features(self) -> dict:
        return {
            "votes": tfds.features.Tensor(
                shape=(10,), dtype=np.int32, doc="vote counts: the 8 classes in label order, then unknown, NF"
            )
        }

    @classmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        require_paths(manual_dir, [FER_FILE, FERPLUS_FILE], FERPLUS_LAYOUT)
        for name, columns in ((FER_FILE, FER_COLUMNS), (FERPLUS_FILE, FERPLUS_COLUMNS)):
            path = os.path.join(manual_dir, name)
            require_columns(path, _header(path), columns, FERPLUS_LAYOUT)
        counts = {name: sum(1 for _ in _rows(os.path.join(manual_dir, name))) for name in (FER_FILE, FERPLUS_FILE)}
        if counts[FER_FILE] != counts[FERPLUS_FILE]:
            raise LayoutError(
                f"{FER_FILE} has {counts[FER_FILE]} rows and {FERPLUS_FILE} {counts[FERPLUS_FILE]}: "
                "FERPlus relabels FER2013 row by row, so both must be the complete original files"
            )

    def _split_rows(self, manual_dir: str, split: str):
        fer_rows, plus_rows = _rows(os.path.join(manual_dir, FER_FILE)), _rows(os.path.join(manual_dir, FERPLUS_FILE))
        pairs = zip(fer_rows, plus_rows, strict=True)  # same length: checked before any record is read
        for number, (fer, plus) in enumerate(pairs):
            if USAGE_TO_SPLIT.get(plus.get("Usage", "")) == split or (
                split == "train" and plus.get("Usage") not in USAGE_TO_SPLIT
            ):
                name = plus.get("Image name", "").strip() or f"row_{number:05d}"
                yield Candidate(name, functools.partial(self._read, fer, plus))

    def _read(self, fer: dict, plus: dict) -> dict:
        _split_of(plus.get("Usage", ""))
        if not plus.get("Image name", "").strip():
            raise SkipRecord("FERPlus lists no image name for this row (removed by FERPlus)")
        if fer.get("Usage") != plus.get("Usage"):
            raise SkipRecord(f"Usage {fer.get('Usage')!r} in {FER_FILE} but {plus.get('Usage')!r} in {FERPLUS_FILE}")
        try:
            raw = np.asarray([int(plus[c]) for c in FERPLUS_COLUMNS[2:]], np.int32)
        except (ValueError, TypeError, KeyError, OverflowError):
            raise SkipRecord("vote counts are not whole numbers") from None
        if raw.min() < 0:
            raise SkipRecord("negative vote count")
        top = ferplus_majority(raw)
        emotion = FERPLUS_EMOTION_COLUMNS[list(FERPLUS_EMOTION_COLUMNS)[top]]
        canonical_votes = np.zeros(10, np.int32)
        for column, count in zip(FERPLUS_EMOTION_COLUMNS, raw[:8], strict=True):
            canonical_votes[canonical_index(FERPLUS_EMOTION_COLUMNS[column])] = count
        canonical_votes[8:] = raw[8:]
        return {"image": _face_png(fer.get("pixels", "")), "label": canonical_index(emotion), "votes": canonical_votes}
