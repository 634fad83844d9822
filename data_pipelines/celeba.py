"""CelebA for gender recognition: the aligned and cropped faces, labelled female / male by the `Male` attribute, in
the official train / validation / test partition."""

from __future__ import annotations

import functools
import os

from data_pipelines import image_files
from data_pipelines.manual_builder import Candidate, LayoutError, ManualBuilder, open_text, refuse, require_paths
from data_pipelines.report import SkipRecord
from hmtl_jax.supervised.tasks import GENDER_CLASSES

IMAGE_FOLDER = "img_align_celeba"
ATTRIBUTE_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
LAYOUT = """  <manual_dir>/img_align_celeba/000001.jpg ...              (178 x 218 aligned faces)
  <manual_dir>/list_attr_celeba.txt    (line 1: the image count; line 2: the 40 attribute names, `Male` among
                                         them; then `000001.jpg -1 1 ...`, one 1 / -1 per attribute)
  <manual_dir>/list_eval_partition.txt (`000001.jpg 0`: 0 train, 1 validation, 2 test)"""
SPLITS = ("train", "validation", "test")  # partition codes 0, 1, 2


class Celeba(ManualBuilder):
    """CelebA, gender: 162,770 train, 19,867 validation and 19,962 test faces of 10,177 identities (the partition
    keeps identities apart); label 1 = the `Male` attribute is 1."""

    name = "celeba"
    EXPECTED_LAYOUT = LAYOUT
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Download CelebA's Align&Cropped images and its Anno/ and Eval/ files from "
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html and put them in one folder:\n" + LAYOUT
    )

    @property
    def class_names(self) -> tuple[str, ...]:
        return GENDER_CLASSES

    @classmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        require_paths(manual_dir, [IMAGE_FOLDER, ATTRIBUTE_FILE, PARTITION_FILE], LAYOUT)
        _male_column(os.path.join(manual_dir, ATTRIBUTE_FILE))

    def _candidates(self, manual_dir: str) -> dict:
        attributes = os.path.join(manual_dir, ATTRIBUTE_FILE)
        column = _male_column(attributes)
        with open_text(attributes) as f:
            rows = [line.split() for line in f.readlines()[2:] if line.strip()]
        male = {fields[0]: fields[1:] for fields in rows}
        with open_text(os.path.join(manual_dir, PARTITION_FILE)) as f:
            partition = [line.split() for line in f if line.strip()]
        return {split: self._split(manual_dir, partition, male, column, str(code)) for code, split in enumerate(SPLITS)}

    def _split(self, root: str, partition: list[list[str]], attributes: dict, column: int, code: str):
        for number, fields in enumerate(partition, start=1):
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                if code == "0":  # reported once, with the train split
                    reason = f"partition line {' '.join(fields)!r} is not `<image> <0|1|2>`"
                    yield Candidate(f"{PARTITION_FILE}:{number}", functools.partial(refuse, reason))
            elif fields[1] == code:
                yield Candidate(
                    fields[0], functools.partial(self._read, root, fields[0], attributes.get(fields[0]), column)
                )

    def _read(self, root: str, name: str, values: list[str] | None, column: int) -> dict:
        if values is None:
            raise SkipRecord(f"not in {ATTRIBUTE_FILE}")
        if len(values) <= column or values[column] not in ("1", "-1"):
            raise SkipRecord(f"its `Male` attribute is not 1 or -1 in {ATTRIBUTE_FILE}")
        jpeg, _ = image_files.load_rgb_jpeg(image_files.read_bytes(root, os.path.join(IMAGE_FOLDER, name)))
        return {"image": jpeg, "label": int(values[column] == "1")}


def _male_column(path: str) -> int:
    """The index of `Male` among the attribute names on the file's second line."""
    with open_text(path) as f:
        f.readline()
        names = f.readline().split()
    if "Male" not in names:
        raise LayoutError(
            f"{path}: its second line names the attributes, and `Male` is not among them. Expected:\n{LAYOUT}"
        )
    return names.index("Male")
