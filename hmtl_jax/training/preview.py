"""The picture of the pretext tasks at each evaluation: a few validation faces, their pretext view and the
decoder's reconstruction, with fixed puzzles and masks so that successive pictures are comparable."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath
from flax import nnx

from hmtl_jax.models.from_config import to_model_input
from hmtl_jax.pretext.views import build_views
from hmtl_jax.reporting.metric_writer import MetricWriter
from hmtl_jax.reporting.pretext_grid import render_pretext_grid
from hmtl_jax.runtime import storage
from hmtl_jax.training.jitted import JittedTraining
from hmtl_jax.training.multitask_loss import MultitaskSpec
from hmtl_jax.training.state import TrainState


def pretext_views(state: TrainState, images: jax.Array, key: jax.Array, *, graphdef, spec: MultitaskSpec) -> dict:
    """The clean images, the pretext view and (if in-painting) the decoder's reconstruction pasted into the view's
    masked pixels. All float32 (B, H, W, 3) in [0, 1]."""
    model = nnx.merge(graphdef, state.params, state.batch_stats)
    model.eval()
    clean = to_model_input(images, jnp.float32)
    views = build_views(clean, key, spec.pretext, spec.permutation_set)
    out = {"clean": clean, "view": views["view"]}
    if spec.pretext.inpaint:
        features = model.features(views["view"].astype(spec.dtype))
        reconstruction = model.decoder(features, clean.shape[1], clean.shape[2])
        out["reconstruction"] = views["mask"] * reconstruction + (1 - views["mask"]) * views["view"]
    return out


def create_preview(config: ml_collections.ConfigDict, jitted: JittedTraining, val_source):
    """A function state -> preview arrays for the first `config.preview_images` validation faces; None when no
    pretext task is on."""
    count = min(config.preview_images, len(val_source))
    if not jitted.spec.pretext.active or count <= 0:
        return None
    images = jax.device_put(np.stack([val_source[i]["image"] for i in range(count)]))  # once, not per evaluation
    preview = jax.jit(functools.partial(pretext_views, graphdef=jitted.graphdef, spec=jitted.spec))
    key = jax.random.key(config.seed + 1)
    return lambda state: jax.device_get(preview(state, images, key))


def write_preview(arrays: dict, writer: MetricWriter, step: int, workdir: epath.Path) -> None:
    """To TensorBoard and `<workdir>/pretext_views.png`."""
    picture = render_pretext_grid(arrays)
    writer.write_image(step, "train/pretext_views", picture)
    if jax.process_index() == 0:
        storage.write_png(workdir / "pretext_views.png", picture)
