"""The jitted train and eval steps (pure functions of the state and one global batch).

One train step computes every task on the same backbone in one program: the emotion cross-entropy, and when on,
the jigsaw classification and the in-painting reconstruction (pixel + perceptual) losses, summed with their weights:

    total = w_fer CE_fer + w_jigsaw CE_jigsaw + w_inpaint (L_pixel + lambda L_perceptual)

Under a batch-sharded jit, every reduction in here (BatchNorm's batch statistics, the mean losses) is over the
global batch: XLA inserts the cross-device collectives, so the math is the one-device math.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from clu import metrics as clu_metrics
from flax import nnx

from hmtl_jax.training.emotion_loss import emotion_loss
from hmtl_jax.reporting.metrics import EvalMetrics
from hmtl_jax.pretext import losses as pretext_losses
from hmtl_jax.pretext.views import PretextSpec, build_views
from hmtl_jax.training.state import TrainState, compute_dtype


def to_model_input(images: jax.Array, dtype) -> jax.Array:
    """uint8 pixels (what crosses host->device, 4x smaller than float) -> [0, 1] as the paper's code."""
    return images.astype(dtype) / 255.0


@dataclasses.dataclass(frozen=True)
class StepSetup:
    """Everything the train step is compiled for, besides the model and the optimiser."""

    dtype: Any = jnp.float32
    label_smoothing: float = 0.0
    emotion_weight: float = 1.0
    jigsaw_weight: float = 0.0
    inpaint_weight: float = 0.0
    pixel_loss: str = "l1"
    loss_region: str = "masked"
    perceptual_layers: tuple[str, ...] = ()  # empty: no perceptual loss
    perceptual_weight: float = 0.0
    pretext: PretextSpec = PretextSpec(jigsaw=False, inpaint=False)
    # Arrays are not hashable: compared by identity, which is what a compiled step needs.
    class_weights: Any = dataclasses.field(default=None, compare=False)
    permutation_set: Any = dataclasses.field(default=None, compare=False)

    @classmethod
    def from_config(
        cls, config: ml_collections.ConfigDict, class_weights: np.ndarray | None, permutation_set: np.ndarray | None
    ) -> StepSetup:
        inpaint = config.inpaint
        perceptual = inpaint.weight > 0 and inpaint.perceptual_network != "none"
        return cls(
            dtype=compute_dtype(config),
            label_smoothing=config.loss.label_smoothing,
            emotion_weight=config.loss.emotion_weight,
            jigsaw_weight=config.jigsaw.weight,
            inpaint_weight=inpaint.weight,
            pixel_loss=inpaint.pixel_loss,
            loss_region=inpaint.loss_region,
            perceptual_layers=tuple(inpaint.perceptual_layers) if perceptual else (),
            perceptual_weight=inpaint.perceptual_weight if perceptual else 0.0,
            pretext=PretextSpec.from_config(config),
            class_weights=None if class_weights is None else jnp.asarray(class_weights),
            permutation_set=None if permutation_set is None else jnp.asarray(permutation_set),
        )

    def metric_names(self) -> tuple[str, ...]:
        """The per-task scalars of `train_metrics`, besides the total loss and the emotion accuracy."""
        names = ["emotion_loss"]
        if self.jigsaw_weight > 0:
            names += ["jigsaw_loss", "jigsaw_accuracy"]
        if self.inpaint_weight > 0:
            names += ["pixel_loss"] + (["perceptual_loss"] if self.perceptual_layers else [])
        return tuple(names)


@functools.cache
def train_metrics_class(names: tuple[str, ...]) -> type[clu_metrics.Collection]:
    """A clu Collection averaging the total loss, the emotion accuracy and each of `names` over the steps logged."""
    return clu_metrics.Collection.create(
        loss=clu_metrics.Average.from_output("loss"),
        accuracy=clu_metrics.Accuracy,
        **{name: clu_metrics.Average.from_output(name) for name in names},
    )


