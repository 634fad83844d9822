"""What this device can do at best, measured in the same run as the steps: the matrix-multiply rate and the copy
bandwidth. They turn a step's FLOPs and bytes into its floor time (docs/PERFORMANCE.md, "How throughput measures")."""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp


def _median_seconds(fn, *args, repeats: int = 10) -> float:
    jax.block_until_ready(fn(*args))  # compile and warm up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def matmul_flops_per_second(dtype, size: int) -> float:
    """Square matrix products of `size`, chained 4 times in one program (so launch overhead does not count)."""
    a = jnp.ones((size, size), dtype)

    @jax.jit
    def chain(x):
        for _ in range(4):
            x = (x @ a) * jnp.asarray(1e-3, dtype)  # keep values finite
        return x

    return 4 * 2 * size**3 / _median_seconds(chain, a)


def copy_bytes_per_second(megabytes: int) -> float:
    """Read and write an array of `megabytes` once (x * 2): 2 x its size moved per call."""
    x = jnp.ones((megabytes * 2**20 // 4,), jnp.float32)
    return 2 * x.nbytes / _median_seconds(jax.jit(lambda v: v * 2), x)
