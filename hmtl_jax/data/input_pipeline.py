"""Grain pipelines: source -> shuffle -> augment -> per-process shard -> batch, as checkpointable iterators.

With `config.data.sampling='balanced'` the records are drawn class-balanced (sampling.BalancedIndices) instead of
shuffled. Everything up to the batch is a `MapDataset`, so an iterator's state is one integer per process (the next
index) and a restored run sees exactly the batches it would have seen. Shuffling is reseeded every epoch by Grain.
Each JAX process reads only its own rows: in training its contiguous share of every global batch, in evaluation
`[process_index::process_count]`; `sharding.make_global_batch` then assembles the global array.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import grain
import jax
import ml_collections
import numpy as np
from absl import flags

from hmtl_jax.data.augment import EvalPreprocess, TrainAugment
from hmtl_jax.data.sampling import BalancedIndices, ReadRecord
from hmtl_jax.supervised import head_pose
from hmtl_jax.supervised.tasks import is_regression

SAMPLINGS = ("shuffle", "balanced")


def _process_slice(ds: grain.MapDataset) -> grain.MapDataset:
    return ds[jax.process_index() :: jax.process_count()]


def _to_iter(ds: grain.MapDataset, config: ml_collections.ConfigDict) -> grain.IterDataset:
    """Read ahead a few batches (Grain's default of 500 would render whole epochs ahead), in threads or workers."""
    options = grain.ReadOptions(
        num_threads=config.input.read_threads, prefetch_buffer_size=config.input.prefetch_batches
    )
    ds = ds.to_iter_dataset(options)
    if config.input.worker_count <= 0:
        return ds
    return _in_worker_processes(ds, config.input.worker_count)


def _in_worker_processes(ds: grain.IterDataset, worker_count: int) -> grain.IterDataset:
    """Grain's worker processes. grain 0.2.18's `mp_prefetch` reads an absl flag and raises UnparsedFlagAccessError
    when nobody parsed absl's flags, as under pytest or in a notebook (`python -m hmtl_jax.main` parses them): mark
    them parsed first, with their defaults, so the library works from any caller."""
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    return ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count))


def create_train_iterator(source, config: ml_collections.ConfigDict, num_epochs: int) -> grain.DatasetIterator:
    """Batches of this process's share of `config.batch_size`: {'image': uint8 [b,H,W,3], 'label': int32 [b]} (head
    pose: float32 [b, 3] degrees)."""
    local_batch_size = config.batch_size // jax.process_count()
    if config.data.sampling == "balanced":
        ds = grain.MapDataset.source(BalancedIndices(source.labels(), num_epochs, config.seed))
        ds = ds.map(ReadRecord(source))
    else:
        ds = grain.MapDataset.source(source).shuffle(seed=config.seed).repeat(num_epochs)
    # Augmentation draws are keyed by the position in the global stream (MapDatasets are lazy: nothing is read
    # for the rows of other processes), so they do not depend on the number of processes either.
    mirror_label = head_pose.mirror if is_regression(config.task) else None
    augment = TrainAugment(config.input.augment, config.data.image_size, config.input.flip, mirror_label)
    ds = ds.random_map(augment, seed=config.seed)
    ds = _rows_of_this_process(ds, config.batch_size)
    ds = ds.batch(local_batch_size, drop_remainder=True)
    return iter(_to_iter(ds, config))


def _rows_of_this_process(ds: grain.MapDataset, global_batch_size: int) -> grain.MapDataset:
    """Rows [p*L, (p+1)*L) of every block of `global_batch_size` rows for process p (L = the local batch size).

    The global batch that `sharding.make_global_batch` assembles from all processes is then the same rows in the
    same order as one process would read, so a run's trajectory does not depend on how many processes share it."""
    count = jax.process_count()
    if count == 1:
        return ds
    local = global_batch_size // count
    ds = ds[: len(ds) // global_batch_size * global_batch_size]  # every process gets the same number of batches
    first = jax.process_index() * local
    # mix() with equal weights takes one element of each part in turn: row r of block b is part r's element b.
    return grain.MapDataset.mix([ds[first + row :: global_batch_size] for row in range(local)])


def iterate_eval_batches(source, config: ml_collections.ConfigDict) -> Iterator[dict[str, np.ndarray]]:
    """Every validation record exactly once, in padded batches with a `mask` (1 = real, 0 = padding).

    All processes yield the same number of batches (a collective step needs every process), padding with fully
    masked batches where their share runs out first.
    """
    local_batch_size = config.batch_size // jax.process_count()
    preprocess = EvalPreprocess(config.data.image_size, config.input.eval_crop_fraction)
    ds = grain.MapDataset.source(source).map(preprocess)
    ds = _process_slice(ds).batch(local_batch_size, drop_remainder=False)
    total = math.ceil(len(source) / config.batch_size)
    produced = 0
    for batch in _to_iter(ds, config):
        yield _pad_batch(batch, local_batch_size)
        produced += 1
    if produced < total:  # an empty batch shaped like a record (the label's shape and dtype depend on the task)
        record = preprocess.map(source[0])
        empty = {key: np.zeros((0, *np.shape(value)), np.asarray(value).dtype) for key, value in record.items()}
        for _ in range(total - produced):
            yield _pad_batch(empty, local_batch_size)


def _pad_batch(batch: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    real = len(batch["label"])
    padded = {k: np.concatenate([v, np.zeros((size - real, *v.shape[1:]), v.dtype)]) for k, v in batch.items()}
    padded["mask"] = (np.arange(size) < real).astype(np.float32)
    return padded
