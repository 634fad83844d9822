"""The training view of a batch: the clean images turned into puzzles and/or masked images, with their targets.

Everything here is a pure function of (images, key), traced into the train step, so the host pipeline only
decodes and augments and the accelerator does the tensor shuffles.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections

from hmtl_jax.config.tasks import task_on
from hmtl_jax.pretext import jigsaw, masks

EMOTION_VIEWS = ("pretext", "clean", "both")
BATCH_NORMS = ("joint", "separate")
COMBINES = ("compose", "split")


@dataclasses.dataclass(frozen=True)
class PretextSpec:
    """The static (hashable) part of the pretext config that the step is compiled for."""

    jigsaw: bool
    inpaint: bool
    grid: int = 3
    uniform_permutations: bool = False
    mask_shape: str = "rectangles"
    mask_ratio: float = 0.25
    mask_count: int = 1
    grid_cells: int = 4
    face_lines: tuple[float, ...] = (0.40, 0.68)
    band_jitter: float = 0.05
    fill: str = "noise"
    fill_value: float = 0.5
    combine: str = "compose"
    emotion_view: str = "pretext"
    batch_norm: str = "joint"

    @property
    def active(self) -> bool:
        return self.jigsaw or self.inpaint

    @classmethod
    def from_config(cls, config: ml_collections.ConfigDict) -> PretextSpec:
        inpaint = config.inpaint
        return cls(
            jigsaw=task_on(config, "jigsaw"),
            inpaint=task_on(config, "inpaint"),
            grid=config.jigsaw.grid,
            uniform_permutations=config.jigsaw.permutations == "uniform",
            mask_shape=inpaint.mask_shape,
            mask_ratio=inpaint.mask_ratio,
            mask_count=inpaint.mask_count,
            grid_cells=inpaint.grid_cells,
            face_lines=tuple(inpaint.face_lines),
            band_jitter=inpaint.band_jitter,
            fill=inpaint.fill,
            fill_value=inpaint.fill_value,
            combine=config.pretext.combine,
            emotion_view=config.pretext.emotion_view,
            batch_norm=config.pretext.batch_norm,
        )


def build_views(images: jax.Array, key: jax.Array, spec: PretextSpec, perm_set: jax.Array | None) -> dict:
    """`images`: float (B, H, W, 3) in [0, 1]. Returns

    - `view`: what the network sees for the pretext tasks;
    - `perms` (B, N*N) and `perm_index` (B,): the jigsaw targets (per tile / index in the set), if jigsaw;
    - `mask` (B, H, W, 1) and `inpaint_target` (B, H, W, 3): where and what to repaint, if in-painting;
    - `jigsaw_rows`, `inpaint_rows` (B,) float: which examples each task's loss counts (all, or alternate rows
      with combine="split").
    """
    batch, size = images.shape[0], images.shape[1]
    perm_key, mask_key, fill_key = jax.random.split(key, 3)
    ones = jnp.ones((batch,), jnp.float32)
    out = {"jigsaw_rows": ones, "inpaint_rows": ones}
    puzzled = images
    if spec.jigsaw:
        perms, index = jigsaw.sample_permutations(
            perm_key, batch, grid=spec.grid, permutation_set=None if spec.uniform_permutations else perm_set
        )
        puzzled = jigsaw.puzzle(images, perms, spec.grid)
        out.update(perms=perms, perm_index=index)
    view = puzzled
    if spec.inpaint:
        mask = masks.sample_masks(
            mask_key,
            batch,
            size,
            shape=spec.mask_shape,
            ratio=spec.mask_ratio,
            count=spec.mask_count,
            grid_cells=spec.grid_cells,
            face_lines=spec.face_lines,
            band_jitter=spec.band_jitter,
        ).astype(images.dtype)
        if spec.jigsaw and spec.combine == "split":
            # Even rows are puzzles, odd rows masked clean images: each device's shard holds both kinds.
            even = (jnp.arange(batch) % 2 == 0).astype(jnp.float32)
            out.update(jigsaw_rows=even, inpaint_rows=1.0 - even)
            target = images
            masked = masks.apply_mask(images, mask, fill_key, fill=spec.fill, fill_value=spec.fill_value)
            view = jnp.where(even[:, None, None, None] > 0, puzzled, masked)
        else:
            target = puzzled  # composed: the decoder repaints the puzzled image it was shown
            view = masks.apply_mask(puzzled, mask, fill_key, fill=spec.fill, fill_value=spec.fill_value)
        out.update(mask=mask, inpaint_target=target)
    out["view"] = view
    return out
