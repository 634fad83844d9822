"""Jigsaw puzzles of a face, as pure JAX functions run inside the train step.

A puzzle cuts the image into an N x N grid of tiles and reorders them by a permutation `perm` of the N*N tile
indices (row-major): the tile at position p of the puzzled image is the original tile `perm[p]`. The network then
predicts either which permutation of a fixed set was used (Noroozi & Favaro 2016, the default) or, as the paper's
code does, which original tile sits at each position (`perm` itself, N*N classifications of N*N ways).
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from hmtl_jax.errors import ConfigError

TARGETS = ("permutation", "per_tile")
PERMUTATION_SOURCES = ("hamming", "uniform")


def check_grid(image_size: int, grid: int) -> int:
    """The tile size in pixels; a ValueError when the grid does not cut the image into whole tiles."""
    if grid < 2:
        raise ConfigError(f"a jigsaw grid needs at least 2 x 2 tiles, got grid={grid}")
    if image_size % grid:
        below, above = image_size - image_size % grid, image_size + grid - image_size % grid
        raise ConfigError(
            f"a {grid}x{grid} jigsaw cannot cut {image_size}-pixel images into whole tiles: use an image size "
            f"divisible by {grid} (e.g. {below} or {above}) or another grid"
        )
    return image_size // grid


def check_set_size(grid: int, count: int) -> None:
    tiles = grid * grid
    if tiles > 9:
        raise ConfigError(
            f"a Hamming permutation set is searched over all ({tiles})! permutations, so at most a 3 x 3 grid; "
            f"for grid={grid} use config.jigsaw.permutations='uniform' with target='per_tile'"
        )
    total = math.factorial(tiles)
    if not 1 <= count <= total:
        raise ConfigError(
            f"config.jigsaw.num_permutations must be in [1, {total}] for a {grid}x{grid} grid, got {count}"
        )


def hamming_permutation_set(grid: int, count: int, seed: int) -> np.ndarray:
    """`count` permutations of the grid*grid tiles, chosen greedily for maximal Hamming distance.

    Farthest-point selection: start from a permutation drawn with `seed`; then repeatedly add, among all
    (grid*grid)! permutations, one whose smallest Hamming distance to those already chosen is largest (ties broken by
    `seed`). So the k-th pick is as far from the first k-1 as any permutation can be, and the set's minimum pairwise
    distance is that of its last pick. Returns int32 (count, grid*grid), deterministic in (grid, count, seed).
    """
    check_set_size(grid, count)
    tiles = grid * grid
    candidates = np.array(list(itertools.permutations(range(tiles))), np.int8)
    rng = np.random.default_rng(seed)
    tie_break = rng.random(len(candidates))  # a fixed random order among equally distant candidates
    chosen = [int(rng.integers(len(candidates)))]
    min_distance = np.full(len(candidates), tiles + 1, np.int16)
    for _ in range(count - 1):
        distance = np.count_nonzero(candidates != candidates[chosen[-1]], axis=1)
        np.minimum(min_distance, distance, out=min_distance)
        best = min_distance.max()
        ties = np.flatnonzero(min_distance == best)
        chosen.append(int(ties[np.argmax(tie_break[ties])]))
    return candidates[chosen].astype(np.int32)


def _tiles(images: jax.Array, grid: int) -> jax.Array:
    """(B, H, W, C) -> (B, grid*grid, H/grid, W/grid, C), tiles in row-major order."""
    b, h, w, c = images.shape
    t_h, t_w = h // grid, w // grid
    x = images.reshape(b, grid, t_h, grid, t_w, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, grid * grid, t_h, t_w, c)


def _untiles(tiles: jax.Array, grid: int) -> jax.Array:
    b, _, t_h, t_w, c = tiles.shape
    x = tiles.reshape(b, grid, grid, t_h, t_w, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, grid * t_h, grid * t_w, c)


def puzzle(images: jax.Array, perms: jax.Array, grid: int) -> jax.Array:
    """Reorder the tiles of each image: output tile p = input tile perms[b, p]. Exact (a gather, no resampling)."""
    tiles = _tiles(images, grid)
    return _untiles(jnp.take_along_axis(tiles, perms[:, :, None, None, None], axis=1), grid)


def sample_permutations(
    key: jax.Array, batch: int, *, grid: int, permutation_set: jax.Array | None
) -> tuple[jax.Array, jax.Array]:
    """One permutation per example: (perms (B, grid*grid), index into `permutation_set` (B,)).

    With a `permutation_set`, draws uniformly from it; without one, uniformly from all permutations (the index is
    then -1: there is no set to index).
    """
    if permutation_set is not None:
        index = jax.random.randint(key, (batch,), 0, permutation_set.shape[0])
        return permutation_set[index], index
    keys = jax.random.split(key, batch)
    perms = jax.vmap(lambda k: jax.random.permutation(k, grid * grid))(keys).astype(jnp.int32)
    return perms, jnp.full((batch,), -1, jnp.int32)
