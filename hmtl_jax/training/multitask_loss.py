"""The HMTL loss: every task on the same backbone, in one forward pass.

    total = w_fer CE_fer + w_jigsaw CE_jigsaw + w_inpaint (L_pixel + lambda L_perceptual)

The supervised term is the emotion loss, or that of the run's other supervised task (gender: the same cross-entropy
over two classes; head pose: hmtl_jax/supervised/head_pose.py), weighted by `loss.emotion_weight` all the same.

`MultitaskSpec` is the static part the step is compiled for (which tasks, their weights and losses, the compute
dtype); `multitask_losses` computes the sum for a model in train mode. Under a batch-sharded jit every reduction in
here (BatchNorm's batch statistics, the mean losses) is over the global batch: XLA inserts the cross-device
collectives, so the math is the one-device math.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from hmtl_jax.config.tasks import perceptual_on
from hmtl_jax.models.from_config import compute_dtype, to_model_input
from hmtl_jax.pretext import losses as pretext_losses
from hmtl_jax.pretext.views import PretextSpec, build_views
from hmtl_jax.supervised.head_pose import head_pose_losses
from hmtl_jax.supervised.tasks import is_regression
from hmtl_jax.training.emotion_loss import emotion_loss


@dataclasses.dataclass(frozen=True)
class MultitaskSpec:
    """Everything the train step is compiled for, besides the model and the optimiser."""

    dtype: Any = jnp.float32
    task: str = "emotion"  # the supervised task (hmtl_jax/supervised/tasks.py)
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
    ) -> MultitaskSpec:
        inpaint = config.inpaint
        perceptual = perceptual_on(config)
        return cls(
            dtype=compute_dtype(config),
            task=config.task,
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
        """The per-task scalars of the train metrics, besides the total loss and a classification's accuracy."""
        names = [f"{self.task}_loss"] + (["mean_mae"] if is_regression(self.task) else [])
        if self.pretext.jigsaw:
            names += ["jigsaw_loss", "jigsaw_accuracy"]
        if self.pretext.inpaint:
            names += ["pixel_loss"] + (["perceptual_loss"] if self.perceptual_layers else [])
        return tuple(names)


def _split_pairs(feature_maps: list[jax.Array]) -> tuple[list[jax.Array], list[jax.Array]]:
    """Features of an interleaved [clean_0, view_0, clean_1, view_1, ...] batch -> (clean, view) features."""
    pairs = [f.reshape(f.shape[0] // 2, 2, *f.shape[1:]) for f in feature_maps]
    return [p[:, 0] for p in pairs], [p[:, 1] for p in pairs]


def multitask_losses(model: nnx.Module, batch: dict, rng: jax.Array, perceptual_params, spec: MultitaskSpec):
    """(total loss, supervised head's outputs, {task scalar: value}) for a model in train mode."""
    pretext = spec.pretext
    if pretext.active:
        images = to_model_input(batch["image"], jnp.float32)
        views = build_views(images, jax.random.fold_in(rng, 1), pretext, spec.permutation_set)
        clean_view = pretext.emotion_view != "pretext"  # the emotion head reads the clean image
        if clean_view and pretext.batch_norm == "separate":
            clean_features = model.features(images.astype(spec.dtype))
            # A copy: nnx.state holds the live variables, which the next pass updates.
            clean_statistics = jax.tree.map(lambda statistic: statistic, nnx.state(model, nnx.BatchStat))
            view_features = model.features(views["view"].astype(spec.dtype))
            nnx.update(model, clean_statistics)  # running statistics from clean images, as evaluation sees them
        elif clean_view:
            # One pass over clean and pretext images interleaved row by row: each device keeps its own rows.
            both = jnp.stack([images, views["view"]], axis=1).reshape(-1, *images.shape[1:])
            clean_features, view_features = _split_pairs(model.features(both.astype(spec.dtype)))
        else:
            clean_features = view_features = model.features(views["view"].astype(spec.dtype))
        logits = model.head(clean_features[-1], rngs=nnx.Rngs(dropout=rng))
    else:
        logits = model(to_model_input(batch["image"], spec.dtype), rngs=nnx.Rngs(dropout=rng))

    def fer_of(emotion_logits):
        if is_regression(spec.task):
            per_example, errors = head_pose_losses(emotion_logits, batch["label"])
            return per_example.mean(), {"mean_mae": errors.mean()}
        loss = emotion_loss(
            emotion_logits, batch["label"], class_weights=spec.class_weights, label_smoothing=spec.label_smoothing
        )
        return loss, {}

    fer, scalars = fer_of(logits)
    if pretext.active and pretext.emotion_view == "both":
        # The pretext view as a second, harder example of the same face: the mean of both views' losses. The train
        # accuracy (or error) stays the clean view's.
        view_logits = model.head(view_features[-1], rngs=nnx.Rngs(dropout=jax.random.fold_in(rng, 3)))
        fer = 0.5 * (fer + fer_of(view_logits)[0])
    total = spec.emotion_weight * fer
    scalars[f"{spec.task}_loss"] = fer
    if pretext.jigsaw:
        jigsaw_logits = model.jigsaw(view_features[-1], rngs=nnx.Rngs(dropout=jax.random.fold_in(rng, 2)))
        jigsaw_ce, jigsaw_accuracy = pretext_losses.jigsaw_loss(jigsaw_logits, views, views["jigsaw_rows"])
        total = total + spec.jigsaw_weight * jigsaw_ce
        scalars.update(jigsaw_loss=jigsaw_ce, jigsaw_accuracy=jigsaw_accuracy)
    if pretext.inpaint:
        reconstruction = model.decoder(view_features, images.shape[1], images.shape[2])
        rows = views["inpaint_rows"]
        pixel = pretext_losses.pixel_loss(reconstruction, views, rows, kind=spec.pixel_loss, region=spec.loss_region)
        inpaint = pixel
        scalars["pixel_loss"] = pixel
        if spec.perceptual_layers:
            perceptual = pretext_losses.perceptual_loss(
                perceptual_params,
                reconstruction,
                views,
                rows,
                layers=spec.perceptual_layers,
                region=spec.loss_region,
                dtype=spec.dtype,
            )
            inpaint = inpaint + spec.perceptual_weight * perceptual
            scalars["perceptual_loss"] = perceptual
        total = total + spec.inpaint_weight * inpaint
    return total, logits, scalars


def loss_and_grads(graphdef, params, batch_stats, batch, rng, perceptual_params, spec: MultitaskSpec):
    """(loss, (logits, task scalars, new_batch_stats)), grads with respect to `params`.

    `perceptual_params` are the perceptual network's weights (or empty): an input of the step, never
    differentiated."""

    def loss_fn(params):
        # copy=True: fresh Variables at this trace level, which BatchNorm may then update.
        model = nnx.merge(graphdef, params, batch_stats, copy=True)
        model.train()
        loss, logits, scalars = multitask_losses(model, batch, rng, perceptual_params, spec)
        return loss, (logits, scalars, nnx.state(model, nnx.BatchStat))

    return jax.value_and_grad(loss_fn, has_aux=True)(params)
