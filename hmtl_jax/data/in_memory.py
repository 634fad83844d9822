"""A random-access source held in memory: every record read (rendered or decoded) once, at start.

For small data sets read for many epochs, such as the synthetic faces of a sweep: rendering a 48 px face costs
about a millisecond of CPU per read, which on a 2-core machine competes with the train step every epoch.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

log = logging.getLogger(__name__)


class InMemorySource:
    """`len()`, `[i] -> dict of the record's fields`, and `labels()`, as the source it copies."""

    def __init__(self, source, threads: int = 2):
        started = time.perf_counter()
        with ThreadPoolExecutor(max(1, threads)) as pool:
            records = list(pool.map(source.__getitem__, range(len(source)), chunksize=64))
        self._fields = {key: np.stack([r[key] for r in records]) for key in records[0]}
        self._length = len(records)
        self.name = repr(source)
        log.info(
            "%s read into memory: %d records, %.0f MB, %.1f s",
            self.name,
            self._length,
            sum(a.nbytes for a in self._fields.values()) / 2**20,
            time.perf_counter() - started,
        )

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict:
        return {key: values[index] for key, values in self._fields.items()}

    def labels(self) -> np.ndarray:
        return self._fields["label"].copy()
