"""The synthetic faces labelled for another supervised task: their `label` becomes the face's gender or head pose."""

from __future__ import annotations

import numpy as np

from hmtl_jax.supervised.tasks import synthetic_label


class TaskLabels:
    """`source` with each record's `label` replaced by `task`'s label (the other fields stay)."""

    def __init__(self, source, task: str):
        self._source, self.task = source, task

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> dict:
        record = dict(self._source[index])
        record["label"] = synthetic_label(self.task, record)
        return record

    def labels(self) -> np.ndarray:
        """Every record's label. Reads (renders) every record: wrap a source before `InMemorySource`, whose labels
        are then free."""
        return np.stack([self[index]["label"] for index in range(len(self))])

    def __repr__(self) -> str:
        return f"TaskLabels({self._source!r}, task={self.task!r})"
