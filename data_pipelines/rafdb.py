"""RAF-DB basic: the aligned 100 x 100 faces and their 7 basic-emotion labels, mapped to the canonical order."""

from __future__ import annotations

import functools
import os

from data_pipelines import image_files
from data_pipelines.label_maps import RAFDB_CODES, SEVEN_CLASSES, canonical_index
from data_pipelines.manual_builder import Candidate, LayoutError, ManualBuilder, open_text, refuse, require_paths
from data_pipelines.report import SkipRecord

LABEL_FILE = os.path.join("EmoLabel", "list_patition_label.txt")  # sic: the release's spelling
IMAGE_FOLDER = os.path.join("Image", "aligned")
LAYOUT = """  <manual_dir>/EmoLabel/list_patition_label.txt  (lines `train_00001.jpg 5`; 1 Surprise ... 7 Neutral)
  <manual_dir>/Image/aligned/train_00001_aligned.jpg ...
  (<manual_dir> is the release's basic/ folder, or the folder that holds basic/)"""
SPLITS = ("train", "test")


class RafdbBasic(ManualBuilder):
    """RAF-DB basic emotions: 12,271 train and 3,068 test aligned faces, 7 classes (no contempt)."""

    name = "rafdb_basic"
    EXPECTED_LAYOUT = LAYOUT
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Request RAF-DB from its authors and pass its basic/ folder:\n" + LAYOUT

    @property
    def class_names(self) -> tuple[str, ...]:
        return SEVEN_CLASSES

    @classmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        require_paths(_release_root(manual_dir), [LABEL_FILE, IMAGE_FOLDER], LAYOUT)

    def _candidates(self, manual_dir: str) -> dict:
        root = _release_root(manual_dir)
        with open_text(os.path.join(root, LABEL_FILE)) as f:
            lines = [line.split() for line in f if line.strip()]
        return {split: self._lines(root, lines, split) for split in SPLITS}

    def _lines(self, root: str, lines: list[list[str]], split: str):
        for number, fields in enumerate(lines, start=1):
            name = fields[0]
            if name.startswith(split + "_"):
                yield Candidate(name, functools.partial(self._read, root, fields))
            elif split == SPLITS[0] and not name.startswith(tuple(s + "_" for s in SPLITS)):  # reported once
                reason = f"{name!r} is neither train_* nor test_*"
                yield Candidate(f"{LABEL_FILE}:{number}", functools.partial(refuse, reason))

    def _read(self, root: str, fields: list[str]) -> dict:
        if len(fields) != 2 or not fields[1].isdigit() or int(fields[1]) not in RAFDB_CODES:
            raise SkipRecord(f"label line {' '.join(fields)!r} is not `<name> <1-7>`")
        stem = os.path.splitext(fields[0])[0]
        data = image_files.read_bytes(root, os.path.join(IMAGE_FOLDER, f"{stem}_aligned.jpg"))
        jpeg, _ = image_files.load_rgb_jpeg(data)
        return {"image": jpeg, "label": canonical_index(RAFDB_CODES[int(fields[1])])}


def _release_root(manual_dir: str) -> str:
    if not os.path.isdir(manual_dir):
        raise LayoutError(f"--manual_dir {manual_dir} is not a directory. Expected:\n{LAYOUT}")
    nested = os.path.join(manual_dir, "basic")
    return nested if os.path.isfile(os.path.join(nested, LABEL_FILE)) else manual_dir
