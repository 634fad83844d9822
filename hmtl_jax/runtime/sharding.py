"""The device mesh and how state and batches are laid out on it.

Data parallel by default: the batch is split along the mesh's `data` axis and the train state is replicated.
`config.sharding.strategy = "fsdp"` additionally splits each large parameter (and its optimiser moments) along
the same axis, ZeRO-3 style; XLA inserts the all-gathers. The mesh uses Auto axis types on purpose: with Explicit
axes (the default of newer JAX) every op must say how its output is sharded, which ordinary loss code does not.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"
# Parameters smaller than this stay replicated under FSDP: splitting them saves nothing and costs collectives.
FSDP_MIN_SIZE = 2**16


def create_mesh(devices: list[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh over all (or the given) devices, axis `data`."""
    devices = devices if devices is not None else jax.devices()
    return jax.make_mesh((len(devices),), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) dimension split over `data`, the rest replicated."""
    return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def _fsdp_spec(shape: tuple[int, ...], num_shards: int) -> P:
    """Split the largest dimension divisible by the mesh size; replicate small or indivisible arrays."""
    if int(np.prod(shape, dtype=np.int64)) < FSDP_MIN_SIZE:
        return P()
    for dim in sorted(range(len(shape)), key=lambda d: -shape[d]):
        if shape[dim] % num_shards == 0:
            spec = [None] * len(shape)
            spec[dim] = DATA_AXIS
            return P(*spec)
    return P()


def state_shardings(abstract_state, mesh: Mesh, strategy: str):
    """NamedShardings for every leaf of the train state under `strategy` ('data' or 'fsdp')."""
    if strategy == "data":
        return jax.tree.map(lambda _: replicated(mesh), abstract_state)
    if strategy == "fsdp":
        num_shards = mesh.shape[DATA_AXIS]
        return jax.tree.map(lambda leaf: NamedSharding(mesh, _fsdp_spec(tuple(leaf.shape), num_shards)), abstract_state)
    raise ValueError(f"config.sharding.strategy must be 'data' or 'fsdp', got {strategy!r}")


def make_global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Turn this process's slice of the batch into global arrays sharded along `data`.

    Every process passes only its own rows; JAX stitches them into one logical array, so the same code runs
    on one CPU and on a multi-host pod.
    """
    sharding = batch_sharding(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local_batch.items()}
