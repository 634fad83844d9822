"""A random-access source held in memory: every record read (rendered or decoded) once, at start.

For small data sets read for many epochs, such as the synthetic faces of the demo and the sweeps: rendering a face
costs about 3 ms of CPU per read, which on a 2-core machine otherwise competes with the train step every epoch.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

log = logging.getLogger(__name__)

# Records per task of the worker processes: large enough that pickling the stacked arrays back is cheap next to
# rendering them, small enough that the cores finish together.
CHUNK = 500


def _read_chunk(source, start: int, stop: int) -> dict[str, np.ndarray]:
    records = [source[index] for index in range(start, stop)]
    return {key: np.stack([record[key] for record in records]) for key in records[0]}


def _leave_with_parent(parent: int) -> None:
    """Worker initializer: exit as soon as the process that spawned this worker is gone. A SIGTERM (a scheduler,
    a preemption) kills the trainer without any cleanup, and its workers would otherwise wait for work forever.
    (Linux's PR_SET_PDEATHSIG would do this without a thread, but not on macOS laptops.)"""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class InMemorySource:
    """`len()`, `[i] -> dict of the record's fields`, and `labels()`, as the source it copies.

    The records are read in `processes` worker processes (default: one per core), not threads: the synthetic
    renderer is many small numpy calls that hold the GIL, so threads ran it no faster than one. Workers are spawned,
    not forked, as forking a process that already started JAX's threads can deadlock. The source must pickle."""

    def __init__(self, source, processes: int | None = None):
        started = time.perf_counter()
        bounds = [(start, min(start + CHUNK, len(source))) for start in range(0, len(source), CHUNK)]
        workers = min(processes or os.cpu_count() or 1, len(bounds))
        if workers > 1:
            pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_leave_with_parent,
                initargs=(os.getpid(),),
            )
            try:
                parts = list(pool.map(_read_chunk, [source] * len(bounds), *zip(*bounds, strict=True)))
            finally:  # on Ctrl-C too: the chunks not started yet are dropped, not rendered first
                pool.shutdown(cancel_futures=True)
        else:
            parts = [_read_chunk(source, start, stop) for start, stop in bounds]
        self._fields = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        self._length = len(source)
        self.name = repr(source)
        log.info(
            "%s read into memory: %d records, %.0f MB, %.1f s in %d processes",
            self.name,
            self._length,
            sum(a.nbytes for a in self._fields.values()) / 2**20,
            time.perf_counter() - started,
            workers,
        )

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict:
        return {key: values[index] for key, values in self._fields.items()}

    def labels(self) -> np.ndarray:
        return self._fields["label"].copy()
