"""What every data set builder here shares: manual download, a layout check at start, one feature layout, and
skip-don't-stop handling of bad records with a reason for each.

A builder lists its candidate records (`_candidates`); each candidate is a name and a function that reads and
converts one record or raises `SkipRecord` with a reason. Candidates are read in a pool of threads (Pillow
decodes and encodes outside the GIL), in order, so the result does not depend on the thread count.
"""

from __future__ import annotations

import abc
import collections
import dataclasses
import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import utils as tfds_utils

from data_pipelines.label_maps import class_names_for
from data_pipelines.report import PreparationReport, SkipRecord

HOMEPAGE = "https://github.com/hmtl-jax/hmtl_jax"


class LayoutError(ValueError):
    """The manual folder is not laid out as the data set's release is: which file or column was expected."""


@dataclasses.dataclass(frozen=True)
class Candidate:
    name: str  # file or row, as shown in the report
    read: Callable[[], dict]  # the record's features, or raises SkipRecord


@dataclasses.dataclass(eq=False)
class ExpressionConfig(tfds.core.BuilderConfig):
    num_classes: int = 8  # 8 = AffectNet-8 (with contempt); 7 = without contempt
    max_size: int = 0  # longer side of the stored images at most this (0 = as the source)


class ManualBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the builders in this package (not registered itself)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    EXPECTED_LAYOUT = ""  # shown in errors and in --help
    IMAGE_FORMAT = "jpeg"  # how `image` is stored; png for the tiny grey FER faces
    threads = os.cpu_count() or 1

    # Nothing is downloaded (the user brings the files), so there is no checksum file to look up. TFDS would look for
    # one beside this module through `importlib_resources`, a package it does not install.
    @tfds_utils.classproperty
    @classmethod
    def url_infos(cls):
        return None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.report = PreparationReport(self.name, self.class_names)

    @property
    def class_names(self) -> tuple[str, ...]:
        """From the config's class count (ExpressionConfig); builders without one override this."""
        return class_names_for(self.builder_config.num_classes)

    def extra_features(self) -> dict:
        """Features beyond image, label and file_name (valence, landmarks, votes, ...)."""
        return {}

    def label_feature(self):
        """The label's feature: a class among `class_names`; head pose data sets store angles instead."""
        return tfds.features.ClassLabel(names=self.class_names)

    def report_class(self, label) -> int:
        """The index in `class_names` a record is counted under in the preparation report."""
        return label

    @classmethod
    @abc.abstractmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        """Raise LayoutError if `manual_dir` is not laid out as this data set's release."""

    @abc.abstractmethod
    def _candidates(self, manual_dir: str) -> dict[str, Iterator[Candidate]]:
        """Per split, the records to try, in a fixed order."""

    def _info(self) -> tfds.core.DatasetInfo:
        features = {
            "image": tfds.features.Image(shape=(None, None, 3), encoding_format=self.IMAGE_FORMAT),
            "label": self.label_feature(),
            "file_name": tfds.features.Text(),
            **self.extra_features(),
        }
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict(features),
            supervised_keys=("image", "label"),
            homepage=HOMEPAGE,
        )

    def _split_generators(self, dl_manager):
        manual_dir = os.fspath(dl_manager.manual_dir)
        self.check_manual_dir(manual_dir)
        return {split: self._generate_examples(split, items) for split, items in self._candidates(manual_dir).items()}

    def _generate_examples(self, split: str, candidates: Iterator[Candidate]):
        for candidate, outcome in _read_in_order(_first_listing_only(candidates), self.threads):
            if isinstance(outcome, SkipRecord):
                self.report.skip(split, candidate.name, str(outcome))
                continue
            self.report.wrote(split, self.report_class(outcome["label"]))
            yield candidate.name, {"file_name": candidate.name, **outcome}


def _first_listing_only(candidates: Iterator[Candidate]) -> Iterator[Candidate]:
    """A record listed twice (the same file in a CSV twice) is written once: its name is its key in the files."""
    seen = set()
    for candidate in candidates:
        if candidate.name in seen:
            yield Candidate(candidate.name + " (again)", functools.partial(refuse, "listed twice; the first is kept"))
            continue
        seen.add(candidate.name)
        yield candidate


def refuse(reason: str) -> dict:
    """A candidate's `read` for a record known to be bad before anything is read."""
    raise SkipRecord(reason)


def _read_in_order(candidates: Iterator[Candidate], threads: int):
    """(candidate, record or SkipRecord) in candidate order, reading a bounded window ahead in threads."""

    def attempt(candidate):
        try:
            return candidate.read()
        except SkipRecord as skipped:
            return skipped
        except Exception as error:  # noqa: BLE001 - one record's surprise must not end a preparation of hours
            return SkipRecord(f"unexpected error: {type(error).__name__}: {error}")

    window = collections.deque()
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for candidate in candidates:
            window.append((candidate, pool.submit(attempt, candidate)))
            if len(window) >= 4 * threads:
                done, future = window.popleft()
                yield done, future.result()
        while window:
            done, future = window.popleft()
            yield done, future.result()


def require_paths(manual_dir: str, relative_paths: list[str], layout: str) -> None:
    """LayoutError naming every expected path that is missing."""
    if not os.path.isdir(manual_dir):
        raise LayoutError(f"--manual_dir {manual_dir} is not a directory. Expected:\n{layout}")
    missing = [p for p in relative_paths if not os.path.exists(os.path.join(manual_dir, p))]
    if missing:
        raise LayoutError(f"{manual_dir} lacks {', '.join(missing)}. Expected:\n{layout}")


def require_columns(path: str, header: list[str], expected: list[str], layout: str) -> None:
    missing = [c for c in expected if c not in header]
    if missing:
        raise LayoutError(
            f"{path} has columns {header}; missing {missing}. Expected columns: {expected}.\nExpected layout:\n{layout}"
        )


def open_text(path: str):
    """A text file of a release: UTF-8 with or without a byte-order mark; an undecodable byte becomes U+FFFD (the
    row then names a file that does not exist and is skipped) instead of stopping the preparation."""
    return open(path, newline="", encoding="utf-8-sig", errors="replace")


def parse_float(value: str, what: str) -> float:
    try:
        number = float(value)
    except (ValueError, TypeError):
        raise SkipRecord(f"{what} is not a number ({value!r})") from None
    if not np.isfinite(number):
        raise SkipRecord(f"{what} is not finite ({value!r})")
    return number
