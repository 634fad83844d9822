"""Masks for in-painting, drawn on device per example: 1 where the network must repaint, 0 where it sees the image.

The mask ratio sets the masked area in every shape:
- `rectangles`: `count` squares of `ratio / count` of the image area each, anywhere (they may overlap, so the
  union covers at most `ratio`; exactly `ratio`, up to pixel rounding, with count 1);
- `grid`: the image cut into `grid_cells` x `grid_cells` blocks, round(ratio * cells^2) of them masked: exact;
- `face_bands`: full-width horizontal bands of height `ratio / count` of the image over the eyes or the mouth
  (`face_lines`, fractions of the height for aligned faces; jittered by up to `band_jitter`), where expression lives.
  With count 1 each example gets one band, eyes or mouth at random; with count 2 both (tall bands on close lines
  may overlap, covering less than `ratio`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hmtl_jax.errors import ConfigError

MASK_SHAPES = ("rectangles", "grid", "face_bands")
FILLS = ("value", "noise")


def _box_mask(size: int, top: jax.Array, left: jax.Array, height: int, width: int) -> jax.Array:
    rows = jnp.arange(size)
    inside_rows = (rows >= top) & (rows < top + height)
    inside_cols = (rows >= left) & (rows < left + width)
    return inside_rows[:, None] & inside_cols[None, :]


def _rectangles(key, size: int, ratio: float, count: int) -> jax.Array:
    side = max(1, round(size * (ratio / count) ** 0.5))
    corners = jax.random.randint(key, (count, 2), 0, size - side + 1)
    boxes = jax.vmap(lambda c: _box_mask(size, c[0], c[1], side, side))(corners)
    return boxes.any(axis=0)


def _grid(key, size: int, ratio: float, cells: int) -> jax.Array:
    masked = round(ratio * cells * cells)
    chosen = jax.random.permutation(key, cells * cells) < masked  # exactly `masked` cells
    cell_mask = chosen.reshape(cells, cells)
    # Cell boundaries at round(i * size / cells): every pixel in exactly one cell even when cells do not divide size.
    cell_of = (jnp.arange(size) * cells) // size
    return cell_mask[cell_of[:, None], cell_of[None, :]]


def _face_bands(key, size: int, ratio: float, count: int, face_lines, jitter: float) -> jax.Array:
    height = max(1, round(size * ratio / count))
    line_key, jitter_key = jax.random.split(key)
    lines = jnp.asarray(face_lines, jnp.float32)
    if count == 1:
        centres = lines[jax.random.randint(line_key, (1,), 0, len(face_lines))]
    else:
        centres = lines[:count]
    centres = centres + jax.random.uniform(jitter_key, centres.shape, minval=-jitter, maxval=jitter)
    tops = jnp.clip(jnp.round(centres * size - height / 2).astype(jnp.int32), 0, size - height)
    bands = jax.vmap(lambda top: _box_mask(size, top, jnp.int32(0), height, size))(tops)
    return bands.any(axis=0)


def check_mask_config(shape: str, ratio: float, count: int, face_lines) -> None:
    if shape not in MASK_SHAPES:
        raise ConfigError(f"config.inpaint.mask_shape={shape!r} is not one of {MASK_SHAPES}")
    if not 0.0 < ratio < 1.0:
        raise ConfigError(f"config.inpaint.mask_ratio={ratio} must be in (0, 1)")
    if count < 1:
        raise ConfigError(f"config.inpaint.mask_count={count} must be at least 1")
    if shape == "face_bands" and count > len(face_lines):
        raise ConfigError(
            f"face_bands draws at most one band per line of config.inpaint.face_lines={tuple(face_lines)}, "
            f"so mask_count={count} is too many"
        )


def sample_masks(
    key: jax.Array,
    batch: int,
    size: int,
    *,
    shape: str,
    ratio: float,
    count: int = 1,
    grid_cells: int = 4,
    face_lines=(0.40, 0.68),
    band_jitter: float = 0.05,
) -> jax.Array:
    """float32 (B, size, size, 1): 1 = masked. One independent mask per example."""
    check_mask_config(shape, ratio, count, face_lines)
    if shape == "rectangles":
        one = lambda k: _rectangles(k, size, ratio, count)  # noqa: E731
    elif shape == "grid":
        one = lambda k: _grid(k, size, ratio, grid_cells)  # noqa: E731
    else:
        one = lambda k: _face_bands(k, size, ratio, count, face_lines, band_jitter)  # noqa: E731
    return jax.vmap(one)(jax.random.split(key, batch)).astype(jnp.float32)[..., None]


def apply_mask(images: jax.Array, masks: jax.Array, key: jax.Array, *, fill: str, fill_value: float) -> jax.Array:
    """Masked pixels replaced by `fill_value` (images in [0, 1]) or by uniform noise."""
    if fill == "noise":
        filler = jax.random.uniform(key, images.shape, images.dtype)
    elif fill == "value":
        filler = jnp.full_like(images, fill_value)
    else:
        raise ConfigError(f"config.inpaint.fill={fill!r} is not one of {FILLS}")
    return images * (1 - masks) + filler * masks
