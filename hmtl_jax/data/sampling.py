"""Which records a run trains on, and how often: a stratified fraction of the train split, and class-balanced
sampling (oversampling of rare classes), both deterministic from a seed.
"""

from __future__ import annotations

import threading

import grain
import numpy as np

from hmtl_jax.errors import ConfigError


def stratified_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of `fraction` of each class (rounded, at least one record of every class present); of
    `fraction` of all records for regression labels (head pose's angles, float), which have no classes.

    The same labels, fraction and seed always give the same subset, whatever the training seed, so runs that differ
    in their seed train on the same records. With one seed the subsets are nested: 10 % lies inside 20 %, and so on."""
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"train fraction {fraction} must be in (0, 1]")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    if np.issubdtype(labels.dtype, np.floating):
        return np.sort(rng.permutation(len(labels))[: max(1, int(round(fraction * len(labels))))])
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        keep = max(1, int(round(fraction * len(members))))
        chosen.append(rng.permutation(members)[:keep])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


class SubsetSource:
    """The records `indices` of `source`, as a source of their own."""

    def __init__(self, source, indices: np.ndarray):
        self._source = source
        self._indices = np.asarray(indices)
        self.class_names = getattr(source, "class_names", None)

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, index: int) -> dict:
        return self._source[int(self._indices[index])]

    def labels(self) -> np.ndarray:
        return np.asarray(self._source.labels())[self._indices]

    def __repr__(self) -> str:
        return f"SubsetSource({self._source!r}, {len(self)} records)"


class BalancedIndices:
    """A random-access sequence of record indices, `num_epochs` epochs of len(labels) draws each.

    Every draw picks a class uniformly, then a record of that class uniformly (with replacement), so each class is
    seen equally often in expectation; rare records repeat within an epoch. Epoch e's draws are a function of
    (seed, e) only, so a restored iterator sees exactly what the uninterrupted run would have seen."""

    def __init__(self, labels: np.ndarray, num_epochs: int, seed: int):
        labels = np.asarray(labels)
        classes, counts = np.unique(labels, return_counts=True)
        weights = 1.0 / counts[np.searchsorted(classes, labels)]
        self._probabilities = weights / weights.sum()
        self._size = len(labels)
        self._num_epochs = num_epochs
        self._seed = seed
        self._cache: dict[int, np.ndarray] = {}  # the last two epochs: reads near a boundary touch both
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size * self._num_epochs

    def __getitem__(self, index: int) -> int:
        epoch, position = divmod(int(index), self._size)
        return int(self._epoch(epoch)[position])

    def _epoch(self, epoch: int) -> np.ndarray:
        with self._lock:
            if epoch not in self._cache:
                rng = np.random.default_rng((self._seed, epoch))
                self._cache = {e: v for e, v in self._cache.items() if e == epoch - 1}
                self._cache[epoch] = rng.choice(self._size, size=self._size, p=self._probabilities)
            return self._cache[epoch]

    def __getstate__(self):  # Grain workers receive a pickled copy; locks do not pickle
        state = self.__dict__.copy()
        del state["_lock"]
        state["_cache"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()


class ReadRecord(grain.transforms.Map):
    """Index -> the source's record at that index."""

    def __init__(self, source):
        self.source = source

    def map(self, index: int) -> dict:
        return self.source[index]