def _split_pairs(feature_maps: list[jax.Array]) -> tuple[list[jax.Array], list[jax.Array]]:
    """Features of an interleaved [clean_0, view_0, clean_1, view_1, ...] batch -> (clean, view) features."""
    pairs = [f.reshape(f.shape[0] // 2, 2, *f.shape[1:]) for f in feature_maps]
    return [p[:, 0] for p in pairs], [p[:, 1] for p in pairs]


def multitask_losses(model: nnx.Module, batch: dict, rng: jax.Array, frozen, setup: StepSetup):
    """(total loss, emotion logits, {task scalar: value}) for a model in train mode."""
    spec = setup.pretext
    if spec.active:
        images = to_model_input(batch["image"], jnp.float32)
        views = build_views(images, jax.random.fold_in(rng, 1), spec, setup.permutation_set)
        if spec.emotion_view == "clean":
            # One pass over clean and pretext images interleaved row by row: each device keeps its own rows.
            both = jnp.stack([images, views["view"]], axis=1).reshape(-1, *images.shape[1:])
            clean_features, view_features = _split_pairs(model.features(both.astype(setup.dtype)))
        else:
            clean_features = view_features = model.features(views["view"].astype(setup.dtype))
        logits = model.head(clean_features[-1], rngs=nnx.Rngs(dropout=rng))
    else:
        logits = model(to_model_input(batch["image"], setup.dtype), rngs=nnx.Rngs(dropout=rng))
    fer = emotion_loss(logits, batch["label"], class_weights=setup.class_weights,
                       label_smoothing=setup.label_smoothing)
    total = setup.emotion_weight * fer
    scalars = {"emotion_loss": fer}
    if spec.jigsaw:
        jigsaw_logits = model.jigsaw(view_features[-1], rngs=nnx.Rngs(dropout=jax.random.fold_in(rng, 2)))
        jigsaw_ce, jigsaw_accuracy = pretext_losses.jigsaw_loss(jigsaw_logits, views, views["jigsaw_rows"])
        total = total + setup.jigsaw_weight * jigsaw_ce
        scalars.update(jigsaw_loss=jigsaw_ce, jigsaw_accuracy=jigsaw_accuracy)
    if spec.inpaint:
        reconstruction = model.decoder(view_features, images.shape[1], images.shape[2])
        rows = views["inpaint_rows"]
        pixel = pretext_losses.pixel_loss(reconstruction, views, rows, kind=setup.pixel_loss,
                                          region=setup.loss_region)
        inpaint = pixel
        scalars["pixel_loss"] = pixel
        if setup.perceptual_layers:
            perceptual = pretext_losses.perceptual_loss(
                frozen, reconstruction, views, rows, layers=setup.perceptual_layers, region=setup.loss_region,
                dtype=setup.dtype,
            )
            inpaint = inpaint + setup.perceptual_weight * perceptual
            scalars["perceptual_loss"] = perceptual
        total = total + setup.inpaint_weight * inpaint
    return total, logits, scalars


def loss_and_grads(graphdef, params, batch_stats, batch, rng, frozen, setup: StepSetup):
    """(loss, (logits, task scalars, new_batch_stats)), grads with respect to `params`.

    `frozen` holds the perceptual network's weights (or is empty): an input of the step, never differentiated."""

    def loss_fn(params):
        # copy=True: fresh Variables at this trace level, which BatchNorm may then update.
        model = nnx.merge(graphdef, params, batch_stats, copy=True)
        model.train()
        loss, logits, scalars = multitask_losses(model, batch, rng, frozen, setup)
        return loss, (logits, scalars, nnx.state(model, nnx.BatchStat))

    return jax.value_and_grad(loss_fn, has_aux=True)(params)


def train_step(
    state: TrainState, batch: dict[str, jax.Array], frozen, *, graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation, setup: StepSetup,
):
    """One update. Returns (state, metrics, health).

    `health` = {'finite': whether the loss and every gradient were finite, 'loss': ..., each task's loss}. A step
    that is not finite changes nothing but the step counter: parameters, BatchNorm statistics and optimiser state
    stay as they were, so a NaN never enters the state (and never a checkpoint); the loop decides whether to stop."""
    rng = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    (loss, (logits, scalars, batch_stats)), grads = loss_and_grads(
        graphdef, state.params, state.batch_stats, batch, rng, frozen, setup
    )
    finite = jnp.isfinite(loss) & jnp.all(jnp.stack([jnp.isfinite(g).all() for g in jax.tree.leaves(grads)]))
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    updated = state.replace(
        params=optax.apply_updates(state.params, updates), batch_stats=batch_stats, opt_state=opt_state
    )
    new_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old), updated, state)
    new_state = new_state.replace(step=state.step + 1)  # the batch is consumed either way
    metrics = train_metrics_class(setup.metric_names()).single_from_model_output(
        loss=loss, logits=logits, labels=batch["label"], **scalars
    )
    return new_state, metrics, {"finite": finite, "loss": loss, **scalars}


def eval_step(state: TrainState, batch: dict[str, jax.Array], *, graphdef: nnx.GraphDef, dtype) -> EvalMetrics:
    """Clean view, running BatchNorm statistics, no dropout, emotion head only; padded rows (mask 0) do not count."""
    model = nnx.merge(graphdef, state.params, state.batch_stats)
    model.eval()
    logits = model(to_model_input(batch["image"], dtype))
    per_example = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["label"])
    return EvalMetrics.single_from_model_output(
        loss=per_example, logits=logits, labels=batch["label"], mask=batch["mask"]
    )


def pretext_preview(state: TrainState, images: jax.Array, key: jax.Array, *, graphdef, setup: StepSetup) -> dict:
    """For the picture at each evaluation: the clean images, the pretext view and (if in-painting) the decoder's
    reconstruction pasted into the view's masked pixels. All float32 (B, H, W, 3) in [0, 1]."""
    model = nnx.merge(graphdef, state.params, state.batch_stats)
    model.eval()
    clean = to_model_input(images, jnp.float32)
    views = build_views(clean, key, setup.pretext, setup.permutation_set)
    out = {"clean": clean, "view": views["view"]}
    if setup.pretext.inpaint:
        features = model.features(views["view"].astype(setup.dtype))
        reconstruction = model.decoder(features, clean.shape[1], clean.shape[2])
        out["reconstruction"] = views["mask"] * reconstruction + (1 - views["mask"]) * views["view"]
    return out


def jit_train_step(graphdef, tx, setup: StepSetup, state_shardings, batch_sharding, frozen_sharding=None):
    """`train_step(state, batch, frozen)` compiled for the mesh: state in and out with its shardings, donated so it
    is updated in place; `frozen` (perceptual weights) replicated."""
    step = functools.partial(train_step, graphdef=graphdef, tx=tx, setup=setup)
    return jax.jit(
        step,
        in_shardings=(state_shardings, batch_sharding, frozen_sharding),
        out_shardings=(state_shardings, None, None),
        donate_argnums=0,
    )


def jit_eval_step(graphdef, dtype, state_shardings, batch_sharding):
    return jax.jit(
        functools.partial(eval_step, graphdef=graphdef, dtype=dtype),
        in_shardings=(state_shardings, batch_sharding),
    )
