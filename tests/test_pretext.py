"""Jigsaw puzzles and in-painting masks: exact, covering what they promise, drawn per example."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hmtl_jax.pretext import jigsaw, masks
from hmtl_jax.pretext.views import PretextSpec, build_views


def _min_pairwise_hamming(perms: np.ndarray) -> int:
    """The smallest number of positions at which two permutations of the set differ."""
    distance = (perms[:, None, :] != perms[None, :, :]).sum(-1)
    np.fill_diagonal(distance, perms.shape[1] + 1)
    return int(distance.min())


def _unpuzzle(puzzled: jax.Array, perms: jax.Array, grid: int) -> jax.Array:
    """The inverse of `jigsaw.puzzle` for the same `perms`: puzzling with the inverse permutation."""
    return jigsaw.puzzle(puzzled, jnp.argsort(perms, axis=1), grid)


def test_hamming_set_is_distinct_deterministic_and_greedily_farthest():
    perms = jigsaw.hamming_permutation_set(3, 100, seed=0)
    assert perms.shape == (100, 9)
    assert len({tuple(p) for p in perms}) == 100
    assert all(sorted(p) == list(range(9)) for p in perms)
    np.testing.assert_array_equal(perms, jigsaw.hamming_permutation_set(3, 100, seed=0))
    assert not np.array_equal(perms, jigsaw.hamming_permutation_set(3, 100, seed=1))

    # The greedy promise, checked by brute force over all 9! permutations: the k-th pick is at least as far (in
    # smallest Hamming distance) from the first k-1 picks as any permutation is.
    # (Every pick is checked; the distance to the first k picks is kept as a running minimum over them.)
    every = np.array(list(itertools.permutations(range(9))), np.int8)
    distance_to_chosen = np.full(len(every), 9)
    for k in range(1, 100):
        np.minimum(distance_to_chosen, (every != perms[k - 1]).sum(-1), out=distance_to_chosen)
        pick_distance = (perms[k] != perms[:k]).sum(-1).min()
        assert pick_distance == distance_to_chosen.max(), f"pick {k} is not a farthest permutation"
    # So the set's minimum pairwise distance is its last pick's, and no smaller than any earlier pick's.
    assert _min_pairwise_hamming(perms) == (perms[99] != perms[:99]).sum(-1).min() >= 6
    # Nine permutations that differ everywhere exist (a Latin square): the greedy set of nine finds them.
    assert _min_pairwise_hamming(jigsaw.hamming_permutation_set(3, 9, seed=0)) == 9


@pytest.mark.parametrize("grid", [2, 3, 4])
def test_unpuzzling_with_the_label_gives_back_the_image_exactly(grid):
    rng = np.random.default_rng(grid)
    images = jnp.asarray(rng.integers(0, 256, (5, 12 * grid, 12 * grid, 3), dtype=np.uint8))
    perms, _ = jigsaw.sample_permutations(jax.random.key(0), 5, grid=grid, permutation_set=None)
    puzzled = jigsaw.puzzle(images, perms, grid)
    assert not np.array_equal(puzzled, images)
    np.testing.assert_array_equal(_unpuzzle(puzzled, perms, grid), images)
    # The label's meaning, tile by tile: position p of the puzzle holds original tile perms[p].
    tile = 12
    for b in range(5):
        for position in range(grid * grid):
            source = int(perms[b, position])
            got = puzzled[
                b,
                (position // grid) * tile : (position // grid + 1) * tile,
                (position % grid) * tile : (position % grid + 1) * tile,
            ]
            want = images[
                b,
                (source // grid) * tile : (source // grid + 1) * tile,
                (source % grid) * tile : (source % grid + 1) * tile,
            ]
            np.testing.assert_array_equal(got, want)


def test_permutations_drawn_from_the_set_match_their_index():
    perm_set = jnp.asarray(jigsaw.hamming_permutation_set(3, 100, seed=0))
    perms, index = jigsaw.sample_permutations(jax.random.key(3), 256, grid=3, permutation_set=perm_set)
    np.testing.assert_array_equal(perms, perm_set[index])
    assert len(np.unique(index)) > 80  # drawn uniformly over the set, per example


def test_grid_that_does_not_divide_the_image_is_a_clear_error():
    assert jigsaw.check_grid(225, 3) == 75
    with pytest.raises(ValueError, match=r"divisible by 3 \(e\.g\. 222 or 225\)"):
        jigsaw.check_grid(224, 3)


@pytest.mark.parametrize("shape,count", [("rectangles", 1), ("grid", 1), ("face_bands", 1), ("face_bands", 2)])
@pytest.mark.parametrize("ratio", [0.125, 0.25, 0.5])
def test_masks_cover_the_configured_ratio(shape, count, ratio):
    m = np.asarray(masks.sample_masks(jax.random.key(0), 32, 64, shape=shape, ratio=ratio, count=count))
    assert m.shape == (32, 64, 64, 1) and set(np.unique(m)) <= {0.0, 1.0}
    coverage = m.mean(axis=(1, 2, 3))
    tolerance = 2 / 64 if shape != "grid" else 1e-9  # one row or column of rounding for squares and bands
    if shape == "face_bands" and count == 2 and ratio == 0.5:
        # Two bands of 16 px on lines 18 px apart, each jittered: they may overlap, never exceed the ratio.
        assert np.all(coverage <= ratio + tolerance) and coverage.mean() > ratio - 0.05
    else:
        np.testing.assert_allclose(coverage, ratio, atol=tolerance)
    assert len({m[i].tobytes() for i in range(32)}) > 1, "every example should get its own mask"


def test_several_rectangles_cover_at_most_the_ratio_and_bands_sit_on_the_face_lines():
    m = np.asarray(masks.sample_masks(jax.random.key(1), 64, 64, shape="rectangles", ratio=0.3, count=3))
    coverage = m.mean(axis=(1, 2, 3))
    assert np.all(coverage <= 0.3 + 1e-6) and coverage.mean() > 0.2
    bands = np.asarray(
        masks.sample_masks(
            jax.random.key(2), 64, 100, shape="face_bands", ratio=0.1, count=2, face_lines=(0.4, 0.7), band_jitter=0.0
        )
    )
    rows = np.flatnonzero(bands[0, :, 0, 0])
    np.testing.assert_array_equal(rows, list(range(38, 43)) + list(range(68, 73)))  # 5 px each: 10 % in all
    assert np.all(bands[..., 0].min(axis=2) == bands[..., 0].max(axis=2)), "bands span the full width"


@pytest.mark.parametrize("fill", ["value", "noise"])
def test_apply_mask_changes_only_masked_pixels(fill):
    images = jax.random.uniform(jax.random.key(0), (4, 32, 32, 3))
    m = masks.sample_masks(jax.random.key(1), 4, 32, shape="grid", ratio=0.25)
    out = np.asarray(masks.apply_mask(images, m, jax.random.key(2), fill=fill, fill_value=0.5))
    keep = np.broadcast_to(np.asarray(m) == 0, out.shape)
    np.testing.assert_array_equal(out[keep], np.asarray(images)[keep])
    if fill == "value":
        assert np.all(out[~keep] == 0.5)
    else:
        assert out[~keep].std() > 0.2  # uniform noise, std 0.29


def test_bad_mask_settings_are_clear_errors():
    with pytest.raises(ValueError, match="mask_ratio"):
        masks.check_mask_config("grid", 1.5, 1, (0.4, 0.7))
    with pytest.raises(ValueError, match="mask_shape"):
        masks.check_mask_config("circles", 0.25, 1, (0.4, 0.7))
    with pytest.raises(ValueError, match="at most one band per line"):
        masks.check_mask_config("face_bands", 0.25, 3, (0.4, 0.7))


def test_split_views_alternate_tasks_and_composed_views_do_both():
    images = jax.random.uniform(jax.random.key(0), (8, 48, 48, 3))
    perm_set = jnp.asarray(jigsaw.hamming_permutation_set(3, 10, seed=0))
    split = build_views(images, jax.random.key(1), PretextSpec(jigsaw=True, inpaint=True, combine="split"), perm_set)
    np.testing.assert_array_equal(split["jigsaw_rows"], [1, 0] * 4)
    np.testing.assert_array_equal(split["inpaint_rows"], [0, 1] * 4)
    even_puzzles = _unpuzzle(split["view"][0::2], split["perms"][0::2], 3)
    np.testing.assert_allclose(even_puzzles, images[0::2])  # even rows: puzzles, no mask
    np.testing.assert_allclose(split["inpaint_target"], images)  # odd rows repaint the clean face

    composed = build_views(images, jax.random.key(1), PretextSpec(jigsaw=True, inpaint=True), perm_set)
    puzzled = jigsaw.puzzle(images, composed["perms"], 3)
    np.testing.assert_allclose(composed["inpaint_target"], puzzled)  # repaint the puzzle that was shown
    visible = np.broadcast_to(np.asarray(composed["mask"]) == 0, images.shape)
    np.testing.assert_allclose(np.asarray(composed["view"])[visible], np.asarray(puzzled)[visible])
